"""Which kernels run: TINYGRAD_RNN_KERNELS, kernels.use() per thread, tg.info(), and a process without
numba (the array loops, the same results)."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from device_helpers import child_pythonpath
from kernel_sets import KERNEL_SETS

import tinygrad_rnn as tg
from tinygrad_rnn import kernels

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value,backend,installed,want",
    [
        (None, "numpy", True, "numba"),
        ("auto", "numpy", True, "numba"),
        (" AUTO ", "numpy", False, "numpy"),
        ("", "numpy", True, "numba"),
        ("numpy", "numpy", True, "numpy"),
        ("numba", "numpy", True, "numba"),
        ("auto", "cupy", True, "cupy"),
        ("numpy", "cupy", False, "cupy"),
    ],
)
def test_resolve(value, backend, installed, want):
    assert kernels.resolve(value, backend, installed) == want


@pytest.mark.parametrize(
    "value,backend,installed,words",
    [
        ("fast", "numpy", True, ["'fast'", "numpy, numba, auto"]),
        ("numba", "numpy", False, ["numba is not installed", "tinygrad_rnn[numba]"]),
        ("numba", "cupy", True, ["runs on the CPU", "cupy"]),
    ],
)
def test_resolve_refuses_with_a_clear_message(value, backend, installed, words):
    with pytest.raises(kernels.KernelError) as e:
        kernels.resolve(value, backend, installed)
    for w in words:
        assert w in str(e.value)


def test_use_is_per_thread_and_nests():
    outer = kernels.in_use()
    seen = {}
    with kernels.use("numpy"):
        assert kernels.in_use() == ("numpy" if tg.backend.name == "numpy" else tg.backend.name)
        t = threading.Thread(target=lambda: seen.setdefault("other", kernels.in_use()))
        t.start()
        t.join()
        with kernels.use("auto"):
            assert kernels.in_use() == kernels.requested
        assert tg.info()["kernels"] == kernels.in_use()
    assert seen["other"] == outer  # another thread keeps the process default
    assert kernels.in_use() == outer


def test_info_names_the_backend_and_kernels():
    info = tg.info()
    assert info["backend"] == tg.backend.name
    assert info["kernels"] in KERNEL_SETS
    assert info["numpy"] == np.__version__
    if info["kernels"] == "numba":
        tg.nn.LSTM(2, 3)(tg.randn(3, 1, 2))  # loads the compiled module
        assert "gemm" in tg.info()["gemm"]


def _child(code, **env):
    e = dict(os.environ, PYTHONPATH=child_pythonpath(REPO), **env)
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


RUN = """
import json, sys, numpy as np
{prelude}
import tinygrad_rnn as tg
tg.set_default_dtype("float64")
tg.manual_seed(0)
layer = tg.nn.LSTM(3, 4, bidirectional=True)
x = tg.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)
out, _ = layer(x, lengths=[5, 3])
(out * out).sum().backward()
print(json.dumps({{"info": tg.info(), "numba_imported": sys.modules.get("numba") is not None,
                  "out": out.numpy().tolist(), "grad": x.grad.numpy().tolist()}}))
"""


@pytest.mark.skipif(tg.backend.name != "numpy", reason="the CPU kernel sets (the stand-in pass runs the array loops)")
def test_a_process_without_numba_runs_the_array_loops_with_the_same_results():
    blocked = _child(RUN.format(prelude="sys.modules['numba'] = None  # as if not installed"))
    got = json.loads(blocked.stdout)
    assert got["info"]["kernels"] == "numpy" and not got["numba_imported"]
    for name in KERNEL_SETS:
        ref = json.loads(_child(RUN.format(prelude=""), TINYGRAD_RNN_KERNELS=name).stdout)
        assert ref["info"]["kernels"] == name and ref["numba_imported"] == (name == "numba")
        np.testing.assert_allclose(got["out"], ref["out"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["grad"], ref["grad"], rtol=1e-12, atol=1e-14)


def test_an_unknown_kernel_set_fails_at_import_naming_the_variable():
    e = dict(os.environ, PYTHONPATH=child_pythonpath(REPO), TINYGRAD_RNN_KERNELS="fastest")
    out = subprocess.run([sys.executable, "-c", "import tinygrad_rnn"], env=e, capture_output=True, text=True)
    assert out.returncode != 0
    assert "TINYGRAD_RNN_KERNELS='fastest' is not a kernel set" in out.stderr


def test_importing_the_package_does_not_import_numba():
    out = _child("import sys, tinygrad_rnn; print('numba' in sys.modules)")
    assert out.stdout.strip() == "False"
