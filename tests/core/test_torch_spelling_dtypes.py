"""PyTorch's dtype names (``tg.float32``, ``tg.long`` ...), the cast methods (``x.long()``,
``x.type(...)``, ``x.to(...)``), ``is_floating_point``/``element_size``, and ``Module.to/double/half``."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn

NAMES = {
    "float32": np.float32,
    "float": np.float32,
    "float64": np.float64,
    "double": np.float64,
    "float16": np.float16,
    "half": np.float16,
    "int64": np.int64,
    "long": np.int64,
    "int32": np.int32,
    "int": np.int32,
    "int16": np.int16,
    "short": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}
# PyTorch's cast methods are its short dtype names, plus char() and byte() for the 8-bit integers
METHODS = {name: NAMES[name] for name in ("float", "double", "half", "long", "int", "short", "bool")}
METHODS.update(char=np.int8, byte=np.uint8)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_dtype_names(name):
    d = getattr(tg, name)
    assert d is NAMES[name]
    x = tg.zeros(2, dtype=d) if np.dtype(d).kind == "f" else tg.tensor([1, 0], dtype=d)
    assert x.dtype == d and x.dtype == np.dtype(d)


def test_builtin_names_stay_out_of_star_import():
    for name in ("float", "int", "bool", "sum", "max", "min"):
        assert name not in tg.__all__
    ns: dict = {}
    exec("from tinygrad_rnn import *", ns)
    assert "float32" in ns and "long" in ns and "float" not in ns and "max" not in ns


@pytest.mark.parametrize("method", sorted(METHODS))
def test_cast_methods(method):
    x = tg.tensor([0.0, 1.5, -2.0])
    y = getattr(x, method)()
    assert y.dtype == METHODS[method]
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(METHODS[method]))


def test_float_to_float_casts_are_differentiable_float_to_int_are_not():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.requires_grad and d.grad_fn is not None
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 4.0]
    for y in (x.long(), x.int(), x.bool(), x.to(tg.long), x.type("torch.LongTensor")):
        assert not y.requires_grad and y.grad_fn is None
    assert x.float() is x and x.to(tg.float32) is x  # no cast, the same tensor (as in PyTorch)
    assert tg.gradcheck(lambda t: t.to(tg.float64) * 2.0, (tg.tensor([1.0, 2.0], dtype="float64", requires_grad=True),))


def test_type():
    x = tg.zeros(2)
    prefix = "tinygrad_rnn.cuda." if backend.name == "cupy" else "tinygrad_rnn."
    assert x.type() == prefix + "FloatTensor"
    for method, name in [
        ("double", "DoubleTensor"),
        ("half", "HalfTensor"),
        ("long", "LongTensor"),
        ("int", "IntTensor"),
        ("short", "ShortTensor"),
        ("char", "CharTensor"),
        ("byte", "ByteTensor"),
        ("bool", "BoolTensor"),
    ]:
        assert getattr(x, method)().type() == prefix + name
    for spec in ("torch.LongTensor", "tinygrad_rnn.LongTensor", "LongTensor", tg.long, "int64", np.dtype("int64")):
        assert x.type(spec).dtype == np.int64
    assert x.type(tg.float64).dtype == np.float64 and x.type("torch.DoubleTensor").dtype == np.float64
    with pytest.raises(TypeError, match="type: 'torch.NopeTensor' is not a dtype"):
        x.type("torch.NopeTensor")
    if backend.name == "numpy":
        with pytest.raises(ValueError, match="numpy backend"):
            x.type("torch.cuda.FloatTensor")


def test_to_dtype_forms():
    x = tg.zeros(2, 3)
    assert x.to(tg.float64).dtype == np.float64
    assert x.to(dtype=tg.float64).dtype == np.float64
    assert x.to("float64").dtype == np.float64  # a dtype name is read as a dtype
    assert x.to(tg.tensor([1, 2])).dtype == np.int64  # to(other): other's dtype
    assert x.to(None) is x and x.to() is x
    assert x.to(tg.float64, copy=True).dtype == np.float64
    c = x.to(copy=True)
    assert c is not x and c.dtype == x.dtype and np.array_equal(c.numpy(), x.numpy())
    with pytest.raises(TypeError, match="to: unexpected keyword"):
        x.to(tg.float64, flavour=1)
    with pytest.raises(TypeError, match="to: dtype given both"):
        x.to(tg.float64, dtype=tg.float32)


def test_to_copy_is_differentiable():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = x.to(copy=True)
    assert c is not x and c.grad_fn is not None
    (c * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


@pytest.mark.skipif(backend.name != "numpy", reason="the device rules of the NumPy backend")
def test_to_device_on_the_numpy_backend():
    x = tg.zeros(2)
    assert x.to("cpu") is x and x.to("cpu:0") is x
    assert x.to("cpu", tg.float64).dtype == np.float64 and x.to(device="cpu", dtype=tg.float64).dtype == np.float64

    class Dev:  # anything shaped like torch.device
        type, index = "cpu", None

    assert x.to(Dev()) is x
    for bad in ("cuda", "cuda:0", "mps", "cpu:1"):
        with pytest.raises(ValueError, match=r"to: this process runs the numpy backend.*(TINYGRAD_RNN_BACKEND|only)"):
            x.to(bad)
    with pytest.raises(TypeError, match="to: expected a dtype, a device"):
        x.to(3.5)


def test_to_device_accepts_a_torch_device():
    torch = pytest.importorskip("torch")
    x = tg.zeros(2)
    if backend.name == "numpy":
        assert x.to(torch.device("cpu")) is x
        with pytest.raises(ValueError, match="numpy backend"):
            x.to(torch.device("cuda"))


def test_is_floating_point_and_element_size():
    assert tg.zeros(2).is_floating_point() and not tg.tensor([1]).is_floating_point()
    assert not tg.tensor([True]).is_floating_point()
    for d, n in [(tg.float32, 4), (tg.float64, 8), (tg.float16, 2), (tg.long, 8), (tg.int, 4), (tg.uint8, 1)]:
        assert tg.tensor([1], dtype=d).element_size() == n


def test_creation_functions_take_the_names():
    assert tg.zeros(2, dtype=tg.float64).dtype == np.float64
    assert tg.ones(2, dtype=tg.long).dtype == np.int64
    assert tg.tensor([1, 2], dtype=tg.float).dtype == np.float32
    assert tg.arange(3, dtype=tg.int32).dtype == np.int32
    assert tg.full((2,), 7, dtype=tg.int16).dtype == np.int16


def test_casts_match_torch():
    torch = pytest.importorskip("torch")
    data = [[0.0, 1.7, -2.5], [3.2, -0.4, 255.9]]
    x, t = tg.tensor(data), torch.tensor(data)
    for method in METHODS:
        a, b = getattr(x, method)(), getattr(t, method)()
        assert str(b.dtype).replace("torch.", "") == np.dtype(a.dtype).name.replace("bool", "bool")
        if method != "byte":  # negative floats to uint8 are undefined behaviour in C (and so in both libraries)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.type().split(".")[-1] == b.type().split(".")[-1]
        assert a.element_size() == b.element_size() and a.is_floating_point() == b.is_floating_point()
    for name in NAMES:
        assert str(getattr(torch, name)).replace("torch.", "") == np.dtype(getattr(tg, name)).name


# ---- modules -----------------------------------------------------------------------------------------


def test_module_to_dtype_and_the_shorthands():
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    assert m.to(tg.float64) is m and all(p.dtype == np.float64 for p in m.parameters())
    assert m.float() is m and all(p.dtype == np.float32 for p in m.parameters())
    assert m.double() is m and all(p.dtype == np.float64 for p in m.parameters())
    assert m.to(dtype=tg.float32) is m and all(p.dtype == np.float32 for p in m.parameters())
    m.half()
    assert all(p.dtype == np.float16 for p in m.parameters())
    assert m(tg.ones(5, 3).half()).dtype == np.float16
    m.to("cpu" if backend.name == "numpy" else "cuda", tg.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.to(tg.zeros(1)) is m and all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="Sequential.to: modules cast only to floating-point dtypes"):
        m.to(tg.long)


def test_module_to_an_unavailable_device_is_refused():
    other = "cuda" if backend.name == "numpy" else "cpu"
    with pytest.raises(ValueError, match=f"Linear.to: this process runs the {backend.name} backend"):
        nn.Linear(2, 2).to(other)


def test_double_model_trains_like_torch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.LSTM(3, 4).double()
    m = nn.LSTM(3, 4).to(tg.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    out, _ = m(tg.tensor(x))
    ref, _ = tm(torch.tensor(x))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_legacy_constructors():
    assert tg.LongTensor([1, 2]).dtype == np.int64 and tg.LongTensor([1, 2]).tolist() == [1, 2]
    assert tg.FloatTensor([[1, 2]]).dtype == np.float32
    z = tg.FloatTensor(2, 3)  # ints are a shape (zeros here; PyTorch leaves memory uninitialised)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.numpy().any()
    assert tg.DoubleTensor(np.zeros(2)).dtype == np.float64 and tg.BoolTensor([True]).dtype == np.bool_
    assert tg.ByteTensor(tg.tensor([1.0, 2.0])).dtype == np.uint8
    assert tg.FloatTensor([1.0], requires_grad=True).requires_grad
    for name in ("HalfTensor", "IntTensor", "ShortTensor", "CharTensor"):
        assert getattr(tg, name)([1]).type().endswith(name)
    with pytest.raises(TypeError, match="LongTensor: expected a shape"):
        tg.LongTensor([1], [2])
