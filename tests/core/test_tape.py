"""The tape: ordering, accumulation, graph lifetime, grad modes, anomaly detection.

These tests exercise the backward engine itself (tinygrad_rnn.autograd) rather than any op's derivative:
deep chains and wide fan-ins must run without recursion, gradients must accumulate exactly once per
edge, and the graph must be freed (and refuse reuse) when nobody asked to keep it.
"""

import gc
import sys
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.tape import Function


def _np(t):
    return np.asarray(t.numpy())


# ---- scale: deep chains and wide fan-ins ------------------------------------------------------------


def test_100k_op_chain_mul_backprops_without_recursion_error():
    n = 100_000
    assert sys.getrecursionlimit() < n  # a recursive topological sort would have to blow up here
    x = tg.Tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    y = x
    for _ in range(n):
        y = y * 1.00001
    y.sum().backward()
    expected = 1.00001**n
    np.testing.assert_allclose(_np(x.grad), [expected, expected], rtol=1e-9)
    np.testing.assert_allclose(_np(y), [expected, 2 * expected], rtol=1e-9)


def test_100k_op_chain_add_gradient_is_exactly_one_and_graph_frees():
    n = 100_000
    x = tg.Tensor([3.0], requires_grad=True)
    y = x
    for _ in range(n):
        y = y + 0.0
    ref = weakref.ref(y.grad_fn)
    y.backward()
    assert _np(x.grad).tolist() == [1.0]
    del y  # dropping a 100k-deep graph must not recurse in deallocation either
    assert ref() is None


def test_100k_tanh_chain_gradient_matches_forward_mode_product():
    n = 100_000
    x0 = 0.5
    x = tg.Tensor(x0, requires_grad=True, dtype="float64")
    y = x
    for _ in range(n):
        y = y.tanh()
    y.backward()
    # reference: chain rule by hand, d tanh(u)/du = 1 - tanh(u)^2
    v, d = x0, 1.0
    for _ in range(n):
        v = np.tanh(v)
        d *= 1.0 - v * v
    np.testing.assert_allclose(float(y.item()), v, rtol=1e-12)
    np.testing.assert_allclose(float(x.grad.item()), d, rtol=1e-9)


def test_stack_of_10k_tensors_fan_in():
    n = 10_000
    xs = [tg.Tensor(float(i), requires_grad=True, dtype="float64") for i in range(n)]
    w = np.linspace(-1.0, 1.0, n)
    out = (tg.stack(xs) * w).sum()
    out.backward()
    got = np.array([x.grad.item() for x in xs])
    np.testing.assert_allclose(got, w, rtol=0, atol=0)
    np.testing.assert_allclose(out.item(), float(np.dot(np.arange(n), w)), rtol=1e-12)


def test_one_tensor_used_10k_times():
    n = 10_000
    x = tg.Tensor([1.5, -2.0], requires_grad=True, dtype="float64")
    # 10k parent slots of one node
    tg.stack([x] * n).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [n, n])
    # 10k separate consumer nodes, each weighted differently
    x.grad = None
    total = x * 0.0
    for i in range(n):
        total = total + x * float(i)
    total.sum().backward()
    expected = n * (n - 1) / 2
    np.testing.assert_array_equal(_np(x.grad), [expected, expected])


def test_a_plus_a_gives_two():
    a = tg.Tensor([1.0, -3.0, 4.0], requires_grad=True)
    (a + a).sum().backward()
    np.testing.assert_array_equal(_np(a.grad), [2.0, 2.0, 2.0])
    b = tg.Tensor(3.0, requires_grad=True)
    (b * b).backward()
    assert b.grad.item() == 6.0


def test_diamond_graph_gradient():
    x = tg.Tensor(2.0, requires_grad=True, dtype="float64")
    a = x * 3.0
    b = x.exp()
    y = a * b + a  # dy/dx = 3 e^x + 3x e^x + 3
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 3 * np.exp(2) + 6 * np.exp(2) + 3, rtol=1e-12)


