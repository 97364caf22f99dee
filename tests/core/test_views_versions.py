"""Views, shared storage and version counters: programs that write through views (stale views, chained
``t[i][j] += v``, masks, the seq2seq ``enc[i] = h`` loop) against PyTorch (skipped without it), the
errors autograd raises (and the cases that must not raise), memory shared or copied by each
constructor, ``.data``, optimizers writing in place, and non-view ops that must never alias."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck_helpers import float64_default  # noqa: F401  (the fixture applies here)

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn, optim

try:
    import torch
except ImportError:
    torch = None

R = np.random.default_rng(5)
LIBS = [tg] + ([torch] if torch is not None else [])  # the rule-by-rule tests run on torch too when present


def run_both(th, prog, *arrays, tol=1e-10):
    """``prog(lib, *leaves)`` -> output tensor, run by both libraries on the same arrays: the outputs and
    the gradients of sum(out * c) w.r.t. every leaf agree. Returns tinygrad_rnn's output and leaves."""
    res = []
    c = R.standard_normal(prog(tg, *(tg.tensor(a) for a in arrays)).shape)
    for L in (tg, th):
        leaves = [L.tensor(a, requires_grad=True) for a in arrays]
        out = prog(L, *leaves)
        (out * L.tensor(c)).sum().backward()
        res.append((out, leaves))
    (ot, lt), (op, lp) = res
    np.testing.assert_allclose(ot.numpy(), op.detach().numpy(), rtol=tol, atol=tol)
    for i, (a, b) in enumerate(zip(lt, lp)):
        assert (a.grad is None) == (b.grad is None), f"leaf {i}"
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol, err_msg=f"leaf {i}")
    return ot, lt


A, B, C = R.standard_normal((3, 4)), R.standard_normal((3, 4)), R.standard_normal(4)


# ---- programs against PyTorch ---------------------------------------------------------------------------


def _views(L, x, w, v):
    y = x.tanh() * 1  # a copy of tanh's output: tanh needs its own output intact
    y[0].mul_(v)
    y[:, 1] *= 2
    y.t()[0, 1] = v[3]
    y.view(2, 6)[1, 1:4].add_(v[:3])
    y.unsqueeze(0)[0, 2, ::2] = w[2, 1:3]
    y.narrow(1, 2, 2).sub_(w[0, :2])
    return y


def _chained(L, x, w, v):
    y = x * 3
    y[1][2] += v[0]
    y[2][1:][0] *= v[1]
    y[0][::2][1] = v[2]
    return y


def _masks(L, x, w, v):
    y = x * 1
    y[w > 0] = v[0]
    y[L.tensor(np.array([0, 2]))] = v
    y[L.tensor(np.array([1, 2])), L.tensor(np.array([3, 0]))] += v[1:3]
    y[y < -0.5] *= 0.5
    return y


def _broadcast_values(L, x, w, v):
    y = x * 1
    y[:, 0] = 2.5  # a Python number
    y[:, 1] = v[0]  # a 0-d tensor that requires grad
    y[:, 2] = w[:, 0]  # (N,)
    y[1:] = v  # a row into every selected row
    y[..., 3] = L.tensor(-1.0)  # a 0-d constant
    return y


def _seq2seq(L, x, w, v):
    T, H = x.shape
    enc = L.zeros(T, H, dtype=x.dtype)
    h = v
    for i in range(T):
        h = (h * w[i] + x[i]).tanh()
        enc[i] = h
    score = (enc * h).sum(1).softmax(0)
    return (score.reshape(T, 1) * enc).sum(0)


def _stale_view(L, x, w, v):
    y = x * 2
    row, col = y[1], y[:, 3]  # taken before the base is written
    y.mul_(w)  # the base written: both views now see new values and must get new histories
    y[0].add_(v)
    return row * col[1] + col.sum() + row.exp()


def _earlier_view(L, x, w, v):
    y = x * 1
    row = y[2]
    z = row + v  # add does not read its inputs: writing y later is fine
    y.mul_(w)  # in-place on the base after the view was used
    return z * y[2] + row


def _view_of_view(L, x, w, v):
    y = x * 1
    outer = y[1:]
    inner = outer[:, 1:3]
    inner.mul_(w[1:, :2])
    outer.add_(v)
    return y * inner.sum() + inner.sum(0).sum()


def _overlap(L, x, w, v):
    y = x * 1
    y[:, 1:] = y[:, :-1] * 1 if L is not tg else y[:, :-1]  # torch refuses an overlapping source
    y[0] += y[1]
    return y


