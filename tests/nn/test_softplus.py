"""One softplus (``F.softplus`` / ``nn.Softplus``) everywhere: stable, PyTorch's semantics, derivative 1/2 at 0."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.models.dynamics import LeakyRNN
from tinygrad_rnn.nn import functional as F


def _sigmoid(z):
    e = np.exp(-np.abs(z))  # exact in both tails
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _d(fn, x0, **kw):
    x = tg.Tensor(np.asarray(x0, np.float64), requires_grad=True)
    fn(x, **kw).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 7.0])
@pytest.mark.parametrize("threshold", [20.0, 5.0, None])
def test_derivative_at_zero_is_one_half(beta, threshold):
    assert _d(F.softplus, [0.0, -0.0], beta=beta, threshold=threshold) == pytest.approx([0.5, 0.5], abs=1e-15)


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_gradcheck_across_the_kink_and_the_threshold(beta):
    xs = np.array([-30.0, -3.0, -1e-3, 0.0, 1e-3, 2.0, 19.0 / beta, 21.0 / beta, 50.0])
    x = tg.Tensor(xs, requires_grad=True)
    # central differences straddle no discontinuity: the kink of max is smoothed away and the threshold
    # switch is 1e-9 away from the points
    tg.gradcheck(lambda t: F.softplus(t, beta=beta), [x], eps=1e-7)


@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
        elements=st.floats(-40, 40).filter(lambda v: abs(abs(v) - 20.0) > 1e-3),
    ),
    beta=st.sampled_from([1.0, 0.25, 2.0]),
)
def test_values_and_gradients_match_the_closed_form(x, beta):
    t = tg.Tensor(x, requires_grad=True)
    y = F.softplus(t, beta=beta, threshold=None)
    want = np.logaddexp(0.0, beta * x) / beta
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-300)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), _sigmoid(beta * x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_for_huge_inputs(dtype):
    x = tg.Tensor(np.array([-1e4, -800.0, 800.0, 1e4], dtype), requires_grad=True)
    for threshold in (20.0, None):
        y = F.softplus(x, threshold=threshold)
        assert y.dtype == dtype and np.isfinite(y.numpy()).all()
        np.testing.assert_allclose(y.numpy(), [0.0, 0.0, 800.0, 1e4], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, 1.0])


def test_threshold_returns_the_input_itself_above_it():
    x = tg.Tensor(np.array([20.5, 30.0, 10.0]), requires_grad=True)
    y = F.softplus(x, beta=1.0, threshold=20.0)
    assert y.numpy()[0] == 20.5 and y.numpy()[1] == 30.0  # exactly, as PyTorch
    assert y.numpy()[2] == pytest.approx(np.logaddexp(0.0, 10.0), rel=1e-15)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan")])
def test_bad_beta_is_an_error(beta):
    with pytest.raises(ValueError, match="softplus: beta must be > 0"):
        F.softplus(tg.Tensor(np.ones(2)), beta=beta)


def test_module_form_and_repr():
    m = nn.Softplus(beta=2.0, threshold=10.0)
    x = tg.Tensor(np.linspace(-3, 8, 7))
    np.testing.assert_array_equal(m(x).numpy(), F.softplus(x, 2.0, 10.0).numpy())
    assert "beta=2.0, threshold=10.0" in repr(m)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 3.0), (3.0, 1.0)])
def test_matches_pytorch(beta, threshold):
    torch = pytest.importorskip("torch")
    xs = np.concatenate([np.linspace(-30, 30, 61), [0.0, 1e-8, -1e-8]])
    x = tg.Tensor(xs, requires_grad=True)
    y = F.softplus(x, beta=beta, threshold=threshold)
    y.sum().backward()
    xt = torch.tensor(xs, requires_grad=True)
    yt = torch.nn.functional.softplus(xt, beta=beta, threshold=threshold)
    yt.sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_second_derivative_is_the_logistic_density():
    x = tg.Tensor(np.array([-2.0, 0.0, 1.5]), requires_grad=True)
    (g,) = tg.grad(F.softplus(x).sum(), [x], create_graph=True)
    (h,) = tg.grad(g.sum(), [x])
    s = _sigmoid(np.array([-2.0, 0.0, 1.5]))
    np.testing.assert_allclose(h.numpy(), s * (1 - s), rtol=1e-12)


def test_learned_time_constants_get_the_true_gradient_at_zero():
    # tau = 1 + softplus(rho): at rho = 0, d tau / d rho = 1/2 (a relu + abs form gives 0 there)
    tg.set_default_dtype("float64")
    layer = LeakyRNN(2, 3, tau="learned", tau_init=2.0)
    layer.tau_raw.data[...] = 0.0
    layer.time_constants().sum().backward()
    np.testing.assert_allclose(layer.tau_raw.grad.numpy(), 0.5, rtol=0, atol=1e-15)
