"""The op set: one small ``Function`` per op, forward and derivative side by side."""

from . import dual, elementwise, linalg, movement, recurrent, reduce  # noqa: F401
from .elementwise import (  # noqa: F401
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
)
from .linalg import MatMul  # noqa: F401
from .movement import Concat, Expand, GetItem, IndexPut, Pad, Permute, Reshape, Split, Stack, Unbind, Where  # noqa: F401
from .recurrent import GRUSequence, LSTMSequence, RNNSequence  # noqa: F401
from .reduce import LogSoftmax, Max, Mean, Min, Softmax, Sum  # noqa: F401
