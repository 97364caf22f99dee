"""BPTT benchmark suite: one training step of an LSTM / GRU / tanh-RNN layer stack, side by side.

    python bench/rnn_bptt.py                 # full run: publishes bench/results/latest.json and bench/README.md
    python bench/rnn_bptt.py --quick         # smoke test: fewer configs and rounds, publishes nothing
    python bench/rnn_bptt.py --impls numpy_ref,tinygrad_rnn --configs lstm:8:20:16:32 --rounds 1
    python bench/rnn_bptt.py --configs lstm:32:40:12:64:L2:bi:len   # 2 layers, bidirectional, lengths

One step = forward over the whole sequence + loss (mean of squared outputs over the valid positions)
+ backward through time, float32, no optimizer step (see ``impls/common.py``). Every (implementation,
config) pair runs in its own subprocess (``subprocess.run([sys.executable, __file__, "--worker", ...])``),
so imports, allocator state and peak memory do not leak between them. A worker times its first step
on its own (first-call latency: compilation, cache loads), then warm-up + repeated steps, and in the
first round checks its loss and gradients against a float64 reference on a small config with the same
weights. Rounds rotate the order of the implementations so that slow drift of the machine does not
always favour the same one. Times are pooled over rounds: median and min per step.

Also measured in the same run: the machine's float32 GEMM peak (a large NumPy sgemm), linear scaling
in T, tinygrad_rnn's first step with an empty and a warm numba cache, an interleaved A/B of tinygrad_rnn,
its NumPy kernels, the NumPy reference and PyTorch fused (``impls/interleave.py``), ``overhead.py``'s
per-op overhead; then the targets (``impls/targets.py``) and the Markdown (``impls/report.py``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# `impls` lives next to this file; the repo root first on the path so the checkout itself is measured
for _p in (str(REPO), str(BENCH_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
from impls import IMPL_MODULES, common, interleave, machine, probes, targets  # noqa: E402
from impls.common import Config  # noqa: E402
from impls.report import render_markdown  # noqa: E402

RESULT_MARK = "@@BENCH-RESULT@@ "
STEP_MARK = "@@BENCH-STEP@@ "
README_BEGIN = "<!-- BEGIN GENERATED: bench/rnn_bptt.py -->"
README_END = "<!-- END GENERATED: bench/rnn_bptt.py -->"
# implementations whose arrays are NumPy arrays allocated through Python: tracemalloc sees them
TRACEMALLOC_IMPLS = ("numpy_ref", "tinygrad_rnn", "tinygrad_numpy_kernels", "tinygrad_composed", "dezero")
SCALING_IMPLS = ("numpy_ref", "tinygrad_rnn", "tinygrad_composed")
REFERENCE, ANCHOR = "numpy_ref", "torch_fused"
RATIO_BASES = (REFERENCE, ANCHOR, "jax_scan")  # ratio_to_<base> in every row (the targets need jax's)
MIN_TIMED = 3  # a worker's time budget never cuts the timed steps below this
MAX_WARMUP = 50
MAX_TIMED = 200  # cap on the timed steps a worker takes to fill --timed-seconds


# =====================================================================================================
# worker side (runs inside the subprocesses)
# =====================================================================================================
def _emit(obj: dict) -> None:
    """The worker's answer: one marked JSON line on stdout (anything else it prints is ignored)."""
    sys.stdout.write(RESULT_MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _maxrss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def _impl_modules() -> dict[str, Any]:
    """NAME -> module for every implementation (cheap: frameworks are imported lazily inside them)."""
    mods = {}
    for m in IMPL_MODULES:
        mod = importlib.import_module(f"impls.{m}")
        mods[mod.NAME] = mod
    return mods


def reference_result(cfg: Config) -> tuple[tuple[float, dict[str, np.ndarray]], str]:
    """The float64 loss and gradients every implementation is checked against, and which code made them.

    A plain one-layer config: the hand-written NumPy reference. Stacked / bidirectional / lengths
    configs, which it does not implement: tinygrad_rnn's composed path (``fused=False``: each cell's
    ops on the tape, the definition the fused kernels are derived from) in float64; that it equals
    PyTorch's packed layers in float64 and central differences is tested in tests/benchmarks/test_bench_reference.py.
    """
    w, x = common.make_weights(cfg, np.float64), common.make_input(cfg, np.float64)
    if cfg.simple:
        from impls import numpy_ref

        ref: Any = numpy_ref.NumpyBPTT(cfg.cell, w, x, np.float64)
        name = "numpy_ref float64"
    else:
        from impls import tinygrad_impl

        ref = tinygrad_impl.TinygradRunner(cfg, w, x, np.float64, fused=False)
        name = "tinygrad_rnn composed (fused=False) float64"
    ref.step()
    loss, grads = ref.result()
    return (loss, {k: np.array(v, copy=True) for k, v in grads.items()}), name


def run_check(mod: Any, cfg: Config | str) -> dict:
    """Loss and all gradients of ``mod`` (float32) vs the float64 reference on a small config.

    ``cfg`` is the benchmark config (its layers, directions and lengths are kept, the sizes shrink:
    ``common.check_config``) or a cell name (one plain layer). Two steps are run so that gradients
    accumulating across steps (a missing zero_grad) fail too, and every gradient must come back
    float32 (a silent upcast means the timing is not a float32 one).
    """
    cfg = common.check_config(cfg)
    want, ref_name = reference_result(cfg)
    runner = mod.build(cfg, common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32), np.float32)
    runner.step()
    runner.step()
    got = runner.result()
    errs = common.rel_errors(got, want)
    dtypes = {k: str(np.asarray(v).dtype) for k, v in got[1].items()}
    bad = [f"{k} rel. error {e:.2e}" for k, e in errs.items() if not e <= common.CHECK_TOL]  # NaN fails too
    bad += [f"{k} gradient is {d}, not float32" for k, d in dtypes.items() if d != "float32"]
    finite = {k: (e if math.isfinite(e) else None) for k, e in errs.items()}  # JSON has no inf/NaN
    worst = None if None in finite.values() else max(finite.values())
    return {
        "config": cfg.key,
        "reference": ref_name,
        "passed": not bad,
        "tolerance": common.CHECK_TOL,
        "max_rel_err": worst,
        "rel_err": finite,
        "grad_dtypes": dtypes,
        "problems": bad,
    }


