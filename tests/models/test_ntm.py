"""Neural Turing Machine (tinygrad_rnn.models.ntm): gradients, addressing vs NumPy, memory writes, learning."""

from __future__ import annotations

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.ntm import (
    EPS,
    NTM,
    address,
    circular_shift,
    content_addressing,
    cosine_similarity,
    interpolate,
    read_memory,
    sharpen,
    write_memory,
)
from tinygrad_rnn.nn.losses import binary_cross_entropy_with_logits


def _t(a: np.ndarray, grad: bool = False) -> tg.Tensor:
    return tg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _simplex(rng: np.random.Generator, *shape: int) -> np.ndarray:
    w = rng.random(shape) + 0.05
    return w / w.sum(-1, keepdims=True)


# ---- reference NumPy implementations, written from the paper's equations, loop by loop -----------------
def np_cosine(k: np.ndarray, mem: np.ndarray, eps: float = EPS) -> np.ndarray:
    B, N, _ = mem.shape
    out = np.zeros((B, N))
    for b in range(B):
        for i in range(N):
            out[b, i] = k[b] @ mem[b, i] / (np.sqrt(k[b] @ k[b] + eps) * np.sqrt(mem[b, i] @ mem[b, i] + eps))
    return out


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_shift(w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """w̃_i = Σ_j w_j s((i − j) mod N), with s indexed by shift d ∈ (−1, 0, +1)."""
    B, N = w.shape
    out = np.zeros_like(w)
    for b in range(B):
        for i in range(N):
            for j in range(N):
                for col, d in enumerate((-1, 0, 1)):
                    if (i - j) % N == d % N:
                        out[b, i] += w[b, j] * s[b, col]
    return out


def np_sharpen(w: np.ndarray, gamma: np.ndarray, eps: float = EPS) -> np.ndarray:
    p = (w + eps) ** gamma
    return p / p.sum(-1, keepdims=True)


# ---- gradients ----------------------------------------------------------------------------------------
def test_gradcheck_through_three_steps_wrt_inputs_and_every_parameter():
    tg.manual_seed(1)
    model = NTM(2, 2, controller_size=3, memory_slots=3, memory_width=2, read_heads=1, write_heads=1).double()
    x = _t(np.random.default_rng(0).standard_normal((3, 2, 2)), grad=True)
    params = list(model.parameters())
    # NTM params: controller (4), one read head (2), one write head (2), output (2), memory_init
    assert len(params) == 11 and any(p is model.memory_init for p in params)
    # gradcheck perturbs each tensor's data in place, so the closure can read the parameters from the model
    assert tg.gradcheck(lambda x, *_: model(x), [x, *params], atol=1e-6, rtol=1e-4)


def test_gradcheck_with_two_read_and_two_write_heads_and_returned_weights():
    tg.manual_seed(2)
    model = NTM(1, 1, controller_size=2, memory_slots=3, memory_width=2, read_heads=2, write_heads=2).double()
    x = _t(np.random.default_rng(1).standard_normal((2, 1, 1)), grad=True)
    params = list(model.parameters())
    assert tg.gradcheck(lambda x, *_: model(x, return_weights=True)[1]["write"], [x, *params], atol=1e-6, rtol=1e-4)


def test_cosine_of_zero_key_and_zero_memory_is_finite_with_finite_gradients():
    k = _t(np.zeros((1, 2)), grad=True)
    mem = _t(np.zeros((1, 3, 2)), grad=True)
    w = content_addressing(k, _t([[5.0]]), mem)
    (w * _t([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.allclose(w.numpy(), 1 / 3)  # nothing to match: uniform, not NaN
    assert np.isfinite(k.grad.numpy()).all() and np.isfinite(mem.grad.numpy()).all()


# ---- addressing against NumPy -----------------------------------------------------------------------------
def test_cosine_and_content_addressing_match_numpy(rng):
    k, mem, beta = rng.standard_normal((2, 4)), rng.standard_normal((2, 5, 4)), np.array([[0.5], [3.0]])
    np.testing.assert_allclose(cosine_similarity(_t(k), _t(mem)).numpy(), np_cosine(k, mem), rtol=1e-12)
    wc = content_addressing(_t(k), _t(beta), _t(mem)).numpy()
    np.testing.assert_allclose(wc, np_softmax(beta * np_cosine(k, mem)), rtol=1e-12)
    # the row equal to the key (cosine 1) gets the most weight, more so for a stronger β
    mem[:, 2] = k
    wc = content_addressing(_t(k), _t(beta), _t(mem)).numpy()
    assert (wc.argmax(-1) == 2).all() and wc[1, 2] > wc[0, 2]


def test_interpolation_matches_numpy_and_gate_extremes(rng):
    wc, wp, g = _simplex(rng, 3, 4), _simplex(rng, 3, 4), np.array([[0.0], [0.3], [1.0]])
    out = interpolate(_t(wc), _t(wp), _t(g)).numpy()
    np.testing.assert_allclose(out, g * wc + (1 - g) * wp, rtol=1e-12)
    np.testing.assert_allclose(out[0], wp[0]), np.testing.assert_allclose(out[2], wc[2])
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-12)


def test_circular_shift_matches_numpy_convolution_and_wraps(rng):
    w, s = _simplex(rng, 2, 5), _simplex(rng, 2, 3)
    np.testing.assert_allclose(circular_shift(_t(w), _t(s)).numpy(), np_shift(w, s), rtol=1e-12)
    # a one-hot focus on the last slot, shifted by +1, wraps around to slot 0; by −1 it moves to slot 3
    onehot = np.eye(5)[[4, 4]]
    moved = circular_shift(_t(onehot), _t([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])).numpy()
    np.testing.assert_array_equal(moved, np.eye(5)[[0, 3]])


def test_sharpening_matches_numpy_and_focuses(rng):
    w, gamma = _simplex(rng, 2, 6), np.array([[1.0], [4.0]])
    out = sharpen(_t(w), _t(gamma)).numpy()
    np.testing.assert_allclose(out, np_sharpen(w, gamma), rtol=1e-12)
    np.testing.assert_allclose(out[0], w[0], atol=1e-5)  # γ = 1 leaves a distribution as is
    assert out[1].max() > w[1].max() and out[1].argmax() == w[1].argmax()  # γ > 1 sharpens the same peak
    # a large γ (Σ w̃^γ ≈ 1e-26 here) still gives a distribution, concentrated on the peak
    hard = sharpen(_t(w), _t([[50.0], [50.0]])).numpy()
    np.testing.assert_allclose(hard.sum(-1), 1.0, rtol=1e-12)
    assert hard.max(-1).min() > 0.9 and (hard.argmax(-1) == w.argmax(-1)).all()


def test_full_addressing_gives_distributions_and_matches_numpy(rng):
    B, N, M = 4, 7, 3
    k, mem = rng.standard_normal((B, M)), rng.standard_normal((B, N, M))
    beta, g, gamma = rng.random((B, 1)) * 5, rng.random((B, 1)), 1 + rng.random((B, 1)) * 3
    s, wp = _simplex(rng, B, 3), _simplex(rng, B, N)
    w = address(_t(k), _t(beta), _t(g), _t(s), _t(gamma), _t(wp), _t(mem)).numpy()
    ref = np_sharpen(np_shift(g * np_softmax(beta * np_cosine(k, mem)) + (1 - g) * wp, s), gamma)
    np.testing.assert_allclose(w, ref, rtol=1e-10)
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


# ---- memory ---------------------------------------------------------------------------------------------------
def test_full_erase_at_a_one_hot_location_clears_exactly_that_row(rng):
    mem = rng.standard_normal((2, 4, 3))
    w = np.eye(4)[[1, 3]]
    out = write_memory(_t(mem), [_t(w)], [_t(np.ones((2, 3)))], [_t(np.zeros((2, 3)))]).numpy()
    assert (out[0, 1] == 0).all() and (out[1, 3] == 0).all()
    keep = np.ones((2, 4), bool)
    keep[0, 1] = keep[1, 3] = False
    np.testing.assert_array_equal(out[keep], mem[keep])
    # erase then add replaces the row with a; reading it back with the same weighting returns a
    a = rng.standard_normal((2, 3))
    out = write_memory(_t(mem), [_t(w)], [_t(np.ones((2, 3)))], [_t(a)])
    np.testing.assert_allclose(read_memory(_t(w), out).numpy(), a, rtol=1e-12)


def test_write_matches_numpy_for_soft_weights(rng):
    mem, w, e, a = rng.standard_normal((2, 4, 3)), _simplex(rng, 2, 4), rng.random((2, 3)), rng.standard_normal((2, 3))
    out = write_memory(_t(mem), [_t(w)], [_t(e)], [_t(a)]).numpy()
    ref = mem * (1 - w[:, :, None] * e[:, None, :]) + w[:, :, None] * a[:, None, :]
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_allclose(read_memory(_t(w), _t(mem)).numpy(), np.einsum("bn,bnm->bm", w, mem), rtol=1e-12)


def test_forward_shapes_and_weightings_are_distributions():
    model = NTM(3, 2, controller_size=5, memory_slots=6, memory_width=4, read_heads=2, write_heads=1)
    x = tg.randn(7, 3, 3)
    y, w = model(x, return_weights=True)
    assert y.shape == (7, 3, 2) and w["read"].shape == (7, 3, 2, 6) and w["write"].shape == (7, 3, 1, 6)
    for kind in ("read", "write"):
        assert (w[kind].numpy() >= 0).all()
        np.testing.assert_allclose(w[kind].numpy().sum(-1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(model(x).numpy(), y.numpy())  # return_weights changes nothing else
    assert "memory_slots=6" in repr(model)


# ---- errors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"memory_slots": 0}, "memory_slots must be a positive int"),
        ({"memory_width": 2.5}, "memory_width must be a positive int"),
        ({"read_heads": 0}, "read_heads must be a positive int"),
        ({"controller_size": True}, "controller_size must be a positive int"),
        ({"eps": 0.0}, "eps must be > 0"),
    ],
)
def test_bad_constructor_arguments(kwargs, msg):
    args = {"input_size": 2, "output_size": 2, "controller_size": 4, "memory_slots": 3, "memory_width": 2}
    with pytest.raises(ValueError, match=msg):
        NTM(**{**args, **kwargs})


def test_bad_inputs_are_rejected_with_clear_messages():
    model = NTM(3, 2, controller_size=4, memory_slots=3, memory_width=2)
    with pytest.raises(ValueError, match=r"expected input \(T, B, 3\), got \(5, 3\)"):
        model(tg.randn(5, 3))
    with pytest.raises(ValueError, match=r"expected input \(T, B, 3\), got \(5, 2, 4\)"):
        model(tg.randn(5, 2, 4))
    with pytest.raises(ValueError, match="empty time or batch axis"):
        model(tg.zeros(0, 2, 3))
    with pytest.raises(TypeError, match="input dtype float64 != parameter dtype float32"):
        model(tg.randn(2, 2, 3).double())
    with pytest.raises(ValueError, match="expected input"):
        model(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r"s must be \(B=2, 3\)"):
        circular_shift(_t(np.ones((2, 4)) / 4), _t(np.ones((2, 4)) / 4))
    with pytest.raises(ValueError, match="one erase and one add per weighting"):
        write_memory(_t(np.zeros((1, 3, 2))), [_t(np.ones((1, 3)) / 3)], [], [])


# ---- learning --------------------------------------------------------------------------------------------------
def _copy_batch(rng: np.random.Generator, batch: int, length: int, width: int) -> tuple:
    x = np.zeros((2 * length + 1, batch, width + 1), np.float32)
    bits = rng.integers(0, 2, (length, batch, width)).astype(np.float32)
    x[:length, :, :width] = bits
    x[length, :, width] = 1.0
    return tg.tensor(x), bits


def test_ntm_learns_the_copy_task_for_short_sequences():
    """Lengths 1..3 of width 3 (chance: 1.5 wrong bits per vector, 4.5 per length-3 sequence). With seed 0,
    1500 steps (≈ 12 s idle) give 0 / 0 / 0.005 wrong bits per sequence at lengths 1 / 2 / 3 (0.29 at
    length 3 after 1200 steps); the bar, under 0.5 at every length, leaves a wide margin."""
    width = 3
    rng = np.random.default_rng(0)
    model = NTM(width + 1, width, controller_size=32, memory_slots=8, memory_width=6)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=1e-2)
    for _ in range(1500):
        L = int(rng.integers(1, 4))
        x, bits = _copy_batch(rng, 16, L, width)
        loss = binary_cross_entropy_with_logits(model(x)[L + 1 :], tg.tensor(bits))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    for L in (1, 2, 3):
        x, bits = _copy_batch(np.random.default_rng(100 + L), 200, L, width)
        with tg.no_grad():
            logits = model(x).numpy()[L + 1 :]
        errors = float(np.mean(((logits > 0) != (bits > 0.5)).sum(axis=(0, 2))))
        assert errors < 0.5, (L, errors)


# ---- example -------------------------------------------------------------------------------------------------
def test_example_runs_and_reports_both_models(capsys):
    mod = load_example("ntm_copy")
    res = mod.main(
        [
            "--steps",
            "2",
            "--batch",
            "2",
            "--width",
            "2",
            "--max-len",
            "2",
            "--slots",
            "4",
            "--mem-width",
            "2",
            "--controller",
            "4",
            "--test",
            "5",
        ]
    )
    assert set(res["bit_errors"]) == {"ntm", "lstm"}
    assert all(set(r) == {1, 2, 3, 4, 5} for r in res["bit_errors"].values())  # test lengths up to max-len + 3
    assert all(0.0 <= e <= 2 * L for r in res["bit_errors"].values() for L, e in r.items())
    p = res["params"]
    assert abs(p["ntm"] - p["lstm"]) / p["ntm"] < 0.25  # "of similar parameter count"
    out = capsys.readouterr().out
    assert "NTM" in out and "LSTM" in out and "step     2/2" in out
    with pytest.raises(SystemExit):
        mod.main(["--steps", "0"])
