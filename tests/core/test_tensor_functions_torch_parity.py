"""Cross-check of the new tensor functions against PyTorch (skipped without it): values, indices,
dtypes, shapes and gradients on random inputs, and that both libraries refuse the same bad arguments.

Error classes map as elsewhere in tinygrad_rnn: PyTorch's RuntimeError for a bad shape or argument is a
ValueError here (TypeError for a wrong dtype), and an index out of range is an IndexError in both.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck_helpers import float64_default  # noqa: F401  (the fixture applies here)

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F

torch = pytest.importorskip("torch")
R = np.random.default_rng(7)


def pair(a, requires_grad=True):
    a = np.asarray(a)
    grad = requires_grad and a.dtype.kind == "f"
    return tg.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def same(t, p, exact=True):
    """Equal values, dtype and shape (tinygrad Tensor vs torch tensor)."""
    pn = p.detach().numpy()
    assert t.shape == tuple(p.shape), (t.shape, tuple(p.shape))
    assert t.dtype == pn.dtype, (t.dtype, pn.dtype)
    if exact:
        np.testing.assert_array_equal(t.numpy(), pn)
    else:
        np.testing.assert_allclose(t.numpy(), pn, rtol=1e-12, atol=1e-12)


def same_grads(fn_tg, fn_torch, *arrays):
    """fn applied to each library's copies; the outputs and the gradients of sum(out * w) agree."""
    ts, ps = zip(*(pair(a) for a in arrays))
    out_t, out_p = fn_tg(*ts), fn_torch(*ps)
    same(out_t, out_p, exact=False)
    w = R.standard_normal(out_t.shape)
    (out_t * tg.tensor(w)).sum().backward()
    (out_p * torch.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        if p.requires_grad:
            np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_with_ties_matches_stable_torch(dim, descending):
    a = R.integers(-2, 3, (5, 6)).astype(np.float64)
    (t, p) = pair(a)
    st, sp = t.sort(dim, descending=descending), p.sort(dim=dim, descending=descending, stable=True)
    same(st.values, sp.values)
    same(st.indices, sp.indices)
    same(t.argsort(dim, descending=descending), p.argsort(dim=dim, descending=descending, stable=True))
    same_grads(lambda x: x.sort(dim, descending).values.tanh(), lambda x: x.sort(dim, descending).values.tanh(), a)


@pytest.mark.parametrize("k, dim, largest", [(0, -1, True), (2, -1, True), (3, 0, False), (6, 1, True)])
def test_topk_matches_torch(k, dim, largest):
    a = R.permutation(30).reshape(5, 6).astype(np.float64)  # no ties: PyTorch's tie order is unspecified
    t, p = pair(a)
    rt, rp = t.topk(k, dim, largest=largest), p.topk(k, dim, largest=largest)
    same(rt.values, rp.values)
    same(rt.indices, rp.indices)
    same_grads(lambda x: x.topk(k, dim, largest).values, lambda x: x.topk(k, dim, largest).values, a)
    tied = R.integers(0, 3, (4, 7)).astype(np.float64)
    same(tg.tensor(tied).topk(3).values, torch.tensor(tied).topk(3).values)  # with ties the values still agree


def test_sort_nan_and_bool_match_torch():
    a = np.array([1.0, np.nan, 0.0, np.nan, -1.0])
    for desc in (False, True):
        same(tg.tensor(a).sort(descending=desc).indices, torch.tensor(a).sort(descending=desc, stable=True).indices)
    b = np.array([True, False, True, False])
    same(tg.tensor(b).sort(descending=True).indices, torch.tensor(b).sort(descending=True, stable=True).indices)


def test_gather_scatter_index_select_match_torch():
    a = R.standard_normal((3, 4))
    idx = R.integers(0, 4, (3, 5))
    same_grads(lambda x: x.gather(1, tg.tensor(idx)), lambda x: x.gather(1, torch.tensor(idx)), a)
    idx0 = R.integers(0, 3, (2, 4))
    same_grads(lambda x: x.gather(0, tg.tensor(idx0)), lambda x: x.gather(0, torch.tensor(idx0)), a)
    perm = np.stack([R.permutation(4)[:2] for _ in range(3)])  # distinct targets per row
    src = R.standard_normal((3, 2))  # PyTorch's backward fails for a src larger than index (its bug, not here)
    same_grads(lambda x, s: x.scatter(1, tg.tensor(perm), s), lambda x, s: x.scatter(1, torch.tensor(perm), s), a, src)
    same_grads(lambda x: x.scatter(1, tg.tensor(perm), 2.5), lambda x: x.scatter(1, torch.tensor(perm), 2.5), a)
    rep = R.integers(0, 4, (3, 6))
    same_grads(
        lambda x, s: x.scatter_add(1, tg.tensor(rep), s),
        lambda x, s: x.scatter_add(1, torch.tensor(rep), s),
        a,
        R.standard_normal((3, 6)),
    )
    pick = np.array([3, 0, 3, 1])
    same_grads(lambda x: x.index_select(1, tg.tensor(pick)), lambda x: x.index_select(1, torch.tensor(pick)), a)
    same(tg.tensor(a).index_select(0, tg.tensor(1)), torch.tensor(a).index_select(0, torch.tensor(1)))


@pytest.mark.parametrize("pad", [None, 2, -1])
def test_embedding_matches_torch(pad):
    w = R.standard_normal((5, 3))
    ids = R.integers(0, 5, (2, 4))
    same_grads(
        lambda w: F.embedding(tg.tensor(ids), w, padding_idx=pad),
        lambda w: torch.nn.functional.embedding(torch.tensor(ids), w, padding_idx=pad),
        w,
    )


def test_masked_fill_matches_torch():
    a = R.standard_normal((3, 4))
    m = R.random((3, 1)) > 0.5
    same_grads(lambda x: x.masked_fill(tg.tensor(m), -1.0), lambda x: x.masked_fill(torch.tensor(m), -1.0), a)
    same_grads(
        lambda x, v: x.masked_fill(tg.tensor(m), v), lambda x, v: x.masked_fill(torch.tensor(m), v), a, np.array(0.5)
    )
    big = R.random((2, 3, 4)) > 0.5
    same(tg.tensor(a).masked_fill(big, 1.0), torch.tensor(a).masked_fill(torch.tensor(big), 1.0))
    ints = np.array([1, 2, 3])
    mi = np.array([True, False, True])
    same(tg.tensor(ints).masked_fill(mi, 1.7), torch.tensor(ints).masked_fill(torch.tensor(mi), 1.7))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans_match_torch(dim):
    a = R.standard_normal((3, 4))
    same_grads(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), a)
    same_grads(lambda x: x.cumprod(dim), lambda x: x.cumprod(dim), a)
    z = a.copy()
    z[1, 1] = z[0, 2] = z[2, 2] = 0.0
    z[2, 3] = 0.0  # two zeros in one row
    same_grads(lambda x: x.cumprod(dim), lambda x: x.cumprod(dim), z)
    for dt in (np.int32, np.int64, np.bool_, np.uint8):
        v = (R.integers(0, 3, (3, 4))).astype(dt)
        same(tg.tensor(v).cumsum(dim), torch.tensor(v).cumsum(dim))
        same(tg.tensor(v).cumprod(dim), torch.tensor(v).cumprod(dim))


