"""GPU benchmark: one BPTT training step of tinygrad_rnn on CuPy against PyTorch cuDNN and a PyTorch cell loop.

    python bench/gpu.py --out DIR                       # default configs; DIR/gpu_bench.json and gpu_bench.md
    python bench/gpu.py --quick --backend numpy --out DIR   # plumbing check on a machine without a GPU

The step is the CPU suite's (``impls/common.py``): forward over the sequence, loss = mean of squared outputs,
backward through time, float32, no optimizer step, the same weights for everyone. One worker subprocess per
config (``TINYGRAD_RNN_BACKEND`` is read when tinygrad_rnn is imported, so the driver never imports it)
builds all implementations and times them in interleaved rounds, the order rotated round by round, so a
drift of the GPU clocks does not favour one of them. Each step is timed with CUDA events of the library that
runs it (``cupy.cuda.Event`` / ``torch.cuda.Event``; wall clock where there is no GPU). Before timing, each
implementation passes the CPU suite's small-config check against the float64 NumPy reference, and on the
benchmark config itself its loss and gradients must agree with cuDNN's to 1e-3 (relative, float32).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _p in (str(REPO), str(BENCH_DIR)):  # the checkout itself is measured, as in rnn_bptt.py
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import rnn_bptt  # noqa: E402  (run_check: the CPU suite's small-config check, reused as is)
from impls import common  # noqa: E402
from impls.common import Config  # noqa: E402

RESULT_MARK = "@@GPU-BENCH@@ "
IMPLS = ("tinygrad_rnn", "torch_cudnn", "torch_cells")
LABELS = {
    "tinygrad_rnn": "tinygrad_rnn nn.LSTM/GRU/RNN (fused default) on the CuPy backend",
    "torch_cudnn": "PyTorch nn.LSTM/GRU/RNN (cuDNN)",
    "torch_cells": "PyTorch nn.*Cell in a Python loop",
}
# Sizes where a GPU has work to do, ahead of the CPU suite's (so a run cut short by --deadline has them).
GPU_CONFIGS = [
    Config(*c) for c in (("lstm", 256, 100, 512, 512), ("lstm", 128, 200, 1024, 1024), ("gru", 256, 100, 512, 512))
]
DEFAULT_CONFIGS = GPU_CONFIGS + common.DEFAULT_CONFIGS
QUICK_CONFIGS = [Config(*c) for c in (("lstm", 4, 6, 5, 8), ("gru", 4, 6, 5, 8))]
FULL_CHECK_TOL = 1e-3  # float32 vs float32 over a long sequence: rounding reaches ~1e-5, a bug gives O(1)
TARGET_CFG = "lstm:256:100:512:512"
# The NumPy backend's step at TARGET_CFG on the development machine, for the ">= 20x" target: it cannot be
# measured on the GPU machine. Measured 2026-12-02 00:55-00:57 UTC on the 2-core AMD EPYC development
# machine (NumPy 2.4.6, OpenBLAS 0.3.31, threadpoolctl: 'SkylakeX' kernel, 2 threads, OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE unset) with `bench/rnn_bptt.py --impls tinygrad_rnn --configs lstm:256:100:512:512`,
# 3 rounds: median 1894 ms over 30 timed steps (round medians 2009, 2110, 1799 ms; min 1308 ms).
DEFAULT_CPU_MS = 1894.0
MAX_WARMUP, MAX_TIMED, MIN_TIMED = 20, 100, 3
TIMING = ("rounds", "warmup", "warmup_seconds", "repeats", "timed_seconds", "budget")  # passed to the workers
SETTINGS = ("backend", "torch_device", *TIMING, "deadline", "cpu_ms")


# =====================================================================================================
# worker side: one config, every implementation, in this process
# =====================================================================================================
def _torch_absent(device: str) -> str | None:
    """Why the torch implementations cannot run on ``device`` (None: they can)."""
    try:
        import torch
    except ImportError as e:
        return f"torch not installed ({e})"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device"
    return None


class _TorchOn:
    """``torch`` with ``zeros`` on a device. TorchCellsRunner.step builds its zero state with
    ``self.torch.zeros``; swapping this in runs the CPU suite's own loop on the GPU, unchanged."""

    def __init__(self, torch: Any, device: str) -> None:
        self._torch, self._device = torch, device

    def zeros(self, *shape: int, **kw: Any) -> Any:
        return self._torch.zeros(*shape, device=self._device, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._torch, name)