def _untracked_base(L, x, w, v):
    z = L.zeros(3, 4, dtype=x.dtype)  # requires no grad: the writes give it a history
    z.add_(x)
    z[1].copy_(v)
    z.mul_(w)
    return z


PROGRAMS = {
    f.__name__[1:]: f
    for f in (_views, _chained, _masks, _broadcast_values, _seq2seq, _stale_view, _earlier_view, _view_of_view)
}
PROGRAMS["overlap"] = _overlap
PROGRAMS["untracked_base"] = _untracked_base


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(th, name):
    out, (x, w, v) = run_both(th, PROGRAMS[name], A, B, C)
    assert x.is_leaf and x._version == 0 and w._version == 0  # the leaves were only read


@pytest.mark.parametrize("L", LIBS, ids=lambda L: L.__name__)
def test_stale_view_refreshes_its_history(L):
    """The view's own history is rebuilt from the base once the base was written (is_leaf, grad_fn and
    requires_grad see it), as torch does."""
    w = L.tensor(C, requires_grad=True)
    z = L.zeros(4, dtype=w.dtype)
    v = z[1:]
    assert not v.requires_grad
    z.copy_(w)
    assert v.requires_grad and not v.is_leaf and v.grad_fn is not None
    assert v._version == z._version == 1
    np.testing.assert_array_equal(v.detach().numpy(), C[1:])


@pytest.mark.parametrize("L", LIBS, ids=lambda L: L.__name__)
def test_retain_grad_follows_the_tensor_across_in_place_writes(L):
    """retain_grad() keeps the gradient of the tensor's latest value (torch's rule), for a tensor and for a
    view taken before its base was written."""
    x = L.tensor(A, requires_grad=True)
    y = x * 1
    y.retain_grad()
    row = y[1]
    y.mul_(2)
    row.retain_grad()
    ((y * 3).sum() + (row * row).sum()).backward()
    gy = np.full((3, 4), 3.0)
    gy[1] += 4 * A[1]  # d(row^2)/d(row) at row = 2 * A[1]
    np.testing.assert_allclose(y.grad.numpy(), gy, rtol=1e-12)
    np.testing.assert_allclose(row.grad.numpy(), 4 * A[1], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 2 * gy, rtol=1e-12)


@pytest.mark.parametrize("L", LIBS, ids=lambda L: L.__name__)
def test_detach_in_place_keeps_earlier_nodes_routed(L):
    """detach_() cuts the tensor from the tape from now on; nodes recorded before still reach the leaves."""
    x = L.tensor(C, requires_grad=True)
    y = x * 2
    z = y * 3
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0))
    w = L.tensor(C, requires_grad=True)
    (y * w).sum().backward()  # a node recorded after: y is a constant now
    np.testing.assert_array_equal(w.grad.numpy(), 2 * C)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0))


# ---- errors, and what must not raise ----------------------------------------------------------------------


def test_in_place_on_leaf_requires_no_grad():
    x = tg.tensor(A, requires_grad=True)
    for call in (lambda: x.add_(1), lambda: x.zero_(), lambda: x.uniform_()):
        with pytest.raises(RuntimeError, match=r"a leaf tensor that requires grad \(shape \(3, 4\)\) cannot be"):
            call()
    with pytest.raises(RuntimeError, match="mul_: a view of a leaf tensor that requires grad"):
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="setitem: a view of a leaf tensor that requires grad"):
        x[:, 1] = 0.0
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor"):
        x[x > 0] = 0.0
    with pytest.raises(RuntimeError, match="add_: a view of a leaf tensor"):
        x.t()[1:].unsqueeze(0).add_(1)  # a view of a view
    np.testing.assert_array_equal(x.numpy(), A)  # nothing was written
    assert x._version == 0
    with tg.no_grad():
        x.add_(1)
        x[0] = 5.0
        x.t()[1].mul_(2)
    expect = A + 1
    expect[0] = 5.0
    expect[:, 1] *= 2
    np.testing.assert_array_equal(x.numpy(), expect)
    assert x.is_leaf and x.requires_grad and x.grad_fn is None and x._version == 3