def test_layout_ops_match_torch():
    a = R.standard_normal((2, 3, 4))
    same_grads(lambda x: x.flip(0, 2), lambda x: x.flip(0, 2), a)
    same_grads(lambda x: x.repeat(2, 1, 3, 2), lambda x: x.repeat(2, 1, 3, 2), a)
    same_grads(lambda x: x.repeat_interleave(2, dim=1), lambda x: x.repeat_interleave(2, dim=1), a)
    same_grads(lambda x: x.repeat_interleave(3), lambda x: x.repeat_interleave(3), a)
    counts = np.array([2, 0, 1])
    same_grads(
        lambda x: x.repeat_interleave(tg.tensor(counts), dim=1),
        lambda x: x.repeat_interleave(torch.tensor(counts), dim=1),
        a,
    )
    same_grads(lambda x: x.narrow(2, -3, 2), lambda x: x.narrow(2, -3, 2), a)
    same_grads(lambda x: x.t(), lambda x: x.t(), a[0])
    same_grads(lambda x: x.permute(2, 0, 1).contiguous(), lambda x: x.permute(2, 0, 1).contiguous(), a)
    same_grads(lambda x: x.clone(), lambda x: x.clone(), a)
    for n, chunks in [(5, 3), (6, 4), (0, 3), (7, 7), (2, 5)]:
        assert [c.shape for c in tg.zeros(n).chunk(chunks)] == [tuple(c.shape) for c in torch.zeros(n).chunk(chunks)]