def _host_result(loss: Any, params: dict[str, Any], x: Any) -> tuple[float, dict[str, np.ndarray]]:
    grads = {k: p.grad.detach().cpu().numpy() for k, p in params.items()}
    grads["x"] = x.grad.detach().cpu().numpy()
    return float(loss.item()), grads


def build_torch(name: str, device: str):
    """A builder ``(cfg, weights, x, dtype) -> runner`` for bench/impls' torch runner moved to ``device``."""
    from impls import torch_cells, torch_fused

    def build(cfg: Config, weights: dict, x: np.ndarray, dtype: Any = np.float32) -> Any:
        if name == "torch_cudnn":
            r = torch_fused.TorchFusedRunner(cfg, weights, x, dtype)
            r.m = r.m.to(device)  # for an RNN module this also re-flattens the weights for cuDNN
            r.params = dict(r.m.named_parameters())
            names = {k: k for k in common.PARAM_NAMES}
        else:
            r = torch_cells.TorchCellsRunner(cfg, weights, x, dtype)
            r.cell = r.cell.to(device)
            r.params = dict(r.cell.named_parameters())
            r.torch = _TorchOn(r.torch, device)
            names = {k: k[:-3] for k in common.PARAM_NAMES}  # the cell's names lack "_l0"
        r.x = r.x.detach().to(device).requires_grad_(True)
        # the base result() calls .numpy(), which a CUDA tensor refuses
        r.result = lambda: _host_result(r.loss, {k: r.params[v] for k, v in names.items()}, r.x)
        return r

    return build


def build_tinygrad(cfg: Config, weights: dict, x: np.ndarray, dtype: Any = np.float32) -> Any:
    from impls import tinygrad_impl

    return tinygrad_impl.build(cfg, weights, x, dtype)


class _Clock:
    """Times one step: CUDA events of the library that runs it, or the wall clock without a GPU.

    The end event is waited for, so every step starts on an idle GPU and its event time is the span from
    its first launch to its last kernel's end; a host-bound step shows up there as gaps between kernels.
    """

    def __init__(self, kind: str, lib: Any = None) -> None:
        self.kind, self.lib = kind, lib
        if kind == "cupy":
            self.events = (lib.cuda.Event(), lib.cuda.Event())
        elif kind == "torch":
            self.events = (lib.cuda.Event(enable_timing=True), lib.cuda.Event(enable_timing=True))

    def time(self, step) -> tuple[float, float]:
        """(device ms, wall ms) of one call of ``step``."""
        t0 = time.perf_counter()
        if self.kind == "wall":
            step()
            wall = (time.perf_counter() - t0) * 1e3
            return wall, wall
        a, b = self.events
        a.record()
        step()
        b.record()
        b.synchronize()
        wall = (time.perf_counter() - t0) * 1e3
        ms = self.lib.cuda.get_elapsed_time(a, b) if self.kind == "cupy" else a.elapsed_time(b)
        return float(ms), wall


class _Memory:
    """GPU memory a runner takes, from just before it is built: weights, input, saved activations, gradients.

    CuPy: growth of the default pool's held bytes (``total_bytes``) after emptying its cache, so it is the
    pool's high-water mark (blocks are kept, rounded up). torch: ``max_memory_allocated`` above what was
    allocated before. None on the host (the CPU suite measures that).
    """

    def __init__(self, kind: str, lib: Any = None) -> None:
        self.kind, self.lib, self.base = kind, lib, 0

    def start(self) -> None:
        gc.collect()
        if self.kind == "cupy":
            pool = self.lib.get_default_memory_pool()
            pool.free_all_blocks()
            self.base = pool.total_bytes()
        elif self.kind == "torch":
            self.lib.cuda.synchronize()
            self.base = self.lib.cuda.memory_allocated()
            self.lib.cuda.reset_peak_memory_stats()

    def peak_mb(self) -> float | None:
        if self.kind == "cupy":
            return (self.lib.get_default_memory_pool().total_bytes() - self.base) / 2**20
        if self.kind == "torch":
            return (self.lib.cuda.max_memory_allocated() - self.base) / 2**20
        return None


