"""Truncated BPTT: windows cover every step (the tail included); carried state matches full BPTT forward."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


@pytest.mark.parametrize("T,k", [(10, 3), (9, 3), (5, 7), (1, 1), (12, 12)])
def test_windows_cover_every_step_in_order(T, k):
    x = np.arange(T * 2).reshape(T, 2)
    y = x + 100
    seen = list(nn.utils.windows(x, y, k=k))
    assert [len(a) for a, _ in seen] == [min(k, T - s) for s in range(0, T, k)]
    np.testing.assert_array_equal(np.concatenate([a for a, _ in seen]), x)
    np.testing.assert_array_equal(np.concatenate([b for _, b in seen]), y)


def test_windows_along_batch_first_axis_and_on_tensors():
    x = tg.Tensor(np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3))
    wins = [w for (w,) in nn.utils.windows(x, k=3, axis=1)]
    assert [w.shape for w in wins] == [(2, 3, 3), (2, 3, 3), (2, 1, 3)]
    np.testing.assert_array_equal(np.concatenate([w.numpy() for w in wins], axis=1), x.numpy())


def test_windows_bad_input():
    with pytest.raises(ValueError, match="k must be a positive int"):
        list(nn.utils.windows(np.zeros(3), k=0))
    with pytest.raises(ValueError, match="differ in length"):
        list(nn.utils.windows(np.zeros(3), np.zeros(4), k=2))


def test_stateful_carry_matches_full_bptt_forward():
    """Running window by window with detached state gives the same outputs as one pass over the sequence."""
    lstm = nn.LSTM(3, 5, num_layers=2)
    x = tg.randn(11, 2, 3)
    full, (h_full, c_full) = lstm(x)

    outs = []

    def step(xw, state):
        out, state = lstm(xw, state)
        outs.append(out)
        return out.shape[0], state

    sizes, (h, c) = nn.utils.truncated_bptt(step, x, k=4)
    assert sizes == [4, 4, 3]  # the partial tail window is included
    np.testing.assert_allclose(np.concatenate([o.numpy() for o in outs]), full.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), h_full.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), c_full.numpy(), rtol=1e-5, atol=1e-6)
    assert h.grad_fn is None and c.grad_fn is None  # the carried state is cut from the tape


def test_truncation_limits_backward_to_the_window():
    """Gradients of the last window's loss reach only that window's inputs."""
    tg.set_default_dtype("float64")
    rnn = nn.RNN(2, 3)
    x = tg.randn(9, 1, 2, requires_grad=True)

    def step(xw, state):
        out, state = rnn(xw, state)
        out.sum().backward()
        return None, state

    nn.utils.truncated_bptt(step, x, k=4)
    g = x.grad.numpy()
    assert np.all(g[:, 0].any(axis=-1))  # every step got a gradient from its own window
    # full BPTT gives step 0 a gradient from the later windows' losses too; truncation does not
    x2 = tg.Tensor(x.numpy(), requires_grad=True)
    out, _ = rnn(x2)
    out.sum().backward()
    assert not np.allclose(x2.grad.numpy()[:4], g[:4])
    np.testing.assert_allclose(x2.grad.numpy()[8:], g[8:])  # the last (tail) window sees the same future


def test_backward_through_an_undetached_window_is_a_clear_error():
    """Forgetting to detach makes the second window backprop into the freed first one."""
    rnn = nn.GRU(2, 3)
    x = tg.randn(6, 1, 2)
    out, h = rnn(x[:3])
    out.sum().backward()
    out, h = rnn(x[3:], h)  # h still carries the first window's graph
    with pytest.raises(RuntimeError, match="retain_graph=True|detach"):
        out.sum().backward()


def test_detach_state_nested_and_bad_type():
    h = tg.randn(2, 3, requires_grad=True) * 2
    c = tg.randn(2, 3, requires_grad=True) * 2
    hd, cd = nn.utils.detach_state((h, c))
    assert hd.grad_fn is None and cd.grad_fn is None and not hd.requires_grad
    np.testing.assert_array_equal(hd.numpy(), h.numpy())
    assert nn.utils.detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state"):
        nn.utils.detach_state({"h": h})
