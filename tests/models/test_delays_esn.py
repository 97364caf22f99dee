"""Multiple delay paths (``MultiDelayRNN``) and echo state networks (``EchoStateNetwork``): float64 gradchecks,
exact delay semantics, the reservoir's spectral radius and fixed weights, the closed-form readout, Mackey–Glass
scores, a fixed-seed long-lag learning test, input errors and smoke runs of both examples."""

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn.models.delays import MultiDelayRNN
from tinygrad_rnn.models.esn import EchoStateNetwork, mackey_glass, nrmse


def _load(name):
    return load_example(name)


def _f64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---- MultiDelayRNN ---------------------------------------------------------------------------------------
def test_multi_delay_gradcheck():
    """Jacobians w.r.t. the input and every W_d, U, b match central differences (float64); T = 6 > the largest
    delay, so every delay arc is used at least once."""
    tg.set_default_dtype("float64")
    m = MultiDelayRNN(2, 3, delays=(1, 2, 4))
    assert sorted(n for n, _ in m.named_parameters()) == [
        "in_proj.bias",
        "in_proj.weight",
        "weight_hh_d1",
        "weight_hh_d2",
        "weight_hh_d4",
    ]
    x = _f64(6, 2, 2, seed=1)
    assert tg.gradcheck(lambda x, *_: m(x), [x, *m.parameters()])


def test_multi_delay_matches_hand_computed_recurrence():
    """a_t = tanh(U x_t + b + Σ_d W_d a_{t-d}), with a_{t-d} = 0 before the start, computed in NumPy."""
    tg.set_default_dtype("float64")
    m = MultiDelayRNN(2, 4, delays=(3, 1))
    x = np.random.default_rng(0).standard_normal((7, 2, 2))
    U, b = m.in_proj.weight.numpy(), m.in_proj.bias.numpy()
    W = {d: m.delay_weight(d).numpy() for d in (1, 3)}
    a = []
    for t in range(7):
        pre = x[t] @ U.T + b
        for d in (1, 3):
            if t - d >= 0:
                pre = pre + a[t - d] @ W[d].T
        a.append(np.tanh(pre))
    np.testing.assert_allclose(m(tg.Tensor(x)).numpy(), np.stack(a), atol=1e-12)


def test_input_impulse_reaches_only_multiples_of_the_delay():
    """With delays=(3,) alone, x_s can influence a_t only through chains of W_3 arcs: d a_t / d x_s ≠ 0 iff
    t - s ∈ {0, 3, 6, ...}. Adding the one-step arc (1, 3) connects every later step."""
    tg.set_default_dtype("float64")
    for delays, expect in (((3,), lambda lag: lag >= 0 and lag % 3 == 0), ((1, 3), lambda lag: lag >= 0)):
        m = MultiDelayRNN(1, 3, delays=delays)
        T, t = 9, 7
        x = tg.Tensor(np.random.default_rng(2).standard_normal((T, 1, 1)), requires_grad=True)
        m(x)[t].sum().backward()
        reached = np.abs(x.grad.numpy()[:, 0, 0]) > 1e-12
        assert reached.tolist() == [bool(expect(t - s)) for s in range(T)], (delays, reached)
    # and the influence over one delay-3 hop goes through W_3 only: zeroing it cuts x_4 off from a_7
    m = MultiDelayRNN(1, 3, delays=(1, 3))
    m.delay_weight(1).data[:] = 0.0
    x = tg.Tensor(np.ones((T, 1, 1)), requires_grad=True)
    m(x)[7].sum().backward()
    assert np.abs(x.grad.numpy()[4, 0, 0]) > 1e-12 and x.grad.numpy()[5, 0, 0] == 0.0
    m.delay_weight(3).data[:] = 0.0
    x.grad = None
    m(x)[7].sum().backward()
    assert x.grad.numpy()[4, 0, 0] == 0.0


def test_multi_delay_errors():
    for bad, msg in (
        ((0, 4), "delays must be positive ints, got 0"),
        ((1, 2.5), "positive ints, got 2.5"),
        ((1, 4, 4), r"delays must be unique, got \(1, 4, 4\)"),
        ((), "must not be empty"),
        ((True,), "positive ints, got True"),
    ):
        with pytest.raises(ValueError, match=msg):
            MultiDelayRNN(2, 3, delays=bad)
    with pytest.raises(TypeError, match="delays must be a sequence"):
        MultiDelayRNN(2, 3, delays=4)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        MultiDelayRNN(2, 0)
    m = MultiDelayRNN(2, 3)
    with pytest.raises(ValueError, match=r"expected input \(T, N, input_size=2\).*\(5, 1, 3\)"):
        m(tg.randn(5, 1, 3))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        m(np.zeros((5, 1, 2)))
    with pytest.raises(KeyError, match=r"no delay 2; delays are \(1, 4, 16\)"):
        m.delay_weight(2)


