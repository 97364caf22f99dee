"""Data-parallel scaling of an LSTM language model over MPI ranks on this machine, and a cost model for K machines.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/distributed.py [--hidden 256,512] [--ranks 1,2,3]
        [--rounds 5] [--steps 16] [--layers 1] [--out FILE.json] [--quick]

The model: ``Embedding(V, H)`` -> ``nn.LSTM(H, H, num_layers)`` -> ``Linear(H, V)``, cross-entropy over the
vocabulary, SGD, wrapped in ``nn.parallel.DistributedDataParallel``; each rank trains on its own
``ShardedStream`` share of a synthetic token stream, carrying the LSTM state (detached) from window to
window. Weak scaling: the per-rank batch is fixed, so K ranks process K times the tokens per step.

For every K the driver launches this file under ``mpiexec -n K --oversubscribe`` (one BLAS thread per
rank; ``tg.runtime.tune_process()`` in each rank). In one launch the steps cycle through three modes,
measured side by side: DDP with overlap on, DDP with overlap off (``ddp.overlap``), and no communication
at all (``ddp.no_sync()``: what K processes sharing this machine compute without talking; the replicas
drift apart, which changes no timing). Each rank records per step the wall time, the backward time,
``ddp.stats["wait_s"]``'s growth and when each parameter's gradient became final. The exposed
communication of a step is the wait of the rank that reached the end of backward last; the others wait
longer by the time they had finished early (imbalance between the ranks, reported as the mean wait).

After training, the ranks time allreduces of flat float32 buffers (the whole gradient, and a sweep of
sizes): ``dist.all_reduce`` (what DDP uses: ``Iallreduce`` polled by ``Work.wait``), ``Iallreduce`` spun
on ``Test``, and MPI's blocking ``Allreduce``. Rounds rotate the order of K; ratios between K are paired
by round. Rank 0 of each launch writes a JSON; the driver combines them into one JSON and prints Markdown
tables, including a fitted ring-allreduce cost model (latency alpha per step, bandwidth) and its
predictions for K = 8 and 64 machines.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIRST_BUCKET = 1 << 20  # DDP's first bucket (tinygrad_rnn/nn/parallel.py: _FIRST_BUCKET_BYTES)
MB = 1 << 20
LINKS = {"10 Gbit/s": 10e9 / 8, "100 Gbit/s": 100e9 / 8}  # bytes per second
LATENCIES = (5e-6, 25e-6)  # seconds per message (per ring step) on the network
PREDICT_K = (8, 64)
CAPS_MB = (0.25, 0.5, 1, 2, 4, 8, 16, 25, 64)
# the steps of one launch cycle through: DDP overlapping the allreduces with backward, DDP starting them all at
# the end of backward, and no communication at all (no_sync: each rank steps alone, the replicas drift apart)
MODES = ("on", "off", "local")
MODE_NAMES = {"on": "DDP, overlap on", "off": "DDP, overlap off", "local": "no communication", "ddp": "DDP"}


# ---- worker: one rank of one launch ----------------------------------------------------------------------
def _blas() -> list | str:
    try:
        import threadpoolctl  # noqa: PLC0415

        return [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
            for d in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        return "threadpoolctl not installed"


def _sweep(g, sizes: list[int]) -> list[dict]:
    """Allreduce times of flat float32 buffers, three ways, interleaved rep by rep; each rep starts after a
    blocking MPI barrier, and a rep's time is the slowest rank's."""
    import tinygrad_rnn as tg  # noqa: PLC0415
    import tinygrad_rnn.distributed as dist  # noqa: PLC0415

    mpi = getattr(g, "mpi", g)  # on the CuPy backend the group is NCCL's, bootstrapped over this MPI one
    comm, MPI = mpi.comm, mpi.MPI
    out = []
    for n in sizes:
        a = np.zeros(n // 4, np.float32)
        t = tg.Tensor(a.copy())

        def spin(a=a) -> None:
            r = comm.Iallreduce(MPI.IN_PLACE, a)
            while not r.Test():
                pass

        ways = {
            "dist": lambda t=t: dist.all_reduce(t),
            "iallreduce_test": spin,
            "allreduce": lambda a=a: comm.Allreduce(MPI.IN_PLACE, a),
        }
        reps = 30 if n <= 256 * 1024 else 15 if n <= 4 * MB else 8  # the same on every rank
        times: dict = {w: [] for w in ways}
        for r in range(reps + 2):
            for w, fn in ways.items():
                comm.Barrier()
                t0 = time.perf_counter()
                fn()
                if r >= 2:
                    times[w].append(time.perf_counter() - t0)
        gathered: list = [None] * g.size
        dist.all_gather_object(gathered, times)
        row: dict = {"bytes": n, "reps": reps}
        for w in ways:
            slowest = [max(rank_times[w][i] for rank_times in gathered) for i in range(reps)]
            row[w] = statistics.median(slowest)
        out.append(row)
    return out


def worker(a: argparse.Namespace) -> None:
    import tinygrad_rnn as tg  # noqa: PLC0415  (imported by the rank, after the launcher set its env)
    import tinygrad_rnn.distributed as dist  # noqa: PLC0415
    import tinygrad_rnn.nn.functional as F  # noqa: PLC0415, N812
    from tinygrad_rnn import nn, optim  # noqa: PLC0415
    from tinygrad_rnn.distributed.group import current  # noqa: PLC0415
    from tinygrad_rnn.utils.data.distributed import ShardedStream  # noqa: PLC0415

    tuned = tg.runtime.tune_process()
    dist.init_process_group()
    rank, K = dist.get_rank(), dist.get_world_size()
    V, H = a.vocab, a.hidden

    class LanguageModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(V, H)
            self.lstm = nn.LSTM(H, H, num_layers=a.layers)
            self.head = nn.Linear(H, V)

        def forward(self, x, state=None):
            out, state = self.lstm(self.embedding(x), state)
            return self.head(out), state

    tg.manual_seed(0)
    model = LanguageModel()
    names = [n for n, _ in model.named_parameters()]
    ready: dict = {}
    for n, p in model.named_parameters():  # registered before DDP's hooks: the time the gradient is final
        p.register_post_accumulate_grad_hook(lambda p, n=n: ready.__setitem__(n, time.perf_counter()))
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=a.bucket_cap_mb)
    opt = optim.SGD(ddp.parameters(), lr=0.05)
    windows_needed = 8
    tokens = np.random.default_rng(0).integers(0, V, K * a.batch * (a.bptt * windows_needed + 1))
    windows = list(ShardedStream(tokens, a.batch, a.bptt))
    state = None
    steps = []
    g = current()
    for i in range(a.warmup + len(MODES) * a.steps):
        if i == a.warmup:
            gc.collect()
        mode = MODES[i % len(MODES)]
        ddp.overlap = mode == "on"
        if i % len(windows) == 0:
            state = None
        x, y = windows[i % len(windows)]
        w0 = ddp.stats["wait_s"]
        ready.clear()
        t0 = time.perf_counter()
        with ddp.no_sync() if mode == "local" else contextlib.nullcontext():
            opt.zero_grad()
            logits, state = ddp(x, state)
            loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        state = tuple(s.detach() for s in state)
        if mode == "local" and K > 1:  # the ranks ran free: line them up again, outside the timed step
            getattr(g, "mpi", g).comm.Barrier()
        if i >= a.warmup:
            steps.append(
                {
                    "mode": mode,
                    "step": t3 - t0,
                    "forward": t1 - t0,
                    "backward": t2 - t1,
                    "optimizer": t3 - t2,
                    "wait": ddp.stats["wait_s"] - w0,
                    "ready": {n: ready[n] - t1 for n in names if n in ready},
                }
            )
    final_loss = float(loss.item())
    params = [{"name": n, "bytes": int(p.array.nbytes)} for n, p in model.named_parameters()]
    grad_bytes = sum(p["bytes"] for p in params)
    buckets = [[next(n for n, q in model.named_parameters() if q is p) for p in ps] for ps in ddp._buckets]
    gathered: list = [None] * K
    dist.all_gather_object(gathered, steps)
    sweep = _sweep(g, sorted(set(a.sizes) | {grad_bytes})) if K > 1 else []
    if rank == 0:
        res = {
            "world": K,
            "config": {k: getattr(a, k) for k in ("hidden", "vocab", "batch", "bptt", "layers", "bucket_cap_mb")},
            "warmup": a.warmup,
            "steps_per_mode": a.steps,
            "tune_process": tuned,
            "blas": _blas(),
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "params": params,
            "grad_bytes": grad_bytes,
            "buckets": buckets,
            "stats": dict(ddp.stats),
            "final_loss": final_loss,
            "steps": gathered,  # steps[rank][i]
            "allreduce": sweep,
        }
        Path(a.worker).write_text(json.dumps(res))
    dist.destroy_process_group()


# ---- driver ----------------------------------------------------------------------------------------------
def _mpiexec() -> str:
    exe = Path(sys.executable).parent / "mpiexec"
    found = str(exe) if exe.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("bench/distributed.py: mpiexec not found (pip install -e '.[mpi]')")
    return found


def _env() -> dict:
    e = dict(os.environ)
    e.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OPENBLAS_NUM_THREADS="1",  # one BLAS thread per rank
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(ROOT) + os.pathsep + e.get("PYTHONPATH", ""),
    )
    return e


def launch(K: int, a: argparse.Namespace, hidden: int, out: str) -> dict:
    cmd = [_mpiexec(), "-n", str(K), "--oversubscribe", sys.executable, str(Path(__file__).resolve())]
    cmd += ["--worker", out, "--hidden", str(hidden), "--vocab", str(a.vocab), "--batch", str(a.batch)]
    cmd += ["--bptt", str(a.bptt), "--layers", str(a.layers), "--warmup", str(a.warmup), "--steps", str(a.steps)]
    cmd += ["--bucket-cap-mb", str(a.bucket_cap_mb), "--sizes", ",".join(map(str, a.sizes))]
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900, cwd=ROOT)
    cpu1, wall = _cpu_seconds(), time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench/distributed.py: K={K} H={hidden} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    res = json.loads(Path(out).read_text())
    # cores kept busy by other programs during the launch (all CPU time on the machine minus this launch's)
    res["others_cores"] = {k: (cpu1[k] - cpu0[k]) / wall for k in ("others", "steal")}
    return res


def _cpu_seconds() -> dict:
    """Busy CPU seconds of the whole machine (/proc/stat) less those of this process's finished children."""
    hz = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return {"others": 0.0, "steal": 0.0}
    busy = sum(v[i] for i in (0, 1, 2, 5, 6)) / hz  # user, nice, system, irq, softirq
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {"others": busy - ru.ru_utime - ru.ru_stime - me.ru_utime - me.ru_stime, "steal": v[7] / hz}


