"""Gradient diagnostics: ‖∂L/∂h_t‖ from one backward pass, exact BPTT Jacobian products, spectral
radius, fitted decay rates, and the vanishing / exploding facts they show on the adding problem."""

import importlib.util
import pathlib

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.diagnostics.gradients import (
    decay_rate,
    hidden_state_grad_norms,
    jacobian_products,
    plot_gradient_heatmap,
    plot_gradient_norms,
    spectral_radius,
)


def _load_example():
    return load_example("pathologies_vanishing")


@pytest.fixture
def float64():
    """Finite differences need float64 weights and states; restore the default afterwards."""
    prev = tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    try:
        yield
    finally:
        tg.set_default_dtype(prev)


def _x(T, N, I, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((T, N, I)).astype(dtype)


# ---- (a) one backward pass == T separate tg.grad calls ------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_hidden_state_grad_norms_match_per_step_grad_calls(kind):
    tg.manual_seed(0)
    cell = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}[kind](3, 4)
    head = nn.Linear(4, 1)
    x = _x(7, 2, 3)
    # a loss that reads every h_t, so ∂L/∂h_t is a sum over direct and through-time paths
    loss_fn = lambda hs: sum(((head(h) - 0.5) ** 2).sum() for h in hs)
    fast = hidden_state_grad_norms(cell, x, loss_fn)

    # the slow way: one forward, then one tg.grad per h_t
    state, hs = None, []
    for t in range(7):
        state = cell(tg.Tensor(x[t]), state)
        hs.append(state[0] if kind == "lstm" else state)
    loss = loss_fn(hs)
    slow = np.array([np.linalg.norm(tg.grad(loss, h, retain_graph=True)[0].numpy()) for h in hs])
    assert fast.shape == (7,)
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
    assert np.all(fast > 0)


def test_unused_hidden_state_gets_zero_norm_and_callable_step_works():
    """A plain function as the step; the loss ignores h_T, whose gradient is then exactly 0."""
    W = tg.Tensor(np.array([[0.5, -0.2], [0.1, 0.3]], np.float32), requires_grad=True)
    step = lambda x_t, h: (x_t @ W if h is None else x_t + h @ W).tanh()
    n = hidden_state_grad_norms(step, _x(4, 1, 2), lambda hs: (hs[1] ** 2).sum())
    assert n[2] == 0.0 and n[3] == 0.0 and n[1] > 0 and n[0] > 0


# ---- (b) Jacobian products -------------------------------------------------------------------------------
def _state_vec(state):
    return np.concatenate([s.numpy() for s in state], -1) if isinstance(state, tuple) else state.numpy()


def _from_vec(v, like):
    if isinstance(like, tuple):
        H = like[0].shape[-1]
        return (tg.Tensor(v[:, :H].copy()), tg.Tensor(v[:, H:].copy()))
    return tg.Tensor(v.copy())


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_jacobian_products_match_finite_differences(kind, float64):
    tg.manual_seed(3)
    cell = nn.GRUCell(2, 3) if kind == "gru" else nn.LSTMCell(2, 2)
    T, x = 4, _x(4, 2, 2, seed=1, dtype=np.float64)
    res = jacobian_products(cell, x, k=2)
    D = 3 if kind == "gru" else 4
    assert res["products"].shape == (T, 2, D, D) and res["singular_values"].shape == (T, 2, 2)
    np.testing.assert_array_equal(res["lags"], [3, 2, 1, 0])

    # states s_0..s_T with no tape, then ∂s_T/∂s_t by central differences on the state vector
    with tg.no_grad():
        states = [None]
        for t in range(T):
            states.append(cell(tg.Tensor(x[t]), states[-1]))

        def run_from(t, v):
            s = _from_vec(v, states[t])
            for u in range(t, T):
                s = cell(tg.Tensor(x[u]), s)
            return _state_vec(s)

        eps = 1e-6
        for t in range(1, T):  # products[t-1] = ∂s_T/∂s_t
            v0 = _state_vec(states[t])
            fd = np.zeros((2, D, D))
            for j in range(D):
                e = np.zeros_like(v0)
                e[:, j] = eps
                fd[:, :, j] = (run_from(t, v0 + e) - run_from(t, v0 - e)) / (2 * eps)
            np.testing.assert_allclose(res["products"][t - 1], fd, atol=1e-8)
    np.testing.assert_allclose(res["products"][-1], np.broadcast_to(np.eye(D), (2, D, D)))
    np.testing.assert_allclose(res["norms"], np.linalg.norm(res["products"], 2, axis=(-2, -1)), rtol=1e-10)


def test_jacobian_products_agree_with_backprop_through_time():
    """The loss reads h_T only, so ∂L/∂h_t = ∂L/∂h_T · ∂h_T/∂h_t: the two diagnostics must agree."""
    tg.manual_seed(1)
    cell, head = nn.RNNCell(2, 5), nn.Linear(5, 1)
    x = _x(12, 1, 2, seed=2)
    n = hidden_state_grad_norms(cell, x, lambda hs: (head(hs[-1]) ** 2).sum())
    P = jacobian_products(cell, x)["products"][:, 0]  # (T, H, H)
    h = None
    with tg.no_grad():
        for t in range(12):
            h = cell(tg.Tensor(x[t]), h)
        g_T = (2 * head(h).numpy()) @ head.weight.numpy()  # ∂L/∂h_T, (1, H)
    np.testing.assert_allclose(n, np.linalg.norm(g_T @ P, axis=(-2, -1)), rtol=1e-4)


