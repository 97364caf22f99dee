"""Dtype discipline (no silent upcasts, forward or backward), seeding, and backend selection."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_gpu

import tinygrad_rnn as tg
from tinygrad_rnn import backend
from tinygrad_rnn.backend import BackendError, resolve_backend

REPO = Path(__file__).resolve().parents[2]
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def _leaves(dtype, seed=0):
    r = np.random.default_rng(seed)
    x = tg.Tensor(r.uniform(0.5, 1.5, (2, 3)).astype(dtype), requires_grad=True)
    w = tg.Tensor(r.uniform(0.5, 1.5, (3, 4)).astype(dtype), requires_grad=True)
    v = tg.Tensor(r.uniform(0.5, 1.5, (3,)).astype(dtype), requires_grad=True)
    return x, w, v


# Each case builds an output from three float leaves x (2, 3), w (3, 4), v (3,) (all positive).
OPS = {
    # Python scalars on either side
    "add_int": lambda x, w, v: x + 1,
    "radd_float": lambda x, w, v: 2.5 + x,
    "rsub": lambda x, w, v: 1.0 - x,
    "div_float": lambda x, w, v: x / 3.0,
    "rdiv_int": lambda x, w, v: 2 / x,
    "mul_bool": lambda x, w, v: x * True,
    "pow_int": lambda x, w, v: x**2,
    "pow_float": lambda x, w, v: x**0.5,
    "rpow_float": lambda x, w, v: 2.0**x,
    # NumPy scalars and 0-d arrays (np.float64 subclasses Python float: must not upcast either)
    "mul_np_float64": lambda x, w, v: x * np.float64(1.5),
    "rmul_np_float64": lambda x, w, v: np.float64(1.5) * x,
    "rsub_np_float64": lambda x, w, v: np.float64(3.0) - x,
    "div_np_float64": lambda x, w, v: x / np.float64(3.0),
    "add_np_int64": lambda x, w, v: x + np.int64(2),
    "mul_0d_array": lambda x, w, v: x * np.array(2.0),
    "rmul_0d_array": lambda x, w, v: np.array(2.0) * x,
    "pow_np_float64": lambda x, w, v: x ** np.float64(2.0),
    "pow_0d_array": lambda x, w, v: x ** np.array(2.0),
    "clip_np_float64": lambda x, w, v: x.clip(np.float64(0.7), np.float64(1.2)),
    "clip_0d_array": lambda x, w, v: x.clip(np.array(0.7), None),
    "maximum_np_float64": lambda x, w, v: x.maximum(np.float64(0.9)),
    "minimum_fn_np_float64": lambda x, w, v: tg.minimum(np.float64(0.9), x),
    "where_np_float64": lambda x, w, v: tg.where(x.data > 1.0, x, np.float64(0.0)),
    "pad_value_np_float64": lambda x, w, v: tg.pad(x, [(1, 0), (0, 2)], value=np.float64(7.0)),
    # integer arrays and integer tensors
    "mul_np_arange": lambda x, w, v: v * np.arange(3),
    "rmul_np_arange": lambda x, w, v: np.arange(3) * v,
    "add_int32_array": lambda x, w, v: x + np.arange(3, dtype=np.int32),
    "div_int_array": lambda x, w, v: x / np.arange(1, 4),
    "matmul_int_array": lambda x, w, v: x @ np.ones((3, 2), dtype=np.int64),
    "rmatmul_int_array": lambda x, w, v: np.ones((4, 2), dtype=np.int64) @ x,
    "mul_int_tensor": lambda x, w, v: x * tg.arange(3),
    "maximum_int_array": lambda x, w, v: x.maximum(np.arange(3)),
    "where_int_array": lambda x, w, v: tg.where(x.data > 1.0, x, np.arange(3)),
    "add_bool_tensor": lambda x, w, v: x + tg.Tensor(np.array([True, False, True])),
    "mul_python_list": lambda x, w, v: x * [1.0, 2.0, 3.0],
    # unary, reductions, softmax family
    "exp": lambda x, w, v: x.exp(),
    "log": lambda x, w, v: x.log(),
    "sqrt": lambda x, w, v: x.sqrt(),
    "tanh": lambda x, w, v: x.tanh(),
    "sigmoid": lambda x, w, v: (x - 1.0).sigmoid(),
    "relu": lambda x, w, v: (x - 1.0).relu(),
    "abs": lambda x, w, v: abs(x - 1.0),
    "neg": lambda x, w, v: -x,
    "sum_axis": lambda x, w, v: x.sum(axis=1),
    "mean_axis_keepdims": lambda x, w, v: x.mean(axis=0, keepdims=True),
    "mean_all": lambda x, w, v: x.mean(),
    "max_axis": lambda x, w, v: x.max(axis=1),
    "min_all": lambda x, w, v: x.min(),
    "softmax": lambda x, w, v: x.softmax(-1),
    "log_softmax": lambda x, w, v: x.log_softmax(0),
    # linear algebra and movement
    "matmul": lambda x, w, v: x @ w,
    "matvec": lambda x, w, v: x @ v,
    "pow_tensor": lambda x, w, v: x**v,
    "maximum_tensor": lambda x, w, v: tg.maximum(x, v),
    "reshape": lambda x, w, v: x.reshape(3, 2),
    "transpose": lambda x, w, v: x.T @ x,
    "expand": lambda x, w, v: v.expand(4, 3),
    "getitem_slice": lambda x, w, v: x[1:, ::2],
    "getitem_fancy": lambda x, w, v: x[[0, 0, 1], [2, 2, 0]],
    "concat": lambda x, w, v: tg.concat([x, w.T], axis=0),
    "stack": lambda x, w, v: tg.stack([v, v * 2.0, x[0]], axis=1),
    "split": lambda x, w, v: tg.split(w, [1, 3], axis=1)[1],
    "unbind": lambda x, w, v: x.unbind(1)[2],
    "pad": lambda x, w, v: tg.pad(x, [(1, 1), (0, 1)]),
    "clip": lambda x, w, v: x.clip(0.8, 1.2),
    "astype_same": lambda x, w, v: x.astype(x.dtype) * 2,
    "rnn_cell": lambda x, w, v: (x @ w).tanh() * 0.5 + (x * v).sigmoid().sum(axis=1, keepdims=True),
}


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_graph_keeps_dtype_forward_and_backward(name, dtype):
    x, w, v = _leaves(dtype)
    with np.errstate(all="ignore"):
        out = OPS[name](x, w, v)
        assert out.dtype == dtype, f"{name}: forward gave {out.dtype}"
        assert out.requires_grad
        loss = (out * out).sum()
        assert loss.dtype == dtype
        loss.backward()
    used = [t for t in (x, w, v) if t.grad is not None]
    assert used, f"{name}: no leaf received a gradient"
    for t in used:
        assert t.grad.dtype == dtype, f"{name}: gradient has dtype {t.grad.dtype}"
        assert t.grad.shape == t.shape


def test_float32_graph_through_tg_grad_and_explicit_seed_stays_float32():
    x, w, _ = _leaves(F32)
    y = (x @ w).tanh()
    (gx,) = tg.grad(y, x, grad_outputs=np.ones((2, 4)), retain_graph=True)  # float64 seed array is cast
    assert gx.dtype == F32
    y.backward(np.ones((2, 4)))
    assert x.grad.dtype == F32 and w.grad.dtype == F32


def test_scalar_operands_keep_their_exact_value():
    x = tg.Tensor([1.0, 2.0])
    assert np.signbit((x * -0.0).numpy()).all() and not np.signbit((x * 0.0).numpy()).any()
    assert np.isnan((x + float("nan")).numpy()).all()
    np.testing.assert_array_equal((x * np.array(2.5)).numpy(), [2.5, 5.0])
    np.testing.assert_array_equal((x * np.array(-1.0)).numpy(), [-1.0, -2.0])  # repeated 0-d operands
    np.testing.assert_array_equal((x - np.float64(0.5)).numpy(), [0.5, 1.5])


def test_integer_tensor_meeting_python_float_takes_default_dtype():
    i = tg.arange(4)
    assert i.dtype == np.dtype(np.int64)
    assert (i * 0.5).dtype == F32
    assert (i + np.float64(0.5)).dtype == F32  # a NumPy float64 scalar is a "Python-like" number here
    tg.set_default_dtype("float64")
    assert (i * 0.5).dtype == F64


def test_python_floats_take_default_dtype():
    assert tg.Tensor(1.5).dtype == F32
    assert tg.Tensor([1.0, 2.0]).dtype == F32
    assert tg.tensor([[1, 2]]).dtype == np.dtype(np.int64)
    assert tg.Tensor(np.arange(3.0)).dtype == F64  # NumPy arrays keep their dtype
    assert tg.zeros(2).dtype == tg.ones(2).dtype == tg.randn(2).dtype == tg.rand(2).dtype == F32
    assert tg.get_default_dtype() == F32


def test_float64_via_dtype_argument():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    w = tg.randn(2, dtype="float64", requires_grad=True)
    assert x.dtype == w.dtype == F64
    y = ((x * w).tanh() + 1.0).sum()
    assert y.dtype == F64
    y.backward()
    assert x.grad.dtype == F64 and w.grad.dtype == F64
    assert tg.zeros(3, dtype=tg.float64).dtype == F64
    assert tg.Tensor([1, 2], dtype="float64").dtype == F64


def test_float64_via_set_default_dtype():
    tg.set_default_dtype("float64")
    assert tg.get_default_dtype() == F64
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert x.dtype == F64
    for t in (tg.randn(3), tg.rand(3), tg.zeros(3), tg.ones(3), tg.full((2,), 3.0), tg.eye(2), tg.arange(0.0, 2.0)):
        assert t.dtype == F64
    y = (x * 0.1 + 2).exp().sum()
    y.backward()
    assert y.dtype == F64 and x.grad.dtype == F64
    # an explicit float32 tensor stays float32 even under a float64 default
    z = tg.Tensor([1.0], dtype="float32", requires_grad=True)
    out = (z * 0.5 + 1.0).sum()
    out.backward()
    assert out.dtype == F32 and z.grad.dtype == F32


def test_set_default_dtype_rejects_non_float():
    with pytest.raises(TypeError, match="float32"):
        tg.set_default_dtype("int32")
    assert tg.get_default_dtype() == F32


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a.maximum(b),
        lambda a, b: tg.where(a.data > 0, a, b),
    ],
    ids=["add", "sub", "mul", "div", "maximum", "where"],
)
def test_mixing_float32_and_float64_tensors_raises(op):
    a = tg.Tensor(np.ones((2, 3), np.float32))
    b = tg.Tensor(np.ones((2, 3), np.float64))
    for x, y in ((a, b), (b, a)):
        with pytest.raises(TypeError) as info:
            op(x, y)
        msg = str(info.value)
        assert "float32" in msg and "float64" in msg


def test_mixing_float_precisions_in_matmul_concat_stack_raises():
    a = tg.Tensor(np.ones((2, 2), np.float32))
    b = tg.Tensor(np.ones((2, 2), np.float64))
    for f in (lambda: a @ b, lambda: tg.concat([a, b]), lambda: tg.stack([a, b]), lambda: a * np.ones(2)):
        with pytest.raises(TypeError) as info:
            f()
        assert "float32" in str(info.value) and "float64" in str(info.value)


def test_zero_dim_float64_tensor_adapts_and_its_grad_keeps_its_dtype():
    a = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    s = tg.Tensor(np.array(2.0), requires_grad=True)  # 0-d float64
    out = a * s
    assert out.dtype == F32
    out.sum().backward()
    assert a.grad.dtype == F32 and s.grad.dtype == F64
    assert s.grad.item() == 3.0


def test_manual_seed_makes_random_repeatable():
    tg.manual_seed(123)
    a, ra, ua = tg.randn(4, 5), tg.rand(3), tg.uniform(6, low=-2.0, high=2.0)
    tg.manual_seed(123)
    b, rb, ub = tg.randn(4, 5), tg.rand(3), tg.uniform(6, low=-2.0, high=2.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ra.numpy(), rb.numpy())
    np.testing.assert_array_equal(ua.numpy(), ub.numpy())
    assert (ua.numpy() >= -2).all() and (ua.numpy() < 2).all()
    c = tg.randn(4, 5)  # the stream moves on
    assert not np.array_equal(a.numpy(), c.numpy())
    tg.manual_seed(124)
    assert not np.array_equal(a.numpy(), tg.randn(4, 5).numpy())


def test_numpy_returns_ndarray():
    x = tg.Tensor([[1.0, 2.0]], requires_grad=True)
    for t in (x, x * 2.0, x.sum(), x[0, 1]):
        a = t.numpy()
        assert type(a) is np.ndarray
        assert a.shape == t.shape and a.dtype == t.dtype
    np.testing.assert_array_equal(np.asarray(x), [[1.0, 2.0]])
    assert (x * 2.0).tolist() == [[2.0, 4.0]]


# ---- backend selection ---------------------------------------------------------------------------------


class FakeCupy:
    __name__ = "cupy"


def _probe_missing():
    return None, "CuPy could not be imported (ModuleNotFoundError: No module named 'cupy')"


def _probe_present():
    return FakeCupy, ""


def _probe_must_not_run():
    raise AssertionError("the numpy backend must not probe for CuPy")


@pytest.mark.parametrize("value", [None, "", "   ", "numpy", "cpu", "NumPy", "CPU", " numpy ", "Cpu"])
def test_resolve_numpy_values(value, capsys):
    name, mod = resolve_backend(value, probe=_probe_must_not_run)
    assert name == "numpy" and mod is np
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["cupy", "gpu", "cuda", "CUDA", "Gpu", "CuPy", " cupy "])
def test_resolve_gpu_aliases_use_probe(value, capsys):
    name, mod = resolve_backend(value, probe=_probe_present)
    assert name == "cupy" and mod is FakeCupy
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["auto", "AUTO", "Auto"])
def test_resolve_auto_with_gpu_picks_cupy_silently(value, capsys):
    assert resolve_backend(value, probe=_probe_present) == ("cupy", FakeCupy)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["bogus", "torch", "numpyy", "tpu"])
def test_resolve_unknown_value_lists_valid_values(value):
    with pytest.raises(BackendError) as info:
        resolve_backend(value, probe=_probe_must_not_run)
    msg = str(info.value)
    assert "TINYGRAD_RNN_BACKEND" in msg and repr(value) in msg
    for valid in ("numpy", "cpu", "cupy", "gpu", "cuda", "auto"):
        assert valid in msg
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("value", ["cupy", "gpu", "cuda", "GPU"])
def test_resolve_cupy_missing_raises_with_install_hint(value):
    with pytest.raises(BackendError) as info:
        resolve_backend(value, probe=_probe_missing)
    msg = str(info.value)
    assert "TINYGRAD_RNN_BACKEND" in msg
    assert "No module named 'cupy'" in msg  # what was found
    assert "pip install" in msg


def test_resolve_cupy_no_gpu_reports_what_was_found():
    with pytest.raises(BackendError, match="sees no GPU"):
        resolve_backend("cuda", probe=lambda: (None, "CuPy 13.0.0 is installed but sees no GPU"))


def test_resolve_auto_falls_back_to_numpy_with_one_notice(capsys):
    name, mod = resolve_backend("auto", probe=_probe_missing)
    assert name == "numpy" and mod is np
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "TINYGRAD_RNN_BACKEND" in lines[0] and "NumPy" in lines[0] and "No module named 'cupy'" in lines[0]


def test_real_probe_returns_a_reason_when_unavailable():
    mod, found = backend._probe_cupy()
    if mod is None:
        assert isinstance(found, str) and "CuPy" in found
    else:
        assert found == "" and hasattr(mod, "ndarray")


def _run_python(code, env_value):
    env = dict(os.environ)
    env["TINYGRAD_RNN_BACKEND"] = env_value
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=str(REPO), capture_output=True, text=True, timeout=60
    )


def test_import_with_bogus_backend_fails_clearly():
    r = _run_python("import tinygrad_rnn", "bogus")
    assert r.returncode != 0
    assert "BackendError" in r.stderr
    assert "TINYGRAD_RNN_BACKEND='bogus'" in r.stderr and "valid values" in r.stderr


def test_import_with_auto_backend():
    r = _run_python(
        "import tinygrad_rnn as tg; x = tg.Tensor([1.0, 2.0], requires_grad=True); "
        "(x * x).sum().backward(); "
        "print(tg.backend.name, type(x.array).__module__, x.grad.numpy().tolist())",
        "auto",
    )
    assert r.returncode == 0, r.stderr
    name, module, grads = r.stdout.split(maxsplit=2)
    assert grads.strip() == "[2.0, 4.0]"
    if backend._probe_cupy()[0] is None:  # this machine: no usable GPU
        assert name == "numpy" and module == "numpy"
        notices = [ln for ln in r.stderr.splitlines() if "TINYGRAD_RNN_BACKEND=auto" in ln]
        assert len(notices) == 1 and "using NumPy" in notices[0]
    else:
        assert name == "cupy"


def test_import_with_cpu_alias_is_silent():
    r = _run_python("import tinygrad_rnn as tg; print(tg.backend.name)", "CPU")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "numpy" and r.stderr == ""


# ---- GPU (run with TINYGRAD_RNN_BACKEND=cupy on a machine with CuPy and a GPU) ---------------------------

_SMALL_GRAPH = """
import json, numpy as np, tinygrad_rnn as tg
r = np.random.default_rng(7)
x = tg.Tensor(r.standard_normal((4, 3)), requires_grad=True)
W = tg.Tensor(r.standard_normal((3, 5)), requires_grad=True)
v = tg.Tensor(r.standard_normal((5,)), requires_grad=True)
h = (x @ W).tanh()
loss = (h * v).sum() + h.softmax(-1).max(axis=1).mean() + tg.stack(x.unbind(0)[::2]).sigmoid().sum()
loss.backward()
RESULT = {"loss": float(loss.item()), "x": x.grad.numpy().tolist(), "W": W.grad.numpy().tolist(),
          "v": v.grad.numpy().tolist(), "types": [type(t.grad.numpy()).__name__ for t in (x, W, v)]}
