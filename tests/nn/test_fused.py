"""The fused sequence ops compute exactly what the composed cells compute, values and gradients."""

import numpy as np
import pytest
from layer_helpers import run_layer

import tinygrad_rnn as tg
from tinygrad_rnn import nn

VARIANTS = [
    (nn.RNN, {}),
    (nn.RNN, {"nonlinearity": "relu"}),
    (nn.LSTM, {}),
    (nn.GRU, {}),
    (nn.LSTM, {"num_layers": 2, "bidirectional": True}),
    (nn.GRU, {"bidirectional": True, "bias": False}),
    (nn.RNN, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
]


_run = run_layer


@pytest.mark.parametrize("cls,kw", VARIANTS)
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_fused_equals_composed(cls, kw, lengths):
    tg.set_default_dtype("float64")
    layer = cls(3, 4, **kw)
    rng = np.random.default_rng(0)
    shape = (3, 5, 3) if kw.get("batch_first") else (5, 3, 3)
    x = rng.standard_normal(shape)
    with nn.use_fused(False):
        ref = _run(layer, x, lengths, None)
    got = _run(layer, x, lengths, None)
    assert len(ref) == len(got)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_fused_gradcheck_with_initial_state_and_lengths(cls):
    tg.set_default_dtype("float64")
    layer = cls(2, 3, bidirectional=True, fused=True)
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = tg.Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    state = (h0, tg.Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)) if cls is nn.LSTM else h0

    def fn(x, *_):
        out, h = layer(x, state, lengths=[4, 2])
        return out, *(h if isinstance(h, tuple) else (h,))

    extra = list(state) if isinstance(state, tuple) else [state]
    assert tg.gradcheck(fn, [x, *extra, *layer.parameters()])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_second_derivatives_through_a_fused_layer(cls):
    """create_graph=True differentiates the composed definition, so gradient penalties work when fused."""
    tg.set_default_dtype("float64")
    layer = cls(2, 2, fused=True)
    x = tg.Tensor(np.random.default_rng(2).standard_normal((3, 1, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda x: layer(x)[0], [x])
    loss = (layer(x)[0] ** 2).sum()
    (g,) = tg.grad(loss, x, create_graph=True)
    with nn.use_fused(False):
        loss_c = (layer(x)[0] ** 2).sum()
        (g_c,) = tg.grad(loss_c, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_c.numpy(), rtol=1e-10)
    (gg,) = tg.grad((g * g).sum(), x)
    (gg_c,) = tg.grad((g_c * g_c).sum(), x)
    np.testing.assert_allclose(gg.numpy(), gg_c.numpy(), rtol=1e-8)


def test_fused_switch_and_per_layer_override():
    layer = nn.LSTM(2, 3)
    x = tg.randn(4, 1, 2)
    assert type(layer(x)[0].grad_fn).__name__ == "LSTMSequence"
    with nn.use_fused(False):
        assert type(layer(x)[0].grad_fn).__name__ == "Stack"
        assert type(nn.LSTM(2, 3, fused=True)(x)[0].grad_fn).__name__ == "LSTMSequence"
    assert type(nn.LSTM(2, 3, fused=False)(x)[0].grad_fn).__name__ == "Stack"
    # variants without a fused kernel run composed
    assert type(nn.LSTM(2, 3, proj_size=2)(x)[0].grad_fn).__name__ == "Stack"
    assert type(nn.GRU(2, 3, reset_after=False)(x)[0].grad_fn).__name__ == "Stack"


def test_fused_float32_stays_float32_and_frees_its_buffers():
    layer = nn.GRU(3, 4)
    x = tg.randn(6, 2, 3, requires_grad=True)
    out, h = layer(x)
    assert out.dtype == np.float32 and h.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    with pytest.raises(RuntimeError, match="retain_graph"):
        out.sum().backward()  # its saved activations were released


def test_drawing_a_fused_layer_shows_the_unfolded_steps():
    layer = nn.RNN(2, 3)
    out, h = layer(tg.randn(4, 1, 2))
    g = tg.graph.graph(h.sum(), params=layer)
    steps = {s for n in g.nodes.values() for s in n.scope if s.startswith("t=")}
    assert steps == {"t=1", "t=2", "t=3", "t=4"}
    boxed = tg.graph.build(h.sum(), params=layer, expand_fused=False)
    assert [n.op for n in boxed.nodes.values() if n.kind == "op"].count("RNNSequence") == 1


def _initial_state(cls, kind, rng):
    """(state to pass, tensors whose gradient to compare) for an initial state of the given kind."""
    shape = (2, 3, 4)  # (layers * directions, N, H)
    make = (lambda: np.zeros(shape)) if kind.startswith("zero") else (lambda: rng.standard_normal(shape))
    grad = kind.endswith("grad")
    parts = [tg.Tensor(make(), requires_grad=grad) for _ in range(2 if cls is nn.LSTM else 1)]
    return (tuple(parts) if cls is nn.LSTM else parts[0]), (parts if grad else [])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("kind", ["zero", "zero+grad", "random", "random+grad"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_fused_initial_state_shortcuts_match_composed(cls, kind, lengths):
    # a zero h_0 skips the first recurrent product, and a h_0 that needs no gradient skips the last
    # one of the backward: neither may change a value or a gradient
    tg.set_default_dtype("float64")
    layer = cls(3, 4, bidirectional=True)
    x = np.random.default_rng(2).standard_normal((5, 3, 3))
    results = []
    for fused in (False, True):
        state, tracked = _initial_state(cls, kind, np.random.default_rng(3))
        with nn.use_fused(fused):
            got = _run(layer, x, lengths, state)
        results.append(got + [t.grad.numpy() for t in tracked])
    ref, got = results
    n_state = 2 if cls is nn.LSTM else 1
    assert len(ref) == len(got) == 1 + n_state + 1 + 8 + (n_state if kind.endswith("grad") else 0)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("chunk_steps", [1, 2, 3])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_lstm_backward_in_chunks_of_steps_matches_composed(monkeypatch, chunk_steps, lengths):
    # the LSTM backward computes its derivative factors a few steps at a time; force chunks of 1, 2
    # and 3 of the 5 steps (the last one partial) in both directions
    from tinygrad_rnn import kernels
    from tinygrad_rnn.kernels import array_loops as recurrent

    tg.set_default_dtype("float64")
    layer = nn.LSTM(3, 4, bidirectional=True)
    x = np.random.default_rng(4).standard_normal((5, 3, 3))
    with nn.use_fused(False):
        ref = _run(layer, x, lengths, None)
    step_bytes = 3 * 4 * 4 * 8  # N * 4H * itemsize
    monkeypatch.setattr(recurrent, "CHUNK_BYTES", chunk_steps * step_bytes)
    # the policy: chunks of CHUNK_BYTES on the CPU, all T steps at once on a GPU
    assert recurrent._chunk_steps(5, step_bytes) == (chunk_steps if tg.backend.name == "numpy" else 5)
    # the chunked loop itself, on every backend
    monkeypatch.setattr(recurrent, "_chunk_steps", lambda T, step_bytes: min(T, chunk_steps))
    with kernels.use("numpy"):  # the chunks are the array loops' (the compiled loops need no factors)
        got = _run(layer, x, lengths, None)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
