"""Dynamical-system recurrences in ``tinygrad_rnn.models.dynamics``: the notes' Euler-integrated driven spring
and leaky units with fixed / sampled / learned time constants. Float64 gradchecks, an exact NumPy reference,
input errors, fixed-seed learning tests and smoke runs of the two examples."""

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.models.dynamics import EulerSpringCell, LeakyRNN


def _load(name):
    return load_example(name)


def _f64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---- EulerSpringCell ---------------------------------------------------------------------------------------
def test_spring_gradcheck_through_simulate():
    """d(trajectory)/d(k/m, A/m, s0, v0) over 6 unrolled Euler steps match central differences (float64)."""
    tg.set_default_dtype("float64")
    cell = EulerSpringCell(1.7, 0.6, h=0.2, t0=0.3)
    s0, v0 = _f64(3, seed=1), _f64(3, seed=2)  # three springs at once: (T, 3, 2) trajectory
    assert tg.gradcheck(lambda s0, v0, k, a: cell.simulate(s0, v0, 6), [s0, v0, cell.k_over_m, cell.A_over_m])


def test_spring_simulate_matches_numpy_euler_exactly():
    """The cell is Euler's method, operation for operation: bitwise equal to a NumPy loop in float64."""
    tg.set_default_dtype("float64")
    k, a, h, t0, T = 2.3, 0.9, 0.07, 0.5, 40
    cell = EulerSpringCell(k, a, h=h, t0=t0)
    s0, v0 = np.array([1.0, -0.4]), np.array([0.0, 0.25])
    got = cell.simulate(tg.Tensor(s0), tg.Tensor(v0), T).numpy()
    s, v, rows = s0.copy(), v0.copy(), []
    for t in range(T):
        s, v = s + h * v, v + h * (a * np.cos(t0 + t * h) - k * s)
        rows.append(np.stack([s, v], axis=-1))
    assert got.shape == (T, 2, 2)
    np.testing.assert_array_equal(got, np.stack(rows))
    # a scalar spring gives the (T, 2) trajectory the notes draw
    assert cell.simulate(1.0, 0.0, 5).shape == (5, 2)


def test_spring_fit_recovers_parameters():
    """From k/m = 1.2, A/m = 0 and a noisy (σ = 0.02) trajectory of the truth k/m = 2, A/m = 0.8, 150 Adam
    steps of BPTT through 150 Euler steps recover both within 1% relative error."""
    tg.set_default_dtype("float64")
    truth, h, T = EulerSpringCell(2.0, 0.8, h=0.05), 0.05, 150
    with tg.no_grad():
        clean = truth.simulate(1.0, 0.0, T).numpy()
    observed = tg.Tensor(clean + 0.02 * np.random.default_rng(0).standard_normal(clean.shape))
    cell = EulerSpringCell(1.2, 0.0, h=h)
    opt = optim.Adam(cell.parameters(), lr=0.05)
    first = None
    for _ in range(150):
        d = cell.simulate(1.0, 0.0, T) - observed
        loss = (d * d).mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(cell.k_over_m.item() - 2.0) / 2.0 < 0.01
    assert abs(cell.A_over_m.item() - 0.8) / 0.8 < 0.01
    assert loss.item() < 0.02 * first  # the fit explains the trajectory, leaving about the noise (4e-4)


def test_spring_errors():
    with pytest.raises(ValueError, match="step size h must be a positive finite number, got 0"):
        EulerSpringCell(h=0)
    with pytest.raises(ValueError, match="k_over_m must be finite"):
        EulerSpringCell(k_over_m=float("nan"))
    with pytest.raises(TypeError, match="A_over_m must be a real number"):
        EulerSpringCell(A_over_m="big")
    cell = EulerSpringCell()
    with pytest.raises(ValueError, match="T must be an int >= 1, got 0"):
        cell.simulate(1.0, 0.0, 0)
    with pytest.raises(ValueError, match=r"s0 and v0 must have one shape, got \(2,\) and \(3,\)"):
        cell.simulate(tg.zeros(2), tg.zeros(3), 4)
    with pytest.raises(TypeError, match="s0 dtype float64 != parameter dtype float32"):
        cell.simulate(tg.zeros(2, dtype="float64"), tg.zeros(2), 4)
    with pytest.raises(TypeError, match="v0 must be a number, array or Tensor, got str"):
        cell.simulate(1.0, "fast", 4)


# ---- LeakyRNN ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["fixed", "sampled", "learned"])
def test_leaky_gradcheck(mode):
    """Jacobians w.r.t. x, s0 and every parameter (ρ too when τ is learned) match central differences."""
    tg.set_default_dtype("float64")
    m = LeakyRNN(2, 3, tau=mode, tau_init={"fixed": [1.0, 2.5, 7.0], "sampled": None, "learned": 2.0}[mode])
    x, s0 = _f64(4, 2, 2, seed=1), _f64(2, 3, seed=2)
    params = list(m.parameters())
    assert len(params) == (4 if mode == "learned" else 3)
    assert tg.gradcheck(lambda x, s0, *_: m(x, s0), [x, s0, *params])