"""


@requires_gpu
def test_gpu_small_graph_grads_match_numpy():
    ns: dict = {}
    exec(_SMALL_GRAPH, ns)
    gpu = ns["RESULT"]
    assert gpu["types"] == ["ndarray"] * 3
    r = _run_python(_SMALL_GRAPH + "\nprint(json.dumps(RESULT))", "numpy")
    assert r.returncode == 0, r.stderr
    cpu = json.loads(r.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(gpu["loss"], cpu["loss"], rtol=1e-10)
    for k in ("x", "W", "v"):
        np.testing.assert_allclose(gpu[k], cpu[k], rtol=1e-9, atol=1e-12)


@requires_gpu
def test_gpu_float32_graph_stays_float32_on_device():
    import cupy  # noqa: PLC0415

    x, w, v = _leaves(F32)
    assert isinstance(x.array, cupy.ndarray)
    y = ((x @ w).tanh() * 2.0 + np.float64(1.0)).sum()
    y.backward()
    assert y.dtype == F32 and x.grad.dtype == F32 and w.grad.dtype == F32
    assert isinstance(x.grad.array, cupy.ndarray)
    assert type(x.grad.numpy()) is np.ndarray


@requires_gpu
def test_gpu_manual_seed_repeatable():
    tg.manual_seed(5)
    a = tg.randn(3, 3).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(a, tg.randn(3, 3).numpy())
