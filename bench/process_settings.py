"""What ``tinygrad_rnn.runtime.tune_process()`` buys: each setting on and off, in fresh processes.

    python bench/process_settings.py [--rounds 5] [--steps 20]

The settings are process-wide, so every (setting, workload) pair runs in its own subprocess, and the
four settings rotate round by round so that the machine's drift lands on all of them. Workloads:

* ``lstm step``: one BPTT training step (forward, loss, backward) of a fused ``nn.LSTM`` at
  T=100, N=64, I=128, H=256, float32: the large per-step arrays the allocator setting is about;
* ``graph 100k``: build a 100,000-op chain of small ops and run its backward: the tape the collector
  setting is about.

Printed: the median time per workload and setting, and each setting's ratio to "none".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {"none": (False, False), "malloc": (True, False), "gc": (False, True), "both": (True, True)}


def worker(setting: str, workload: str, steps: int) -> float:
    import numpy as np  # noqa: PLC0415  (imported after the settings are chosen, as a program would)

    import tinygrad_rnn as tg  # noqa: PLC0415
    from tinygrad_rnn import nn  # noqa: PLC0415

    malloc, collector = SETTINGS[setting]
    tg.runtime.tune_process(malloc=malloc, collector=collector)
    rng = np.random.default_rng(0)
    if workload == "lstm step":
        m = nn.LSTM(128, 256)
        x = tg.Tensor(rng.standard_normal((100, 64, 128)).astype(np.float32), requires_grad=True)

        def run() -> None:
            m.zero_grad()
            out, _ = m(x)
            (out * out).mean().backward()

    else:
        w = tg.Tensor(np.full((2, 2), 0.01, np.float32), requires_grad=True)

        def run() -> None:
            h = tg.Tensor(np.full((2, 2), 0.5, np.float32), requires_grad=True)
            for _ in range(100_000):
                h = h * w + w
            h.sum().backward()

        steps = max(1, steps // 10)
    run()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--worker", nargs=2, metavar=("SETTING", "WORKLOAD"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.worker[1], a.steps)))
        return
    try:
        import numpy  # noqa: F401, PLC0415  (loads the BLAS that threadpoolctl then reports)
        import threadpoolctl  # noqa: PLC0415

        blas = [(i["internal_api"], i.get("architecture")) for i in threadpoolctl.threadpool_info()]
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    names = list(SETTINGS)
    results: dict = {(s, w): [] for s in names for w in ("lstm step", "graph 100k")}
    for r in range(a.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for workload in ("lstm step", "graph 100k"):
            for s in order:
                cmd = [sys.executable, __file__, "--worker", s, workload, "--steps", str(a.steps)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                results[(s, workload)].append(json.loads(out.strip().splitlines()[-1]))
    print(f"\nmedian seconds per run over {a.rounds} rounds (ratio to 'none')")
    for workload in ("lstm step", "graph 100k"):
        base = statistics.median(results[("none", workload)])
        cells = []
        for s in names:
            med = statistics.median(results[(s, workload)])
            cells.append(f"{s} {med * 1e3:8.1f} ms ({med / base:4.2f})")
        print(f"  {workload:<11} " + "   ".join(cells))


if __name__ == "__main__":
    main()
