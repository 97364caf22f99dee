"""Pixel-by-pixel image models (tinygrad_rnn.models.pixel): gradients, learning beyond independent
pixels, sampling and completion, input errors, and the example script."""

import importlib.util
import math

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.pixel import (
    PixelRNN,
    complete,
    independent_baseline_bits,
    make_digits,
    nll_bits_per_pixel,
    sample,
)


@pytest.mark.parametrize("levels", [2, 3])
def test_pixel_rnn_gradcheck(levels):
    """Float64 central differences agree with backward for every parameter (BCE and cross-entropy heads)."""
    tg.manual_seed(1)
    m = PixelRNN(3, 3, levels=levels, hidden=2).double()
    imgs = np.random.default_rng(0).integers(0, levels, size=(2, 3, 3))
    params = list(m.parameters())

    def loss(*_ps):
        out = m.loss(imgs)
        assert out.dtype == np.float64
        return out

    assert tg.gradcheck(loss, params)


def test_prediction_is_causal():
    """Changing pixel i changes the logits only at steps > i (the input is shifted right by one)."""
    tg.manual_seed(0)
    m = PixelRNN(3, 4, levels=2, hidden=4)
    a = np.zeros((1, 3, 4), dtype=np.int64)
    b = a.copy()
    b[0, 1, 2] = 1  # raster index 6
    la, lb = m(a)[0].numpy()[:, 0, 0], m(b)[0].numpy()[:, 0, 0]
    assert np.array_equal(la[:7], lb[:7]) and not np.allclose(la[7:], lb[7:])


def test_independent_baseline_matches_hand_count():
    train = np.array([[[0, 1]], [[0, 1]], [[1, 1]]])  # pixel 0: one 1 in 3, pixel 1: always 1
    test = np.array([[[1, 1]]])
    # Laplace: p(x0 = 1) = (1 + 1) / (3 + 2), p(x1 = 1) = (3 + 1) / 5
    expect = -(math.log2(2 / 5) + math.log2(4 / 5)) / 2
    assert independent_baseline_bits(train, test) == pytest.approx(expect)
    with pytest.raises(ValueError, match="same H, W"):
        independent_baseline_bits(train, np.zeros((1, 2, 2), dtype=int))


def test_lstm_beats_independent_pixels_on_digits():
    """Fixed seeds: held-out bits/pixel at least 0.25 below the independent baseline (≈ 0.66 → ≈ 0.22)."""
    tg.manual_seed(0)
    imgs, labels = make_digits(700, rng=0)
    assert imgs.shape == (700, 8, 8) and set(np.unique(imgs)) == {0, 1} and labels.shape == (700,)
    assert np.array_equal(make_digits(5, rng=3)[0], make_digits(5, rng=3)[0])  # deterministic
    train, test = imgs[200:], imgs[:200]
    base = independent_baseline_bits(train, test, levels=2)
    m = PixelRNN(8, 8, levels=2, hidden=48)
    before = nll_bits_per_pixel(m, test)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    gen = np.random.default_rng(0)
    for _ in range(250):
        loss = m.loss(train[gen.integers(0, len(train), size=64)])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    after = nll_bits_per_pixel(m, test)
    assert 0.5 < base < 0.8 and before > 0.9
    assert after < base - 0.25, (after, base)


def test_sample_and_complete_shapes_seeds_and_kept_top_half():
    tg.manual_seed(0)
    m = PixelRNN(6, 5, levels=4, hidden=8)
    s = sample(m, 3, rng=7)
    assert s.shape == (3, 6, 5) and s.dtype == np.int64 and s.min() >= 0 and s.max() < 4
    assert np.array_equal(s, sample(m, 3, rng=7))  # same seed, same images
    assert not np.array_equal(s, sample(m, 3, rng=8))
    top = np.random.default_rng(0).integers(0, 4, size=(2, 3, 5))
    c = complete(m, top, rng=0)
    assert c.shape == (2, 6, 5) and np.array_equal(c[:, :3], top)
    assert m.training  # generation restores the training flag


def test_bad_inputs_raise_clear_errors():
    m = PixelRNN(4, 4, levels=2, hidden=3)
    with pytest.raises(ValueError, match=r"shape \(N, 4, 4\).*got \(2, 4, 5\)"):
        m.loss(np.zeros((2, 4, 5), dtype=int))
    with pytest.raises(ValueError, match=r"levels in \[0, 2\) for levels=2, got values in \[3, 3\]"):
        nll_bits_per_pixel(m, np.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match="non-integers"):
        m.loss(np.full((1, 4, 4), 0.5))
    with pytest.raises(ValueError, match=r"top_half must have shape \(N, r, 4\) with 0 < r < 4"):
        complete(m, np.zeros((1, 4, 4), dtype=int))
    with pytest.raises(ValueError, match="top_half must hold levels"):
        complete(m, np.full((1, 2, 4), 2))
    with pytest.raises(ValueError, match="levels must be an int >= 2"):
        PixelRNN(4, 4, levels=1)
    with pytest.raises(ValueError, match="mode must be one of"):
        PixelRNN(4, 4, mode="diagonal")
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        sample(m, 0)
    with pytest.raises(TypeError, match="must be a PixelRNN"):
        sample(nn.Linear(2, 2), 1)
    with pytest.raises(TypeError, match="make_digits: rng must be None, an int seed or a numpy Generator, got str"):
        make_digits(2, rng="seed")
    with pytest.raises(TypeError, match="complete: rng must be None"):
        complete(m, np.zeros((1, 2, 4), dtype=int), rng=1.5)


def test_rng_may_be_a_seed_a_generator_or_the_seeded_host_generator():
    images, labels = make_digits(4, rng=3)
    again, again_labels = make_digits(4, rng=np.random.default_rng(3))
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    tg.manual_seed(11)
    first = make_digits(4, rng=None)[0]
    tg.manual_seed(11)
    assert np.array_equal(first, make_digits(4, rng=None)[0])
    assert not np.array_equal(first, make_digits(4, rng=None)[0])  # the host generator moved on


def test_pixel_rnn_example_smoke(capsys):
    mod = load_example("pixel_rnn")
    res = mod.main(["--procedural", "--steps", "30", "--hidden", "16", "--n-images", "200", "--n-samples", "2"])
    out = capsys.readouterr().out
    assert res["source"] == "procedural" and res["samples"].shape == (2, 8, 8)
    assert res["completions"].shape == (2, 8, 8)
    assert res["bits_after"] < res["bits_before"]  # 30 steps already learn something
    assert "held-out bits/pixel" in out and "completions:" in out


def test_pixel_rnn_example_plot_flag(tmp_path, capsys):
    """--plot writes a PNG when matplotlib imports, otherwise says so and writes nothing."""
    mod = load_example("pixel_rnn")
    out = tmp_path / "grid.png"
    res = mod.main(["--procedural", "--steps", "2", "--hidden", "8", "--n-images", "50", "--plot", str(out)])
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in capsys.readouterr().out and not out.exists() and "plot" not in res
    else:
        assert res["plot"] == str(out) and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