@pytest.mark.parametrize("k", [-1, 0, 2])
def test_triangles_and_diag_match_torch(k):
    a = R.standard_normal((2, 3, 4))
    same_grads(lambda x: x.tril(k), lambda x: x.tril(k), a)
    same_grads(lambda x: x.triu(k), lambda x: x.triu(k), a)
    same_grads(lambda x: x.diag(k), lambda x: x.diag(k), a[0])
    same_grads(lambda x: x.diag(k), lambda x: x.diag(k), a[0, 0])


def test_bmm_matches_torch():
    a, b = R.standard_normal((2, 3, 4)), R.standard_normal((2, 4, 5))
    same_grads(lambda x, y: x.bmm(y), lambda x, y: x.bmm(y), a, b)


@pytest.mark.parametrize("inp_shape", [(2, 3, 5), (3, 5), (5,)])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, -2.0), (0, 3.0)])
def test_baddbmm_matches_torch(inp_shape, beta, alpha):
    a, b = R.standard_normal((2, 3, 4)), R.standard_normal((2, 4, 5))
    same_grads(
        lambda i, x, y: tg.baddbmm(i, x, y, beta=beta, alpha=alpha),
        lambda i, x, y: torch.baddbmm(i, x, y, beta=beta, alpha=alpha),
        R.standard_normal(inp_shape),
        a,
        b,
    )


def test_creation_matches_torch():
    for name in ("zeros", "ones", "empty"):
        for args in [(2, 3), ((2, 3),), ([4],), ((),)]:
            assert getattr(tg, name)(*args).shape == tuple(getattr(torch, name)(*args).shape)
    for v in (7, True):  # a float fill takes each library's default dtype (float64 in this file)
        assert np.dtype(tg.full((2,), v).dtype).name == str(torch.full((2,), v).dtype).replace("torch.", "")
    x, p = tg.zeros(2, dtype=tg.int32), torch.zeros(2, dtype=torch.int32)
    same(x.new_full((3,), 1.5), p.new_full((3,), 1.5))
    same(tg.zeros(2, dtype=tg.float32).new_tensor([1, 2]), torch.zeros(2).new_tensor([1, 2]))
    assert tg.randint(2, 5, (3,)).dtype == np.int64 == torch.randint(2, 5, (3,)).numpy().dtype
    assert tg.randperm(4).dtype == torch.randperm(4).numpy().dtype


def _raises_both(call_tg, call_torch, err):
    with pytest.raises(err):
        call_tg()
    with pytest.raises((RuntimeError, IndexError, TypeError, ValueError, AssertionError)):
        call_torch()


