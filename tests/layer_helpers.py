"""Shared by the tests that compare ways of running a sequence layer (fused, composed, kernel sets)."""

import tinygrad_rnn as tg


def run_layer(layer, x, lengths=None, h0=None):
    """One forward and backward of ``layer`` on a copy of the array ``x``: the outputs, the final states,
    and the gradients of the input and of every parameter, as arrays."""
    for p in layer.parameters():
        p.grad = None
    x = tg.Tensor(x.copy(), requires_grad=True)
    out, h = layer(x, h0, lengths=lengths)
    hs = h if isinstance(h, tuple) else (h,)
    loss = (out * out).sum() + sum((s * s * 0.5).sum() for s in hs)
    loss.backward()
    return [out.numpy()] + [s.numpy() for s in hs] + [x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]
