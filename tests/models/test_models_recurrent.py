"""Sequence architectures in ``tinygrad_rnn.models``: the output-recurrent (Jordan) network and the residual
stacked RNN. Float64 gradchecks, exact equivalences, input errors, and fixed-seed learning tests."""

import re

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.deep import StackedRNN
from tinygrad_rnn.models.output_recurrent import OutputRecurrentRNN


def _f64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---- OutputRecurrentRNN: gradients and semantics ---------------------------------------------------------
@pytest.mark.parametrize("mode", ["teacher", "free", "scheduled"])
def test_output_recurrent_gradcheck(mode):
    """Jacobians w.r.t. x, y_prev and every parameter match central differences in float64, for the
    decoupled teacher-forced path, the BPTT-through-outputs free-running path and scheduled sampling."""
    tg.set_default_dtype("float64")
    m = OutputRecurrentRNN(2, 3, 2)
    x, yp = _f64(3, 2, 2, seed=1), _f64(3, 2, 2, seed=2)
    params = list(m.parameters())

    def fn(x, yp, *_):
        if mode == "scheduled":
            tg.manual_seed(5)  # the same Bernoulli draws on every call, or differences are meaningless
            return m(x, yp, sampling_prob=0.5)
        return m(x, yp, teacher_forcing=mode == "teacher")

    assert tg.gradcheck(fn, [x, yp, *params])


def test_output_recurrent_teacher_forcing_decouples_steps_and_free_running_feeds_back():
    tg.set_default_dtype("float64")
    m = OutputRecurrentRNN(2, 4, 3)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 2)))
    yp = np.random.default_rng(1).standard_normal((5, 2, 3))
    bumped = yp.copy()
    bumped[2] += 1.0
    tf = m(x, tg.Tensor(yp)).numpy()
    tf2 = m(x, tg.Tensor(bumped)).numpy()
    changed = np.abs(tf2 - tf).max(axis=(1, 2)) > 0
    assert changed.tolist() == [False, False, True, False, False]  # y_prev[2] only reaches step 2

    fr = m(x, tg.Tensor(yp), teacher_forcing=False).numpy()
    assert np.array_equal(fr, m(x, tg.Tensor(bumped), teacher_forcing=False).numpy())  # only y_prev[0] used
    # free running by hand: o_t fed back as y_t
    y, outs = yp[0], []
    W_x, b = m.in_proj.weight.numpy(), m.in_proj.bias.numpy()
    W_y, W_o, c = m.out_proj.weight.numpy(), m.head.weight.numpy(), m.head.bias.numpy()
    for t in range(5):
        a = np.tanh(x.numpy()[t] @ W_x.T + y @ W_y.T + b)
        y = a @ W_o.T + c
        outs.append(y)
    np.testing.assert_allclose(fr, np.stack(outs), atol=1e-12)
    # scheduled sampling interpolates: p = 1 is free running, p → 0 is teacher forcing
    np.testing.assert_allclose(m(x, tg.Tensor(yp), sampling_prob=1.0).numpy(), fr, atol=1e-12)
    np.testing.assert_allclose(m(x, tg.Tensor(yp), sampling_prob=1e-12).numpy(), tf, atol=1e-12)
    mixed = m(x, tg.Tensor(yp), sampling_prob=0.5).numpy()
    assert not np.allclose(mixed, tf) and not np.allclose(mixed, fr)


def test_output_recurrent_errors():
    m = OutputRecurrentRNN(2, 3, 1)
    x, yp = tg.randn(4, 2, 2), tg.randn(4, 2, 1)
    with pytest.raises(ValueError, match=r"expected input \(T, N, input_size=2\).*\(4, 2, 3\)"):
        m(tg.randn(4, 2, 3), yp)
    with pytest.raises(ValueError, match="expected input"):
        m(tg.randn(4, 2), yp)
    with pytest.raises(ValueError, match="teacher_forcing=True needs y_prev"):
        m(x)
    with pytest.raises(ValueError, match=r"y_prev must have shape .*\(4, 2, 1\).*got \(3, 2, 1\)"):
        m(x, tg.randn(3, 2, 1))
    with pytest.raises(ValueError, match=r"sampling_prob must be in \[0, 1\]"):
        m(x, yp, sampling_prob=1.5)
    with pytest.raises(ValueError, match="needs teacher_forcing=True"):
        m(x, yp, teacher_forcing=False, sampling_prob=0.3)
    with pytest.raises(TypeError, match="y_prev dtype float64 != input dtype float32"):
        m(x, yp.double())
    with pytest.raises(TypeError, match="input must be a Tensor"):
        m(np.zeros((4, 2, 2)), yp)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        OutputRecurrentRNN(2, 0, 1)
    assert m(x, teacher_forcing=False).shape == (4, 2, 1)  # free running without y_prev starts from y_0 = 0


