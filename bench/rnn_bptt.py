"""BPTT benchmark suite: one training step of a one-layer LSTM / GRU / tanh-RNN, side by side.

    python bench/rnn_bptt.py                 # full run: publishes bench/results/latest.json and bench/README.md
    python bench/rnn_bptt.py --quick         # smoke test: fewer configs and rounds, publishes nothing
    python bench/rnn_bptt.py --impls numpy_ref,tinygrad_rnn --configs lstm:8:20:16:32 --rounds 1

One step = forward over the whole sequence + loss (mean of squared outputs over all steps) + backward
through time, float32, no optimizer step (see ``impls/common.py``). Every (implementation, config)
pair runs in its own subprocess (``subprocess.run([sys.executable, __file__, "--worker", ...])``), so
imports, allocator state and peak memory do not leak between them. A worker first checks its loss
and gradients against the float64 NumPy reference on a small config with the same weights, then times
warm-up + repeated steps. Rounds rotate the order of the implementations so that slow drift of the
machine does not always favour the same one. Times are pooled over rounds: median and min per step.

Also measured in the same run: the machine's float32 GEMM peak (a large NumPy sgemm), linear scaling
in T for tinygrad_rnn and the NumPy reference, and ``overhead.py``'s per-op overhead.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# `impls` lives next to this file; the repo root first on the path so the checkout itself is measured
for _p in (str(REPO), str(BENCH_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
from impls import IMPL_MODULES, common  # noqa: E402
from impls.common import Config  # noqa: E402

RESULT_MARK = "@@BENCH-RESULT@@ "
README_BEGIN = "<!-- BEGIN GENERATED: bench/rnn_bptt.py -->"
README_END = "<!-- END GENERATED: bench/rnn_bptt.py -->"
# implementations whose arrays are NumPy arrays allocated through Python: tracemalloc sees them
TRACEMALLOC_IMPLS = ("numpy_ref", "tinygrad_rnn", "tinygrad_composed", "dezero")
SCALING_IMPLS = ("numpy_ref", "tinygrad_rnn", "tinygrad_composed")
REFERENCE, ANCHOR = "numpy_ref", "torch_fused"
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


def run_check(mod: Any, cell: str) -> dict:
    """Loss and all gradients of ``mod`` (float32) vs the NumPy reference (float64) on a small config.

    Two steps are run so that gradients accumulating across steps (a missing zero_grad) fail too, and
    every gradient must come back float32 (a silent upcast means the timing is not a float32 one).
    """
    from impls import numpy_ref

    cfg = common.check_config(cell)
    ref = numpy_ref.NumpyBPTT(
        cell, common.make_weights(cfg, np.float64), common.make_input(cfg, np.float64), np.float64
    )
    ref.step()
    want = ref.result()
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
        "passed": not bad,
        "tolerance": common.CHECK_TOL,
        "max_rel_err": worst,
        "rel_err": finite,
        "grad_dtypes": dtypes,
        "problems": bad,
    }


def time_steps(
    runner: Any, warmup: int, repeats: int, budget_s: float, warmup_s: float = 0.0, timed_s: float = 0.0
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


def worker_impl(args: argparse.Namespace) -> dict:
    """Check, then time, one implementation on one config (this process does nothing else)."""
    mods = _impl_modules()
    mod = mods[args.worker]
    cfg = Config.parse(args.config)
    out: dict = {"impl": mod.NAME, "label": mod.LABEL, "config": cfg.key, "pid": os.getpid()}
    try:
        ok, info = mod.available()
    except Exception as e:  # a framework that fails to import in an unexpected way is absent too
        ok, info = False, f"{type(e).__name__}: {e}"
    if not ok:
        return {**out, "status": "absent", "reason": info}
    out["version"] = info
    try:
        if args.check:
            out["check"] = run_check(mod, cfg.cell)
        weights, x = common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32)
        gc.collect()
        rss0 = _maxrss_mb()
        runner = mod.build(cfg, weights, x, np.float32)
        times = time_steps(runner, args.warmup, args.repeats, args.budget, args.warmup_seconds, args.timed_seconds)
        out["rss_delta_mb"] = _maxrss_mb() - rss0
        out["rss_peak_mb"] = _maxrss_mb()
        del runner
        out["times_ms"] = times
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


def worker_gemm(n: int, repeats: int) -> dict:
    """The machine's float32 GEMM rate: best of ``repeats`` NumPy (n, n) @ (n, n) products."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return {"n": n, "repeats": repeats, "best_ms": best * 1e3, "gflops": 2.0 * n**3 / best / 1e9}


