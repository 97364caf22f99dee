"""Neural-network modules: layers, recurrent cells, sequence layers, losses and utilities."""

from . import functional, init, utils  # noqa: F401
from .cells import GRUCell, LSTMCell, RNNCell
from .layers import Dropout, Embedding, Identity, Linear, LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .rnn import GRU, LSTM, RNN, RNNBase, use_fused

__all__ = [
    "Module",
    "Parameter",
    "Linear",
    "Embedding",
    "Dropout",
    "Sequential",
    "Identity",
    "Tanh",
    "Sigmoid",
    "ReLU",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "RNNBase",
    "use_fused",
    "CrossEntropyLoss",
    "NLLLoss",
    "MSELoss",
    "BCEWithLogitsLoss",
    "functional",
    "init",
    "utils",
]
