"""Shared by the float64 gradient-check test files: the float64 default, tensors from data, and the
gradcheck + gradgradcheck pair every differentiable op must pass."""

import numpy as np
import pytest

import tinygrad_rnn as tg

F64 = np.float64


@pytest.fixture(autouse=True)
def float64_default():
    """Import this into a test module (``from gradcheck_helpers import float64_default``) to make
    float64 the default dtype for each of its tests."""
    tg.set_default_dtype("float64")
    yield


def T(a, requires_grad=True):
    return tg.Tensor(np.array(a, dtype=F64), requires_grad=requires_grad)


def _sq(out):
    """Square every output: makes the second derivative of a linear op non-trivial."""
    if isinstance(out, tuple):
        return tuple(o * o for o in out)
    return out * out


def check(fn, *inputs, second=True, square_for_second=False):
    """gradcheck (and gradgradcheck) must both pass; return nothing, fail loudly otherwise."""
    assert tg.gradcheck(fn, list(inputs)) is True
    if second:
        f2 = (lambda *xs: _sq(fn(*xs))) if square_for_second else fn
        assert tg.gradgradcheck(f2, list(inputs)) is True