# ---- (c), (d) -------------------------------------------------------------------------------------------------
def test_spectral_radius_matches_numpy_eig():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 6))
    assert spectral_radius(W) == pytest.approx(np.abs(np.linalg.eigvals(W)).max(), rel=1e-12)
    rot = np.array([[0.0, -2.0], [2.0, 0.0]])  # complex eigenvalues ±2i
    assert spectral_radius(tg.Tensor(rot)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="square matrix"):
        spectral_radius(np.ones((2, 3)))


@pytest.mark.parametrize("r", [0.8, 1.1])
def test_decay_rate_recovers_a_known_factor(r):
    rng = np.random.default_rng(0)
    lags = np.arange(39, -1, -1)  # index t = 1..40, lag T − t
    norms = 3.0 * r**lags * np.exp(rng.normal(0, 0.05, lags.size))
    assert decay_rate(norms) == pytest.approx(r, rel=5e-3)
    norms[:5] = 0.0  # underflowed entries are left out
    assert decay_rate(norms, min_lag=2, max_lag=30) == pytest.approx(r, rel=5e-3)


def test_decay_rate_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        decay_rate(np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least 2 positive"):
        decay_rate([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="min_lag"):
        decay_rate([1.0, 2.0], min_lag=3, max_lag=1)


# ---- qualitative facts on the adding problem (fixed seeds, T = 50, H = 16) --------------------------------
def _adding_norms(kind, gain=None, T=50):
    ex = _load_example()
    x, y = ex.adding_batch(np.random.default_rng(0), 16, T)
    return ex.analyse(kind, x, y, hidden=16, seed=0, gain=gain)


def test_small_recurrent_weights_vanish_below_the_spectral_radius_bound():
    r = _adding_norms("rnn", gain=0.5)
    # seed 0: fitted factor ≈ 0.37 with ρ(W) ≈ 0.44 and max|tanh'| ≤ 1
    assert 0.3 < r["rate"] < 0.45, r["rate"]
    assert r["rate"] < r["bound"] <= r["rho"] + 1e-12
    assert r["rate"] < r["norm2"]  # the rigorous bound ‖W‖₂ · max|tanh'|
    assert r["ratio_first_last"] < 1e-15


def test_large_recurrent_weights_explode():
    r = _adding_norms("rnn", gain=3.0)
    assert r["rho"] > 2 and r["rate"] > 1.15, (r["rho"], r["rate"])
    assert r["ratio_first_last"] > 1e3


def test_lstm_with_forget_bias_keeps_the_gradient_alive():
    lstm, rnn = _adding_norms("lstm"), _adding_norms("rnn", gain=0.5)
    # seed 0: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ ≈ 1e-4 for the LSTM against ≈ 1e-21 for the small-weight RNN
    assert lstm["ratio_first_last"] > 1e-5, lstm["ratio_first_last"]
    assert lstm["rate"] > 0.8 > rnn["rate"]


# ---- errors, plots, example ----------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    cell = nn.RNNCell(2, 3)
    loss = lambda hs: (hs[-1] ** 2).sum()
    with pytest.raises(ValueError, match=r"shape \(T, N, I\)"):
        hidden_state_grad_norms(cell, np.zeros((5, 2), np.float32), loss)
    with pytest.raises(TypeError, match="must be a cell module or a callable"):
        hidden_state_grad_norms("rnn", _x(3, 1, 2), loss)
    with pytest.raises(ValueError, match="scalar"):
        hidden_state_grad_norms(cell, _x(3, 2, 2), lambda hs: hs[-1] * 2)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        hidden_state_grad_norms(cell, _x(3, 2, 2), None)
    with pytest.raises(RuntimeError, match="h_1 does not require grad"), tg.no_grad():
        hidden_state_grad_norms(cell, _x(3, 2, 2), loss)
    with pytest.raises(ValueError, match="positive int"):
        jacobian_products(cell, _x(3, 1, 2), k=0)
    with pytest.raises(ValueError, match="at least one time step"):
        jacobian_products(cell, np.zeros((0, 1, 2), np.float32))


def test_plot_helpers_write_png_or_say_matplotlib_is_missing(tmp_path):
    with pytest.raises(ValueError, match="curves is empty"):
        plot_gradient_norms({}, str(tmp_path / "a.png"))
    with pytest.raises(ValueError, match=r"\(steps, T\)"):
        plot_gradient_heatmap(np.ones(4), str(tmp_path / "b.png"))
    norms = 0.9 ** np.arange(20, 0, -1)
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(ImportError, match="needs matplotlib"):
            plot_gradient_norms({"rnn": norms}, str(tmp_path / "a.png"))
        with pytest.raises(ImportError, match="needs matplotlib"):
            plot_gradient_heatmap(np.stack([norms, norms]), str(tmp_path / "b.png"))
    else:
        for p in (
            plot_gradient_norms({"rnn": norms}, str(tmp_path / "a.png")),
            plot_gradient_heatmap(np.stack([norms, norms]), str(tmp_path / "b.png")),
        ):
            assert pathlib.Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_main_smoke(tmp_path, capsys):
    res = _load_example().main(
        ["--T", "20", "--hidden", "6", "--batch", "4", "--train-steps", "3", "--out", str(tmp_path)]
    )
    printed = capsys.readouterr().out
    by = res["by_T"][20]
    assert set(by) == {"rnn-small", "rnn-large", "lstm", "gru"}
    assert by["rnn-small"]["rate"] < 1 < by["rnn-large"]["rate"]
    assert all(r["norms"].shape == (20,) for r in by.values())
    assert res["heatmap"].shape == (3, 20) and np.all(res["heatmap"][:, -1] > 0)
    assert "per-step factor" in printed and "ρ(W)" in printed and "heat map" in printed
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in printed and res["plots"] == []
    else:
        assert len(res["plots"]) == 2 and all(pathlib.Path(p).exists() for p in res["plots"])