def _no_tf32(torch: Any) -> str:
    """float32 means float32: cuDNN may otherwise run its RNN GEMMs in TF32 (10-bit mantissa), which is
    neither the arithmetic tinygrad_rnn does (CuPy's default is no TF32) nor within the 1e-3 check. The
    fp32_precision API (torch >= 2.9) where it exists: mixing it with the legacy flags is an error there."""
    rnn = getattr(torch.backends.cudnn, "rnn", None)
    if rnn is not None and hasattr(rnn, "fp32_precision"):
        rnn.fp32_precision = torch.backends.cuda.matmul.fp32_precision = "ieee"
        return "fp32_precision='ieee'"
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    return "allow_tf32=False"


def _setup(name: str, args: argparse.Namespace) -> tuple[Any, _Clock, _Memory, str]:
    """(builder, clock, memory probe, version text) of one implementation in this worker."""
    if name == "tinygrad_rnn":
        import tinygrad_rnn as tg

        be = tg.backend
        kind = "cupy" if be.name == "cupy" else "wall"
        info = f"tinygrad_rnn {getattr(tg, '__version__', '?')} (backend {be.name})"
        return build_tinygrad, _Clock(kind, be.xp), _Memory(kind, be.xp), info
    import torch

    tf32 = _no_tf32(torch)
    kind = "torch" if args.torch_device.startswith("cuda") else "wall"
    if kind == "wall":  # torch on the CPU is plumbing only (tests): one thread, no spinning pool to contend
        torch.set_num_threads(1)
    info = f"torch {torch.__version__} on {args.torch_device}"
    if kind == "torch":
        info += f", cuDNN {torch.backends.cudnn.version()}, TF32 off ({tf32})"
    return build_torch(name, args.torch_device), _Clock(kind, torch), _Memory(kind, torch), info


def _steps(runner: Any, clock: _Clock, n_min: int, seconds: float, cap: int, budget: float) -> list[tuple]:
    """At least ``n_min`` steps and more (up to ``cap``) until ``seconds`` have passed; stop past ``budget``."""
    out: list[tuple] = []
    start = time.perf_counter()
    while True:
        out.append(clock.time(runner.step))
        el = time.perf_counter() - start
        if len(out) >= cap or (len(out) >= n_min and el >= seconds) or (len(out) >= MIN_TIMED and el > budget):
            return out


def _full_check(runner: Any, want: tuple) -> dict:
    """Loss and gradients of ``runner``'s last step against cuDNN's on the benchmark config itself."""
    try:
        errs = common.rel_errors(runner.result(), want)
    except Exception as e:
        return {"vs": "torch_cudnn", "passed": False, "reason": f"{type(e).__name__}: {e}"}
    vals = list(errs.values())
    worst = float("nan") if any(np.isnan(v) for v in vals) else max(vals)
    return {
        "vs": "torch_cudnn",
        "tolerance": FULL_CHECK_TOL,
        "passed": bool(worst <= FULL_CHECK_TOL),
        "max_rel_err": worst if np.isfinite(worst) else None,
        "rel_err": {k: v if np.isfinite(v) else None for k, v in errs.items()},
    }