@pytest.mark.parametrize(
    "name",
    [
        "gather_oob",
        "gather_negative",
        "gather_ndim",
        "gather_float_index",
        "scatter_oob",
        "index_select_oob",
        "index_select_2d",
        "embedding_oob",
        "masked_fill_int_mask",
        "masked_fill_1d_value",
        "topk_k",
        "t_3d",
        "bmm_2d",
        "bmm_mismatch",
        "chunk_zero",
        "repeat_fewer",
        "narrow_start",
        "narrow_length",
        "tril_1d",
        "flip_repeated",
        "from_numpy_list",
    ],
)
def test_both_refuse(name):
    x, p = tg.zeros(2, 3), torch.zeros(2, 3)
    cases = {
        "gather_oob": (
            lambda: x.gather(1, tg.tensor([[5], [0]])),
            lambda: p.gather(1, torch.tensor([[5], [0]])),
            IndexError,
        ),
        "gather_negative": (
            lambda: x.gather(1, tg.tensor([[-1]])),
            lambda: p.gather(1, torch.tensor([[-1]])),
            IndexError,
        ),
        "gather_ndim": (lambda: x.gather(1, tg.tensor([0])), lambda: p.gather(1, torch.tensor([0])), ValueError),
        "gather_float_index": (lambda: x.gather(1, tg.zeros(1, 1)), lambda: p.gather(1, torch.zeros(1, 1)), TypeError),
        "scatter_oob": (
            lambda: x.scatter(0, tg.tensor([[2]]), 1.0),
            lambda: p.scatter(0, torch.tensor([[2]]), 1.0),
            IndexError,
        ),
        "index_select_oob": (
            lambda: x.index_select(1, tg.tensor([3])),
            lambda: p.index_select(1, torch.tensor([3])),
            IndexError,
        ),
        "index_select_2d": (
            lambda: x.index_select(1, tg.tensor([[0]])),
            lambda: p.index_select(1, torch.tensor([[0]])),
            IndexError,
        ),
        "embedding_oob": (
            lambda: F.embedding(tg.tensor([0, 3]), tg.zeros(3, 2)),
            lambda: torch.nn.functional.embedding(torch.tensor([0, 3]), torch.zeros(3, 2)),
            IndexError,
        ),
        "masked_fill_int_mask": (
            lambda: x.masked_fill(tg.tensor([1, 0, 0]), 1.0),
            lambda: p.masked_fill(torch.tensor([1, 0, 0]), 1.0),
            TypeError,
        ),
        "masked_fill_1d_value": (
            lambda: x.masked_fill(np.ones(3, bool), tg.zeros(2)),
            lambda: p.masked_fill(torch.ones(3, dtype=torch.bool), torch.zeros(2)),
            ValueError,
        ),
        "topk_k": (lambda: x.topk(4), lambda: p.topk(4), ValueError),
        "t_3d": (lambda: tg.zeros(1, 1, 1).t(), lambda: torch.zeros(1, 1, 1).t(), ValueError),
        "bmm_2d": (lambda: tg.bmm(x, x.t()), lambda: torch.bmm(p, p.t()), ValueError),
        "bmm_mismatch": (
            lambda: tg.bmm(tg.zeros(2, 2, 3), tg.zeros(2, 2, 2)),
            lambda: torch.bmm(torch.zeros(2, 2, 3), torch.zeros(2, 2, 2)),
            ValueError,
        ),
        "chunk_zero": (lambda: x.chunk(0), lambda: p.chunk(0), ValueError),
        "repeat_fewer": (lambda: x.repeat(2), lambda: p.repeat(2), ValueError),
        "narrow_start": (lambda: x.narrow(1, 4, 0), lambda: p.narrow(1, 4, 0), IndexError),
        "narrow_length": (lambda: x.narrow(1, 2, 2), lambda: p.narrow(1, 2, 2), ValueError),
        "tril_1d": (lambda: tg.zeros(3).tril(), lambda: torch.zeros(3).tril(), ValueError),
        "flip_repeated": (lambda: x.flip(0, 0), lambda: p.flip(0, 0), ValueError),
        "from_numpy_list": (lambda: tg.from_numpy([1.0]), lambda: torch.from_numpy([1.0]), TypeError),
    }
    _raises_both(*cases[name])