# ---- StackedRNN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cell,bidirectional,residual",
    [("rnn", False, True), ("gru", True, True), ("lstm", True, False), ("lstm", False, True)],
)
def test_stacked_gradcheck(cell, bidirectional, residual):
    tg.set_default_dtype("float64")
    H = 2
    I = 2 * H if bidirectional else H  # input width = output width, so level 0 has a skip too when residual
    m = StackedRNN(I, H, num_layers=2, cell=cell, bidirectional=bidirectional, residual=residual)
    assert m.skip == [residual, residual]
    x = _f64(3, 2, I, seed=3)

    def fn(x, *_):
        out, state = m(x, lengths=[3, 2])
        return (out, *state) if cell == "lstm" else (out, state)

    assert tg.gradcheck(fn, [x, *m.parameters()])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stacked_without_residual_equals_multilayer_nn_rnn(cell):
    """Without skips, the stack is exactly nn.RNN/LSTM/GRU(num_layers=3): the same weights give the same
    outputs and final states (level l's weight_ih_l0 is the multi-layer module's weight_ih_l{l})."""
    tg.set_default_dtype("float64")
    m = StackedRNN(3, 4, num_layers=3, cell=cell, bidirectional=True)
    ref = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](3, 4, num_layers=3, bidirectional=True)
    # "layer2.weight_ih_l0_reverse" -> "weight_ih_l2_reverse"
    sd = {re.sub(r"^layer(\d+)\.(\w+)_l0", r"\2_l\1", k): v for k, v in m.state_dict().items()}
    ref.load_state_dict(sd)
    x = tg.randn(5, 2, 3)
    out, st = m(x, lengths=[5, 3])
    rout, rst = ref(x, lengths=[5, 3])
    np.testing.assert_allclose(out.numpy(), rout.numpy(), atol=1e-12)
    for a, b in zip(st if cell == "lstm" else (st,), rst if cell == "lstm" else (rst,)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_stacked_residual_adds_the_level_input_and_keeps_padding_zero():
    tg.set_default_dtype("float64")
    m = StackedRNN(3, 3, num_layers=2, cell="gru", residual=True)
    plain = StackedRNN(3, 3, num_layers=2, cell="gru", residual=False)
    plain.load_state_dict(m.state_dict())
    x = tg.randn(4, 2, 3)
    out, _ = m(x, lengths=[4, 2])
    h0, _ = m.layer0(x, lengths=[4, 2])
    x1 = h0.numpy() + x.numpy() * (np.arange(4)[:, None, None] < np.array([4, 2])[None, :, None])
    h1, _ = m.layer1(tg.Tensor(x1), lengths=[4, 2])
    np.testing.assert_allclose(out.numpy(), h1.numpy() + x1, atol=1e-12)  # x_{l+1} = layer_l(x_l) + x_l
    assert np.all(out.numpy()[2:, 1] == 0)  # padded steps stay zero
    assert not np.allclose(out.numpy(), plain(x, lengths=[4, 2])[0].numpy())
    # a first level whose width differs gets no skip (no identity exists between different sizes)
    assert StackedRNN(5, 3, num_layers=3, cell="rnn", residual=True).skip == [False, True, True]


def test_stacked_errors():
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm', 'rnn'\], got 'transformer'"):
        StackedRNN(2, 3, cell="transformer")
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        StackedRNN(2, 3, num_layers=0)
    m = StackedRNN(2, 3)
    with pytest.raises(ValueError, match=r"expected input \(T, N, input_size=2\), got shape \(4, 3\)"):
        m(tg.randn(4, 3))
    with pytest.raises(ValueError, match=r"every length must be in \[1, T=4\]"):
        m(tg.randn(4, 2, 2), lengths=[4, 5])


# ---- learning ----------------------------------------------------------------------------------------------
def _periodic_batch(rng, n, T, noise=0.05):
    """A noisy rotation: y_t = (sin θ_t, cos θ_t) + noise, θ_t = 2πt/P + φ, the period P ∈ [6, 12] given as a
    constant input. y_t follows from y_{t-1} and P alone, so the Jordan net's output is a sufficient state."""
    P, phi = rng.uniform(6, 12, n), rng.uniform(0, 2 * np.pi, n)
    theta = 2 * np.pi * np.arange(T + 1)[:, None] / P + phi
    s = np.stack([np.sin(theta), np.cos(theta)], -1) + noise * rng.standard_normal((T + 1, n, 2))
    x = np.broadcast_to(((P - 9) / 3)[None, :, None], (T, n, 1))
    return tuple(tg.Tensor(a.astype(np.float32)) for a in (x, s[:-1], s[1:]))  # x, y_prev, targets


def test_output_recurrent_learns_periodic_signal_with_teacher_forcing():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    m = OutputRecurrentRNN(1, 32, 2)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(400):
        x, yp, y = _periodic_batch(rng, 32, 20)
        loss = F.mse_loss(m(x, yp), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, yp, y = _periodic_batch(np.random.default_rng(99), 200, 20)  # held-out sequences
    with tg.no_grad():
        tf = float(((m(x, yp).numpy() - y.numpy()) ** 2).mean())
        fr = float(((m(x, yp, teacher_forcing=False).numpy() - y.numpy()) ** 2).mean())
    print(f"teacher-forced MSE {tf:.4f}, free-running MSE {fr:.4f}")
    # noise floor ≈ 2·0.05² = 0.005 (noisy target and noisy fed-back target); predicting 0 gives ≈ 0.5
    assert tf < 0.008, tf
    assert np.isfinite(fr) and tf < fr < 0.1, (tf, fr)  # its own errors compound, but it keeps the rhythm


def _local_max_batch(rng, n, T, V=10):
    """Integers in [0, V), one-hot; label 1 where x_t > x_{t-1} and x_t > x_{t+1} (outside counts as -1)."""
    ids = rng.integers(0, V, (T, n))
    full = np.concatenate([np.full((1, n), -1), ids, np.full((1, n), -1)])
    labels = ((full[1:-1] > full[:-2]) & (full[1:-1] > full[2:])).astype(np.int64)
    return tg.Tensor(np.eye(V, dtype=np.float32)[ids]), labels


def _tagger_accuracy(bidirectional, residual, num_layers, steps=200):
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    rnn = StackedRNN(10, 16, num_layers=num_layers, cell="gru", bidirectional=bidirectional, residual=residual)
    head = nn.Linear(rnn.output_size, 2)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-2)
    for _ in range(steps):
        x, labels = _local_max_batch(rng, 16, 12)
        loss = F.cross_entropy(head(rnn(x)[0]).reshape(-1, 2), labels.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    x, labels = _local_max_batch(np.random.default_rng(7), 500, 12)
    with tg.no_grad():
        return float((head(rnn(x)[0]).numpy().argmax(-1) == labels).mean())


def test_local_maximum_tagger_needs_the_future():
    """The label at t depends on x_{t+1}: a causal tagger can at best guess (x_t ≥ 6 beats a uniform
    neighbour more often than not), which caps it near 0.875; reading both ways solves it."""
    acc_uni = _tagger_accuracy(False, False, 1)
    acc_bi = _tagger_accuracy(True, False, 1)
    acc_res = _tagger_accuracy(True, True, 2)
    print(f"unidirectional {acc_uni:.3f}, bidirectional {acc_bi:.3f}, 2-level residual bidirectional {acc_res:.3f}")
    assert acc_uni <= 0.9, acc_uni
    assert acc_bi >= 0.96, acc_bi
    assert acc_res >= 0.97, acc_res
    assert acc_bi - acc_uni >= 0.08, (acc_bi, acc_uni)


# ---- the examples run end to end with small settings -------------------------------------------------------
def _example(name):
    return load_example(name)


def test_teacher_forcing_example(capsys):
    res = _example("teacher_forcing").main(["--steps", "150", "--test-length", "20"])
    assert res["teacher_forced_mse"] < 0.02, res
    assert np.isfinite(res["free_running_mse"]) and res["free_running_mse"] > res["teacher_forced_mse"], res
    out = capsys.readouterr().out
    assert "held-out teacher-forced MSE" in out and "held-out free-running   MSE" in out


def test_bidirectional_tagger_example(capsys):
    res = _example("bidirectional_tagger").main(
        ["--steps", "100", "--length", "12", "--batch", "16", "--residual-layers", "2"]
    )
    assert res["bidirectional GRU"] >= 0.93 and res["forward-only GRU"] <= 0.9, res
    assert res["2-level residual bi-GRU"] >= 0.95, res
    assert "held-out per-step accuracy" in capsys.readouterr().out