def _cpuinfo() -> dict:
    model, physical = None, set()
    phys_id = core_id = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k == "model name" and model is None:
                    model = v
                elif k == "physical id":
                    phys_id = v
                elif k == "core id":
                    core_id = v
                elif not k and phys_id is not None:  # blank line ends one processor's block
                    physical.add((phys_id, core_id))
                    phys_id = core_id = None
        if phys_id is not None:
            physical.add((phys_id, core_id))
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": len(physical) or None,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(mem_gb, 1) if mem_gb else None,
    }


def worker_env(impls: list[str]) -> dict:
    """Machine and library versions, collected in a subprocess like the timings.

    Optional frameworks are probed (imported) only when their implementation is part of the run.
    """
    env: dict = {"machine": {**_cpuinfo(), "platform": platform.platform(), "python": platform.python_version()}}
    v: dict = {"numpy": np.__version__}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]  # NumPy >= 1.26
        v["numpy_blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception as e:
        v["numpy_blas"] = f"unavailable ({type(e).__name__})"
    try:
        import threadpoolctl

        v["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
            for d in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        v["threadpools"] = "threadpoolctl not installed"
    try:
        import tinygrad_rnn as tg

        v["tinygrad_rnn"] = f"{getattr(tg, '__version__', '?')} (backend {tg.backend.name})"
    except Exception as e:
        v["tinygrad_rnn"] = f"not importable ({e})"
    mods = _impl_modules()
    probes = {"torch": ("torch_fused", "torch_cells"), "jax": ("jax_scan",), "dezero": ("dezero",)}
    for key, names in probes.items():
        if any(n in impls for n in names):
            ok, info = mods[names[0]].available()
            v[key] = info if ok else f"absent: {info}"
        else:
            v[key] = "not part of this run"
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        cfg = torch.__config__.show()
        m = re.search(r"BLAS_INFO=(\w+)", cfg)
        cap = re.search(r"CPU capability usage: (\w+)", cfg)
        v["torch_detail"] = {
            "num_threads": torch.get_num_threads(),
            "blas": m.group(1) if m else None,
            "cpu_capability": cap.group(1) if cap else None,
        }
    env["versions"] = v
    env["thread_env"] = {
        k: os.environ.get(k)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TINYGRAD_RNN_BACKEND")
    }
    return env


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


def worker_interleaved(cfg_key: str, seconds: float) -> dict:
    """tinygrad_rnn and the NumPy reference in ONE process, stepping alternately (ref, tg, ref, tg, ...).

    The main table runs each implementation in its own process; that keeps them from disturbing each
    other, but this machine's speed drifts between a fast and a slow state over seconds, and two
    processes a few seconds apart can land in different states. Alternating step by step, both see the
    same machine; both are NumPy on the same BLAS, so sharing a process changes nothing else for either.
    """
    from impls import numpy_ref, tinygrad_impl

    cfg = Config.parse(cfg_key)
    weights, x = common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32)
    runners = {"numpy_ref": numpy_ref.build(cfg, weights, x), "tinygrad_rnn": tinygrad_impl.build(cfg, weights, x)}
    for _ in range(3):
        for r in runners.values():
            r.step()
    times: dict = {k: [] for k in runners}
    gc.collect()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times["numpy_ref"]) < MIN_TIMED:
        for k, r in runners.items():
            t0 = time.perf_counter()
            r.step()
            times[k].append((time.perf_counter() - t0) * 1e3)
        if len(times["numpy_ref"]) >= 2000:
            break
    ratios = [b / a for a, b in zip(times["numpy_ref"], times["tinygrad_rnn"])]
    return {
        "config": cfg.key,
        "steps": len(ratios),
        "median_ms": {k: _median(v) for k, v in times.items()},
        "ratio_of_medians": _median(times["tinygrad_rnn"]) / _median(times["numpy_ref"]),
        "median_of_step_ratios": _median(ratios),
    }


