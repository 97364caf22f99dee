"""Hopfield networks (energy descent, Hebbian storage, capacity) and the syllabus tail's generative models
(a GAN and a DDPM) built from the framework's ops: float64 gradchecks, fixed-seed learning tests, input
errors and smoke runs of the examples."""

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn.models.generative import (
    GAN,
    Diffusion,
    gaussian_mixture_sampler,
    linear_beta_schedule,
    time_embedding,
    train_diffusion,
    train_gan,
)
from tinygrad_rnn.models.hopfield import TIE_TOL, HopfieldNetwork, capacity_curve, flip


def _load(name):
    return load_example(name)


# ---- Hopfield -------------------------------------------------------------------------------------------
def test_hebbian_storage_matches_the_formula_and_leaves_biases_alone():
    rng = np.random.default_rng(0)
    pats = rng.choice([-1.0, 1.0], size=(4, 16))
    net = HopfieldNetwork(16)
    net.bias[:] = 0.3
    net.store(pats[:2]).store(pats[2:])  # storage is additive: two calls = one call
    want = pats.T @ pats / 16
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(net.weights, want, atol=1e-14)
    assert np.array_equal(net.weights, net.weights.T) and not np.any(np.diag(net.weights))
    assert np.all(net.bias == 0.3) and net.num_patterns == 4
    a = pats[0]
    brute = -0.5 * sum(want[i, j] * a[i] * a[j] for i in range(16) for j in range(16) if i != j) - 0.3 * a.sum()
    assert net.energy(a) == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("tie", ["minus", "keep"])
def test_asynchronous_updates_never_increase_energy(tie):
    """After every single-unit update E is <= the previous E, over many random nets, biases and probes.
    Even pattern counts with zero biases make local fields of exactly 0 common, so the tie rule is exercised."""
    rng = np.random.default_rng(1)
    ties_seen = 0
    for run in range(40):
        n = int(rng.integers(8, 40))
        net = HopfieldNetwork(n, tie=tie).store(rng.choice([-1.0, 1.0], size=(int(rng.integers(1, n)), n)))
        if run % 2:
            net.bias[:] = rng.normal(0, 0.3, n)
        probe = rng.choice([-1.0, 1.0], size=n)
        state, energies, converged = net.recall(probe, max_sweeps=50, seed=run)
        e = np.array(energies)
        # a tie flip changes E by at most 2·TIE_TOL (exactly 0 in exact arithmetic)
        assert len(e) >= n + 1 and np.all(np.diff(e) <= 1e-9), f"run {run}: energy rose by {np.diff(e).max()}"
        assert converged and e[-1] == pytest.approx(net.energy(state), abs=1e-9)  # running ΔE is exact
        # a fixed point: no unit wants to change under the tie rule
        h = net.weights @ state + net.bias
        tied = np.abs(h) <= TIE_TOL
        ties_seen += int(tied.sum())
        assert np.all(state[h > TIE_TOL] == 1) and np.all(state[h < -TIE_TOL] == -1)
        if tie == "minus":
            assert np.all(state[tied] == -1)
    assert ties_seen > 0


def test_tie_rule_follows_the_notes_or_keeps():
    net = HopfieldNetwork(2)  # zero weights and biases: every field is a tie
    s, e, ok = net.recall([1.0, 1.0])
    assert s.tolist() == [-1.0, -1.0] and ok and e == [0.0, 0.0, 0.0, 0.0, 0.0]  # "-1 otherwise"
    s, _, _ = HopfieldNetwork(2, tie="keep").recall([1.0, -1.0])
    assert s.tolist() == [1.0, -1.0]


def test_stored_patterns_are_fixed_points_and_noisy_probes_are_recalled():
    rng = np.random.default_rng(2)
    pats = rng.choice([-1.0, 1.0], size=(3, 64))
    net = HopfieldNetwork(64).store(pats)
    for k, x in enumerate(pats):
        s, e, ok = net.recall(x, seed=k)
        assert ok and np.array_equal(s, x) and len(e) == 65 and len(set(e)) == 1  # one sweep, nothing moves
    misses = 0
    for trial in range(30):
        k = trial % 3
        probe = flip(pats[k], 0.1, rng)
        assert int((probe != pats[k]).sum()) == 6
        s, e, _ = net.recall(probe, seed=trial)
        misses += not np.array_equal(s, pats[k])
        assert e[-1] < e[0]
    assert misses == 0


def test_capacity_curve_falls_well_below_one_by_three_tenths_n():
    counts = [3, 6, 19]  # 0.05 n, 0.09 n, 0.3 n for n = 64
    curve = capacity_curve(64, counts, noise=0.1, trials=3, seed=0)
    assert curve.shape == (3,)
    assert curve[0] >= 0.95 and curve[1] >= 0.8  # few patterns: essentially all recalled
    assert curve[2] < 0.3  # 0.3 n is past the ~0.14 n limit