def worker(args: argparse.Namespace) -> dict:
    cfg = Config.parse(args.worker)
    weights, x = common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32)
    rows: dict[str, dict] = {}
    live: dict[str, tuple] = {}
    for name in args.impls:
        row = rows.setdefault(name, {"label": LABELS[name]})
        why = _torch_absent(args.torch_device) if name != "tinygrad_rnn" else None
        if why:
            row.update(status="absent", reason=why)
            continue
        try:
            build, clock, mem, row["version"] = _setup(name, args)
            row["check"] = rnn_bptt.run_check(types.SimpleNamespace(build=build), cfg.cell)
            mem.start()
            runner = build(cfg, weights, x, np.float32)
            warm = _steps(runner, clock, args.warmup, args.warmup_seconds, MAX_WARMUP, args.budget)
            row.update(status="ok" if row["check"]["passed"] else "check_failed", warmup_ms=[w[0] for w in warm])
            row["peak_mem_mb"] = mem.peak_mb()
            if getattr(runner, "mode", None):
                row["mode"] = runner.mode  # fused or composed (TINYGRAD_RNN_FUSED)
            row["clock"] = clock.kind  # cupy / torch: their CUDA events and memory counters; wall: no GPU
            live[name] = (runner, clock, mem)
        except Exception as e:
            row.update(status="error", reason=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()[-3000:])
    # The same config, weights and input everywhere: after warm-up every runner holds the same step's result.
    if "torch_cudnn" in live:
        want = live["torch_cudnn"][0].result()
        for name, (runner, _, _) in live.items():
            if name != "torch_cudnn":
                rows[name]["full_check"] = chk = _full_check(runner, want)
                if not chk["passed"]:
                    rows[name]["status"] = "check_failed"
    for rnd in range(args.rounds):
        order = list(live)
        order = order[rnd % len(order) :] + order[: rnd % len(order)] if order else order
        for name in order:
            runner, clock, _ = live[name]
            try:
                got = _steps(runner, clock, args.repeats, args.timed_seconds, MAX_TIMED, args.budget)
            except Exception as e:
                rows[name].update(status="error", reason=f"{type(e).__name__}: {e}")
                live.pop(name)
                continue
            row = rows[name]
            row.setdefault("times_ms", []).extend(g[0] for g in got)
            row.setdefault("wall_ms", []).extend(g[1] for g in got)
            row.setdefault("round_medians_ms", []).append(statistics.median(g[0] for g in got))
    for name, (_, _, mem) in live.items():
        row = rows[name]
        if mem.kind == "cupy":  # the pool keeps what it took: its size now is the high-water mark
            row["peak_mem_mb"] = max(row["peak_mem_mb"] or 0.0, mem.peak_mb() or 0.0)
        if row.get("times_ms"):
            row.update(
                median_ms=statistics.median(row["times_ms"]),
                min_ms=min(row["times_ms"]),
                wall_median_ms=statistics.median(row["wall_ms"]),
            )
    return {"config": cfg.key, "impls": rows, **({"env": worker_env(args)} if args.with_env else {})}


def worker_env(args: argparse.Namespace) -> dict:
    """Versions and the GPU, read by the first worker (the driver imports neither tinygrad_rnn nor torch)."""
    env: dict = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "TINYGRAD_RNN_BACKEND": os.environ.get("TINYGRAD_RNN_BACKEND"),
    }
    try:
        import threadpoolctl

        env["threadpools"] = [
            (d.get("internal_api"), d.get("architecture"), d.get("num_threads"))
            for d in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pass
    try:
        import tinygrad_rnn as tg

        env["tinygrad_rnn"] = f"{getattr(tg, '__version__', '?')} (backend {tg.backend.name})"
        if tg.backend.name == "cupy":
            cp = tg.backend.xp
            env["cupy"] = f"{cp.__version__}" + (" (stand-in)" if getattr(cp, "__standin__", False) else "")
            try:
                env["gpu"] = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
                env["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
            except Exception as e:
                env["gpu"] = f"unknown ({type(e).__name__})"
    except Exception as e:
        env["tinygrad_rnn"] = f"not importable ({type(e).__name__}: {e})"
    env["torch_absent"] = why = _torch_absent(args.torch_device)
    env["torch"] = f"absent: {why}" if why else sys.modules["torch"].__version__
    if not why and args.torch_device.startswith("cuda"):
        torch = sys.modules["torch"]
        env.update(
            torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), torch_gpu=torch.cuda.get_device_name(0)
        )
    return env


# =====================================================================================================
# driver side
# =====================================================================================================
def launch(argv: list[str], args: argparse.Namespace, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--torch-device", args.torch_device]
    env = {**os.environ, "TINYGRAD_RNN_BACKEND": args.backend}
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO), env=env)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"worker timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    return {"status": "error", "reason": f"worker exited with {p.returncode}", "stderr_tail": p.stderr[-3000:]}