def test_version_error_input_of_mul():
    x, w = tg.tensor(C, requires_grad=True), tg.tensor(C, requires_grad=True)
    y = x * 1
    out = y * w
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"input 0 of op 'mul' \(\(4,\) float64\) was modified by an in-place"):
        out.sum().backward()
    y2 = x * 1
    out2 = y2[1:] * w[1:]  # the saved value is a view: writing its base is caught too
    y2[2] = 0.0
    with pytest.raises(RuntimeError, match=r"input 0 of op 'mul' .* at version 1; the op saw version 0"):
        out2.sum().backward()


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid"])
def test_version_error_output_modified(op):
    x = tg.tensor(C, requires_grad=True)
    y = getattr(x, op)()
    y[0] = 1.0
    with pytest.raises(RuntimeError, match=f"output 0 of op '{op}' was modified by an in-place operation"):
        y.sum().backward()
    z = getattr(x, op)()
    z.detach().add_(1)  # detach shares the version counter
    with pytest.raises(RuntimeError, match=f"output 0 of op '{op}' was modified"):
        z.sum().backward()


def test_shape_and_dtype_errors():
    y = tg.zeros(3, dtype="float64")
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 3\) but the tensor has shape \(3,\)"):
        y.add_(tg.ones(2, 3))
    with pytest.raises(ValueError, match=r"mul_: the result has shape \(4, 3\)"):
        y.mul_(np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"fill_: the value must be a number or a 0-d tensor, got shape \(3,\)"):
        y.fill_(tg.ones(3))
    with pytest.raises(ValueError, match=r"setitem: a value of shape \(2,\) cannot be broadcast .* shape \(3,\)"):
        tg.zeros(2, 3)[0] = tg.ones(2)
    i = tg.zeros(3, dtype="int64")
    with pytest.raises(TypeError, match="add_: the result would be float.* but the tensor is int64"):
        i.add_(1.5)
    with pytest.raises(TypeError, match="div_: the result would be float"):
        i /= 2
    with pytest.raises(TypeError, match="setitem: writing float64 values into a int64 tensor would truncate"):
        i[0] = 1.5
    with pytest.raises(TypeError, match="copy_: writing float64 values into a int64 tensor"):
        i.copy_(tg.tensor(np.ones(3)))
    with pytest.raises(OverflowError, match=r"setitem: the value 300 does not fit in int8 \(range -128..127\)"):
        tg.zeros(2, dtype="int8")[0] = 300
    with pytest.raises(TypeError, match="fill_: writing int64 values into a bool tensor"):
        tg.zeros(2, dtype="bool").fill_(1)
    with pytest.raises(TypeError, match="cannot write a value of type str"):
        y.copy_("abc")
    assert i.tolist() == [0, 0, 0] and y.tolist() == [0.0] * 3 and i._version == 0
    # conversions that keep the meaning are fine
    i.add_(2).mul_(3)
    i[1] = True
    i[2] = np.int8(-4)
    f32 = tg.zeros(2, dtype="float32").copy_(tg.tensor(np.array([0.1, 2.0])))
    assert i.tolist() == [6, 1, -4] and f32.dtype == np.float32 and f32.numpy()[0] == np.float32(0.1)


def test_read_only_expand_and_detach_on_view():
    base = tg.tensor(np.arange(3.0)).reshape(1, 3)
    e = base.expand(2, 3)
    with pytest.raises(ValueError, match=r"add_: this tensor of shape \(2, 3\) is a read-only view .* clone\(\)"):
        e.add_(1)
    with pytest.raises(ValueError, match=r"setitem: this tensor of shape \(3,\) is a read-only view"):
        e[0] = 1.0
    base.mul_(2)  # the expand still sees writes to its base
    np.testing.assert_array_equal(e.numpy(), [[0, 2, 4]] * 2)
    ec = e.clone().add_(1)
    np.testing.assert_array_equal(ec.numpy(), [[1, 3, 5]] * 2)
    y = tg.tensor(C, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="detach_: cannot detach a view in place; use detach()"):
        y[1:].detach_()


def test_no_error_when_the_op_does_not_read_the_written_value():
    x = tg.tensor(C, requires_grad=True)
    h = x * 2
    y = h + 1  # add's derivative does not read h
    h.add_(1)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0))
    np.testing.assert_allclose(h.numpy(), 2 * C + 1)


