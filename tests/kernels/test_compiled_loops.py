"""The kernels' loops called directly: every kernel set against the array loops on NumPy (the
reference), over every flag (direction, mask, output gradient, initial-state gradient), in float64 to
1e-12 and in float32 within the fast tanh's error; and through the layers against the composed path."""

import numpy as np
import pytest
from kernel_sets import KERNEL_SETS
from layer_helpers import run_layer

import tinygrad_rnn as tg
from tinygrad_rnn import kernels, nn
from tinygrad_rnn.kernels import array_loops
from tinygrad_rnn.kernels.gates import gru_scale, lstm_scale

NUMBA = "numba" in KERNEL_SETS  # False on the stand-in pass too, where conftest.py leaves these tests out


def _loops(name):
    with kernels.use(name):
        return kernels.for_dtype(np.dtype("float64"))


def _case(cell, T, N, H, dtype, seed, masked):
    """Random loop inputs: scaled pre-activations, weights, an initial state, a mask."""
    rng = np.random.default_rng(seed)
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell] * H
    acts = rng.standard_normal((T, N, G)).astype(dtype)
    w = (rng.standard_normal((G, H)) / np.sqrt(H)).astype(dtype)  # W_hh, PyTorch's layout
    h0 = rng.standard_normal((N, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, N)
    mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None] if masked else None
    return acts, w, h0, mask


def _forward(loops, cell, acts, w, h0, mask, reverse, skip, relu=False):
    T, N, G = acts.shape
    H = w.shape[1]
    acts = acts.copy()
    hs = np.empty((T + 1, N, H), acts.dtype)
    first = T if reverse else 0
    hs[first] = 0 if skip else h0
    op = loops.operand
    if cell == "lstm":
        scale, _ = lstm_scale(H, acts.dtype)
        cs = np.empty_like(hs)
        cs[first] = h0[:, ::-1]
        tc = np.empty((T, N, H), acts.dtype)
        loops.lstm_forward(acts, np.ascontiguousarray(w.T * scale), hs, cs, tc, op(mask), reverse, skip)
        return acts, hs, cs, tc
    if cell == "gru":
        scale, _ = gru_scale(H, acts.dtype)
        b_hn = np.linspace(-1, 1, H).astype(acts.dtype)
        hn = np.empty((T, N, H), acts.dtype)
        loops.gru_forward(acts, np.ascontiguousarray(w.T * scale), b_hn, hs, hn, op(mask), reverse, skip)
        return acts, hs, hn
    loops.rnn_forward(acts, np.ascontiguousarray(w.T), hs, op(mask), reverse, skip, relu)
    return (hs,)


def _backward(loops, cell, saved, w, g_out, mask, reverse, full, relu=False):
    N, H = saved[0 if cell == "rnn" else 1].shape[1:]
    rng = np.random.default_rng(7)
    dh = rng.standard_normal((N, H)).astype(w.dtype)
    op = loops.operand
    if cell == "lstm":
        acts, hs, cs, tc = saved
        dc = rng.standard_normal((N, H)).astype(w.dtype)
        return loops.lstm_backward(acts, hs, cs, tc, w, op(g_out), dh, dc, op(mask), reverse, full)
    if cell == "gru":
        acts, hs, hn = saved
        return loops.gru_backward(acts, hs, hn, w, op(g_out), dh, op(mask), reverse, full)
    return loops.rnn_backward(saved[0], w, op(g_out), dh, op(mask), reverse, full, relu)


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn-relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("flags", ["g_out+full", "g_out", "none+full"])
def test_compiled_loops_equal_the_array_loops(cell, dtype, reverse, masked, skip, flags):
    relu = cell == "rnn-relu"
    base = cell.split("-")[0]
    acts, w, h0, mask = _case(base, 6, 3, 5, dtype, 0, masked)
    full = flags.endswith("full")
    g_out = None
    if flags.startswith("g_out"):
        g_out = np.random.default_rng(3).standard_normal((6, 3, 5)).astype(dtype)
    results = []
    for name in ("numpy", "numba"):
        loops = _loops(name)
        saved = _forward(loops, base, acts, w, h0, mask, reverse, skip, relu)
        grads = _backward(loops, base, saved, w, g_out, mask, reverse, full, relu)
        if not full:  # the initial-state gradients are not computed then
            grads = grads[:-2] if base == "lstm" else grads[:-1]
        results.append(list(saved) + list(grads))
    tol = 1e-12 if dtype == "float64" else 5e-6
    for ref, got in zip(*results):
        assert got.dtype == ref.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
