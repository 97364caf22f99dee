"""Interleaved A/B: several implementations, each in its own worker process, stepped in turn.

The main table runs each implementation in its own process at its own time; this machine's speed
drifts between a fast and a slow state over seconds, so two processes a few seconds apart can land in
different states. Here every participant is built and warmed up in its own process (so imports,
allocators, thread pools and OpenMP runtimes stay apart, as in the main table), then the driver
steps them one after the other, cycle after cycle (the order rotated each cycle), for a fixed time.
Each worker times its own step; consecutive steps see the same machine.

Between its steps a worker is stopped (SIGSTOP) and continued (SIGCONT) just before its next one.
Without that, the thread pools of the worker that just stepped keep spinning (OpenBLAS for up to
~0.1 s, OpenMP runtimes similarly) and take a core from the next participant on a small machine.
"""

from __future__ import annotations

import json
import os
import select
import signal
import statistics
import subprocess
import time
from typing import Any

# (numerator, denominator) pairs reported when both took part
PAIRS = (
    ("tinygrad_rnn", "torch_fused"),
    ("tinygrad_rnn", "numpy_ref"),
    ("tinygrad_numpy_kernels", "numpy_ref"),
    ("tinygrad_rnn", "tinygrad_numpy_kernels"),
)
PARTICIPANTS = ("numpy_ref", "tinygrad_rnn", "tinygrad_numpy_kernels", "torch_fused")
MAX_CYCLES = 2000
MIN_CYCLES = 3


class _Worker:
    """A stepper subprocess and a line reader on its stdout that honours a deadline."""

    def __init__(self, name: str, cmd: list[str], cwd: str, result_mark: str, step_mark: str) -> None:
        self.name, self.result_mark, self.step_mark = name, result_mark, step_mark
        self.p = subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.buf = b""

    def _line(self, deadline: float) -> str | None:
        assert self.p.stdout is not None
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def wait_for(self, mark: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(deadline)
            if line is None or line.startswith(mark):
                return None if line is None else line[len(mark) :]

    def send(self, sig: int) -> bool:
        try:
            os.kill(self.p.pid, sig)
        except ProcessLookupError:  # it died: the caller reports it
            return False
        return True

    def step(self, timeout: float, stop: bool = True) -> float | None:
        if stop and not self.send(signal.SIGCONT):
            return None
        assert self.p.stdin is not None
        try:
            self.p.stdin.write(b"step\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            return None
        got = self.wait_for(self.step_mark, timeout)
        if stop:
            self.send(signal.SIGSTOP)
        return None if got is None else float(got)

    def close(self) -> None:
        if self.p.poll() is None:
            self.send(signal.SIGCONT)
            try:
                assert self.p.stdin is not None
                self.p.stdin.write(b"quit\n")
                self.p.stdin.close()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


def run(
    cfg_key: str,
    names: list[str],
    seconds: float,
    worker_cmd: Any,
    cwd: str,
    marks: tuple[str, str],
    timeout: float,
    stop: bool = True,
) -> dict:
    """Interleave ``names`` on ``cfg_key`` for ``seconds``; ``worker_cmd(name)`` is a stepper's argv.

    Workers start one at a time (each warms up alone) and are stopped once ready. A participant that
    is absent, n/a or fails drops out with its reason; fewer than two left means no measurement.
    ``stop=False`` leaves the idle workers running (to measure what the stopping changes).
    """
    workers: list[_Worker] = []
    dropped: dict[str, str] = {}
    how = "SIGSTOP between steps" if stop else "idle workers not stopped"
    out: dict = {"config": cfg_key, "method": f"separate processes, stepped in turn ({how})"}
    try:
        for name in names:
            w = _Worker(name, worker_cmd(name), cwd, *marks)
            ready = w.wait_for(marks[0], timeout)
            info = json.loads(ready) if ready else {"status": "error", "reason": "no answer from the worker"}
            if info.get("status") != "ready":
                dropped[name] = f"{info.get('status')}: {info.get('reason')}"
                w.close()
                continue
            if stop:
                w.send(signal.SIGSTOP)
            workers.append(w)
        out["dropped"] = dropped
        if len(workers) < 2:
            return {**out, "status": "skipped", "reason": "fewer than two participants"}
        times: dict[str, list[float]] = {w.name: [] for w in workers}
        start, k = time.monotonic(), 0
        while k < MAX_CYCLES and (k < MIN_CYCLES or time.monotonic() - start < seconds):
            order = workers[k % len(workers) :] + workers[: k % len(workers)]
            for w in order:
                ms = w.step(timeout, stop)
                if ms is None:
                    return {**out, "status": "error", "reason": f"{w.name} did not answer a step"}
                times[w.name].append(ms)
            k += 1
    finally:
        for w in workers:
            w.close()
    med = {n: statistics.median(v) for n, v in times.items()}
    pairs = []
    for a, b in PAIRS:
        if a in times and b in times:
            ratios = [x / y for x, y in zip(times[a], times[b])]
            pairs.append(
                {
                    "a": a,
                    "b": b,
                    "ratio_of_medians": med[a] / med[b],
                    "median_of_step_ratios": statistics.median(ratios),
                }
            )
    return {**out, "status": "ok", "steps": k, "participants": list(times), "median_ms": med, "pairs": pairs}


def pair(r: dict, a: str, b: str) -> float | None:
    """An interleaved result's ratio of medians a ÷ b (None when the pair did not run)."""
    for p in r.get("pairs") or []:
        if p["a"] == a and p["b"] == b:
            return p["ratio_of_medians"]
    return None