def _med(xs: list) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarize_launch(res: dict) -> dict:
    """Per-launch medians by mode ("ddp": overlap on and off together, for K = 1 where they are the same).

    Per step: the job's step time is the slowest rank's (the allreduce keeps them in lockstep); the exposed
    communication is the wait of the rank that reached the end of backward last (the others wait longer by
    the time they had finished early: imbalance, not communication); compute is step - wait, rank mean."""
    K, ranks = res["world"], res["steps"]
    rows = []
    for i in range(len(ranks[0])):
        s = [r[i] for r in ranks]
        rows.append(
            {
                "mode": s[0]["mode"],
                "step": max(x["step"] for x in s),
                "backward": statistics.fmean(x["backward"] for x in s),
                "wait": statistics.fmean(x["wait"] for x in s),
                "exposed": min(x["wait"] for x in s),
                "compute": statistics.fmean(x["step"] - x["wait"] for x in s),
            }
        )
    out: dict = {}
    for mode in (*MODES, "ddp"):
        sel = [r for r in rows if r["mode"] == mode or (mode == "ddp" and r["mode"] != "local")]
        out[mode] = {k: _med([r[k] for r in sel]) for k in ("step", "backward", "wait", "exposed", "compute")}
        out[mode]["samples"] = len(sel)
    grad = res["grad_bytes"]
    out["allreduce_grad"] = next((r for r in res["allreduce"] if r["bytes"] == grad), None)
    if K == 1:  # when each gradient became final, seconds after backward() started
        names = [p["name"] for p in res["params"]]
        out["ready"] = {n: _med([x["ready"][n] for r in ranks for x in r if n in x["ready"]]) for n in names}
    return out