def time_steps(
    runner: Any,
    warmup: int,
    repeats: int,
    budget_s: float,
    warmup_s: float = 0.0,
    timed_s: float = 0.0,
    after_warmup: Callable[[], Any] | None = None,
) -> list[float]:
    """Warm-up steps, then timed steps (ms): ``repeats`` of them, and more (up to MAX_TIMED) until
    ``timed_s`` seconds of them have run, so that a cheap step is sampled over a window long enough
    to average the machine's brief slow spells; stops early past ``budget_s``.

    Warm-up runs at least ``warmup`` steps and keeps going (up to MAX_WARMUP steps) until ``warmup_s``
    seconds have passed: first calls pay one-off costs (lazy library initialisation, thread pools
    starting, JIT compilation, first-touch page faults) whose size differs between libraries. The cyclic
    garbage collector runs once before the timed steps and then as it would in a training loop: its
    collections are part of what a framework costs. (Collecting before *every* step was tried: walking
    all objects evicts the caches, which slowed every implementation's next step by 10-40%.)
    """
    t_start, n = time.perf_counter(), 0
    while n < warmup or (n < MAX_WARMUP and time.perf_counter() - t_start < warmup_s):
        runner.step()
        n += 1
    times: list[float] = []
    gc.collect()
    if after_warmup is not None:
        after_warmup()
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        runner.step()
        times.append((time.perf_counter() - t0) * 1e3)
        elapsed = time.perf_counter() - start
        if len(times) >= MIN_TIMED and elapsed > budget_s:
            break
        if len(times) >= MAX_TIMED or (len(times) >= repeats and elapsed >= timed_s):
            break
    return times


def traced_peak_mb(mod: Any, cfg: Config, weights: dict, x: np.ndarray) -> float:
    """Peak Python-side allocation (tracemalloc) of building the model and running one step.

    Includes the weights, the input, preallocated buffers and the whole graph / saved activations.
    NumPy reports its array buffers to tracemalloc, so this is exact for NumPy-based implementations.
    """
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        runner = mod.build(cfg, weights, x, np.float32)
        runner.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del runner
    return (peak - base) / 2**20


def _supports(mod: Any, cfg: Config) -> tuple[bool, str]:
    """Whether ``mod`` runs ``cfg``: its ``supports(cfg)``, else the plain one-layer configs only."""
    fn = getattr(mod, "supports", None)
    if fn is not None:
        return fn(cfg)
    return (True, "") if cfg.simple else (False, "one plain layer only (no layers / directions / lengths)")


def _start_worker(mod: Any, cfg: Config) -> tuple[dict, dict | None]:
    """The shared start of a worker: its environment, the import (timed), n/a and absent answers."""
    out: dict = {"impl": mod.NAME, "label": mod.LABEL, "config": cfg.key, "pid": os.getpid()}
    env = probes.apply_env(getattr(mod, "ENV", None))
    if env:
        out["env_set"] = env
    t0 = time.perf_counter()
    try:
        ok, info = mod.available()
    except Exception as e:  # a framework that fails to import in an unexpected way is absent too
        ok, info = False, f"{type(e).__name__}: {e}"
    out["import_s"] = time.perf_counter() - t0
    if not ok:
        return out, {**out, "status": "absent", "reason": info}
    out["version"] = info
    fits, why = _supports(mod, cfg)
    if not fits:
        return out, {**out, "status": "n/a", "reason": why}
    if hasattr(mod, "kernel_info"):
        out["kernel_info"] = mod.kernel_info()
    return out, None