def _ratio(a: dict, b: dict) -> dict | None:
    """a's time / b's: paired by round (median of the per-round ratios; both ran in the same round,
    seconds apart) and pooled (ratio of the medians over all steps)."""
    if not (a.get("median_ms") and b.get("median_ms")):
        return None
    ra, rb = a["round_medians_ms"], b["round_medians_ms"]
    paired = statistics.median(x / y for x, y in zip(ra, rb)) if len(ra) == len(rb) else None
    return {"paired": paired, "pooled": a["median_ms"] / b["median_ms"]}


def _best(r: dict | None) -> float | None:
    return None if r is None else (r["paired"] if r["paired"] is not None else r["pooled"])


def targets(rows: list[dict], cpu_ms: float) -> list[dict]:
    """The issue's three targets, each met / not met / not measured, with the numbers behind it."""

    def judge(name: str, pairs: list[tuple[str, float]], ok) -> dict:
        if not pairs:
            return {"target": name, "status": "not measured", "detail": "no config had both numbers"}
        bad = [f"{k} {v:.2f}" for k, v in pairs if not ok(v)]
        detail = ", ".join(f"{k} {v:.2f}" for k, v in pairs)
        return {"target": name, "status": "not met" if bad else "met", "detail": detail, "failing": bad}

    ok_rows = [r for r in rows if r.get("status") == "ok" and r["impls"].get("tinygrad_rnn", {}).get("status") == "ok"]
    cells = [(r["config"], _best(r["ratios"].get("tinygrad_over_cells"))) for r in ok_rows]
    cudnn = [
        (r["config"], _best(r["ratios"].get("tinygrad_over_cudnn")))
        for r in ok_rows
        if Config.parse(r["config"]).hidden >= 512
    ]
    tg_target = next((r["impls"]["tinygrad_rnn"] for r in ok_rows if r["config"] == TARGET_CFG), {})
    speed = [(TARGET_CFG, cpu_ms / tg_target["median_ms"])] if tg_target.get("median_ms") else []
    return [
        judge(
            "faster than the PyTorch cell loop everywhere (tinygrad ÷ cells < 1)",
            [p for p in cells if p[1] is not None],
            lambda v: v < 1.0,
        ),
        judge(
            "within 2× of cuDNN at hidden ≥ 512 (tinygrad ÷ cuDNN ≤ 2)",
            [p for p in cudnn if p[1] is not None],
            lambda v: v <= 2.0,
        ),
        judge(
            f"≥ 20× the NumPy backend's {cpu_ms:.0f} ms on the 2-core CPU at {TARGET_CFG} (CPU ms ÷ tinygrad ms)",
            speed,
            lambda v: v >= 20.0,
        ),
    ]


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "—" if v is None else format(v, fmt)


def _ms(im: dict, name: str) -> str:
    x = im.get(name, {})
    return f"{x['median_ms']:.2f} ({x['min_ms']:.2f})" if x.get("median_ms") else x.get("status", "—")