def ring(n: float, K: int, alpha: float, bw: float) -> float:
    """Ring allreduce of n bytes over K ranks: 2(K-1) steps of n/K bytes each."""
    return 2 * (K - 1) * alpha + 2 * (K - 1) / K * n / bw if K > 1 else 0.0


def ddp_buckets(items: list, cap: float) -> list:
    """DDP's bucketing (nn/parallel.py:_buckets) of (bytes, ready) items given in reverse registration order."""
    out: list = []
    size, c = 0, FIRST_BUCKET
    for it in items:
        if out and size >= c:
            out.append([])
            size, c = 0, cap
        if not out:
            out.append([])
        out[-1].append(it)
        size += it[0]
    return [(sum(b for b, _ in bk), max(r for _, r in bk)) for bk in out]


def exposed(buckets: list, t_end: float, K: int, alpha: float, bw: float) -> float:
    """Communication left after the backward compute ends at t_end: buckets (bytes, ready time) start in order,
    each once it and all before it are ready, one at a time on the link (communication progresses on its own)."""
    end, ready = 0.0, 0.0
    for n, r in buckets:
        ready = max(ready, r)
        end = max(ready, end) + ring(n, K, alpha, bw)
    return max(0.0, end - t_end)


def uniform_buckets(grad: int, b: int, t_bwd: float) -> list:
    """Idealised readiness: the gradient becomes final at a steady rate over the backward compute."""
    out, done = [], 0
    while done < grad:
        n = min(b, grad - done)
        done += n
        out.append((n, t_bwd * done / grad))
    return out