def worker_impl(args: argparse.Namespace) -> dict:
    """Time, then check, one implementation on one config (this process does nothing else).

    The timing comes first so that the first warm-up step is the process's first call of the
    implementation: its time (``first_step_ms``) is the first-call latency a user sees (lazy
    initialisation, JIT compilation or loading numba's disk cache: ``numba_cache``). Memory: RSS Δ is
    the growth of the process's peak RSS over building + all steps.

    With ``--prewarm`` (the driver's rounds after the first) the implementation first runs two steps
    on the small check config, so that its libraries, JIT runtimes and compiled code are resident
    before anything is measured; then ``peak_mb`` is the peak RSS of the timed steps (the counter is
    restarted after the warm-up) above the RSS just before the model was built: the memory of the
    model and its training step, not of the library's code. No first-call latency is recorded then.
    """
    mod = _impl_modules()[args.worker]
    cfg = Config.parse(args.config)
    out, early = _start_worker(mod, cfg)
    if early is not None:
        return early
    try:
        if args.prewarm:
            small = common.check_config(cfg)
            pre = mod.build(small, common.make_weights(small), common.make_input(small), np.float32)
            pre.step()
            pre.step()
            del pre
        weights, x = common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32)
        gc.collect()
        rss0, rss_now = _maxrss_mb(), probes.rss_mb()
        runner = mod.build(cfg, weights, x, np.float32)
        t0 = time.perf_counter()
        runner.step()
        first_ms = (time.perf_counter() - t0) * 1e3
        if not args.prewarm:
            out["first_step_ms"] = first_ms
            out["numba_cache"] = probes.numba_cache_state()
        reset = {"ok": False}
        times = time_steps(
            runner,
            max(args.warmup - 1, 0),
            args.repeats,
            args.budget,
            max(args.warmup_seconds - first_ms / 1e3, 0.0),
            args.timed_seconds,
            after_warmup=lambda: reset.update(ok=probes.reset_peak_rss()),
        )
        out["rss_delta_mb"] = _maxrss_mb() - rss0
        out["rss_peak_mb"] = _maxrss_mb()
        hwm = probes.peak_rss_mb()
        if args.prewarm and reset["ok"] and hwm is not None and rss_now is not None:
            out["peak_mb"] = hwm - rss_now
        del runner
        out["times_ms"] = times
        if hasattr(mod, "kernel_info"):  # again, now that the kernels are loaded (it names their BLAS then)
            out["kernel_info"] = mod.kernel_info()
        if args.check:
            out["check"] = run_check(mod, cfg)
        if args.tracemalloc and mod.NAME in TRACEMALLOC_IMPLS:
            out["traced_peak_mb"] = traced_peak_mb(mod, cfg, weights, x)
    except Exception as e:
        return {
            **out,
            "status": "error",
            "reason": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc()[-3000:],
        }
    out["status"] = "ok" if out.get("check", {"passed": True})["passed"] else "check_failed"
    return out


def worker_stepper(args: argparse.Namespace) -> None:
    """One implementation built and warmed up, then one timed step per ``step`` line on stdin.

    The driver runs several of these side by side and steps them in turn (``impls/interleave.py``);
    answers are marked lines on stdout (anything else a library prints there is skipped).
    """
    mod = _impl_modules()[args.worker_stepper]
    cfg = Config.parse(args.config)
    out, early = _start_worker(mod, cfg)
    if early is not None:
        _emit(early)
        return
    try:
        runner = mod.build(cfg, common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32), np.float32)
        time_steps(runner, args.warmup, 1, args.budget, args.warmup_seconds)
    except Exception as e:
        _emit({**out, "status": "error", "reason": f"{type(e).__name__}: {e}"})
        return
    _emit({**out, "status": "ready"})
    while sys.stdin.readline().strip() == "step":
        t0 = time.perf_counter()
        runner.step()
        sys.stdout.write(f"{STEP_MARK}{(time.perf_counter() - t0) * 1e3!r}\n")
        sys.stdout.flush()


def worker_overhead(ops_per_run: int, repeats: int) -> dict:
    """bench/overhead.py's per-op forward+backward overhead on 2x2 float32 tensors (µs per op)."""
    import overhead  # bench/overhead.py

    rows = []
    for name, op in overhead.OPS.items():
        if overhead.torch is not None:  # the two alternate run by run (see overhead.per_op_pair)
            tg_us, torch_us = overhead.per_op_pair(op, ops_per_run, repeats)
            rows.append({"op": name, "tinygrad_us": tg_us, "torch_us": torch_us})
        else:
            rows.append({"op": name, "tinygrad_us": overhead.per_op("tg", op, ops_per_run, repeats)})
    return {
        "ops_per_run": ops_per_run,
        "repeats": repeats,
        "rows": rows,
        "torch": overhead.torch.__version__ if overhead.torch is not None else None,
    }


