"""Collectives and failure handling under ``mpiexec`` (2 and 3 ranks, oversubscribed on two cores)."""

import json
import os
import time

import pytest
from mpi_run import run, run_alone

import tinygrad_rnn as tg


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_on_every_rank(n):
    r = run(n, "collectives.py")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    results = sorted(lines, key=lambda d: d["rank"])
    assert [d["rank"] for d in results] == list(range(n))
    total = sum(range(1, n + 1))
    for d in results:
        # the default backend: MPI for NumPy arrays, NCCL for CuPy ones (the fake NCCL on the stand-in)
        assert d["size"] == n and d["initialized"] and d["backend"] == ("nccl" if tg.backend.name == "cupy" else "mpi")
        assert d["sum"] == [float(total), 2.0 * sum(range(n))]
        assert d["avg"] == pytest.approx([total / n, -total / n])
        assert d["max"] == [float(n), -1.0] and d["min"] == [1.0, -float(n)]
        prod = 1.0
        for k in range(1, n + 1):
            prod *= k
        assert d["product"] == pytest.approx([prod, prod * (-1) ** n])
        assert d["strided"] == [float(n)] * 3
        assert d["int_async"] == sum(range(n))
        assert d["bcast"] == [10.0 * (n - 1) + k for k in range(3)]
        assert d["gathered"] == [{"r": k, "name": f"rank{k}" * (k + 1)} for k in range(n)]
        assert d["objects"] == [1, [1], "from 1"]


def test_alone_the_world_is_one_process():
    r = run_alone("collectives.py")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["size"] == 1 and d["rank"] == 0 and d["sum"] == [1.0, 0.0] and d["gathered"] == [{"r": 0, "name": "rank0"}]


def test_launched_by_mpi_without_mpi4py_is_a_clear_error(tmp_path):
    blocker = tmp_path / "mpi4py.py"
    blocker.write_text("raise ImportError('mpi4py hidden by the test')\n")
    # the blocker first on the path, and whatever else the suite runs with (the CuPy stand-in) after it
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    r = run_alone("collectives.py", extra_env={"OMPI_COMM_WORLD_SIZE": "2", "PYTHONPATH": path})
    assert r.returncode != 0
    assert "started by an MPI launcher but mpi4py is not installed" in r.stderr and "[mpi]" in r.stderr


@pytest.mark.parametrize(
    "mode, expect",
    [
        ("raise", "ValueError: boom on rank 1"),
        ("thread", "uncaught exception in thread worker"),
        ("kill", ""),
    ],
)
def test_a_failing_rank_ends_the_job_quickly(mode, expect):
    start = time.monotonic()
    r = run(2, "failures.py", mode, timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode != 0
    assert "was not stopped" not in r.stdout
    assert expect in r.stderr
    if mode == "raise":
        assert "[rank 1] uncaught exception" in r.stderr and "Traceback" in r.stderr
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"


def test_a_silent_peer_times_out_instead_of_hanging():
    start = time.monotonic()
    r = run(2, "failures.py", "hang", "3", timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode != 0 and "was not stopped" not in r.stdout
    assert "[rank 0] tinygrad_rnn.distributed: all_reduce did not complete within 3 s" in r.stderr
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