# ---- accumulation and retain_graph --------------------------------------------------------------------


def test_leaf_gradients_accumulate_across_backward_calls():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [3.0, 3.0])
    (x * x).sum().backward()  # a fresh graph adds onto the existing .grad
    np.testing.assert_array_equal(_np(x.grad), [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [5.0, 5.0])


def test_second_backward_without_retain_graph_raises():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).tanh().sum()
    y.backward()
    first = _np(x.grad).copy()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_array_equal(_np(x.grad), first)  # the failed call did not half-accumulate


def test_retain_graph_allows_second_backward_and_doubles_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    y = (x * x).tanh().sum()
    y.backward(retain_graph=True)
    first = _np(x.grad).copy()
    np.testing.assert_allclose(first, 2 * np.array([1.0, 2.0]) * (1 - np.tanh([1.0, 4.0]) ** 2))
    y.backward()
    np.testing.assert_allclose(_np(x.grad), 2 * first, rtol=1e-12)
    with pytest.raises(RuntimeError, match="retain_graph"):  # the second call did free it
        y.backward()


# ---- grad modes, detach, retain_grad -----------------------------------------------------------------


def test_no_grad_context_records_nothing():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = (x * 2.0).exp().sum()
        parts = x.unbind(0)
    assert tg.is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None and y.is_leaf
    assert all(p.requires_grad is False and p.grad_fn is None for p in parts)
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    # enable_grad inside no_grad turns recording back on
    with tg.no_grad():
        with tg.enable_grad():
            z = x * 2.0
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_decorator_records_nothing_and_restores_mode():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)

    @tg.no_grad()
    def f(t):
        assert not tg.is_grad_enabled()
        return t * t + 1.0

    y = f(x)
    assert y.requires_grad is False and y.grad_fn is None
    np.testing.assert_array_equal(_np(y), [2.0, 5.0])
    assert tg.is_grad_enabled()
    assert (x * x).grad_fn is not None


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            1 / 0  # noqa: B018
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    d = h.detach()
    assert d.requires_grad is False and d.grad_fn is None
    np.testing.assert_array_equal(_np(d), _np(h))
    w = tg.Tensor([1.0, 1.0], requires_grad=True)
    y = (d * w).sum() + (h * 0.5).sum()
    y.backward()
    # only the non-detached path reaches x
    np.testing.assert_array_equal(_np(x.grad), [1.5, 1.5])
    np.testing.assert_array_equal(_np(w.grad), [3.0, 6.0])
    assert d.grad is None


def test_detached_only_path_gives_no_graph():
    x = tg.Tensor([1.0], requires_grad=True)
    y = (x * 2.0).detach() * 5.0
    assert not y.requires_grad
    with pytest.raises(RuntimeError):
        y.backward()
    assert x.grad is None


def test_non_leaf_grads_are_none_unless_retained():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h1 = x * 2.0
    h2 = x * 3.0
    h2.retain_grad()
    y = (h1 * h2).sum()
    y.backward()
    assert h1.grad is None
    assert y.grad is None
    np.testing.assert_array_equal(_np(h2.grad), _np(h1))  # d(h1*h2)/dh2 = h1
    np.testing.assert_array_equal(_np(x.grad), 12.0 * np.array([1.0, 2.0]))


def test_retain_grad_on_multi_output_slice():
    x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = x.unbind(0)
    b.retain_grad()
    (a * 1.0 + b * 7.0).sum().backward()
    assert a.grad is None
    np.testing.assert_array_equal(_np(b.grad), [7.0, 7.0])


def test_retain_grad_on_leaf_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).retain_grad()


# ---- seeds --------------------------------------------------------------------------------------------


def test_backward_on_non_scalar_without_grad_raises():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)"):
        y.backward()
    assert x.grad is None


