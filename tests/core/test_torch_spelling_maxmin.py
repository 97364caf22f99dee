"""PyTorch's max/min: ``x.max()`` is 0-d, ``x.max(dim)`` the namedtuple ``(values, indices)``,
``x.max(other)`` the elementwise maximum; NumPy's ``x.max(axis=...)`` keeps returning the values.
``amax``/``amin`` reduce several dims; ``argmax``/``argmin`` give int64 indices (the first on ties)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg

R = np.random.default_rng(11)
A = R.normal(size=(3, 4, 2))


def T(a, **kw):
    return tg.tensor(np.asarray(a), **kw)


@pytest.fixture(autouse=True)
def _float64_default():
    tg.set_default_dtype("float64")
    yield


# ---- the returned structures -------------------------------------------------------------------------


def test_max_without_dim_is_a_0d_tensor():
    r = T(A).max()
    assert isinstance(r, tg.Tensor) and r.shape == () and r.item() == A.max()
    assert T(A).min().item() == A.min()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_is_a_values_indices_namedtuple(op):
    x = T(A)
    r = getattr(x, op)(1)
    assert isinstance(r, tuple) and type(r).__name__ == op and type(r)._fields == ("values", "indices")
    assert type(r) is getattr(tg.return_types, op)
    values, indices = r  # unpacks like a tuple
    assert values is r.values and indices is r[1]
    ref = getattr(np, op)(A, axis=1)
    arg = getattr(np, "arg" + op)(A, axis=1)
    np.testing.assert_array_equal(values.numpy(), ref)
    np.testing.assert_array_equal(indices.numpy(), arg)
    assert indices.dtype == np.int64 and not indices.requires_grad
    k = getattr(x, op)(dim=-1, keepdim=True)
    assert k.values.shape == (3, 4, 1) == k.indices.shape
    np.testing.assert_array_equal(k.indices.numpy(), getattr(np, "arg" + op)(A, axis=-1, keepdims=True))
    assert repr(r).startswith(f"{op}(values=Tensor(")


@pytest.mark.parametrize("op", ["max", "min"])
def test_numpy_spelling_keeps_values_only(op):
    x = T(A)
    for r in (getattr(x, op)(axis=1), getattr(x, op)(1, keepdims=False), getattr(x, op)(axis=(0, 2))):
        assert isinstance(r, tg.Tensor)
    np.testing.assert_array_equal(getattr(x, op)(axis=(0, 2)).numpy(), getattr(np, op)(A, axis=(0, 2)))
    assert getattr(x, op)(axis=0, keepdims=True).shape == (1, 4, 2)
    assert getattr(x, op)(keepdims=True).shape == (1, 1, 1)


def test_max_min_with_a_tensor_is_elementwise():
    a, b = T(A), T(-A)
    np.testing.assert_array_equal(a.max(b).numpy(), np.maximum(A, -A))
    np.testing.assert_array_equal(a.min(b).numpy(), np.minimum(A, -A))
    np.testing.assert_array_equal(tg.max(a, b).numpy(), np.maximum(A, -A))
    np.testing.assert_array_equal(tg.min(a, b).numpy(), np.minimum(A, -A))


def test_function_forms():
    x = T(A)
    assert tg.max(x).shape == () and tg.max(x, 1).values.shape == (3, 2)
    values, indices = tg.max(x, dim=0, keepdim=True)
    assert values.shape == (1, 4, 2) and indices.shape == (1, 4, 2)
    assert tg.min(x, 2).indices.shape == (3, 4)
    assert isinstance(tg.max(x, axis=1), tg.Tensor)


def test_dim_must_be_one_int():
    with pytest.raises(TypeError, match=r"max: dim must be an int.*amax"):
        T(A).max(dim=(0, 1))
    with pytest.raises(TypeError, match="min: dim must be an int"):
        T(A).min(1.5)
    with pytest.raises(ValueError, match="max: axis 3 is out of range"):
        T(A).max(3)


def test_0d_and_empty_edge_cases():
    s = T(5.0)
    for d in (0, -1):
        v, i = s.max(d)
        assert v.item() == 5.0 and v.shape == () and i.item() == 0 and i.dtype == np.int64
    assert s.argmax(0).item() == 0 and s.argmin().item() == 0
    with pytest.raises(ValueError, match="out of range"):
        s.max(1)
    e = T(np.zeros((0, 3)))
    assert e.max(1).values.shape == (0,) and e.amax(1).shape == (0,)  # reducing a non-empty dim is fine
    with pytest.raises(ValueError, match="max: cannot reduce dim 0 of length 0"):
        e.max(0)
    with pytest.raises(ValueError, match="max: cannot reduce an empty tensor"):
        e.max()
    with pytest.raises(ValueError, match="argmax: cannot take the argmax of an empty tensor"):
        e.argmax()


# ---- ties ----------------------------------------------------------------------------------------------


def test_ties_pick_the_first_index_and_route_the_gradient_there():
    x = T([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]], requires_grad=True)
    r = x.max(1)
    assert r.indices.tolist() == [1, 0] and x.argmax(1).tolist() == [1, 0]
    r.values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # PyTorch: all to the returned index
    y = T([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]], requires_grad=True)
    y.amax(1).sum().backward()
    assert y.grad.tolist() == [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]  # amax (and axis=): shared equally
    z = T([[1.0, 1.0], [0.0, 2.0]], requires_grad=True)
    z.min(dim=1).values.sum().backward()
    assert z.grad.tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_tie_rules_match_torch():
    torch = pytest.importorskip("torch")
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 1.0], [4.0, 4.0, 4.0]]
    for op in ("max", "min"):
        x, t = T(data, requires_grad=True), torch.tensor(data, dtype=torch.float64, requires_grad=True)
        r, q = getattr(x, op)(1), getattr(t, op)(1)
        assert r.indices.tolist() == q.indices.tolist()
        r.values.sum().backward()
        q.values.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
        x2, t2 = T(data, requires_grad=True), torch.tensor(data, dtype=torch.float64, requires_grad=True)
        getattr(x2, "a" + op)(1).sum().backward()
        getattr(torch, "a" + op)(t2, 1).sum().backward()
        np.testing.assert_allclose(x2.grad.numpy(), t2.grad.numpy())
        x3, t3 = T(data, requires_grad=True), torch.tensor(data, dtype=torch.float64, requires_grad=True)
        getattr(x3, op)().backward()
        getattr(t3, op)().backward()
        np.testing.assert_allclose(x3.grad.numpy(), t3.grad.numpy())  # full reduction: shared equally


# ---- gradients -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("d, keep", [(0, False), (1, True), (-1, False)])
def test_gradcheck_max_min_with_dim(op, d, keep):
    x = T(A, requires_grad=True)  # continuous random values: no ties
    assert tg.gradcheck(lambda t: getattr(t, op)(d, keepdim=keep).values, (x,))
    assert tg.gradgradcheck(lambda t: getattr(t, op)(d, keepdim=keep).values ** 2, (x,))


@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("d", [0, (0, 2), -1, ()])
def test_gradcheck_amax_amin(op, d):
    x = T(A, requires_grad=True)
    assert tg.gradcheck(lambda t: getattr(t, op)(d), (x,))
    assert tg.gradgradcheck(lambda t: getattr(t, op)(d, keepdim=True) ** 2, (x,))


def test_arg_reductions_are_not_differentiable():
    x = T(A, requires_grad=True)
    for r in (x.argmax(), x.argmin(1), x.max(1).indices, x.min(0).indices):
        assert r.dtype == np.int64 and not r.requires_grad and r.grad_fn is None


def test_max_values_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    w, w2 = R.normal(size=(3, 2)), R.normal(size=(3, 4, 1))
    x = T(A, requires_grad=True)
    t = torch.tensor(A, requires_grad=True)
    (x.max(1).values * T(w)).sum().backward()
    (t.max(1).values * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    x.grad, t.grad = None, None
    (x.min(dim=2, keepdim=True).values * T(w2)).sum().backward()
    (t.min(dim=2, keepdim=True).values * torch.tensor(w2)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_max_with_dim_under_no_grad_and_integer_tensors():
    with tg.no_grad():
        r = T(A, requires_grad=True).max(1)
    assert not r.values.requires_grad
    v, i = T([[3, 1, 2], [0, 5, 5]]).max(1)
    assert v.tolist() == [3, 5] and v.dtype == np.int64 and i.tolist() == [0, 1]


def test_the_classifier_idiom():
    """``_, predicted = torch.max(outputs, 1)`` and ``outputs.argmax(dim=1)``, as in PyTorch tutorials."""
    logits = T([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    _, predicted = tg.max(logits, 1)
    assert predicted.tolist() == [1, 0] and logits.argmax(dim=1).tolist() == [1, 0]
    labels = T([1, 2])
    assert (predicted == labels).sum().item() == 1