def fit(points: list) -> tuple[float, float]:
    """Least squares in relative error of t = 2(K-1)·alpha + 2(K-1)/K · n / bw over (K, n, t) points."""
    A = np.array([[2 * (K - 1), 2 * (K - 1) / K * n] for K, n, _ in points], dtype=float)
    t = np.array([p[2] for p in points], dtype=float)
    coef, *_ = np.linalg.lstsq(A / t[:, None], np.ones_like(t), rcond=None)
    alpha, inv_bw = float(coef[0]), float(coef[1])
    return alpha, (1.0 / inv_bw if inv_bw > 0 else float("inf"))


def _best(options: list, eff) -> tuple:
    """Of (bucket size, exposed seconds, buckets) options within 0.1 percentage point of the best efficiency,
    the one with the fewest buckets (then the smallest size): the curves are flat near their optimum, and
    buckets beyond those needed add latency that a real network would not hide as well as the model does."""
    top = max(eff(o[1]) for o in options)
    return min((o for o in options if eff(o[1]) >= top - 1e-3), key=lambda o: (o[2], o[0]))


def _cpu() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def _kernel(blas) -> str:
    if isinstance(blas, str):
        return blas
    return ", ".join(f"{d['internal_api']} {d.get('version')} `{d.get('architecture')}` kernel" for d in blas)


