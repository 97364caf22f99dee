"""The optimizers' constructors take their arguments in PyTorch's order, so positional calls mean the same."""

import inspect

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim

NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LBFGS"]


def _positional(cls):
    return [p.name for p in inspect.signature(cls).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", NAMES)
def test_positional_parameters_are_a_prefix_of_pytorchs(torch, name):
    ours, theirs = _positional(getattr(optim, name)), _positional(getattr(torch.optim, name))
    assert theirs[: len(ours)] == ours


def test_sgd_fifth_positional_argument_is_weight_decay(torch):
    x0 = np.array([1.0, -2.0, 3.0])
    p = tg.tensor(x0.copy(), requires_grad=True)
    q = torch.tensor(x0.copy(), requires_grad=True)
    opt = optim.SGD([p], 0.1, 0.9, 0.0, 0.5)
    topt = torch.optim.SGD([q], 0.1, 0.9, 0.0, 0.5)
    assert opt.param_groups[0]["weight_decay"] == 0.5 and opt.param_groups[0]["nesterov"] is False
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (p * p).sum().backward()
        (q * q).sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=0)
