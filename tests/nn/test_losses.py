"""Losses: gradcheck (hypothesis shapes), values and gradients against torch, bad inputs, stability."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.nn import losses as L

LAYOUTS = {"1d": None, "2d": (), "3d": (3,), "4d": (2, 2)}


def make_class_case(seed, layout, C, N, reduction, use_weight, ignore, smoothing, ignore_index=-100):
    """Logits (float64), integer targets (some ignored), optional class weights."""
    rng = np.random.default_rng(seed)
    extra = LAYOUTS[layout]
    if extra is None:
        x, t = rng.standard_normal(C), np.array(rng.integers(0, C))
    else:
        x = rng.standard_normal((N, C) + extra)
        t = rng.integers(0, C, (N,) + extra)
    if ignore:
        drop = rng.random(t.shape) < 0.4
        t = np.where(drop, ignore_index, t)
    # keep the mean finite (the all-ignored 0/0 case has its own test); the ignore_index may be a real class
    if reduction == "mean" and (np.asarray(t) == ignore_index).all():
        t = np.asarray(t).copy()
        t.flat[0] = (ignore_index + 1) % C
    w = rng.uniform(0.2, 2.0, C) if use_weight else None
    return dict(x=x, t=np.asarray(t), w=w, reduction=reduction, smoothing=smoothing, ignore_index=ignore_index)


@st.composite
def class_cases(draw):
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    return make_class_case(
        seed=draw(st.integers(0, 2**16)),
        layout=layout,
        C=draw(st.integers(2, 4)),
        N=draw(st.integers(1, 3)),
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        use_weight=draw(st.booleans()),
        ignore=draw(st.booleans()),
        smoothing=draw(st.sampled_from([0.0, 0.1, 0.45])),
        ignore_index=draw(st.sampled_from([-100, 0, 1])),
    )


# ---- gradcheck -----------------------------------------------------------------------------------------
@given(class_cases())
def test_cross_entropy_gradcheck(case):
    t, w = case["t"], case["w"]

    def f(x):
        return L.cross_entropy(
            x,
            t,
            weight=w,
            ignore_index=case["ignore_index"],
            reduction=case["reduction"],
            label_smoothing=case["smoothing"],
        )

    assert tg.gradcheck(f, [tg.Tensor(case["x"], requires_grad=True)])


@given(class_cases())
def test_nll_loss_gradcheck(case):
    t, w = case["t"], case["w"]

    def f(x):
        return L.nll_loss(x, t, weight=w, ignore_index=case["ignore_index"], reduction=case["reduction"])

    assert tg.gradcheck(f, [tg.Tensor(case["x"], requires_grad=True)])


@given(
    st.integers(0, 2**16), st.lists(st.integers(1, 3), min_size=0, max_size=3), st.sampled_from(["mean", "sum", "none"])
)
def test_mse_gradcheck_input_and_target(seed, shape, reduction):
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal(shape), requires_grad=True)
    y = tg.Tensor(rng.standard_normal(shape), requires_grad=True)
    assert tg.gradcheck(lambda a, b: L.mse_loss(a, b, reduction=reduction), [x, y])


@given(
    st.integers(0, 2**16),
    st.integers(1, 3),
    st.integers(1, 3),
    st.sampled_from(["mean", "sum", "none"]),
    st.booleans(),
    st.booleans(),
)
def test_bce_with_logits_gradcheck(seed, n, c, reduction, use_weight, use_pos):
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal((n, c)) * 3
    xv.flat[0] = 0.0  # the softplus kink point: the derivative there must be exactly sigma(0) - t
    x = tg.Tensor(xv, requires_grad=True)
    t = tg.Tensor(rng.random((n, c)), requires_grad=True)
    w = tg.Tensor(rng.uniform(0.5, 2, (1, c)), requires_grad=True) if use_weight else None
    pw = tg.Tensor(rng.uniform(0.5, 3, (c,)), requires_grad=True) if use_pos else None
    inputs = [x, t] + [v for v in (w, pw) if v is not None]

    def f(x, t, *rest):
        rest = list(rest)
        ww = rest.pop(0) if use_weight else None
        pp = rest.pop(0) if use_pos else None
        return L.binary_cross_entropy_with_logits(x, t, weight=ww, pos_weight=pp, reduction=reduction)

    assert tg.gradcheck(f, inputs)


def test_second_derivatives_through_create_graph():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    t = np.array([[0, 3], [1, -100], [2, 2]])
    w = rng.uniform(0.5, 1.5, 4)
    assert tg.gradgradcheck(lambda x: L.cross_entropy(x, t, weight=w, label_smoothing=0.2), [x])
    z = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = tg.Tensor(rng.random((2, 3)))
    assert tg.gradgradcheck(
        lambda z: L.binary_cross_entropy_with_logits(z, y, pos_weight=np.array([1.0, 2.0, 3.0])), [z]
    )
    assert tg.gradgradcheck(lambda z: L.mse_loss(z, y, reduction="sum"), [z])
    # Hessian of CE w.r.t. logits of one row: diag(p) - p pᵀ (mean over 1 element)
    v = tg.Tensor(rng.standard_normal((1, 4)), requires_grad=True)
    (g,) = tg.grad(L.cross_entropy(v, np.array([1])), [v], create_graph=True)
    p = np.exp(v.numpy()[0]) / np.exp(v.numpy()[0]).sum()
    hess = np.stack([tg.grad(g[0, i], [v], retain_graph=True)[0].numpy()[0] for i in range(4)])
    np.testing.assert_allclose(hess, np.diag(p) - np.outer(p, p), atol=1e-12)


# ---- against torch -------------------------------------------------------------------------------------
TORCH_CASES = [
    make_class_case(seed=s, layout=lay, C=c, N=3, reduction=r, use_weight=uw, ignore=ig, smoothing=ls, ignore_index=ii)
    for s, (lay, c, r, uw, ig, ls, ii) in enumerate(
        [
            ("2d", 5, "mean", False, False, 0.0, -100),
            ("2d", 5, "sum", True, True, 0.0, -100),
            ("2d", 3, "none", True, True, 0.3, -100),
            ("2d", 4, "mean", True, True, 0.1, 0),
            ("3d", 4, "mean", False, True, 0.0, -100),
            ("3d", 4, "none", True, False, 0.2, -100),
            ("3d", 2, "sum", False, True, 0.5, 1),
            ("3d", 3, "mean", True, True, 0.25, -100),
            ("4d", 3, "mean", True, True, 0.1, -100),
            ("4d", 3, "none", False, True, 0.0, -100),
            ("1d", 4, "none", True, False, 0.2, -100),
            ("1d", 4, "mean", False, False, 0.0, -100),
            ("2d", 6, "mean", False, False, 1.0, -100),
        ]
    )
]


def _case_id(c):
    return f"{c['x'].shape}-{c['reduction']}-w{c['w'] is not None}-ls{c['smoothing']}-ii{c['ignore_index']}"


def _compare(torch, ours_fn, theirs_fn, arrays, dtype, rtol, n_diff=None, upstream_seed=0):
    """Value and gradient (w.r.t. the first ``n_diff`` arrays; all by default) of our loss against torch's,
    with a random upstream gradient."""
    n_diff = len(arrays) if n_diff is None else n_diff
    ours = [tg.Tensor(a.astype(dtype), requires_grad=i < n_diff) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=i < n_diff) for i, a in enumerate(arrays)]
    lo, lt = ours_fn(*ours), theirs_fn(*theirs)
    assert lo.dtype == dtype and lo.shape == tuple(lt.shape)
    np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=rtol, atol=rtol)
    up = np.random.default_rng(upstream_seed).standard_normal(lo.shape).astype(dtype)
    lo.backward(up)
    lt.backward(torch.tensor(up))
    for a, b in zip(ours[:n_diff], theirs[:n_diff]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TORCH_CASES, ids=_case_id)
def test_cross_entropy_and_nll_match_torch(torch, case, dtype):
    F = torch.nn.functional
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    t, tt = case["t"], torch.tensor(case["t"])
    w = None if case["w"] is None else case["w"].astype(dtype)
    wt = None if w is None else torch.tensor(w)
    kw = dict(ignore_index=case["ignore_index"], reduction=case["reduction"])
    _compare(
        torch,
        lambda x: L.cross_entropy(x, t, weight=w, label_smoothing=case["smoothing"], **kw),
        lambda x: F.cross_entropy(x, tt, weight=wt, label_smoothing=case["smoothing"], **kw),
        [case["x"]],
        dtype,
        rtol,
    )
    if case["x"].ndim >= 2:
        _compare(
            torch,
            lambda x: L.nll_loss(x, t, weight=w, **kw),
            lambda x: F.nll_loss(x, tt, weight=wt, **kw),
            [case["x"]],
            dtype,
            rtol,
        )
    # the module forms agree with the functions
    mod = L.CrossEntropyLoss(weight=w, label_smoothing=case["smoothing"], **kw)
    x = tg.Tensor(case["x"].astype(dtype))
    np.testing.assert_array_equal(
        mod(x, t).numpy(), L.cross_entropy(x, t, weight=w, label_smoothing=case["smoothing"], **kw).numpy()
    )


def test_cross_entropy_all_ignored_is_nan_with_zero_grad_like_torch(torch):
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    loss = L.cross_entropy(x, np.array([-100, -100]))
    loss.backward()
    xt = torch.ones(2, 3, dtype=torch.float64, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor([-100, -100]))
    lt.backward()
    assert np.isnan(loss.item()) and np.isnan(lt.item())
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(L.cross_entropy(x, np.array([-100, -100]), reduction="sum").numpy(), 0.0)


def test_sequence_layouts_agree():
    """(N, C, T) with class axis 1 == (N*T, C) flattened from (N, T, C): the documented recipe."""
    rng = np.random.default_rng(5)
    ntc = rng.standard_normal((2, 5, 4))
    tgt = rng.integers(0, 4, (2, 5))
    a = L.cross_entropy(tg.Tensor(ntc).permute(0, 2, 1), tgt)
    b = L.cross_entropy(tg.Tensor(ntc).reshape(-1, 4), tgt.reshape(-1))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(torch, reduction, dtype):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    _compare(
        torch,
        lambda a, b: L.mse_loss(a, b, reduction=reduction),
        lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
        [x, y],
        dtype,
        rtol,
    )
    np.testing.assert_array_equal(
        L.MSELoss(reduction)(tg.Tensor(x), tg.Tensor(y)).numpy(),
        L.mse_loss(tg.Tensor(x), tg.Tensor(y), reduction).numpy(),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight,use_pos", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_matches_torch(torch, reduction, dtype, use_weight, use_pos):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)) * 4
    x[0, 0], x[1, 1], x[2, 2] = 0.0, 60.0, -60.0
    t = rng.random((4, 3))
    t[1, 1], t[2, 2] = 1.0, 0.0
    arrays = (
        [x, t] + ([rng.uniform(0.5, 2, (4, 1))] if use_weight else []) + ([rng.uniform(0.5, 3, 3)] if use_pos else [])
    )
    rtol = 1e-12 if dtype == np.float64 else 3e-6

    def split(rest):
        rest = list(rest)
        return (rest.pop(0) if use_weight else None), (rest.pop(0) if use_pos else None)

    def ours(x, t, *rest):
        w, p = split(rest)
        return L.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=p, reduction=reduction)

    def theirs(x, t, *rest):
        w, p = split(rest)
        return torch.nn.functional.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=p, reduction=reduction)

    _compare(torch, ours, theirs, arrays, dtype, rtol, n_diff=2)  # torch does not differentiate the weights


def test_bce_module_form():
    x, t = tg.Tensor(np.array([[0.5, -1.0]])), tg.Tensor(np.array([[1.0, 0.0]]))
    m = L.BCEWithLogitsLoss(pos_weight=np.array([2.0, 1.0]), reduction="sum")
    np.testing.assert_array_equal(
        m(x, t).numpy(),
        L.binary_cross_entropy_with_logits(x, t, pos_weight=np.array([2.0, 1.0]), reduction="sum").numpy(),
    )
    assert repr(m) == "BCEWithLogitsLoss(reduction='sum')"
    nll = L.NLLLoss(reduction="none")
    lp = tg.Tensor(np.log(np.array([[0.25, 0.75]])))
    np.testing.assert_allclose(nll(lp, np.array([1])).numpy(), [-np.log(0.75)])


# ---- numerical stability ---------------------------------------------------------------------------
def test_cross_entropy_huge_logits_float32(torch):
    x = np.array([[1e4, -1e4, 0.0], [3e4, 3e4 - 1.0, -2e4]], np.float32)
    t = np.array([1, 1])
    a = tg.Tensor(x, requires_grad=True)
    loss = L.cross_entropy(a, t)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(a.grad.numpy()).all()
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    lt.backward()
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), xt.grad.numpy(), atol=1e-7)


def test_cross_entropy_huge_logits_exact_values():
    x = tg.Tensor(np.array([[1e4, 0.0]], np.float32), requires_grad=True)
    loss = L.cross_entropy(x, np.array([1]))
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, -1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_extreme_logits_are_finite(torch, dtype):
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0], dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5], dtype)
    a = tg.Tensor(x, requires_grad=True)
    with tg.detect_anomaly():  # no op may produce NaN/Inf on the way, forward or backward
        loss = L.binary_cross_entropy_with_logits(a, t, pos_weight=np.full(5, 3.0, dtype), reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [1000.0, 3000.0, 0.0, 0.0, 0.5 * np.log(2) * 4], rtol=1e-6)
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(t), pos_weight=torch.full((5,), 3.0, dtype=xt.dtype), reduction="none"
    )
    lt.sum().backward()
    np.testing.assert_allclose(loss.numpy(), lt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_float32_in_float32_out():
    x = tg.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    for loss in (
        L.cross_entropy(x, np.array([0, 2]), weight=np.ones(3), label_smoothing=0.1),
        L.mse_loss(x, np.ones((2, 3))),
        L.binary_cross_entropy_with_logits(x, np.ones((2, 3))),
    ):
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32


# ---- bad inputs ----------------------------------------------------------------------------------------
def test_class_target_errors():
    x = tg.Tensor(np.zeros((3, 4)))
    with pytest.raises(
        TypeError,
        match=r"cross_entropy: target must hold integer class indices.*got float64; "
        "class-probability targets are not supported",
    ):
        L.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices .* got bool"):
        L.nll_loss(x, np.array([True, False, True]))
    with pytest.raises(
        ValueError,
        match=r"input of shape \(3, 4\) \(N, C, d1, ...\) needs a target of shape \(3,\), "
        r"got \(2,\)",
    ):
        L.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(
        IndexError,
        match=r"target value 4 at position \(1,\) is out of range for 4 classes; expected "
        r"0 <= target < 4 or target == ignore_index \(-100\)",
    ):
        L.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match=r"target value -1 at position \(2,\)"):
        L.nll_loss(x, np.array([0, 1, -1]))
    L.nll_loss(x, np.array([0, 1, -1]), ignore_index=-1)  # the same value is fine when it is the ignore_index
    with pytest.raises(ValueError, match=r"It looks like \(N, T, C\) logits.*reshape\(-1, 4\)"):
        L.cross_entropy(tg.Tensor(np.zeros((2, 5, 4))), np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"unbatched input of shape \(4,\) needs a scalar \(0-d\) target"):
        L.cross_entropy(tg.Tensor(np.zeros(4)), np.array([1]))
    with pytest.raises(ValueError, match="got a scalar"):
        L.cross_entropy(tg.Tensor(np.zeros(())), np.array(0))
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\), one entry per class, got \(3,\)"):
        L.cross_entropy(x, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(TypeError, match="weight is float32 .* but input is float64"):
        L.cross_entropy(x, np.array([0, 1, 2]), weight=tg.Tensor(np.ones(4, np.float32)))
    with pytest.raises(TypeError, match="cross_entropy: logits must be floating point, got int64"):
        L.cross_entropy(tg.Tensor(np.zeros((3, 4), np.int64)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="cross_entropy: logits must be a Tensor, got ndarray"):
        L.cross_entropy(np.zeros((3, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        L.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        L.nll_loss(x, np.array([0, 1, 2]), ignore_index=0.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: L.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction=r),
        lambda r: L.nll_loss(tg.Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction=r),
        lambda r: L.mse_loss(tg.Tensor(np.zeros(2)), tg.Tensor(np.zeros(2)), reduction=r),
        lambda r: L.binary_cross_entropy_with_logits(tg.Tensor(np.zeros(2)), tg.Tensor(np.zeros(2)), reduction=r),
        lambda r: L.CrossEntropyLoss(reduction=r),
        lambda r: L.NLLLoss(reduction=r),
        lambda r: L.MSELoss(reduction=r),
        lambda r: L.BCEWithLogitsLoss(reduction=r),
    ],
    ids=["cross_entropy", "nll_loss", "mse_loss", "bce", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss"],
)
def test_unknown_reduction(call):
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        call("avg")


def test_mse_refuses_broadcasting():
    with pytest.raises(
        ValueError,
        match=r"mse_loss: input shape \(4, 1\) and target shape \(4,\) differ; they must "
        "be equal",
    ):
        L.mse_loss(tg.Tensor(np.zeros((4, 1))), tg.Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match=r"input shape \(3,\) and target shape \(1,\) differ"):
        L.MSELoss()(tg.Tensor(np.zeros(3)), np.zeros(1))
    with pytest.raises(TypeError, match="mse_loss: target is float32 .* but input is float64"):
        L.mse_loss(tg.Tensor(np.zeros(3)), tg.Tensor(np.zeros(3, np.float32)))


def test_bce_errors():
    x = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"target shape \(3,\) must equal input shape \(2, 3\)"):
        L.binary_cross_entropy_with_logits(x, np.zeros(3))
    with pytest.raises(
        ValueError, match=r"pos_weight of shape \(2,\) does not broadcast to the input's shape \(2, 3\)"
    ):
        L.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), pos_weight=np.ones(2))
    with pytest.raises(ValueError, match=r"weight of shape \(2, 3, 1\) does not broadcast"):
        L.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), weight=np.ones((2, 3, 1)))