def analyse(a: argparse.Namespace, launches: dict) -> dict:
    """launches[(H, K)] = [per-round launch JSON]; returns the summary (also the JSON's "summary")."""
    summary: dict = {}
    for H in a.hidden:
        per: dict = {K: [summarize_launch(r) for r in launches[(H, K)]] for K in a.ranks}
        first = launches[(H, a.ranks[0])][0]
        tokens_per_rank = a.batch * a.bptt
        rows = []
        base = per.get(1)
        for K in a.ranks:
            for mode in ("ddp", "local") if K == 1 else MODES:
                st = [s[mode] for s in per[K]]
                row = {
                    "K": K,
                    "mode": mode,
                    "step_ms": 1e3 * _med([x["step"] for x in st]),
                    "backward_ms": 1e3 * _med([x["backward"] for x in st]),
                    "compute_ms": 1e3 * _med([x["compute"] for x in st]),
                    "tokens_per_s": K * tokens_per_rank / _med([x["step"] for x in st]),
                    "exposed_ms": 1e3 * _med([x["exposed"] for x in st]),
                    "wait_ms": 1e3 * _med([x["wait"] for x in st]),
                }
                if base:  # paired by round: this launch and the K = 1 launch (DDP steps) of the same round
                    row["x_1_rank"] = _med([K * b["ddp"]["step"] / x["step"] for x, b in zip(st, base)])
                    row["weak_eff"] = row["x_1_rank"] / K
                if K > 1 and mode != "local":
                    ar = [s["allreduce_grad"]["dist"] for s in per[K]]
                    row["allreduce_ms"] = 1e3 * _med(ar)
                    if mode == "on":
                        for key, w in (("", "exposed"), ("_mean_wait", "wait")):
                            row["hidden_vs_allreduce" + key] = _med(
                                [1 - s["on"][w] / s["allreduce_grad"]["dist"] for s in per[K]]
                            )
                            row["hidden_vs_off" + key] = _med([1 - s["on"][w] / s["off"][w] for s in per[K]])
                rows.append(row)
        # the allreduce sweep (medians over rounds) and the fit
        sweep = []
        for K in a.ranks:
            if K == 1:
                continue
            by_n: dict = {}
            for r in launches[(H, K)]:
                for row in r["allreduce"]:
                    by_n.setdefault(row["bytes"], []).append(row)
            for n, rs in sorted(by_n.items()):
                sweep.append(
                    {
                        "K": K,
                        "bytes": n,
                        **{w: _med([x[w] for x in rs]) for w in ("dist", "iallreduce_test", "allreduce")},
                    }
                )
        summary[H] = {
            "grad_bytes": first["grad_bytes"],
            "params": first["params"],
            "buckets": first["buckets"],
            "blas": first["blas"],
            "rows": rows,
            "sweep": sweep,
            "per_launch": {K: per[K] for K in a.ranks},
        }
    # one sweep and one fit over every H's launches (the same buffers): per (K, bytes), the median over launches
    ways = ("dist", "iallreduce_test", "allreduce")
    pooled: dict = {}
    for H in a.hidden:
        for K in a.ranks:
            for r in launches[(H, K)]:
                for row in r["allreduce"]:
                    pooled.setdefault((K, row["bytes"]), []).append(row)
    sweep_all = [
        {"K": K, "bytes": n, **{w: _med([x[w] for x in rs]) for w in ways}} for (K, n), rs in sorted(pooled.items())
    ]
    model: dict = {"sweep": sweep_all}
    if sweep_all:
        for w in ways:
            fitted = fit([(s["K"], s["bytes"], s[w]) for s in sweep_all])
            model["fit_" + w] = dict(zip(("alpha_s", "bandwidth_Bps"), fitted))
    alpha, bw = model.get("fit_dist", {}).get("alpha_s"), model.get("fit_dist", {}).get("bandwidth_Bps")
    for H in a.hidden:
        S = summary[H]
        if 1 not in a.ranks:
            continue
        k1 = S["per_launch"][1]
        tc = _med([s["ddp"]["step"] for s in k1])  # compute term: one rank alone, no communication
        ready = {n: _med([s["ready"][n] for s in k1]) for n in k1[0]["ready"]}
        t_end = max(ready.values())  # the last gradient is final: the backward compute ends
        items = [(p["bytes"], ready[p["name"]]) for p in reversed(S["params"])]
        grad = S["grad_bytes"]
        S["compute_s"], S["ready_s"], S["backward_compute_s"] = tc, ready, t_end
        if alpha is None:
            continue
        check = []
        for K in a.ranks:
            if K == 1:
                continue
            bk = ddp_buckets(items, a.bucket_cap_mb * MB)
            on, off, local = (next(r for r in S["rows"] if r["K"] == K and r["mode"] == m) for m in MODES)
            e_off = sum(ring(n, K, alpha, bw) for n, _ in bk)
            e_on = exposed(bk, t_end, K, alpha, bw)
            check.append(
                {
                    "K": K,
                    "allreduce_ms": on["allreduce_ms"],
                    "model_allreduce_ms": 1e3 * ring(grad, K, alpha, bw),
                    "exposed_off_ms": off["exposed_ms"],
                    "model_exposed_off_ms": 1e3 * e_off,
                    "exposed_on_ms": on["exposed_ms"],
                    "model_exposed_on_ms": 1e3 * e_on,
                    "step_off_ms": off["step_ms"],
                    "model_step_off_ms": 1e3 * (tc + e_off),
                    "step_on_ms": on["step_ms"],
                    "model_step_on_ms": 1e3 * (tc + e_on),
                    "local_step_ms": local["step_ms"],  # this K's step without communication (no_sync)
                    "model_local_step_on_ms": local["step_ms"] + 1e3 * e_on,
                }
            )
        S["model_check"] = check
        preds = []
        eff = lambda e, tc=tc: tc / (tc + e)  # noqa: E731
        sizes_b = sorted({-(-grad // n) for n in range(1, 129)})  # the gradient in 1 to 128 equal buckets
        for K in PREDICT_K:
            for link, lbw in LINKS.items():
                for lat in LATENCIES:
                    t_one = ring(grad, K, lat, lbw)
                    ddp_opts = []
                    for c in CAPS_MB:
                        bk = ddp_buckets(items, c * MB)
                        ddp_opts.append((c, exposed(bk, t_end, K, lat, lbw), len(bk)))
                    best_a = _best(ddp_opts, eff)
                    default_a = exposed(ddp_buckets(items, 25 * MB), t_end, K, lat, lbw)
                    uni = []
                    for b in sizes_b:
                        bk = uniform_buckets(grad, b, t_end)
                        uni.append((b, exposed(bk, t_end, K, lat, lbw), len(bk)))
                    best_u = _best(uni, eff)
                    preds.append(
                        {
                            "K": K,
                            "link": link,
                            "latency_us": lat * 1e6,
                            "allreduce_ms": 1e3 * t_one,
                            "eff_no_overlap": eff(t_one),
                            "eff_ddp_default": eff(default_a),
                            "best_cap_mb": best_a[0],
                            "best_cap_buckets": best_a[2],
                            "eff_ddp_best": eff(best_a[1]),
                            "uniform_best_bucket_bytes": best_u[0],
                            "uniform_best_buckets": best_u[2],
                            "eff_uniform_best": eff(best_u[1]),
                            "uniform_table": [{"bucket_bytes": b, "eff": eff(e)} for b, e, _ in uni],
                        }
                    )
        S["predictions"] = preds
    return {"by_hidden": summary, "model": model}


def _size(n: float) -> str:
    return f"{n / MB:.2f} MB" if n >= 0.1 * MB else f"{n / 1024:.0f} KB"


def markdown(a: argparse.Namespace, meta: dict, an: dict) -> str:
    L = []
    model = an["model"]
    for H, S in an["by_hidden"].items():
        L.append(
            f"#### H = {H}: Embedding({a.vocab}, {H}) → LSTM({H}, {H}, layers={a.layers}) → Linear({H}, {a.vocab}); "
            f"per-rank batch {a.batch} × bptt {a.bptt}; gradient {_size(S['grad_bytes'])} "
            f"in {len(S['buckets'])} bucket(s)"
        )
        L.append("")
        L.append(
            "| K | steps | step ms | compute per rank ms | tokens/s (all ranks) | × 1 rank | weak-scaling eff. "
            "| exposed comm ms | wait, mean of ranks ms | allreduce of the gradient ms | hidden (vs allreduce) "
            "| hidden (vs overlap off) |"
        )
        L.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in S["rows"]:
            f = lambda k, fmt="{:.2f}", r=r: fmt.format(r[k]) if k in r else "—"  # noqa: E731
            L.append(
                f"| {r['K']} | {MODE_NAMES[r['mode']]} | {f('step_ms', '{:.1f}')} | {f('compute_ms', '{:.1f}')} "
                f"| {f('tokens_per_s', '{:,.0f}')} | {f('x_1_rank')} | {f('weak_eff', '{:.0%}')} "
                f"| {f('exposed_ms')} | {f('wait_ms')} | {f('allreduce_ms')} | {f('hidden_vs_allreduce', '{:.0%}')} "
                f"| {f('hidden_vs_off', '{:.0%}')} |"
            )
        L.append("")
        if "ready_s" in S:
            t_end = S["backward_compute_s"]
            cells = ", ".join(
                f"{n} {1e3 * S['ready_s'][n]:.1f} ms" for n in sorted(S["ready_s"], key=lambda n: S["ready_s"][n])
            )
            L.append(
                f"When each gradient is final (1 rank, ms after `backward()` starts; backward compute "
                f"{1e3 * t_end:.1f} ms of a {1e3 * S['compute_s']:.1f} ms step): {cells}."
            )
            L.append("")
    if "fit_dist" in model:
        fd, fs, fm = model["fit_dist"], model["fit_iallreduce_test"], model["fit_allreduce"]
        L.append(
            "#### Allreduce on this machine (shared memory) and the fitted ring model t = 2(K−1)·α + 2(K−1)/K · n/B"
        )
        L.append("")
        L.append(
            f"Fit (least squares in relative error, K = 2 and 3 together) of `dist.all_reduce`: "
            f"α = {fd['alpha_s'] * 1e6:.1f} µs per step, B = {fd['bandwidth_Bps'] / 1e9:.2f} GB/s; of `Iallreduce` "
            f"spun on `Test`: α = {fs['alpha_s'] * 1e6:.1f} µs, B = {fs['bandwidth_Bps'] / 1e9:.2f} GB/s; of MPI's "
            f"blocking `Allreduce`: α = {fm['alpha_s'] * 1e6:.1f} µs, B = {fm['bandwidth_Bps'] / 1e9:.2f} GB/s."
        )
        L.append("")
        L.append(
            "| K | bytes | `dist.all_reduce` ms | model ms | model / measured | `Iallreduce` + `Test` spin ms "
            "| blocking `Allreduce` ms |"
        )
        L.append("|--:|--:|--:|--:|--:|--:|--:|")
        al, bw = fd["alpha_s"], fd["bandwidth_Bps"]
        for s in model["sweep"]:
            K, n = s["K"], s["bytes"]
            m = ring(n, K, al, bw)
            L.append(
                f"| {K} | {_size(n)} | {1e3 * s['dist']:.3f} | {1e3 * m:.3f} | {m / s['dist']:.2f} "
                f"| {1e3 * s['iallreduce_test']:.3f} | {1e3 * s['allreduce']:.3f} |"
            )
        L.append("")
        L.append(
            "#### The model against the measured training steps (compute term: the 1-rank step; "
            "overlap: buckets start when ready and progress on their own)"
        )
        L.append("")
        L.append(
            "| H | K | allreduce ms (model) | exposed, overlap off ms (model) | exposed, overlap on ms (model) "
            "| step, overlap off ms (model) | step, overlap on ms (model) "
            "| no-communication step of this K + model exposed (on) ms |"
        )
        L.append("|--:|--:|--:|--:|--:|--:|--:|--:|")
        for H, S in an["by_hidden"].items():
            for c in S.get("model_check", []):
                L.append(
                    f"| {H} | {c['K']} | {c['allreduce_ms']:.2f} ({c['model_allreduce_ms']:.2f}) "
                    f"| {c['exposed_off_ms']:.2f} ({c['model_exposed_off_ms']:.2f}) "
                    f"| {c['exposed_on_ms']:.2f} ({c['model_exposed_on_ms']:.2f}) "
                    f"| {c['step_off_ms']:.1f} ({c['model_step_off_ms']:.1f}) "
                    f"| {c['step_on_ms']:.1f} ({c['model_step_on_ms']:.1f}) | {c['model_local_step_on_ms']:.1f} |"
                )
        L.append("")
        L.append(
            "#### Predicted weak-scaling efficiency on K machines (compute term: the measured 1-rank step; "
            "ring allreduce with the stated link and per-message latency)"
        )
        L.append("")
        L.append(
            "| H | K | link | latency | allreduce of the gradient ms | one allreduce after backward "
            "| DDP default (1 + 25 MB) | DDP, best cap | gradients ready uniformly, best bucket |"
        )
        L.append("|--:|--:|---|--:|--:|--:|--:|--:|--:|")
        for H, S in an["by_hidden"].items():
            for p in S.get("predictions", []):
                L.append(
                    f"| {H} | {p['K']} | {p['link']} | {p['latency_us']:.0f} µs | {p['allreduce_ms']:.2f} "
                    f"| {p['eff_no_overlap']:.1%} | {p['eff_ddp_default']:.1%} "
                    f"| {p['eff_ddp_best']:.1%} ({p['best_cap_mb']:g} MB: {p['best_cap_buckets']} buckets) "
                    f"| {p['eff_uniform_best']:.1%} ({p['uniform_best_buckets']} × "
                    f"{_size(p['uniform_best_bucket_bytes'])}) |"
                )
        L.append("")
    return "\n".join(L)


def header(meta: dict) -> str:
    busy = meta.get("others_cores") or [float("nan")]
    return (
        f"- {meta['date']}, `{meta['command']}`; {meta['machine']}; BLAS: {_kernel(meta['blas'])} "
        f"(OPENBLAS_CORETYPE={meta['openblas_env']['OPENBLAS_CORETYPE'] or 'unset'}); "
        f"load average {meta['load_average']['start'][0]:.2f} at the start, {meta['load_average']['end'][0]:.2f} "
        f"at the end; other programs kept {statistics.median(busy):.2f} cores busy during a launch (median; "
        f"max {max(busy):.2f}); {meta['wall_s']:.0f} s\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", default="256,512", help="hidden sizes, comma-separated")
    ap.add_argument("--ranks", default="1,2,3", help="world sizes K, comma-separated")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--steps", type=int, default=16, help="timed steps per mode (overlap on, off, no communication) and launch"
    )
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32, help="per-rank batch (weak scaling)")
    ap.add_argument("--bptt", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--bucket-cap-mb", type=float, default=25)
    ap.add_argument("--sizes", default="4096,65536,262144,1048576,4194304,16777216", help="allreduce sweep, bytes")
    ap.add_argument("--out", help="JSON path (default: bench/results/<UTC>_distributed_<cores>c.json)")
    ap.add_argument("--quick", action="store_true", help="tiny model, K = 1, 2, a few steps; writes only --out")
    ap.add_argument("--report", metavar="FILE.json", help="print the tables of a saved run again (runs nothing)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.report:
        saved = json.loads(Path(a.report).read_text())
        meta, b = saved["meta"], argparse.Namespace(**saved["meta"]["args"])
        launches = {tuple(int(x) for x in k.split(":")): v for k, v in saved["launches"].items()}
        print(header(meta))
        print(markdown(b, meta, analyse(b, launches)))
        return
    a.sizes = [int(s) for s in a.sizes.split(",")] if isinstance(a.sizes, str) else a.sizes
    if a.worker:
        a.hidden = int(a.hidden)
        worker(a)
        return
    if a.quick:
        a.hidden, a.ranks, a.rounds, a.steps, a.warmup = "32", "1,2", 1, 3, 2
        a.vocab, a.batch, a.bptt, a.sizes = 16, 4, 8, [4096, 65536]
    a.hidden = [int(h) for h in a.hidden.split(",")]
    a.ranks = [int(k) for k in a.ranks.split(",")]
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()
    launches: dict = {(H, K): [] for H in a.hidden for K in a.ranks}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for H in a.hidden:
            for r in range(a.rounds):
                order = a.ranks[r % len(a.ranks) :] + a.ranks[: r % len(a.ranks)]
                for K in order:
                    res = launch(K, a, H, os.path.join(tmp, f"h{H}_k{K}_r{r}.json"))
                    launches[(H, K)].append(res)
                    print(
                        f"H={H} round {r} K={K}: done ({time.perf_counter() - t_start:.0f} s, "
                        f"other programs kept {res['others_cores']['others']:.2f} cores busy)",
                        file=sys.stderr,
                    )
    an = analyse(a, launches)
    blas = launches[(a.hidden[0], a.ranks[0])][0]["blas"]
    meta = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": _cpu(),
        "blas": blas,
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "load_average": {"start": list(load0), "end": list(os.getloadavg())},
        "wall_s": time.perf_counter() - t_start,
        "others_cores": [r["others_cores"]["others"] for rs in launches.values() for r in rs],
        "args": {k: v for k, v in vars(a).items() if k != "worker"},
    }
    print(header(meta))
    print(markdown(a, meta, an))
    out = a.out
    if out is None and not a.quick:
        cores = os.cpu_count()
        out = str(ROOT / "bench" / "results" / f"{started:%Y%m%dT%H%M%SZ}_distributed_{cores}c.json")
    if out:
        raw = {f"{H}:{K}": v for (H, K), v in launches.items()}
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps({"meta": meta, "summary": an, "launches": raw}, indent=1, default=str))
        print(f"results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