# =====================================================================================================
# driver side
# =====================================================================================================
def launch(argv: list[str], timeout: float) -> dict:
    """Run this file as a worker in a fresh interpreter (argument list, no shell) and parse its answer."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
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
        traced_peak_mb=next((r["traced_peak_mb"] for r in ok if "traced_peak_mb" in r), None),
    )
    flops = common.gemm_flops(cfg)
    row["gemm_gflop_per_step"] = flops / 1e9
    row["gflops"] = flops / (row["median_ms"] / 1e3) / 1e9
    row["frac_of_peak"] = row["gflops"] / peak_gflops if peak_gflops else None
    row["flagged"] = passed is False
    return row


def add_ratios(rows: list[dict]) -> None:
    """time / time of the NumPy reference and of PyTorch fused, same config and same run (>1: slower).

    ``ratio_to_*`` is the *paired* ratio: the median over rounds of (this round's median / the base's
    median in the same round). The machine's speed drifts over seconds, and the two workers of one
    round run back to back, so pairing by round cancels most of the drift; ``pooled_ratio_to_*`` divides
    the medians over all rounds instead and is used when a round is missing on either side.
    """
    by = {(r["impl"], r["config"]): r for r in rows}
    for r in rows:
        for key, base in (("ratio_to_numpy_ref", REFERENCE), ("ratio_to_torch_fused", ANCHOR)):
            b = by.get((base, r["config"]))
            ok = r.get("median_ms") and b and b.get("median_ms")
            pooled = r["median_ms"] / b["median_ms"] if ok else None
            r["pooled_" + key] = pooled
            mine, theirs = r.get("round_medians_ms") or [], (b or {}).get("round_medians_ms") or []
            paired = ok and not r.get("errored_rounds") and not b.get("errored_rounds") and len(mine) == len(theirs)
            r[key] = _median([m / t for m, t in zip(mine, theirs)]) if paired else pooled


def run_suite(args: argparse.Namespace) -> dict:
    mods = _impl_modules()
    impls = list(mods) if args.impls is None else _resolve_impls(args.impls, mods)
    configs = args.configs
    started = _dt.datetime.now(_dt.timezone.utc)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  progress on stderr
    log(
        f"rnn_bptt: {len(impls)} implementations x {len(configs)} configs x {args.rounds} rounds"
        f" ({args.warmup} warm-up + up to {args.repeats} timed steps each)"
    )

    env = launch(["--worker-env", "--impls", ",".join(impls)], args.timeout)
    gemm_start = launch(["--worker-gemm", str(args.gemm_n)], args.timeout)
    log(
        f"float32 GEMM rate (NumPy {args.gemm_n}^3): {gemm_start['gflops']:.1f} GFLOP/s"
        if gemm_start.get("gflops")
        else f"GEMM measurement failed: {gemm_start}"
    )

    runs: dict[tuple, list] = {}
    absent: dict[str, str] = {}
    for rnd in range(args.rounds):
        for ci, cfg in enumerate(configs):
            for name in _rotate(impls, rnd + ci):  # rotated per round (and per config)
                if name in absent:
                    continue
                argv = [
                    "--worker",
                    name,
                    "--config",
                    cfg.key,
                    "--warmup",
                    str(args.warmup),
                    "--warmup-seconds",
                    str(args.warmup_seconds),
                    "--repeats",
                    str(args.repeats),
                    "--timed-seconds",
                    str(args.timed_seconds),
                    "--budget",
                    str(args.budget),
                ]
                if rnd == 0:  # the correctness check and the tracemalloc pass: once per pair is enough
                    argv += ["--check", "--tracemalloc"]
                res = launch(argv, args.timeout)
                res.setdefault("impl", name)
                res.setdefault("label", mods[name].LABEL)
                status = res.get("status")
                if status == "absent":
                    absent[name] = res.get("reason", "")
                    log(f"  {name:<18} absent: {absent[name]}")
                    continue
                runs.setdefault((name, cfg.key), []).append(res)
                if status in ("ok", "check_failed"):
                    chk = res.get("check")
                    ctext = "" if chk is None else (" check ok" if chk["passed"] else " CHECK FAILED")
                    log(
                        f"  [{rnd + 1}/{args.rounds}] {cfg.key:<22} {name:<18} median "
                        f"{_median(res['times_ms']):9.2f} ms  min {min(res['times_ms']):9.2f} ms{ctext}"
                    )
                    if chk is not None and not chk["passed"]:
                        log(
                            f"!!! CHECK FAILED: {name} on {chk['config']}: {'; '.join(chk['problems'])}"
                            f" -- its timings are flagged"
                        )
                else:
                    log(f"  [{rnd + 1}/{args.rounds}] {cfg.key:<22} {name:<18} ERROR: {res.get('reason')}")
                    if res.get("traceback") or res.get("stderr_tail"):
                        log(res.get("traceback") or res.get("stderr_tail"))

    # the peak is measured again after the timings and the better of the two is used: one measurement
    # can catch the machine busy, and a peak that is too low inflates every "% of peak"
    gemm_end = launch(["--worker-gemm", str(args.gemm_n)], args.timeout)
    rates = [g["gflops"] for g in (gemm_start, gemm_end) if g.get("gflops")]
    peak = max(rates) if rates else None
    gemm = {"gflops": peak, "n": args.gemm_n, "start": gemm_start, "end": gemm_end}
    log(f"float32 GEMM peak (best of start and end): {peak:.1f} GFLOP/s" if peak else "GEMM peak unavailable")

    rows = []
    for cfg in configs:
        for name in impls:
            if name in absent:
                rows.append(
                    {
                        "impl": name,
                        "label": mods[name].LABEL,
                        "config": cfg.key,
                        "status": "absent",
                        "reason": absent[name],
                    }
                )
            elif (name, cfg.key) in runs:
                rows.append(aggregate(runs[(name, cfg.key)], cfg, peak))
    add_ratios(rows)

    scaling = []
    if args.scaling_T:
        log("linear scaling in T (lstm, B=16, I=H=64)")
        s_impls = [n for n in SCALING_IMPLS if n in impls and n not in absent]
        # rounds over (T, implementation) in rotated order, pooled per pair: one worker at a time would
        # let a slow spell of the machine land on one T only and bend the line
        runs_s: dict = {}
        for rnd in range(args.scaling_rounds):
            for k, T in enumerate(args.scaling_T):
                if T > 1_000 and rnd > 0:  # the longest sequence runs once: each step takes seconds
                    continue
                cfg = common.scaling_config(T)
                for name in _rotate(s_impls, k + rnd):
                    res = launch(
                        [
                            "--worker",
                            name,
                            "--config",
                            cfg.key,
                            "--warmup",
                            "1",
                            "--warmup-seconds",
                            str(args.warmup_seconds),
                            "--repeats",
                            str(args.scaling_repeats),
                            "--budget",
                            str(args.budget),
                            "--tracemalloc",
                        ],
                        args.timeout,
                    )
                    res.setdefault("impl", name)
                    res.setdefault("label", mods[name].LABEL)
                    runs_s.setdefault((name, T), []).append(res)
                    if res.get("times_ms"):
                        log(
                            f"  [{rnd + 1}/{args.scaling_rounds}] T={T:<6} {name:<18} median "
                            f"{_median(res['times_ms']):10.1f} ms ({_median(res['times_ms']) / T:.4f} ms/time step)"
                        )
                    else:
                        log(f"  T={T:<6} {name:<18} {res.get('status')}: {res.get('reason')}")
        for (_name, T), rs in runs_s.items():
            cfg = common.scaling_config(T)
            row = aggregate(rs, cfg, peak)
            row["T"] = T
            if row.get("median_ms"):
                row["ms_per_time_step"] = row["median_ms"] / T
                if row.get("traced_peak_mb") is not None:
                    row["traced_kb_per_time_step"] = row["traced_peak_mb"] * 1024 / T
            scaling.append(row)

    scaling_summary = {}
    for name in SCALING_IMPLS:
        pts = sorted((r for r in scaling if r.get("impl") == name and r.get("ms_per_time_step")), key=lambda r: r["T"])
        if len(pts) >= 2:
            lo, hi = pts[0], pts[-1]
            tk = (hi.get("traced_kb_per_time_step"), lo.get("traced_kb_per_time_step"))
            steps = []  # cost growth from each T to the next: 10x T should cost <= 11x time and memory
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
            scaling_summary[name] = {
                "T_min": lo["T"],
                "T_max": hi["T"],
                "time_ratio": hi["ms_per_time_step"] / lo["ms_per_time_step"],
                "traced_ratio": tk[0] / tk[1] if None not in tk and tk[1] else None,
                "steps": steps,
            }

    interleaved = []
    if args.interleaved_seconds > 0 and {"numpy_ref", "tinygrad_rnn"} <= set(impls):
        log("tinygrad_rnn and numpy_ref interleaved step by step in one process")
        for cfg in configs:
            r = launch(
                ["--worker-interleaved", cfg.key, "--interleaved-seconds", str(args.interleaved_seconds)], args.timeout
            )
            r.setdefault("config", cfg.key)
            interleaved.append(r)
            if r.get("ratio_of_medians"):
                log(
                    f"  {cfg.key:<22} numpy_ref {r['median_ms']['numpy_ref']:8.2f} ms  tinygrad_rnn "
                    f"{r['median_ms']['tinygrad_rnn']:8.2f} ms  ratio {r['ratio_of_medians']:.3f} "
                    f"({r['steps']} steps each)"
                )
            else:
                log(f"  {cfg.key:<22} {r.get('status')}: {r.get('reason')}")

    ovh = None
    if args.overhead:
        log("per-op overhead (bench/overhead.py)")
        ovh = launch(
            [
                "--worker-overhead",
                "--overhead-ops",
                str(args.overhead_ops),
                "--overhead-repeats",
                str(args.overhead_repeats),
            ],
            args.timeout,
        )

    return {
        "schema": 1,
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
            "interleaved_seconds": args.interleaved_seconds,
            "dtype": "float32",
            "check_tolerance": common.CHECK_TOL,
            "gemm_n": args.gemm_n,
            "scaling_T": list(args.scaling_T),
            "scaling_rounds": args.scaling_rounds,
            "implementations": impls,
        },
        "env": env,
        "gemm_peak": gemm,
        "configs": [c.as_dict() | {"key": c.key, "gemm_gflop_per_step": common.gemm_flops(c) / 1e9} for c in configs],
        "absent": absent,
        "results": rows,
        "scaling": scaling,
        "scaling_summary": scaling_summary,
        "overhead": ovh,
        "interleaved": interleaved,
    }


def _resolve_impls(text: str, mods: dict) -> list[str]:
    by_module = {m.__name__.rsplit(".", 1)[1]: n for n, m in mods.items()}
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name = part if part in mods else by_module.get(part)
        if name is None:
            raise SystemExit(f"--impls: unknown implementation {part!r}; choose from {', '.join(mods)}")
        out.append(name)
    return out


# ---- report ------------------------------------------------------------------------------------------
def _f(v: Any, fmt: str = ".2f", none: str = "—") -> str:
    return none if v is None else format(v, fmt)


def machine_line(res: dict) -> str:
    m = res.get("env", {}).get("machine", {})
    return (
        f"{m.get('cpu_model', '?')}, {m.get('logical_cores', '?')} logical cores"
        f" ({m.get('physical_cores') or '?'} physical, {m.get('usable_cores', '?')} usable),"
        f" {m.get('memory_gb', '?')} GB RAM; {m.get('platform', '?')}, Python {m.get('python', '?')}"
    )


def render_markdown(res: dict) -> str:
    """The results as Markdown: header, one table per config, scaling, overhead."""
    v = res.get("env", {}).get("versions", {})
    L = []
    kind = "quick smoke run (few steps: not a measurement)" if res["quick"] else "full run"
    L.append(f"### {res['started_utc']} — {kind}")
    L.append("")
    L.append(f"- Machine: {machine_line(res)}; load average at end {_f((res.get('load_average_at_end') or [None])[0])}")
    blas = v.get("numpy_blas")
    blas_txt = f"{blas.get('name')} {blas.get('version')}" if isinstance(blas, dict) else str(blas)
    td = v.get("torch_detail", {})
    L.append(
        f"- numpy {v.get('numpy', '?')} ({blas_txt}); {v.get('torch', 'torch ?')}"
        + (f" (BLAS {td.get('blas')}, {td.get('cpu_capability')})" if td else "")
        + f"; tinygrad_rnn {v.get('tinygrad_rnn', '?')}"
    )
    g = res.get("gemm_peak", {})
    L.append(
        f"- float32 GEMM peak: {_f(g.get('gflops'), '.1f')} GFLOP/s (best NumPy {g.get('n')}³ sgemm; "
        f"{_f(g.get('start', {}).get('gflops'), '.1f')} at the start of the run, "
        f"{_f(g.get('end', {}).get('gflops'), '.1f')} after the timings)"
    )
    s = res["settings"]
    L.append(
        f"- {s['rounds']} round(s), rotated order; per round and pair: >= {s['warmup']} warm-up steps "
        f"(and >= {s.get('warmup_seconds', 0):g} s of them) + "
        f"at least {s['repeats']} timed steps, more (up to {MAX_TIMED}) until {s.get('timed_seconds', 0):g} s of them "
        f"(fewer past {s['budget_s']:.0f} s); median and min over all timed steps"
    )
    if res.get("absent"):
        L.append(
            "- Absent (not installed or not importable): " + "; ".join(f"{k} ({r})" for k, r in res["absent"].items())
        )
    L.append("")
    L.append(
        "× columns are time ratios within this run (> 1 = slower than the reference / PyTorch fused), "
        "paired by round: the median over rounds of (median in round k / the base's median in round k), "
        "which cancels most of the machine's drift between rounds (the JSON also has the pooled ratio). "
        "GFLOP/s counts only the GEMMs of forward + backward (`impls/common.py:gemm_flops`). "
        "RSS Δ: growth of the worker's peak RSS over building + stepping; traced: tracemalloc peak "
        "of build + one step (NumPy-based implementations only)."
    )
    for c in res["configs"]:
        L.append("")
        L.append(
            f"#### {c['cell']}: B={c['batch']}, T={c['T']}, I={c['input']}, H={c['hidden']} "
            f"({c['gemm_gflop_per_step']:.3f} GFLOP of GEMM per step)"
        )
        L.append("")
        L.append(
            "| implementation | check | median ms | min ms | × NumPy ref | × torch fused | GFLOP/s "
            "| % of peak | RSS Δ MB | traced MB |"
        )
        L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in (r for r in res["results"] if r["config"] == c["key"]):
            if r["status"] == "absent":
                continue
            if r.get("median_ms") is None:
                L.append(f"| {r['label']} | {r['status'].upper()}: {r.get('reason')} | | | | | | | | |")
                continue
            chk = {True: "ok", False: "**FAILED**", None: "not run"}[r.get("check_passed")]
            warn = " ⚠" if r.get("flagged") else ""
            pct_peak = None if r.get("frac_of_peak") is None else 100 * r["frac_of_peak"]
            L.append(
                f"| {r['label']} | {chk} | {_f(r['median_ms'])}{warn} | {_f(r['min_ms'])} "
                f"| {_f(r.get('ratio_to_numpy_ref'))} | {_f(r.get('ratio_to_torch_fused'))} "
                f"| {_f(r.get('gflops'), '.1f')} | {_f(pct_peak, '.1f')} "
                f"| {_f(r.get('rss_delta_mb'), '.1f')} | {_f(r.get('traced_peak_mb'), '.1f')} |"
            )
    inter = [r for r in res.get("interleaved") or [] if r.get("ratio_of_medians")]
    if inter:
        L.append("")
        L.append(
            "#### tinygrad_rnn ÷ NumPy reference, interleaved step by step in one process "
            f"({res['settings'].get('interleaved_seconds', 0):g} s per config)"
        )
        L.append("")
        L.append(
            "The machine's drift cannot separate the two here: each tinygrad_rnn step runs right after a "
            "reference step. (Both are NumPy on the same BLAS, so sharing a process changes nothing else.)"
        )
        L.append("")
        L.append(
            "| config | steps each | NumPy ref median ms | tinygrad_rnn median ms | ratio of medians "
            "| median of step ratios |"
        )
        L.append("|---|--:|--:|--:|--:|--:|")
        for r in inter:
            m = r["median_ms"]
            L.append(
                f"| {r['config']} | {r['steps']} | {_f(m['numpy_ref'])} | {_f(m['tinygrad_rnn'])} "
                f"| {_f(r['ratio_of_medians'], '.3f')} | {_f(r['median_of_step_ratios'], '.3f')} |"
            )
    if res.get("scaling"):
        L.append("")
        L.append("#### Linear scaling in T (lstm, B=16, I=H=64)")
        L.append("")
        L.append(
            "| implementation | T | median ms | ms per time step | RSS Δ MB | traced MB | traced KB per time step |"
        )
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        for r in sorted(res["scaling"], key=lambda r: (str(r.get("impl")), r["T"])):
            if r.get("median_ms") is None:
                L.append(f"| {r.get('label')} | {r['T']} | {r.get('status')}: {r.get('reason')} | | | | |")
                continue
            L.append(
                f"| {r['label']} | {r['T']:,} | {_f(r['median_ms'], '.1f')} | {_f(r['ms_per_time_step'], '.3f')} "
                f"| {_f(r.get('rss_delta_mb'), '.1f')} | {_f(r.get('traced_peak_mb'), '.1f')} "
                f"| {_f(r.get('traced_kb_per_time_step'), '.1f')} |"
            )
        lin = res.get("scaling_summary") or {}
        if lin:
            L.append("")
            L.append(
                "Linearity, (ms per time step at the largest T) / (at the smallest T), 1.00 = exactly linear: "
                + "; ".join(
                    f"{k} {_f(x.get('time_ratio'))} (memory per time step: {_f(x.get('traced_ratio'))})"
                    for k, x in lin.items()
                )
            )
            L.append("")
            L.append("Growth per step of T (time × / traced memory ×; 10× T should cost ≤ 11× both):")
            L.append("")
            for k, x in lin.items():
                parts = [
                    f"T {st['T_from']:,}→{st['T_to']:,}: {_f(st['time_factor'], '.1f')}× / "
                    f"{_f(st.get('traced_factor'), '.1f')}×"
                    for st in x.get("steps", [])
                ]
                L.append(f"- {k}: " + "; ".join(parts))
    ovh = res.get("overhead")
    if ovh and ovh.get("rows"):
        L.append("")
        L.append(
            f"#### Per-op overhead (bench/overhead.py: forward+backward on 2x2 float32, µs per op, "
            f"median of {ovh['repeats']} chains of {ovh['ops_per_run']} ops)"
        )
        L.append("")
        has_t = any("torch_us" in r for r in ovh["rows"])
        L.append("| op | tinygrad_rnn µs |" + (" torch µs | × torch |" if has_t else ""))
        L.append("|---|--:|" + ("--:|--:|" if has_t else ""))
        for r in ovh["rows"]:
            line = f"| {r['op']} | {r['tinygrad_us']:.2f} |"
            if has_t:
                ratio = r["tinygrad_us"] / r["torch_us"] if r.get("torch_us") else None
                line += f" {_f(r.get('torch_us'))} | {_f(ratio)} |"
            L.append(line)
    elif ovh:
        L.append("")
        L.append(f"Per-op overhead: {ovh.get('status')}: {ovh.get('reason')}")
    return "\n".join(L) + "\n"


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
        "--quick", action="store_true", help="smoke test: 3 small configs, 2 rounds, few steps, T up to 1,000"
    )
    ap.add_argument("--impls", help="comma-separated subset (names or module names), e.g. numpy_ref,tinygrad_rnn")
    ap.add_argument("--configs", help="comma-separated cell:B:T:I:H overrides, e.g. lstm:32:50:64:128,gru:8:20:16:32")
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
    ap.add_argument("--worker-gemm", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--worker-env", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-overhead", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-interleaved", help=argparse.SUPPRESS)
    ap.add_argument(
        "--interleaved-seconds",
        type=float,
        help="seconds per config of tinygrad_rnn vs numpy_ref stepping alternately in one process (0 = skip)",
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
        _emit(worker_gemm(args.worker_gemm, 5))
        return 0
    if args.worker_env:
        _emit(worker_env(_resolve_impls(args.impls, _impl_modules()) if args.impls else list(_impl_modules())))
        return 0
    if args.worker_overhead:
        _emit(worker_overhead(args.overhead_ops, args.overhead_repeats))
        return 0
    if args.worker_interleaved:
        _emit(worker_interleaved(args.worker_interleaved, args.interleaved_seconds))
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