def test_hopfield_errors():
    with pytest.raises(ValueError, match="n must be a positive int"):
        HopfieldNetwork(0)
    with pytest.raises(ValueError, match="tie must be one of"):
        HopfieldNetwork(4, tie="zero")
    net = HopfieldNetwork(4)
    with pytest.raises(ValueError, match=r"expected shape \(P, n\) with n=4, got \(2, 3\)"):
        net.store(np.ones((2, 3)))
    with pytest.raises(ValueError, match="must be -1 or \\+1"):
        net.store(np.array([[1, 0, 1, -1]]))
    with pytest.raises(ValueError, match=r"expected shape \(n,\) with n=4"):
        net.recall(np.ones(5))
    with pytest.raises(ValueError, match="max_sweeps must be a positive int"):
        net.recall(np.ones(4), max_sweeps=0)
    with pytest.raises(ValueError, match="counts must be positive ints"):
        capacity_curve(8, [0, 2])
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        flip(np.ones(4), 1.5, np.random.default_rng(0))


# ---- GAN ------------------------------------------------------------------------------------------------
def test_gan_losses_gradcheck():
    """Both losses against central differences in float64: w.r.t. the data, the noise and every parameter."""
    tg.set_default_dtype("float64")
    gan = GAN(data_dim=2, noise_dim=2, hidden=3)
    rng = np.random.default_rng(3)
    real = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    fake = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    z = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    d_params, g_params = list(gan.discriminator.parameters()), list(gan.generator.parameters())
    assert tg.gradcheck(lambda r, f, *_: gan.discriminator_loss(r, f), [real, fake, *d_params])
    assert tg.gradcheck(lambda z, *_: gan.generator_loss(z), [z, *g_params, *d_params])


def test_gan_generator_loss_is_non_saturating():
    tg.set_default_dtype("float64")
    gan = GAN(1, noise_dim=2, hidden=4)
    z = gan.noise(8)
    d = gan.discriminate(gan.generate(z)).numpy()
    want = np.mean(np.log1p(np.exp(-d)))  # −log σ(D(G(z))), not log(1 − σ(D(G(z))))
    assert gan.generator_loss(z).item() == pytest.approx(want, rel=1e-12)
    real = gan.noise(8)[:, :1]
    fake = gan.generate(gan.noise(8))
    dr, df = gan.discriminate(real).numpy(), gan.discriminate(fake).numpy()
    want_d = np.mean(np.log1p(np.exp(-dr))) + np.mean(np.log1p(np.exp(df)))
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(want_d, rel=1e-12)


def test_gan_covers_both_modes_of_a_two_gaussian_mixture():
    """1-D data: ½N(−2, 0.25²) + ½N(2, 0.25²). After 1500 steps (about 1.5 s) at least 35% of 2000 samples lie
    within 0.75 of each mode (the data: ≈ 50% each) and under 15% lie near neither; a collapsed GAN fails."""
    tg.manual_seed(0)
    sampler = gaussian_mixture_sampler([-2.0, 2.0], 0.25, seed=0)
    gan, hist = train_gan(sampler, 1500, data_dim=1, batch=64, lr_g=2e-3, lr_d=2e-3)
    assert len(hist["d_loss"]) == len(hist["g_loss"]) == 1500
    with tg.no_grad():
        x = gan.generate(gan.noise(2000)).numpy().reshape(-1)
    left, right = np.mean(np.abs(x + 2) < 0.75), np.mean(np.abs(x - 2) < 0.75)
    assert left > 0.35 and right > 0.35, (left, right)
    assert left + right > 0.85


# ---- diffusion ------------------------------------------------------------------------------------------
def test_beta_schedule_and_time_embedding():
    m = Diffusion(2, hidden=8, steps=50)
    assert m.betas.shape == (50,) and np.allclose(np.diff(m.betas), np.diff(m.betas)[0])  # linear
    assert m.alpha_bars[-1] < 0.01 and m.alpha_bars[0] > 0.99  # x_T ≈ pure noise, x_1 ≈ data
    e = time_embedding([1, 2, 50], 8)
    assert e.shape == (3, 8) and np.allclose(e[:, :4] ** 2 + e[:, 4:] ** 2, 1.0)
    assert not np.allclose(e[0], e[1]) and not np.allclose(e[1], e[2])


