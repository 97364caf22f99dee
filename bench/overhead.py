"""Per-op overhead of the tape and the cost of a very long chain.

    python bench/overhead.py [--repeats 7] [--chain 100000]

* per-op forward+backward time on a 2x2 tensor: a chain of N applications of the op, then one
  backward; the median over repeats divided by N. Side by side with PyTorch (CPU) when importable.
* a 100,000-op chain: forward time and backward time (iterative backward, no recursion).
Medians of repeated runs are printed; ratios compare runs made in this one process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_rnn as tg

try:
    import torch
except ImportError:  # optional comparison
    torch = None

OPS = {
    "add": lambda h, w: h + w,
    "mul": lambda h, w: h * w,
    "matmul": lambda h, w: h @ w,
    "tanh": lambda h, w: h.tanh(),
    "sigmoid": lambda h, w: h.sigmoid(),
    "rnn step tanh(hW+b)": lambda h, w: (h @ w + w).tanh(),
}


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_op(lib: str, op, n: int, repeats: int) -> float:
    run = _chain_runner(lib, op, n)
    run()
    return _median_time(run, repeats) / n * 1e6


def per_op_pair(op, n: int, repeats: int) -> tuple:
    """(tinygrad_rnn µs, torch µs) per op, the two libraries' chains alternating run by run, so that
    a slow spell of the machine lands on both rather than on whichever happened to run then."""
    runs = {lib: _chain_runner(lib, op, n) for lib in ("tg", "torch")}
    times: dict = {lib: [] for lib in runs}
    for r in runs.values():
        r()
    for _ in range(repeats):
        for lib, r in runs.items():
            t0 = time.perf_counter()
            r()
            times[lib].append(time.perf_counter() - t0)
    return tuple(statistics.median(times[lib]) / n * 1e6 for lib in ("tg", "torch"))


def _chain_runner(lib: str, op, n: int):
    """A function building a chain of ``n`` applications of ``op`` on 2x2 tensors, then its backward."""
    tg.runtime.tune_process()  # this benchmark owns its process (as the CLI does)
    a = np.full((2, 2), 0.5, dtype=np.float32)
    if lib == "tg":

        def run():
            w = tg.Tensor(a * 0.1, requires_grad=True)
            h = tg.Tensor(a, requires_grad=True)
            for _ in range(n):
                h = op(h, w)
            h.sum().backward()
    else:

        def run():
            w = torch.tensor(a * 0.1, requires_grad=True)
            h = torch.tensor(a, requires_grad=True)
            for _ in range(n):
                h = op(h, w)
            h.sum().backward()

    return run


def chain(n: int, repeats: int) -> tuple:
    fwd, bwd = [], []
    for _ in range(repeats):
        x = tg.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
        t0 = time.perf_counter()
        h = x
        for _ in range(n):
            h = h * 1.0
        loss = h.sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        assert np.allclose(x.grad.numpy(), 1.0)
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return statistics.median(fwd), statistics.median(bwd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--ops-per-run", type=int, default=2000)
    ap.add_argument("--chain", type=int, default=100_000)
    args = ap.parse_args()
    print(f"numpy {np.__version__}, backend {tg.backend.name}" + (f", torch {torch.__version__}" if torch else ""))
    print(f"\nper-op forward+backward on 2x2 float32 (median of {args.repeats}, µs/op)")
    print(f"  {'op':<22}{'tinygrad_rnn':>14}" + (f"{'torch':>10}{'ratio tg/torch':>16}" if torch else ""))
    for name, op in OPS.items():
        if torch:
            t, r = per_op_pair(op, args.ops_per_run, args.repeats)
            print(f"  {name:<22}{t:>14.2f}{r:>10.2f}{t / r:>16.2f}")
        else:
            print(f"  {name:<22}{per_op('tg', op, args.ops_per_run, args.repeats):>14.2f}")
    f, b = chain(args.chain, max(3, args.repeats // 2))
    print(
        f"\n{args.chain:,}-op chain (h = h * 1.0): forward {f * 1e3:.0f} ms, backward {b * 1e3:.0f} ms "
        f"(median of {max(3, args.repeats // 2)})"
    )


if __name__ == "__main__":
    main()
