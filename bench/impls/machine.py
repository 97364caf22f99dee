"""The machine and library report of a BPTT benchmark run (collected in a worker subprocess, like the
timings): CPU and memory, NumPy and its BLAS, the thread pools threadpoolctl sees (the BLAS kernel
in use), the frameworks' versions, tinygrad_rnn's ``info()``, and the float32 GEMM rate."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from typing import Any

import numpy as np

from .probes import apply_env


def gemm_rate(n: int, repeats: int) -> dict:
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


def cpuinfo() -> dict:
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


def env_report(impls: list[str], mods: dict[str, Any]) -> dict:
    """Machine and library versions, collected in a subprocess like the timings.

    Optional frameworks are probed (imported) only when their implementation is part of the run.
    """
    env: dict = {"machine": {**cpuinfo(), "platform": platform.platform(), "python": platform.python_version()}}
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
    outer = {k: os.environ.get(k) for k in ("TINYGRAD_RNN_KERNELS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    apply_env(getattr(mods["tinygrad_rnn"], "ENV", None))  # tinygrad_rnn as its row runs it
    try:
        import tinygrad_rnn as tg

        v["tinygrad_rnn"] = f"{getattr(tg, '__version__', '?')} (backend {tg.backend.name})"
        v["tinygrad_rnn_info"] = mods["tinygrad_rnn"].kernel_info()
    except Exception as e:
        v["tinygrad_rnn"] = f"not importable ({e})"
    try:
        import numba

        v["numba"] = numba.__version__
    except ImportError:
        v["numba"] = None
    frameworks = {"torch": ("torch_fused", "torch_cells"), "jax": ("jax_scan",), "dezero": ("dezero",)}
    for key, names in frameworks.items():
        if any(n in impls for n in names):
            ok, info = mods[names[0]].available()
            v[key] = info if ok else f"absent: {info}"
        else:
            v[key] = "not part of this run"
    try:  # again, now that the frameworks are loaded: which BLAS / OpenMP pools a worker holds
        import threadpoolctl

        v["threadpools_all"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture", "prefix")}
            for d in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pass
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
        for k in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "TINYGRAD_RNN_BACKEND",
            "NUMBA_CACHE_DIR",
        )
    } | outer  # the BLAS core-type overrides and the kernel choice as the driver was started with
    return env
