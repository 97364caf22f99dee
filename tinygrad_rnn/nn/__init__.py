"""Neural-network modules: layers, recurrent cells, sequence layers, losses and utilities."""

from . import functional, init, parallel, transformer, utils  # noqa: F401
from .activation import GELU
from .cells import GRUCell, LSTMCell, RNNCell
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from .flatten import Flatten, Unflatten
from .layers import Dropout, Embedding, Identity, Linear, LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import LayerNorm
from .rnn import GRU, LSTM, RNN, RNNBase, use_fused
from .transformer import (  # noqa: F401 (exported through transformer.__all__, below)
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

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
    "GELU",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Flatten",
    "Unflatten",
    "LayerNorm",
]
# the attention and Transformer modules (masked_attention, the kernel under them, stays in nn.transformer)
__all__ += [name for name in transformer.__all__ if name != "masked_attention"]