def render_md(res: dict) -> str:
    e = res.get("env", {})
    kinds = {x["clock"] for r in res["configs"] for x in r.get("impls", {}).values() if x.get("clock")}
    names = {"cupy": "cupy.cuda.Event", "torch": "torch.cuda.Event", "wall": "the wall clock (no GPU)"}
    clocks = ", ".join(names[k] for k in sorted(kinds)) or "nothing"
    L = [
        f"### GPU benchmark, {res['started_utc']}",
        "",
        f"- GPU: {e.get('gpu') or e.get('torch_gpu') or 'none'}; tinygrad_rnn {e.get('tinygrad_rnn')}; "
        f"CuPy {e.get('cupy', '—')}; torch {e.get('torch')}, cuDNN {e.get('cudnn', '—')}",
        f"- {res['settings']['rounds']} interleaved rounds; ms per step = median (min) over all timed steps, "
        f"timed by {clocks}; ratios paired by round; memory: peak MiB above what was allocated before",
        "",
        "| config | tinygrad ms | cuDNN ms | cells ms | tg ÷ cuDNN | tg ÷ cells | MiB tg / cuDNN / cells | check |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in res["configs"]:
        im = r.get("impls", {})
        if r.get("status") != "ok":
            L.append(f"| {r['config']} | {r.get('status')}: {r.get('reason', '')} |||||||")
            continue

        mem = " / ".join(_f(im.get(n, {}).get("peak_mem_mb"), ".1f") for n in IMPLS)
        chk = (
            "; ".join(
                f"{n} {x.get('status')}" + (f" ({x['reason'][:60]})" if x.get("status") == "error" else "")
                for n, x in im.items()
                if x.get("status") not in ("ok", "absent")
            )
            or "ok"
        )
        L.append(
            f"| {r['config']} | {_ms(im, 'tinygrad_rnn')} | {_ms(im, 'torch_cudnn')} | {_ms(im, 'torch_cells')} | "
            f"{_f(_best(r['ratios'].get('tinygrad_over_cudnn')))} | "
            f"{_f(_best(r['ratios'].get('tinygrad_over_cells')))} | {mem} | {chk} |"
        )
    absent = {
        n: x["reason"] for r in res["configs"] for n, x in r.get("impls", {}).items() if x.get("status") == "absent"
    }
    L += [""] + [f"- {n}: absent ({why})" for n, why in absent.items()]
    L += ["", "Targets:", ""] + [f"- **{t['status']}**: {t['target']}: {t['detail']}" for t in res["targets"]]
    return "\n".join(L) + "\n"


def _log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)  # progress on stderr; the table goes to stdout


def run(args: argparse.Namespace) -> dict:
    t0 = time.monotonic()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    res: dict = {
        "schema": "tinygrad_rnn-gpu-bench/1",
        "started_utc": started,
        "argv": sys.argv[1:],
        "settings": {k: getattr(args, k) for k in SETTINGS},
        "full_check_tolerance": FULL_CHECK_TOL,
        "configs": [],
    }
    try:
        _run_configs(res, args, t0)
    except KeyboardInterrupt:  # gpu_check.sh's time cap: keep what was measured
        res["interrupted"] = True
    res["elapsed_s"] = round(time.monotonic() - t0, 1)
    _save(res, args)
    return res


def _run_configs(res: dict, args: argparse.Namespace, t0: float) -> None:
    impls, why = list(args.impls), None
    for cfg in args.configs:
        if args.deadline and time.monotonic() - t0 > args.deadline:
            res["configs"].append(
                {"config": cfg.key, "status": "skipped", "reason": f"past --deadline {args.deadline:g} s"}
            )
            continue
        flags = _worker_flags(args) + ([] if "env" in res else ["--with-env"])  # versions: from one worker
        r = launch(["--worker", cfg.key, "--impls", ",".join(impls), *flags], args, args.timeout)
        if "env" in r:
            res["env"] = r.pop("env")
            _log(f"gpu.py: env {json.dumps(res['env'])}")
            # torch absent for the whole run (no CUDA here): later workers need not import it to find out
            why = res["env"].get("torch_absent")
            impls = [n for n in args.impls if n == "tinygrad_rnn" or not why]
        r.setdefault("config", cfg.key)
        r.setdefault("status", "ok")
        got = r.get("impls", {})
        for n in set(args.impls) - set(impls):
            got[n] = {"label": LABELS[n], "status": "absent", "reason": why}
        r["impls"] = im = {n: got[n] for n in IMPLS if n in got}
        tg_row = im.get("tinygrad_rnn", {})
        r["ratios"] = {
            "tinygrad_over_cudnn": _ratio(tg_row, im.get("torch_cudnn", {})),
            "tinygrad_over_cells": _ratio(tg_row, im.get("torch_cells", {})),
        }
        res["configs"].append(r)
        _log(
            f"  {cfg.key:<24} "
            + "  ".join(
                f"{n} {_f(x.get('median_ms'))} ms" if x.get("median_ms") else f"{n} {x.get('status')}"
                for n, x in im.items()
            )
            + (f"  {r.get('reason')}" if r["status"] != "ok" else "")
        )
        _save(res, args)  # after every config: a run stopped by a time limit still leaves its results