# =====================================================================================================
# driver side
# =====================================================================================================
def launch(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> dict:
    """Run this file as a worker in a fresh interpreter (argument list, no shell) and parse its answer.

    ``env``: variables added to the worker's environment (an implementation's own ``ENV`` is applied
    by the worker itself, before it imports anything)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    try:
        p = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO), env={**os.environ, **(env or {})}
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"worker timed out after {timeout:.0f} s", "argv": argv}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    return {
        "status": "error",
        "reason": f"worker exited with status {p.returncode} without a result",
        "stderr_tail": p.stderr[-3000:],
        "argv": argv,
    }


def _rotate(seq: list, k: int) -> list:
    k %= max(len(seq), 1)
    return seq[k:] + seq[:k]


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def aggregate(runs: list[dict], cfg: Config, peak_gflops: float | None) -> dict:
    """Pool one (implementation, config)'s rounds into one row: median/min over all timed steps."""
    ok = [r for r in runs if r.get("status") in ("ok", "check_failed")]
    first = runs[0]
    row: dict = {"impl": first.get("impl"), "label": first.get("label"), "config": cfg.key, "rounds": len(runs)}
    if not ok:
        row.update(status=first.get("status", "error"), reason=first.get("reason"))
        if first.get("traceback"):
            row["traceback"] = first["traceback"]
        return row
    times = [t for r in ok for t in r["times_ms"]]
    checks = [r["check"] for r in ok if "check" in r]
    passed = all(c["passed"] for c in checks) if checks else None
    row.update(
        status="ok" if passed is not False else "check_failed",
        version=ok[0].get("version"),
        check_passed=passed,
        check_max_rel_err=(
            None
            if not checks or any(c["max_rel_err"] is None for c in checks)
            else max(c["max_rel_err"] for c in checks)
        ),
        check_problems=sorted({p for c in checks for p in c["problems"]}),
        times_ms=times,
        round_medians_ms=[_median(r["times_ms"]) for r in ok],
        median_ms=_median(times),
        min_ms=min(times),
        errored_rounds=len(runs) - len(ok),
        rss_delta_mb=max(r["rss_delta_mb"] for r in ok),
        peak_mb=max((r["peak_mb"] for r in ok if r.get("peak_mb") is not None), default=None),
        traced_peak_mb=next((r["traced_peak_mb"] for r in ok if "traced_peak_mb" in r), None),
        # first-call latency: the first step of every round's fresh process, and the cache it found
        first_step_ms=[r["first_step_ms"] for r in ok if "first_step_ms" in r],
        numba_cache_warm=[(r.get("numba_cache") or {}).get("warm") for r in ok if "first_step_ms" in r],
        import_s=_median([r["import_s"] for r in ok if r.get("import_s") is not None]),
        kernel_info=ok[0].get("kernel_info"),
    )
    flops = common.gemm_flops(cfg)
    row["gemm_gflop_per_step"] = flops / 1e9
    row["gflops"] = flops / (row["median_ms"] / 1e3) / 1e9
    row["frac_of_peak"] = row["gflops"] / peak_gflops if peak_gflops else None
    row["flagged"] = passed is False
    return row


def add_ratios(rows: list[dict]) -> None:
    """time / time of the NumPy reference, PyTorch fused and JAX, same config and run (>1: slower).

    ``ratio_to_*`` is the *paired* ratio: the median over rounds of (this round's median / the base's
    median in the same round). The machine's speed drifts over seconds, and the two workers of one
    round run back to back, so pairing by round cancels most of the drift; ``pooled_ratio_to_*`` divides
    the medians over all rounds instead and is used when a round is missing on either side.
    """
    by = {(r["impl"], r["config"]): r for r in rows}
    for r in rows:
        for base in RATIO_BASES:
            key = f"ratio_to_{base}"
            b = by.get((base, r["config"]))
            ok = r.get("median_ms") and b and b.get("median_ms")
            pooled = r["median_ms"] / b["median_ms"] if ok else None
            r["pooled_" + key] = pooled
            mine, theirs = r.get("round_medians_ms") or [], (b or {}).get("round_medians_ms") or []
            paired = ok and not r.get("errored_rounds") and not b.get("errored_rounds") and len(mine) == len(theirs)
            r[key] = _median([m / t for m, t in zip(mine, theirs)]) if paired else pooled


def _worker_argv(name: str, cfg: Config, args: argparse.Namespace, **over: Any) -> list[str]:
    """A timing worker's command line: the run's settings, with ``over`` replacing some of them."""
    opts = {
        "warmup": args.warmup,
        "warmup_seconds": args.warmup_seconds,
        "repeats": args.repeats,
        "timed_seconds": args.timed_seconds,
        "budget": args.budget,
    } | over
    argv = ["--worker", name, "--config", cfg.key]
    for k, v in opts.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return argv


def _log_run(log: Callable, tag: str, cfg: Config, name: str, res: dict) -> None:
    status = res.get("status")
    if status in ("ok", "check_failed"):
        chk = res.get("check")
        ctext = "" if chk is None else (" check ok" if chk["passed"] else " CHECK FAILED")
        log(
            f"  {tag} {cfg.key:<26} {name:<22} median {_median(res['times_ms']):9.2f} ms  "
            f"min {min(res['times_ms']):9.2f} ms  first {res.get('first_step_ms', float('nan')):9.1f} ms{ctext}"
        )
        if chk is not None and not chk["passed"]:
            log(f"!!! CHECK FAILED: {name} on {chk['config']}: {'; '.join(chk['problems'])} -- its timings are flagged")
    else:
        log(f"  {tag} {cfg.key:<26} {name:<22} {str(status).upper()}: {res.get('reason')}")
        if res.get("traceback") or res.get("stderr_tail"):
            log(res.get("traceback") or res.get("stderr_tail"))


def _main_rounds(args: argparse.Namespace, impls: list[str], mods: dict, log: Callable) -> tuple[dict, dict, dict]:
    """Every (implementation, config) in its own worker, round after round in rotated order."""
    runs: dict[tuple, list] = {}
    absent: dict[str, str] = {}
    na: dict[tuple, str] = {}  # (implementation, config key) -> why it cannot run that config
    for rnd in range(args.rounds):
        for ci, cfg in enumerate(args.configs):
            for name in _rotate(impls, rnd + ci):  # rotated per round (and per config)
                if name in absent or (name, cfg.key) in na:
                    continue
                # round 1: a fresh process's first call, the check and tracemalloc (once per pair is
                # enough); later rounds: warmed on the small config first, for the peak memory
                extra = ["--check", "--tracemalloc"] if rnd == 0 else ["--prewarm"]
                res = launch(_worker_argv(name, cfg, args) + extra, args.timeout)
                res.setdefault("impl", name)
                res.setdefault("label", mods[name].LABEL)
                if res.get("status") == "absent":
                    absent[name] = res.get("reason", "")
                    log(f"  {name:<22} absent: {absent[name]}")
                    continue
                if res.get("status") == "n/a":
                    na[(name, cfg.key)] = res.get("reason", "")
                    log(f"  {cfg.key:<26} {name:<22} n/a: {na[(name, cfg.key)]}")
                    continue
                runs.setdefault((name, cfg.key), []).append(res)
                _log_run(log, f"[{rnd + 1}/{args.rounds}]", cfg, name, res)
    return runs, absent, na


def _scaling(args: argparse.Namespace, impls: list[str], mods: dict, peak: float | None, log: Callable) -> list:
    """LSTM B=16, I=H=64 at growing T; rounds over (T, implementation) in rotated order, pooled per
    pair: one worker at a time would let a slow spell of the machine land on one T only."""
    runs_s: dict = {}
    for rnd in range(args.scaling_rounds):
        for k, T in enumerate(args.scaling_T):
            if T > 1_000 and rnd > 0:  # the longest sequence runs once: each step takes seconds
                continue
            cfg = common.scaling_config(T)
            for name in _rotate(impls, k + rnd):
                argv = _worker_argv(name, cfg, args, warmup=1, repeats=args.scaling_repeats)
                res = launch(argv + ["--tracemalloc"], args.timeout)
                res.setdefault("impl", name)
                res.setdefault("label", mods[name].LABEL)
                runs_s.setdefault((name, T), []).append(res)
                if res.get("times_ms"):
                    med = _median(res["times_ms"])
                    log(
                        f"  [{rnd + 1}/{args.scaling_rounds}] T={T:<6} {name:<22} median {med:10.1f} ms "
                        f"({med / T:.4f} ms/time step)"
                    )
                else:
                    log(f"  T={T:<6} {name:<22} {res.get('status')}: {res.get('reason')}")
    scaling = []
    for (_name, T), rs in runs_s.items():
        row = aggregate(rs, common.scaling_config(T), peak)
        row["T"] = T
        if row.get("median_ms"):
            row["ms_per_time_step"] = row["median_ms"] / T
            if row.get("traced_peak_mb") is not None:
                row["traced_kb_per_time_step"] = row["traced_peak_mb"] * 1024 / T
        scaling.append(row)
    return scaling


def scaling_summary(scaling: list[dict]) -> dict:
    """Per implementation: cost growth from each T to the next (10x T should cost <= 11x time and memory)."""
    out = {}
    for name in SCALING_IMPLS:
        pts = sorted((r for r in scaling if r.get("impl") == name and r.get("ms_per_time_step")), key=lambda r: r["T"])
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        tk = (hi.get("traced_kb_per_time_step"), lo.get("traced_kb_per_time_step"))
        steps = []
        for a, b in zip(pts, pts[1:]):
            ma, mb = a.get("traced_peak_mb"), b.get("traced_peak_mb")
            steps.append(
                {
                    "T_from": a["T"],
                    "T_to": b["T"],
                    "T_factor": b["T"] / a["T"],
                    "time_factor": b["median_ms"] / a["median_ms"],
                    "traced_factor": mb / ma if ma and mb else None,
                }
            )
        out[name] = {
            "T_min": lo["T"],
            "T_max": hi["T"],
            "time_ratio": hi["ms_per_time_step"] / lo["ms_per_time_step"],
            "traced_ratio": tk[0] / tk[1] if None not in tk and tk[1] else None,
            "steps": steps,
        }
    return out


def _cold_starts(args: argparse.Namespace, log: Callable) -> list[dict]:
    """tinygrad_rnn's first step per config in fresh processes with a cache of their own (a new
    NUMBA_CACHE_DIR): first with the cache empty (everything compiled), then again with the cache
    the first one wrote (everything loaded), so both latencies are measured whatever state numba's
    default cache is in."""
    keep = ("status", "reason", "first_step_ms", "numba_cache", "import_s", "kernel_info")
    out = []
    for cfg in args.configs:
        row: dict = {"config": cfg.key}
        with tempfile.TemporaryDirectory(prefix="bench-numba-cache-") as d:
            for phase in ("empty", "warm"):
                argv = _worker_argv(
                    "tinygrad_rnn", cfg, args, warmup=1, warmup_seconds=0, repeats=MIN_TIMED, timed_seconds=0
                )
                res = launch(argv, args.timeout, env={"NUMBA_CACHE_DIR": d})
                row[phase] = {k: res[k] for k in keep if k in res}
                nc = res.get("numba_cache") or {}
                log(
                    f"  {cfg.key:<26} first step {res.get('first_step_ms', float('nan')):9.1f} ms, {phase} cache "
                    f"({nc.get('cache_misses', 0)} compiled, {nc.get('cache_hits', 0)} loaded); {res.get('status')}"
                    + ("" if res.get("status") == "ok" else f": {res.get('reason')}")
                )
        out.append(row)
    return out


def _interleaved(args: argparse.Namespace, impls: list[str], log: Callable) -> list[dict]:
    names = [n for n in interleave.PARTICIPANTS if n in impls]
    out = []
    for cfg in args.configs:

        def cmd(name: str, cfg: Config = cfg) -> list[str]:
            return [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker-stepper",
                name,
                "--config",
                cfg.key,
                "--warmup",
                str(max(args.warmup, 3)),
                "--warmup-seconds",
                str(args.warmup_seconds),
            ]

        marks = (RESULT_MARK, STEP_MARK)
        r = interleave.run(
            cfg.key, names, args.interleaved_seconds, cmd, str(REPO), marks, args.timeout, stop=args.interleaved_stop
        )
        out.append(r)
        if r.get("status") == "ok":
            meds = "  ".join(f"{n} {m:.2f} ms" for n, m in r["median_ms"].items())
            ratios = "  ".join(f"{p['a']}/{p['b']} {p['ratio_of_medians']:.3f}" for p in r["pairs"])
            log(f"  {cfg.key:<26} {meds}  |  {ratios}  ({r['steps']} cycles)")
        else:
            log(f"  {cfg.key:<26} {r.get('status')}: {r.get('reason')} {r.get('dropped') or ''}")
    return out


def load_baseline(path: str) -> dict | None:
    """The NumPy kernels' speed before: tinygrad_numpy_kernels ÷ numpy_ref per config from an earlier
    results file (from a file older than that row: tinygrad_rnn's, which ran on NumPy kernels then)."""
    if not path:
        return None
    try:
        res = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    rows = [r for r in res.get("results", []) if r.get("ratio_to_numpy_ref")]
    source = "tinygrad_numpy_kernels"
    picked = {r["config"]: r for r in rows if r.get("impl") == source}
    if not picked:
        tg = {r["config"]: r for r in rows if r.get("impl") == "tinygrad_rnn"}
        if {(r.get("kernel_info") or {}).get("kernels") for r in tg.values()} <= {None, "numpy"}:
            source, picked = "tinygrad_rnn", tg
    if not picked:
        return None
    inter = {}
    for r in res.get("interleaved") or []:
        v = interleave.pair(r, source, "numpy_ref")
        if v is None and source == "tinygrad_rnn" and "pairs" not in r:
            v = r.get("ratio_of_medians")  # the one-process A/B of older files: tinygrad_rnn ÷ numpy_ref
        if v is not None:
            inter[r["config"]] = v
    shown = Path(path).resolve()
    return {
        "path": str(shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown),
        "started_utc": res.get("started_utc"),
        "source": source,
        "paired": {k: r["ratio_to_numpy_ref"] for k, r in picked.items()},
        "interleaved": inter,
    }


def run_suite(args: argparse.Namespace) -> dict:
    mods = _impl_modules()
    impls = list(mods) if args.impls is None else _resolve_impls(args.impls, mods)
    started = _dt.datetime.now(_dt.timezone.utc)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  progress on stderr
    log(
        f"rnn_bptt: {len(impls)} implementations x {len(args.configs)} configs x {args.rounds} rounds"
        f" ({args.warmup} warm-up + up to {args.repeats} timed steps each)"
    )
    baseline = load_baseline(args.baseline)  # read first: a published run replaces that file
    env = launch(["--worker-env", "--impls", ",".join(impls)], args.timeout)
    gemm_start = launch(["--worker-gemm", str(args.gemm_n)], args.timeout)
    log(
        f"float32 GEMM rate (NumPy {args.gemm_n}^3): {gemm_start['gflops']:.1f} GFLOP/s"
        if gemm_start.get("gflops")
        else f"GEMM measurement failed: {gemm_start}"
    )

    runs, absent, na = _main_rounds(args, impls, mods, log)

    # the peak is measured again after the timings and the better of the two is used: one measurement
    # can catch the machine busy, and a peak that is too low inflates every "% of peak"
    gemm_end = launch(["--worker-gemm", str(args.gemm_n)], args.timeout)
    rates = [g["gflops"] for g in (gemm_start, gemm_end) if g.get("gflops")]
    peak = max(rates) if rates else None
    gemm = {"gflops": peak, "n": args.gemm_n, "start": gemm_start, "end": gemm_end}
    log(f"float32 GEMM peak (best of start and end): {peak:.1f} GFLOP/s" if peak else "GEMM peak unavailable")

    rows = []
    for cfg in args.configs:
        for name in impls:
            base = {"impl": name, "label": mods[name].LABEL, "config": cfg.key}
            if name in absent:
                rows.append(base | {"status": "absent", "reason": absent[name]})
            elif (name, cfg.key) in na:
                rows.append(base | {"status": "n/a", "reason": na[(name, cfg.key)]})
            elif (name, cfg.key) in runs:
                rows.append(aggregate(runs[(name, cfg.key)], cfg, peak))
    add_ratios(rows)

    scaling = []
    if args.scaling_T:
        log("linear scaling in T (lstm, B=16, I=H=64)")
        scaling = _scaling(args, [n for n in SCALING_IMPLS if n in impls and n not in absent], mods, peak, log)

    cold = []
    numba_there = bool((env.get("versions") or {}).get("numba"))
    if args.cold_start and numba_there and "tinygrad_rnn" in impls and "tinygrad_rnn" not in absent:
        log("tinygrad_rnn's first step with an empty numba cache (fresh NUMBA_CACHE_DIR)")
        cold = _cold_starts(args, log)

    interleaved = []
    if args.interleaved_seconds > 0 and len([n for n in interleave.PARTICIPANTS if n in impls]) >= 2:
        log("interleaved A/B: " + ", ".join(n for n in interleave.PARTICIPANTS if n in impls) + ", stepped in turn")
        interleaved = _interleaved(args, impls, log)

    ovh = None
    if args.overhead:
        log("per-op overhead (bench/overhead.py)")
        argv = [
            "--worker-overhead",
            "--overhead-ops",
            str(args.overhead_ops),
            "--overhead-repeats",
            str(args.overhead_repeats),
        ]
        ovh = launch(argv, args.timeout)

    res = {
        "schema": 2,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "settings": {
            "rounds": args.rounds,
            "warmup": args.warmup,
            "warmup_seconds": args.warmup_seconds,
            "repeats": args.repeats,
            "budget_s": args.budget,
            "timed_seconds": args.timed_seconds,
            "max_timed": MAX_TIMED,
            "interleaved_seconds": args.interleaved_seconds,
            "interleaved_stop": args.interleaved_stop,
            "dtype": "float32",
            "check_tolerance": common.CHECK_TOL,
            "gemm_n": args.gemm_n,
            "scaling_T": list(args.scaling_T),
            "scaling_rounds": args.scaling_rounds,
            "implementations": impls,
        },
        "env": env,
        "gemm_peak": gemm,
        "configs": [
            c.as_dict()
            | {"key": c.key, "title": c.title, "gemm_gflop_per_step": common.gemm_flops(c) / 1e9}
            | ({"lengths": common.make_lengths(c).tolist()} if c.with_lengths else {})  # type: ignore[union-attr]
            for c in args.configs
        ],
        "absent": absent,
        "results": rows,
        "scaling": scaling,
        "scaling_summary": scaling_summary(scaling),
        "cold_start": cold,
        "overhead": ovh,
        "interleaved": interleaved,
        "baseline": baseline,
    }
    res["targets"] = targets.evaluate(res)
    return res


def _resolve_impls(text: str, mods: dict) -> list[str]:
    by_module = {m.__name__.rsplit(".", 1)[1]: n for n, m in mods.items()}
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name = part if part in mods else by_module.get(part)
        if name is None:
            raise SystemExit(f"--impls: unknown implementation {part!r}; choose from {', '.join(mods)}")
        out.append(name)
    return out


# ---- report (the Markdown itself: impls/report.py) ---------------------------------------------------
def write_readme(path: Path, md: str) -> None:
    """Replace the generated section of bench/README.md (between the markers); append it if missing."""
    block = f"{README_BEGIN}\n{md}{README_END}"
    text = path.read_text() if path.exists() else ""
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + block + "\n"
    path.write_text(text)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()[:40] or "cpu"


def save(res: dict, args: argparse.Namespace) -> list[Path]:
    out_dir = Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = res["env"].get("machine", {})
    stamp = res["started_utc"].replace(":", "").replace("-", "").replace("+0000", "Z")
    name = f"{stamp}_{_slug(str(m.get('cpu_model')))}-{m.get('logical_cores')}c{'-quick' if res['quick'] else ''}.json"
    written = [out_dir / name]
    text = json.dumps(res, indent=1, allow_nan=False)
    written[0].write_text(text)
    publish = args.publish if args.publish is not None else not args.quick
    if publish:
        (out_dir / "latest.json").write_text(text)
        written.append(out_dir / "latest.json")
        if args.readme:
            write_readme(Path(args.readme), render_markdown(res))
            written.append(Path(args.readme))
    return written


# ---- CLI ---------------------------------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t.replace("_", "")) for t in text.split(",") if t.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 4 small configs (one with 2 layers, bidirectional, lengths), 2 rounds, few steps, "
        "T up to 1,000",
    )
    ap.add_argument("--impls", help="comma-separated subset (names or module names), e.g. numpy_ref,tinygrad_rnn")
    ap.add_argument(
        "--configs",
        help=f"comma-separated {common.KEY_SYNTAX} overrides, e.g. lstm:32:50:64:128,gru:8:20:16:32; "
        "flags: L<n> = n stacked layers, bi = bidirectional, len = per-sequence lengths "
        "(e.g. lstm:32:40:12:64:L2:bi:len)",
    )
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument(
        "--warmup-seconds", type=float, help="keep warming up (max 50 steps) until this many seconds passed"
    )
    ap.add_argument("--repeats", type=int, help="timed steps per round (at least; see --timed-seconds, --budget)")
    ap.add_argument(
        "--timed-seconds", type=float, help="keep timing (up to 200 steps) until this many seconds of timed steps"
    )
    ap.add_argument(
        "--budget", type=float, default=20.0, help="seconds of timed steps per worker before stopping early"
    )
    ap.add_argument("--scaling-T", type=_ints, help="T values of the scaling study, e.g. 100,1000,10000")
    ap.add_argument("--scaling-repeats", type=int)
    ap.add_argument("--scaling-rounds", type=int, help="rounds of the scaling study (T > 1,000 runs once)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--overhead-ops", type=int)
    ap.add_argument("--overhead-repeats", type=int)
    ap.add_argument("--gemm-n", type=int)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a worker is killed")
    ap.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    ap.add_argument(
        "--readme", default=str(BENCH_DIR / "README.md"), help="file whose generated section is replaced ('' = none)"
    )
    pub = ap.add_mutually_exclusive_group()
    pub.add_argument(
        "--publish",
        dest="publish",
        action="store_true",
        default=None,
        help="update latest.json and the README (default for full runs, not for --quick)",
    )
    pub.add_argument("--no-publish", dest="publish", action="store_false")
    # worker modes (internal)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prewarm", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-gemm", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--worker-env", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-overhead", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-stepper", help=argparse.SUPPRESS)
    ap.add_argument(
        "--interleaved-seconds",
        type=float,
        help="seconds per config of tinygrad_rnn, its NumPy kernels, numpy_ref and torch_fused stepped in turn "
        "(0 = skip)",
    )
    ap.add_argument(
        "--interleaved-no-stop",
        dest="interleaved_stop",
        action="store_false",
        help="let the idle workers of the interleaved A/B run (default: SIGSTOP between their steps)",
    )
    ap.add_argument(
        "--no-cold-start",
        dest="cold_start",
        action="store_false",
        help="skip tinygrad_rnn's first step with an empty numba cache (one extra worker per config)",
    )
    ap.add_argument(
        "--baseline",
        default=str(BENCH_DIR / "results" / "latest.json"),
        help="earlier results file the NumPy kernels' speed is compared with ('' = none)",
    )
    args = ap.parse_args(argv)
    q = args.quick
    defaults = {
        "rounds": 2 if q else 5,
        "warmup": 1 if q else 2,
        "warmup_seconds": 0.2 if q else 0.5,
        "repeats": 3 if q else 10,
        "timed_seconds": 0.0 if q else 1.0,
        "interleaved_seconds": 0.5 if q else 8.0,
        "scaling_repeats": 3 if q else 5,
        "scaling_rounds": 1 if q else 3,
        "overhead_ops": 200 if q else 2000,
        "overhead_repeats": 3 if q else 21,
        "gemm_n": 1024 if q else 2048,
    }
    for k, d in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, d)
    args.configs = (
        [Config.parse(c) for c in args.configs.split(",") if c.strip()]
        if args.configs
        else list(common.QUICK_CONFIGS if q else common.DEFAULT_CONFIGS)
    )
    if args.no_scaling:
        args.scaling_T = ()
    elif args.scaling_T is None:
        args.scaling_T = common.QUICK_SCALING_TS if q else common.SCALING_TS
    args.overhead = not args.no_overhead
    for k in ("rounds", "repeats"):
        if getattr(args, k) < 1:
            ap.error(f"--{k} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        _emit(worker_impl(args))
        return 0
    if args.worker_gemm:
        _emit(machine.gemm_rate(args.worker_gemm, 5))
        return 0
    if args.worker_env:
        mods = _impl_modules()
        _emit(machine.env_report(_resolve_impls(args.impls, mods) if args.impls else list(mods), mods))
        return 0
    if args.worker_overhead:
        _emit(worker_overhead(args.overhead_ops, args.overhead_repeats))
        return 0
    if args.worker_stepper:
        worker_stepper(args)
        return 0
    res = run_suite(args)
    md = render_markdown(res)
    print(md)
    for p in save(res, args):
        print(f"wrote {p}", file=sys.stderr)
    failed = [r for r in res["results"] if r["status"] in ("check_failed", "error")]
    for r in failed:
        print(
            f"!!! {r['impl']} on {r['config']}: {r['status']}: "
            f"{'; '.join(r.get('check_problems') or []) or r.get('reason')}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
