"""Launch a worker script under ``mpiexec`` from the venv's Open MPI wheel (helpers for the distributed tests).

Tests skip only where MPI cannot start; with ``TINYGRAD_RNN_REQUIRE_MPI=1`` (set by ``make test``, so in
CI) they fail instead, so CI can never silently skip them.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKERS = pathlib.Path(__file__).resolve().parent / "workers"


def mpiexec() -> str:
    exe = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(exe) if exe.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        why = "MPI cannot start here: mpi4py or mpiexec is missing (pip install -e '.[mpi]')"
        if os.environ.get("TINYGRAD_RNN_REQUIRE_MPI") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return found


def env() -> dict:
    e = dict(os.environ)
    e.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",  # CI runs as root; Open MPI refuses that unless both are set
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OPENBLAS_NUM_THREADS="1",  # ranks share two cores: one BLAS thread each
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(ROOT) + os.pathsep + e.get("PYTHONPATH", ""),
    )
    return e


def run(n: int, worker: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [mpiexec(), "-n", str(n), "--oversubscribe", sys.executable, str(WORKERS / worker), *args]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def run_alone(worker: str, *args: str, extra_env: dict | None = None, timeout: float = 120):
    e = {k: v for k, v in env().items() if not k.startswith(("OMPI_COMM_WORLD", "PMIX_", "PMI_"))}
    e.update(extra_env or {})
    cmd = [sys.executable, str(WORKERS / worker), *args]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