def test_backward_with_explicit_grad():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0], dtype=np.float32))
    np.testing.assert_allclose(_np(x.grad), [2.0, 2.0, -6.0])
    x.grad = None
    z = x * 4.0
    z.backward(tg.Tensor([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(_np(x.grad), [0.0, 4.0, 8.0])


def test_backward_on_one_element_non_scalar_is_implied():
    x = tg.Tensor([[2.0]], requires_grad=True)
    (x * 3.0).backward()
    assert _np(x.grad).tolist() == [[3.0]]


# ---- freeing ------------------------------------------------------------------------------------------


def test_dropped_graph_is_freed_by_reference_counting():
    x = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    h = x * 2.0
    mid = h.tanh()
    out = (mid * 3.0).sum()
    r_h, r_mid, r_node = weakref.ref(h), weakref.ref(mid), weakref.ref(mid.grad_fn)
    del h, mid
    # still alive: `out`'s node holds its inputs
    assert r_h() is not None and r_mid() is not None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # prove that no cycle collector is needed: the tape holds no reference cycles
    try:
        del out
        assert r_mid() is None
        assert r_h() is None
        assert r_node() is None
    finally:
        if gc_was_enabled:
            gc.enable()
    assert x.grad is None


def test_backward_frees_saved_arrays_but_keeps_values():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    mid = x.exp()
    out = mid.sum()
    node = mid.grad_fn
    assert node.saved is not None
    out.backward()
    assert node.saved is None  # buffers dropped without retain_graph
    np.testing.assert_allclose(_np(mid), np.exp([1.0, 2.0]), rtol=1e-6)


# ---- no work for branches that need no gradient ---------------------------------------------------------


class CountingDouble(Function):
    """2x, counting how often its derivative is taken."""

    calls = 0

    def forward(self, x):
        return x * 2

    def backward(self, g, x):
        type(self).calls += 1
        return g * 2


@pytest.fixture
def counting():
    CountingDouble.calls = 0
    yield CountingDouble
    CountingDouble.calls = 0


def test_branch_without_requires_grad_is_not_run(counting):
    c = tg.Tensor([1.0, 2.0])  # a constant
    w = tg.Tensor([3.0, 4.0], requires_grad=True)
    k = counting.apply(c)  # branch with no requires_grad input
    assert k.requires_grad is False and k.grad_fn is None
    out = (k * w).sum() + counting.apply(w).sum()
    out.backward()
    assert counting.calls == 1  # only the w branch ran
    assert c.grad is None and k.grad is None
    np.testing.assert_array_equal(_np(w.grad), _np(k) + 2.0)


def test_mixed_inputs_only_grad_for_requires_grad_side():
    c = tg.Tensor([1.0, 2.0])
    w = tg.Tensor([3.0, 4.0], requires_grad=True)
    y = (c * w + c / w).sum()
    y.backward()
    assert c.grad is None
    np.testing.assert_allclose(_np(w.grad), [1.0 - 1.0 / 9.0, 2.0 - 2.0 / 16.0], rtol=1e-6)


def test_tg_grad_skips_nodes_that_cannot_reach_inputs(counting):
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    b = tg.Tensor([5.0, 6.0], requires_grad=True)
    out = counting.apply(a).sum() + (b * b).sum()
    (gb,) = tg.grad(out, b)
    np.testing.assert_array_equal(_np(gb), [10.0, 12.0])
    assert counting.calls == 0  # the branch through `a` cannot reach `b`: pruned
    assert a.grad is None and b.grad is None


# ---- tg.grad ------------------------------------------------------------------------------------------


def test_grad_returns_without_touching_dot_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.grad = tg.Tensor([100.0, 100.0])
    y = (x * x * x).sum()
    (g,) = tg.grad(y, x)
    np.testing.assert_array_equal(_np(g), [3.0, 12.0])
    np.testing.assert_array_equal(_np(x.grad), [100.0, 100.0])  # untouched
    assert g.requires_grad is False


def test_grad_allow_unused():
    x = tg.Tensor([1.0], requires_grad=True)
    unused = tg.Tensor([2.0], requires_grad=True)
    y = (x * 4.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad(y, [x, unused], retain_graph=True)
    gx, gu = tg.grad(y, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_array_equal(_np(gx), [4.0])
    assert x.grad is None and unused.grad is None


def test_grad_with_non_leaf_inputs():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = tg.grad(y, [h, x])
    np.testing.assert_array_equal(_np(gh), 2 * _np(h))
    np.testing.assert_array_equal(_np(gx), 18.0 * _np(x))
    assert h.grad is None and x.grad is None


def test_grad_multiple_outputs_and_grad_outputs():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y1 = x * 2.0
    y2 = x * x
    (g,) = tg.grad([y1, y2], x, grad_outputs=[np.array([1.0, 1.0], np.float32), np.array([1.0, 0.0], np.float32)])
    np.testing.assert_array_equal(_np(g), [2.0 + 2.0, 2.0 + 0.0])


# ---- multi-output ops ---------------------------------------------------------------------------------


def test_unbind_1000_slices_then_stack_backward():
    T = 1000
    x = tg.Tensor(np.arange(T * 3, dtype=np.float64).reshape(T, 3), requires_grad=True)
    parts = x.unbind(0)
    assert len(parts) == T and parts[0].grad_fn is parts[-1].grad_fn  # one tape node for all slices
    y = tg.stack([p * float(i) for i, p in enumerate(parts)])
    np.testing.assert_array_equal(_np(y), _np(x) * np.arange(T)[:, None])
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.repeat(np.arange(T, dtype=np.float64)[:, None], 3, axis=1))


def test_unbind_with_unused_slices_gives_zero_grad():
    T = 1000
    x = tg.Tensor(np.ones((T, 2)), requires_grad=True)
    parts = x.unbind(0)
    y = tg.stack(parts[::2]).sum() * 3.0
    y.backward()
    expected = np.zeros((T, 2))
    expected[::2] = 3.0
    np.testing.assert_array_equal(_np(x.grad), expected)


def test_split_multi_output_backward():
    x = tg.Tensor(np.arange(10.0), requires_grad=True)
    a, b, c = x.split([2, 3, 5])
    (a.sum() * 1.0 + c.sum() * 2.0).backward()  # b unused
    np.testing.assert_array_equal(_np(x.grad), [1, 1, 0, 0, 0, 2, 2, 2, 2, 2])


# ---- detect_anomaly -----------------------------------------------------------------------------------


def test_detect_anomaly_forward_nan_names_op():
    x = tg.Tensor([-1.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), tg.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            x.log()
    msg = str(info.value)
    assert "'log'" in msg and "forward" in msg and "NaN" in msg


def test_detect_anomaly_backward_inf_names_op():
    x = tg.Tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(all="ignore"), tg.detect_anomaly():
        y = x.sqrt().sum()  # forward is finite: sqrt(0) = 0
        np.testing.assert_array_equal(_np(y), 2.0)
        with pytest.raises(FloatingPointError) as info:
            y.backward()  # d sqrt/dx at 0 = 1 / (2 * 0) = inf
    msg = str(info.value)
    assert "'sqrt'" in msg and "backward" in msg and "Inf" in msg


def test_without_detect_anomaly_no_error():
    x = tg.Tensor([-1.0, 1.0], requires_grad=True)
    z = tg.Tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        y = x.log()
        assert np.isnan(_np(y)[0])
        s = z.sqrt().sum()
        s.backward()
    assert np.isinf(_np(z.grad)[0]) and _np(z.grad)[1] == 0.25


def test_detect_anomaly_restores_state():
    with tg.detect_anomaly():
        pass
    with np.errstate(all="ignore"):
        y = tg.Tensor([-1.0]).log()  # no error once the context is left
    assert np.isnan(_np(y)[0])