def test_diffusion_noise_prediction_loss_gradcheck():
    tg.set_default_dtype("float64")
    m = Diffusion(2, hidden=3, time_dim=4, steps=10)
    rng = np.random.default_rng(4)
    x0 = tg.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    t, noise = np.array([1, 5, 10]), rng.standard_normal((3, 2))  # fixed: the loss must be deterministic
    assert tg.gradcheck(lambda x0, *_: m.loss(x0, t=t, noise=noise), [x0, *m.parameters()])
    # the loss is the MSE of ε_θ(√ᾱ x0 + √(1−ᾱ) ε, t) against ε, computed by hand
    ab = m.alpha_bars[t - 1][:, None]
    x_t = np.sqrt(ab) * x0.numpy() + np.sqrt(1 - ab) * noise
    pred = m.predict_noise(tg.Tensor(x_t), t).numpy()
    assert m.loss(x0, t=t, noise=noise).item() == pytest.approx(np.mean((pred - noise) ** 2), rel=1e-12)


def test_diffusion_samples_match_the_target_mean():
    """2-D mixture of four N(·, 0.3²) at (1, −0.5) + 1.5(±1, ±1): mean (1, −0.5), std ≈ 1.53 per axis. After
    1500 steps (about 5 s) 1000 samples have mean within 0.2 and std within 0.25 of the target's; the chain
    starts at N(0, I), so the mean has to be learned."""
    tg.manual_seed(0)
    means = np.array([1.0, -0.5]) + 1.5 * np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
    sampler = gaussian_mixture_sampler(means, 0.3, seed=0)
    m = Diffusion(2, hidden=64)
    losses = train_diffusion(m, sampler, 1500, batch=128, lr=3e-3)
    assert np.mean(losses[-50:]) < 0.6 * np.mean(losses[:20])
    x, path = m.sample(1000, seed=1, return_path=True)
    assert len(path) == 51 and np.allclose(path[-1], x)
    assert np.all(np.abs(x.mean(0) - [1.0, -0.5]) < 0.2), x.mean(0)
    assert np.all(np.abs(x.std(0) - np.sqrt(1.5**2 + 0.3**2)) < 0.25), x.std(0)


def test_generative_errors():
    gan = GAN(2, noise_dim=3)
    with pytest.raises(ValueError, match=r"GAN.generate: expected noise of shape \(N, 3\), got \(4, 2\)"):
        gan.generate(tg.randn(4, 2))
    with pytest.raises(TypeError, match="GAN.discriminate: data must be a Tensor"):
        gan.discriminate(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="data_dim must be a positive int"):
        GAN(0)
    with pytest.raises(TypeError, match="data_sampler must be callable"):
        train_gan([1, 2], 5)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        train_gan(lambda n: np.zeros((n, 1)), 0)
    m = Diffusion(2, hidden=4, steps=10)
    with pytest.raises(ValueError, match=r"t must be integer steps in \[1, 10\]"):
        m.predict_noise(tg.randn(3, 2), 11)
    with pytest.raises(ValueError, match=r"t must be integer steps in \[1, 10\]"):
        m.loss(tg.randn(3, 2), t=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"expected x_t of shape \(N, 2\)"):
        m.predict_noise(tg.randn(3, 3), 1)
    with pytest.raises(ValueError, match="noise shape"):
        m.loss(tg.randn(3, 2), t=1, noise=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="time_dim must be even"):
        Diffusion(2, time_dim=5)
    with pytest.raises(ValueError, match="need 0 < beta_start <= beta_end < 1"):
        linear_beta_schedule(10, 0.5, 0.1)
    with pytest.raises(ValueError, match=r"means must be \(K,\) or \(K, d\)"):
        gaussian_mixture_sampler(np.zeros((2, 2, 2)), 0.1)


# ---- examples -------------------------------------------------------------------------------------------
def test_hopfield_example_runs(capsys, tmp_path):
    res = _load("hopfield").main(
        ["--n", "40", "--patterns", "2", "--trials", "1", "--noise", "0.1", "--plot", str(tmp_path / "h.png")]
    )
    assert res["recalled"] == 1.0 and res["curve"][0] == 1.0 and res["curve"][-1] < 0.5
    assert all(np.all(np.diff(e) <= 1e-9) for e in res["energies"])
    out = capsys.readouterr().out
    assert "capacity (n = 40" in out and ("wrote" in out or "matplotlib is not installed" in out)


def test_gan_and_diffusion_examples_run(capsys):
    g = _load("gan_mixture").main(["--steps", "5", "--samples", "100"])
    assert len(g["mode_fractions"]) == 2 and g["samples"].shape == (100,) and np.isfinite(g["g_loss"])
    d = _load("diffusion_2d").main(["--steps", "5", "--T", "10", "--samples", "50", "--hidden", "8"])
    assert d["mean"].shape == (2,) and np.isfinite(d["final_loss"])
    out = capsys.readouterr().out
    assert "mode +2.00" in out and "samples mean" in out and "alpha_bar_T" in out