def test_leaky_equations_and_tau_modes():
    """The forward is the stated leaky update (checked by hand in NumPy); τ = 1 is the plain tanh RNN; a
    large τ makes a unit move by only 1/τ of its drive per step; learned τ stays > 1 under any ρ."""
    tg.set_default_dtype("float64")
    taus = np.array([1.0, 4.0, 40.0])
    m = LeakyRNN(2, 3, tau="fixed", tau_init=taus)
    x = np.random.default_rng(0).standard_normal((5, 2, 2))
    out, last = m(tg.Tensor(x))
    U, W, b = m.weight_ih.numpy(), m.weight_hh.numpy(), m.bias.numpy()
    s, ref = np.zeros((2, 3)), []
    for t in range(5):
        s = (1 - 1 / taus) * s + (1 / taus) * np.tanh(s @ W.T + x[t] @ U.T + b)
        ref.append(s)
    np.testing.assert_allclose(out.numpy(), np.stack(ref), atol=1e-14)
    np.testing.assert_array_equal(last.numpy(), out.numpy()[-1])
    # the τ = 1 unit's first step is exactly tanh(U x + b); the τ = 40 unit moved 1/40 of that
    first = np.tanh(x[0] @ U.T + b)
    np.testing.assert_allclose(out.numpy()[0, :, 0], first[:, 0], atol=1e-14)
    np.testing.assert_allclose(out.numpy()[0, :, 2], first[:, 2] / 40, atol=1e-14)

    sampled = LeakyRNN(1, 200, tau="sampled", tau_range=(2.0, 30.0)).time_constants().numpy()
    assert sampled.min() >= 2.0 and sampled.max() <= 30.0 and sampled.max() / sampled.min() > 8  # a spread

    learned = LeakyRNN(1, 3, tau="learned", tau_init=[1.5, 10.0, 300.0])
    np.testing.assert_allclose(learned.time_constants().numpy(), [1.5, 10.0, 300.0], rtol=1e-10)
    learned.tau_raw.data = learned.tau_raw.data - 1e3  # drive ρ far negative: τ → 1 from above, never below
    assert (learned.time_constants().numpy() >= 1.0).all()
    assert np.isfinite(learned(tg.Tensor(x[:, :, :1]))[0].numpy()).all()
    assert "tau_raw" in dict(learned.named_parameters()) and "tau" not in dict(learned.named_parameters())


def test_leaky_errors():
    with pytest.raises(ValueError, match="tau must be one of .*got 'slow'"):
        LeakyRNN(1, 2, tau="slow")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        LeakyRNN(1, 0)
    with pytest.raises(ValueError, match=r"tau_range must satisfy 1 <= low <= high"):
        LeakyRNN(1, 2, tau="sampled", tau_range=(0.5, 10))
    with pytest.raises(ValueError, match="tau_init is only for 'fixed' and 'learned'"):
        LeakyRNN(1, 2, tau="sampled", tau_init=3.0)
    with pytest.raises(ValueError, match=r"every tau_init must be finite and > 1 .*got 1.0"):
        LeakyRNN(1, 2, tau="learned", tau_init=1.0)
    with pytest.raises(ValueError, match=r"every tau_init must be finite and >= 1 .*got 0.5"):
        LeakyRNN(1, 2, tau="fixed", tau_init=[2.0, 0.5])
    with pytest.raises(ValueError, match=r"tau_init must be a number or hidden_size=2 numbers, got shape \(3,\)"):
        LeakyRNN(1, 2, tau_init=[2.0, 3.0, 4.0])
    m = LeakyRNN(2, 3)
    with pytest.raises(ValueError, match=r"expected input \(T, N, input_size=2\).*got shape \(4, 1, 3\)"):
        m(tg.randn(4, 1, 3))
    with pytest.raises(ValueError, match=r"s0 must be a Tensor of shape \(N, hidden_size\) = \(1, 3\), got \(1, 2\)"):
        m(tg.randn(4, 1, 2), tg.randn(1, 2))
    with pytest.raises(TypeError, match="input must be a Tensor, got ndarray"):
        m(np.zeros((4, 1, 2)))


def test_leaky_spread_of_timescales_beats_plain_rnn(capsys):
    """Slow (√W · running mean over W = 30) plus fast (x_t) target, same weights and budget (150 Adam steps):
    sampled and learned τ in [1, 50] reach under half the held-out MSE of τ = 1 (seed 0: ≈ 0.09 vs 0.73)."""
    res = _load("leaky_timescales").main(["--seed", "0"])
    assert set(res) == {"fixed", "sampled", "learned"}
    assert res["sampled"] < 0.5 * res["fixed"] and res["learned"] < 0.5 * res["fixed"]
    assert res["sampled"] < 0.15 and res["learned"] < 0.15  # well under the ≈ 1 left by echoing x_t
    assert "held-out MSE  τ = 1 (plain RNN)" in capsys.readouterr().out


# ---- example smoke runs ------------------------------------------------------------------------------------
def test_spring_fit_example_smoke(tmp_path, capsys):
    res = _load("spring_fit").main(["--steps", "40", "--length", "60", "--plot", str(tmp_path / "s.png")])
    printed = capsys.readouterr().out
    assert "k/m: true 2.0000" in printed and "trajectory MSE" in printed
    assert (tmp_path / "s.png").exists() or "matplotlib is not importable" in printed
    assert res["last_loss"] < 0.1 and np.isfinite(res["mse"])
    assert tg.get_default_dtype() == np.float32  # the example restores the default dtype it changed


def test_leaky_timescales_example_smoke(capsys):
    res = _load("leaky_timescales").main(
        ["--modes", "sampled", "--steps", "3", "--length", "12", "--window", "4", "--hidden", "4"]
    )
    assert list(res) == ["sampled"] and np.isfinite(res["sampled"])
    assert "τ sampled in [1, 50]" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _load("leaky_timescales").main(["--length", "10", "--window", "10"])