def test_multi_delay_learns_long_lag_recall_where_plain_rnn_stays_at_chance():
    """Recall a ±1 bit 40-59 steps back through noise (examples/delay_memory.py): same hidden size (16),
    Adam budget (1000 steps of 32) and seed. MultiDelayRNN(1, 4, 16) reaches ≥ 0.95 held-out accuracy (1.00
    when recorded); nn.RNN stays at chance (0.50, MSE ≈ 1.0, the predict-0 baseline)."""
    mod = _load("delay_memory")
    delay = mod.train_and_score("delay", steps=1000, T=60)
    rnn = mod.train_and_score("rnn", steps=1000, T=60)
    assert delay["accuracy"] >= 0.95 and delay["mse"] < 0.1, delay
    assert rnn["accuracy"] <= 0.65 and rnn["mse"] > 0.8, rnn


# ---- EchoStateNetwork ------------------------------------------------------------------------------------
@pytest.mark.parametrize("radius", [0.5, 0.95, 1.3])
def test_esn_spectral_radius_is_the_requested_one(radius):
    tg.set_default_dtype("float64")
    esn = EchoStateNetwork(1, 80, spectral_radius=radius, density=0.2, seed=3)
    measured = np.abs(np.linalg.eigvals(esn.weight_res.numpy())).max()
    assert abs(measured - radius) < 1e-6 and abs(esn.spectral_radius_ - radius) < 1e-6
    nz = (esn.weight_res.numpy() != 0).mean()
    assert 0.1 < nz < 0.3  # sparse: about `density` of the entries are set


def test_esn_reservoir_is_fixed_and_only_the_readout_trains():
    tg.set_default_dtype("float64")
    esn = EchoStateNetwork(2, 30, seed=0, output_size=1)
    assert [n for n, _ in esn.named_parameters()] == ["readout.weight", "readout.bias"]
    assert {"weight_in", "weight_res"} <= set(esn.state_dict())  # saved, as buffers
    assert not esn.weight_res.requires_grad and not esn.weight_in.requires_grad
    w_res, w_in = esn.weight_res.numpy().copy(), esn.weight_in.numpy().copy()
    u = tg.Tensor(np.random.default_rng(0).standard_normal((40, 3, 2)))
    X = esn.run_reservoir(u)
    Y = X.numpy()[..., :1] * 2.0 - 0.5  # a target the readout can fit exactly
    losses = esn.fit_gradient(X, Y, steps=300, lr=5e-2)
    assert losses[-1] < 0.05 * losses[0]
    np.testing.assert_array_equal(esn.weight_res.numpy(), w_res)
    np.testing.assert_array_equal(esn.weight_in.numpy(), w_in)
    # the same seed gives the same reservoir; another seed another one
    assert np.array_equal(EchoStateNetwork(2, 30, seed=0).weight_res.numpy(), w_res)
    assert not np.array_equal(EchoStateNetwork(2, 30, seed=1).weight_res.numpy(), w_res)


def test_esn_leaky_update_by_hand():
    """x_t = (1-α) x_{t-1} + α tanh(W_in u_t + W x_{t-1}), x_0 = 0."""
    tg.set_default_dtype("float64")
    esn = EchoStateNetwork(1, 10, leak_rate=0.3, density=0.5, seed=4)
    u = np.random.default_rng(1).standard_normal((5, 2, 1))
    Win, W = esn.weight_in.numpy(), esn.weight_res.numpy()
    x, xs = np.zeros((2, 10)), []
    for t in range(5):
        x = 0.7 * x + 0.3 * np.tanh(u[t] @ Win.T + x @ W.T)
        xs.append(x)
    np.testing.assert_allclose(esn.run_reservoir(tg.Tensor(u)).numpy(), np.stack(xs), atol=1e-12)


def test_ridge_readout_solves_the_normal_equations():
    tg.set_default_dtype("float64")
    esn = EchoStateNetwork(1, 20, seed=0, output_size=2)
    rng = np.random.default_rng(5)
    X = esn.run_reservoir(tg.Tensor(rng.standard_normal((50, 2, 1)))).numpy()
    Y = rng.standard_normal((50, 2, 2))
    lam = 1e-2
    esn.fit_ridge(X, Y, ridge=lam)
    Xa = np.concatenate([X.reshape(-1, 20), np.ones((100, 1))], 1)
    reg = lam * np.eye(21)
    reg[-1, -1] = 0.0  # the bias is not penalised
    Wa = np.linalg.solve(Xa.T @ Xa + reg, Xa.T @ Y.reshape(-1, 2))
    np.testing.assert_allclose(esn.readout.weight.numpy(), Wa[:-1].T, atol=1e-10)
    np.testing.assert_allclose(esn.readout.bias.numpy(), Wa[-1], atol=1e-10)
    # and it is the minimiser: the gradient of the penalised loss vanishes there
    res = Xa @ Wa - Y.reshape(-1, 2)
    grad = Xa.T @ res + reg @ Wa
    assert np.abs(grad).max() < 1e-8