def _worker_flags(args: argparse.Namespace) -> list[str]:
    return [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in TIMING]


def _save(res: dict, args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res["targets"] = targets(res["configs"], args.cpu_ms)
    (out / "gpu_bench.json").write_text(json.dumps(res, indent=1, default=str))
    (out / "gpu_bench.md").write_text(render_md(res))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 tiny configs, 2 rounds, few steps: plumbing only")
    ap.add_argument("--configs", help="comma-separated cell:B:T:I:H, e.g. lstm:256:100:512:512,gru:32:50:64:128")
    ap.add_argument("--impls", default=",".join(IMPLS), help=f"subset of {','.join(IMPLS)}")
    ap.add_argument(
        "--backend",
        default=os.environ.get("TINYGRAD_RNN_BACKEND") or "cupy",
        help="TINYGRAD_RNN_BACKEND of the workers (default: the environment's, else cupy)",
    )
    ap.add_argument("--torch-device", default="cuda", help="where the torch implementations run (cpu: plumbing)")
    ap.add_argument(
        "--cpu-ms",
        type=float,
        default=DEFAULT_CPU_MS,
        help=f"NumPy backend ms per step at {TARGET_CFG} on the 2-core CPU (default: measured, see source)",
    )
    ap.add_argument("--out", default=os.environ.get("OUT") or ".", help="folder for gpu_bench.json / gpu_bench.md")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--warmup-seconds", type=float)
    ap.add_argument("--repeats", type=int, help="timed steps per implementation and round (at least)")
    ap.add_argument("--timed-seconds", type=float, help="more timed steps (up to 100) until this many seconds")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per implementation and round before stopping")
    ap.add_argument(
        "--deadline", type=float, default=0.0, help="skip the configs not started after this many s (0: none)"
    )
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a worker is killed")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--with-env", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    for k, full, quick in (
        ("rounds", 3, 2),
        ("warmup", 3, 1),
        ("warmup_seconds", 0.3, 0.0),
        ("repeats", 10, 3),
        ("timed_seconds", 0.3, 0.0),
    ):
        if getattr(args, k) is None:
            setattr(args, k, quick if q else full)
    args.impls = [n.strip() for n in args.impls.split(",") if n.strip()]
    unknown = sorted(set(args.impls) - set(IMPLS))
    if unknown:
        ap.error(f"unknown --impls {unknown}; expected a subset of {list(IMPLS)}")
    if args.worker is None:
        args.configs = (
            [Config.parse(c) for c in args.configs.split(",") if c.strip()]
            if args.configs
            else list(QUICK_CONFIGS if q else DEFAULT_CONFIGS)
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        sys.stdout.write(RESULT_MARK + json.dumps(worker(args), default=str) + "\n")
        return 0
    res = run(args)
    print(render_md(res))
    bad = [
        (r["config"], n)
        for r in res["configs"]
        for n, x in r.get("impls", {}).items()
        if x.get("status") in ("error", "check_failed")
    ] + [(r["config"], "worker") for r in res["configs"] if r.get("status") == "error"]
    for cfg, n in bad:
        print(f"!!! {n} on {cfg}: failed (see gpu_bench.json)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
