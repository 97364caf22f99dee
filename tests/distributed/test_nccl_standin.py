"""The NCCL process group on the CuPy stand-in (tests/fake_gpu: CuPy's rules over NumPy, NCCL faked over
MPI), under ``mpiexec -n 2``: what the CuPy path of tinygrad_rnn.distributed does, without a GPU."""

import json
import os

import pytest
from mpi_run import ROOT, WORKERS, env, mpiexec

STANDIN = ROOT / "tests" / "fake_gpu"


def _run(n: int, timeout: float = 180):
    import subprocess
    import sys

    e = env()
    e.update(PYTHONPATH=f"{STANDIN}{os.pathsep}{e['PYTHONPATH']}", TINYGRAD_RNN_BACKEND="cupy")
    cmd = [mpiexec(), "-n", str(n), "--oversubscribe", sys.executable, str(WORKERS / "nccl_standin_worker.py")]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_nccl_group_on_the_standin():
    n = 2
    r = _run(n)
    assert r.returncode == 0, r.stderr[-4000:]
    results = sorted((json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")), key=lambda d: d["rank"])
    assert [d["rank"] for d in results] == list(range(n))
    for d in results:
        assert d["backend"] == "nccl" and d["group"] == "NCCLGroup" and d["size"] == n
        assert d["sum"] == [3.0, 2.0]
        assert d["avg"] == pytest.approx([1.5, -1.5])
        assert d["max"] == [2.0, -1.0]
        assert d["strided"] == [3.0, 3.0, 3.0]
        assert d["int_async"] == 1
        assert d["bcast"] == [10.0, 11.0, 12.0]
        assert d["grads_identical"] and d["grads_match_single_process"]