def test_mackey_glass_is_deterministic_and_in_its_usual_range():
    s = mackey_glass(1500)
    assert s.shape == (1500,) and np.array_equal(s, mackey_glass(1500))
    assert 0.2 < s.min() < 0.6 and 1.1 < s.max() < 1.5  # the τ = 17 attractor spans about [0.4, 1.35]
    assert s[:500].std() > 0.15  # not decayed to a fixed point: it keeps oscillating
    assert not np.allclose(s, mackey_glass(1500, tau=6.0))  # τ matters (τ = 6 is periodic)


def test_esn_mackey_glass_one_step_and_free_running():
    """Reservoir 150, 1000 training steps: one-step NRMSE < 0.02 (0.003 when recorded), and free-running
    generation stays finite and tracks the series for 50 steps (NRMSE < 0.2)."""
    tg.set_default_dtype("float64")
    raw = mackey_glass(1300)
    s = (raw - raw.mean()) / raw.std()
    u, y = tg.Tensor(s[:-1].reshape(-1, 1, 1)), s[1:].reshape(-1, 1, 1)
    esn = EchoStateNetwork(1, 150, spectral_radius=0.95, input_scaling=0.5, leak_rate=0.3, seed=0)
    X = esn.run_reservoir(u)
    esn.fit_ridge(X[100:1000], y[100:1000], ridge=1e-6)
    one = nrmse(esn.predict(u).numpy()[1000:], y[1000:])
    assert one < 0.02, one
    gen = esn.generate(u[:1000], 200).numpy()
    assert gen.shape == (200, 1, 1) and np.isfinite(gen).all()
    free = nrmse(gen[:50, 0, 0], s[1000:1050])
    assert free < 0.2, free
    assert nrmse(np.full(300, s[1000:].mean()), s[1000:]) == pytest.approx(1.0)  # the mean scores 1


def test_esn_errors():
    for kw, msg in (
        ({"spectral_radius": 0.0}, "spectral_radius must be > 0"),
        ({"leak_rate": 0.0}, r"leak_rate must be in \(0, 1\]"),
        ({"density": 1.5}, r"density must be in \(0, 1\]"),
        ({"input_scaling": -1.0}, "input_scaling must be >= 0"),
    ):
        with pytest.raises(ValueError, match=msg):
            EchoStateNetwork(1, 30, density=0.3, **kw) if "density" not in kw else EchoStateNetwork(1, 30, **kw)
    with pytest.raises(ValueError, match="spectral radius 0 and cannot be rescaled"):
        EchoStateNetwork(1, 1, density=1e-9, seed=0)  # an all-zero reservoir
    esn = EchoStateNetwork(1, 10, density=0.5, seed=0, output_size=2)
    with pytest.raises(ValueError, match=r"expected input \(T, N, input_size=1\)"):
        esn.run_reservoir(tg.randn(5, 2))
    with pytest.raises(ValueError, match="targets must be"):
        esn.fit_ridge(np.zeros((5, 10)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="states must be"):
        esn.fit_ridge(np.zeros((5, 9)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        esn.fit_ridge(np.zeros((5, 10)), np.zeros((5, 2)), ridge=-1)
    with pytest.raises(ValueError, match="needs output_size == input_size"):
        esn.generate(tg.randn(5, 1, 1), 3)
    with pytest.raises(ValueError, match="x0 must have shape"):
        esn.run_reservoir(tg.randn(5, 2, 1), x0=np.zeros((2, 9)))
    with pytest.raises(ValueError, match="pred shape"):
        nrmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="n must be a positive int"):
        mackey_glass(0)


# ---- examples --------------------------------------------------------------------------------------------
def test_delay_memory_example_runs(capsys):
    res = _load("delay_memory").main(["--steps", "3", "--length", "42", "--hidden", "4", "--batch", "4"])
    assert set(res) == {"delay", "rnn"} and all(0.0 <= r["accuracy"] <= 1.0 for r in res.values())
    out = capsys.readouterr().out
    assert "MultiDelayRNN delays=(1, 4, 16): accuracy" in out and "nn.RNN" in out


def test_echo_state_example_runs(capsys, tmp_path):
    res = _load("echo_state").main(
        [
            "--reservoir",
            "40",
            "--train",
            "300",
            "--test",
            "60",
            "--washout",
            "50",
            "--horizon",
            "20",
            "--radii",
            "0.5",
            "1.1",
            "--plot",
            str(tmp_path / "p.png"),
        ]
    )
    assert abs(res["spectral_radius"] - 0.95) < 1e-6 and set(res["sweep"]) == {0.5, 1.1}
    assert res["one_step_nrmse"] < 0.2  # even a 40-unit reservoir predicts one step ahead
    out = capsys.readouterr().out
    assert "spectral radius sweep" in out and "free-running NRMSE" in out
    assert (tmp_path / "p.png").exists() or "matplotlib is not importable" in out
