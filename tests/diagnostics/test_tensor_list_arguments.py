"""Functions that take lists of Tensors name the first entry that is not one (operands.check_tensors)."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.diagnostics import gradient_flow_penalty
from tinygrad_rnn.diagnostics import second_order as so
from tinygrad_rnn.nn.utils.rnn import pad_sequence
from tinygrad_rnn.operands import check_tensors


def test_check_tensors_names_the_first_non_tensor():
    check_tensors("op", [tg.zeros(2), tg.ones(1)], "item")  # all Tensors: nothing raised
    with pytest.raises(TypeError, match=r"^op: item 1 is a list, expected a Tensor$"):
        check_tensors("op", [tg.zeros(2), [1.0], np.zeros(2)], "item")


def test_second_order_tools_name_a_parameter_that_is_not_a_tensor():
    w = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="hvp: parameter 1 is a ndarray, expected a Tensor"):
        so.hvp(lambda: (w * w).sum(), [w, np.ones(3)], [np.zeros(3), np.zeros(3)])
    with pytest.raises(TypeError, match="gradient: parameter 0 is a float, expected a Tensor"):
        so.gradient(lambda: (w * w).sum(), [1.0])


def test_pad_sequence_checks_types_before_shapes():
    with pytest.raises(TypeError, match="pad_sequence: sequence 2 is a ndarray, expected a Tensor"):
        pad_sequence([tg.zeros(2), tg.zeros(3, 4), np.zeros(2)])
    with pytest.raises(ValueError, match="sequence 1 is a scalar"):
        pad_sequence([tg.zeros(2), tg.zeros(())])


def test_gradient_flow_penalty_names_a_hidden_state_that_is_not_a_tensor():
    h = tg.Tensor(np.ones((1, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="gradient_flow_penalty: hidden state 1 is a ndarray, expected a Tensor"):
        gradient_flow_penalty(None, [h, np.ones((1, 2))], upstream=[np.ones((1, 2))])