def test_data_writes_are_untracked_and_update_values():
    p = tg.tensor(C, requires_grad=True)
    y = p * p  # saves p
    d = p.data
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.array, p.array)
    p.data.add_(1)  # PyTorch's escape hatch: p's version does not move
    assert p._version == 0 and d._version == 0
    np.testing.assert_allclose(p.numpy(), C + 1)
    y.sum().backward()  # no error; the derivative reads the new values, as in PyTorch
    np.testing.assert_allclose(p.grad.numpy(), 2 * (C + 1))
    d.mul_(0)
    np.testing.assert_array_equal(p.numpy(), np.zeros(4))
    p.data = tg.tensor(np.ones(2))  # rebinds (any shape); views and .data taken before keep the old memory
    assert p.shape == (2,) and p.requires_grad and d.shape == (4,)


@pytest.mark.parametrize("L", LIBS, ids=lambda L: L.__name__)
def test_data_vs_detach_version_counters(L):
    y = L.tensor(C, requires_grad=True).exp()
    y.data.add_(0)
    assert y._version == 0
    y.detach().add_(0)
    assert y._version == 1


# ---- storage sharing ----------------------------------------------------------------------------------

VIEWS = {
    "row": lambda t: t[1],
    "slice": lambda t: t[:, 1:3],
    "step": lambda t: t[::2, ::-1],
    "reshape": lambda t: t.reshape(4, 3),
    "view": lambda t: t.view(-1),
    "flatten": lambda t: t.flatten(),
    "t": lambda t: t.t(),
    "permute": lambda t: t.permute(1, 0),
    "transpose": lambda t: t.transpose(0, 1),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "narrow": lambda t: t.narrow(1, 1, 2),
    "split": lambda t: t.split(2, 1)[1],
    "chunk": lambda t: t.chunk(3, 0)[2],
    "unbind": lambda t: t.unbind(1)[3],
    "detach": lambda t: t.detach(),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_share_storage_and_version(name):
    t = tg.tensor(A.copy())
    v = VIEWS[name](t)
    assert np.shares_memory(v.array, t.array)
    t.mul_(2)
    np.testing.assert_array_equal(v.numpy(), VIEWS[name](tg.tensor(2 * A)).numpy())
    assert v._version == t._version == 1
    v.fill_(7.0)  # and the other way round
    expect = 2 * A
    expect.reshape(-1)[VIEWS[name](tg.tensor(np.arange(12).reshape(3, 4))).numpy().ravel()] = 7.0
    np.testing.assert_array_equal(t.numpy(), expect)
    assert t._version == 2


def test_constructors_copy_or_share():
    on_numpy = backend.name == "numpy"
    a = np.arange(4.0)
    for make in (tg.tensor, tg.Tensor, lambda x: tg.tensor(x, requires_grad=True)):
        t = make(a)
        with tg.no_grad():
            t.add_(1)
        # under CuPy the tensor is on the GPU, so it cannot share the host array's memory
        assert a.tolist() == [0.0, 1.0, 2.0, 3.0]
        assert not np.shares_memory(t.array, a) if on_numpy else isinstance(t.array, backend.xp.ndarray)
    t = tg.tensor(a)
    assert tg.Tensor(t).add_(5).tolist() != t.tolist()  # from a Tensor: a copy too
    for share in (tg.from_numpy, tg.as_tensor):
        # NumPy: they share the host array's memory, as in PyTorch; CuPy: they copy it to the GPU
        b = np.arange(4.0)
        s = share(b)
        s.add_(1)
        assert b.tolist() == ([1.0, 2.0, 3.0, 4.0] if on_numpy else [0.0, 1.0, 2.0, 3.0])
        b[0] = -1
        assert s.tolist() == ([-1.0, 2.0, 3.0, 4.0] if on_numpy else [1.0, 2.0, 3.0, 4.0])
    d = backend.xp.arange(4.0)  # a backend array of the tensor's dtype is shared on both backends
    s = tg.as_tensor(d)
    s.add_(1)
    assert np.shares_memory(s.array, d)
    assert backend.to_numpy(d).tolist() == [1.0, 2.0, 3.0, 4.0]
    base = tg.zeros(3)
    p = nn.Parameter(base)
    base.fill_(2)
    assert p.tolist() == [2.0] * 3 and p.array is base.array


def test_optimizer_step_writes_in_place_then_old_graph_refuses():
    p = nn.Parameter(tg.tensor(C.copy()))
    arr, view = p.array, p.detach()[1:]
    loss = (p * p).sum()  # saves p
    loss.backward(retain_graph=True)
    opt = optim.SGD([p], lr=0.1)
    opt.step()
    assert p.array is arr and p._version == 1 and p.is_leaf
    np.testing.assert_allclose(p.numpy(), C - 0.1 * 2 * C)
    np.testing.assert_allclose(view.numpy(), p.numpy()[1:])  # a view taken before sees the step
    with pytest.raises(RuntimeError, match=r"input 0 of op 'mul' .* modified by an in-place operation"):
        loss.backward()
    p.grad = None
    (p * p).sum().backward()  # a graph built after the step is fine
    np.testing.assert_allclose(p.grad.numpy(), 2 * p.numpy())


# ---- non-view ops never alias their input -------------------------------------------------------------

NON_VIEW = {
    "flip": lambda x: x.flip(0),
    "flip_last": lambda x: x.flip(-1),
    "clone": lambda x: x.clone(),
    "neg": lambda x: -x,
    "add0": lambda x: x + 0,
    "mul1": lambda x: x * 1,
    "div1": lambda x: x / 1,
    "pow1": lambda x: x**1,
    "abs": lambda x: x.abs(),
    "clamp": lambda x: x.clamp(-1e9, 1e9),
    "relu": lambda x: x.relu(),
    "float32": lambda x: x.float(),
    "maximum": lambda x: x.maximum(x - 1),
    "repeat": lambda x: x.repeat(1, 1, 1),
    "tril": lambda x: x.tril(5),
    "triu": lambda x: x.triu(-5),
    "masked_fill_none": lambda x: x.masked_fill(x > 1e9, 0.0),
    "cumsum": lambda x: x.cumsum(0),
    "index_select": lambda x: x.index_select(0, tg.tensor([0, 1])),
    "int_index": lambda x: x[tg.tensor([0, 1])],
    "mask_index": lambda x: x[x > -1e9],
    "gather": lambda x: x.gather(0, tg.zeros(*x.shape, dtype="int64")),
    "scatter": lambda x: x.scatter(0, tg.zeros(1, 1, 1, dtype="int64"), 0.0),
    "repeat_interleave": lambda x: x.repeat_interleave(1, 0),
    "sort": lambda x: x.sort(0)[0],
    "where": lambda x: tg.where(x > -1e9, x, 0.0),
    "cat": lambda x: tg.cat([x]),
    "stack": lambda x: tg.stack([x, x]),
    "copy_into_new": lambda x: tg.zeros(*x.shape).copy_(x),
    "tensor": lambda x: tg.tensor(x),
}


# on a non-contiguous input these copy too (on a contiguous one they are views, or the tensor itself)
COPY_IF_PERMUTED = {"contiguous": lambda x: x.contiguous(), "reshape": lambda x: x.reshape(-1)}


@pytest.mark.parametrize(
    "name,layout",
    [(n, lay) for n in sorted(NON_VIEW) for lay in ("contiguous", "permuted")]
    + [(n, "permuted") for n in sorted(COPY_IF_PERMUTED)],
)
def test_non_view_ops_never_alias(name, layout):
    x = tg.tensor(np.arange(1.0, 25.0).reshape(2, 3, 4))
    if layout == "permuted":
        x = x.permute(2, 1, 0)
    out = {**NON_VIEW, **COPY_IF_PERMUTED}[name](x)
    before = x.numpy().copy()
    assert not np.may_share_memory(out.array, x.array), name
    assert out._view is None
    if out.dtype.kind == "f":
        out.fill_(123)
    else:
        out.zero_()
    np.testing.assert_array_equal(x.numpy(), before)
    assert x._version == 0


def test_stale_view_as_backward_root():
    x, w = tg.tensor(A, requires_grad=True), tg.tensor(C, requires_grad=True)
    y = x * 1
    row = y[1]
    y.mul_(w)
    row.backward(tg.ones(4))  # row is now y_new[1] = x[1] * w
    np.testing.assert_array_equal(w.grad.numpy(), A[1])
    np.testing.assert_array_equal(x.grad.numpy()[1], C)


def test_stale_view_as_grad_output_and_retained_grads_accumulate():
    x, w = tg.tensor(A, requires_grad=True), tg.tensor(C, requires_grad=True)
    y = x * 1
    row = y[1]
    y.mul_(w)
    (gw,) = tg.grad(row, [w], tg.ones(4))
    np.testing.assert_array_equal(gw.numpy(), A[1])
    z = x * 1
    z.retain_grad()
    (z * 3).sum().backward(retain_graph=True)
    (z * z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 3 + 2 * A, rtol=1e-6)  # summed over both calls, as PyTorch