def test_compiled_loops_with_an_empty_batch_and_one_step():
    for shape in ((1, 2, 3), (4, 0, 3)):
        acts, w, h0, _ = _case("lstm", *shape, "float32", 1, False)
        ref = _forward(_loops("numpy"), "lstm", acts, w, h0, None, False, False)
        got = _forward(_loops("numba"), "lstm", acts, w, h0, None, False, False)
        for a, b in zip(ref, got):
            np.testing.assert_allclose(b, a, atol=1e-6)


_layer_run = run_layer


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@pytest.mark.parametrize("cls,kw", [(nn.LSTM, {}), (nn.GRU, {}), (nn.RNN, {"nonlinearity": "relu"}), (nn.RNN, {})])
@pytest.mark.parametrize("lengths", [None, [6, 2, 5]])
def test_layers_on_each_kernel_set_equal_the_composed_path_in_float64(kernel_set, cls, kw, lengths):
    tg.set_default_dtype("float64")
    layer = cls(3, 5, num_layers=2, bidirectional=True, **kw)
    x = np.random.default_rng(5).standard_normal((6, 3, 3))
    with nn.use_fused(False):
        ref = _layer_run(layer, x, lengths, None)
    with kernels.use(kernel_set):
        got = _layer_run(layer, x, lengths, None)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_float32_layers_on_each_kernel_set_stay_within_the_stated_error(kernel_set, cls):
    """float32 against the float64 composed path: the fast tanh's 4e-7 per activation, accumulated over
    6 steps and 2 layers, stays well inside 1e-5 on unit-scale values."""
    x = np.random.default_rng(6).standard_normal((6, 4, 3))
    tg.set_default_dtype("float64")
    layer = cls(3, 8, num_layers=2)
    with nn.use_fused(False):
        ref = _layer_run(layer, x, None, None)
    tg.set_default_dtype("float32")
    layer32 = cls(3, 8, num_layers=2)
    layer32.load_state_dict({k: tg.tensor(v.numpy().astype(np.float32)) for k, v in layer.state_dict().items()})
    with kernels.use(kernel_set):
        got = _layer_run(layer32, x.astype(np.float32), None, None)
    for a, b in zip(ref, got):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_gradcheck_through_each_kernel_set(kernel_set, cls):
    tg.set_default_dtype("float64")
    layer = cls(2, 3, bidirectional=True)
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = tg.Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    state = (h0, tg.Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)) if cls is nn.LSTM else h0

    def fn(x, *_):
        with kernels.use(kernel_set):
            out, h = layer(x, state, lengths=[4, 2])
        return out, *(h if isinstance(h, tuple) else (h,))

    extra = list(state) if isinstance(state, tuple) else [state]
    assert tg.gradcheck(fn, [x, *extra, *layer.parameters()])


def test_array_loops_are_what_the_numpy_set_runs():
    with kernels.use("numpy"):
        assert kernels.for_dtype(np.dtype("float32")) is array_loops
        assert kernels.in_use() == ("numpy" if tg.backend.name == "numpy" else tg.backend.name)
    assert kernels.for_dtype(np.dtype("float16")) is array_loops  # the compiled loops cover f32/f64 only


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
def test_compiled_loops_hold_a_ctrl_c_until_the_call_returns():
    """While a kernel runs (or numba loads it from its cache, calling back into Python), a SIGINT is
    held and raised as KeyboardInterrupt once the call has returned, never swallowed inside it."""
    import os
    import signal

    from tinygrad_rnn.kernels import numba_loops

    finished = []

    def kernel(x):
        os.kill(os.getpid(), signal.SIGINT)  # arrives "inside native code"
        finished.append(x)
        return x

    held = numba_loops._sigint_held(kernel)
    with pytest.raises(KeyboardInterrupt):
        held(3)
    assert finished == [3]
    assert numba_loops.lstm_forward.kernel is numba_loops._lstm_forward
