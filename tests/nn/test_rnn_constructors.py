"""The sequence layers share one constructor: PyTorch's arguments, order and refusals."""

import pytest

from tinygrad_rnn import nn


def test_positional_order_is_pytorchs():
    rnn = nn.RNN(2, 3, 2, "relu", False, True, 0.0, True)
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first, rnn.bidirectional) == (
        2,
        "relu",
        False,
        True,
        True,
    )
    lstm = nn.LSTM(2, 4, 1, False, False, 0.0, True, 3)
    assert (lstm.bias, lstm.bidirectional, lstm.proj_size) == (False, True, 3)
    gru = nn.GRU(2, 3, 1, True, True, 0.5, False, reset_after=False)
    assert (gru.batch_first, gru.dropout, gru.reset_after) == (True, 0.5, False)
    assert "weight_hr_l0" in dict(lstm.named_parameters()) and "bias_ih_l0" not in dict(lstm.named_parameters())


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU])
def test_proj_size_is_for_the_lstm_only(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: proj_size is supported by LSTM only"):
        cls(2, 4, proj_size=2)


def test_bad_sizes_name_the_layer():
    with pytest.raises(ValueError, match="GRU: hidden_size must be a positive int"):
        nn.GRU(2, 0)
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'gelu'"):
        nn.RNN(2, 3, nonlinearity="gelu")
