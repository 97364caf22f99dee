"""The op set: one small ``Function`` per op, forward and derivative side by side."""

from . import (  # noqa: F401
    assign,
    copying,
    dual,
    elementwise,
    indexing,
    linalg,
    movement,
    recurrent,
    reduce,
    scan,
    sorting,
    triangular,
)
from .assign import Assign, IndexAssign, ViewAssign  # noqa: F401
from .copying import Clone, Contiguous, Flip, Repeat  # noqa: F401
from .elementwise import (  # noqa: F401
    Abs,
    Add,
    Cast,
    Clip,
    Cos,
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
    Sin,
    Sqrt,
    Sub,
    Tanh,
)
from .indexing import Embedding, Gather, IndexSelect, Scatter, ScatterAdd  # noqa: F401
from .linalg import MatMul  # noqa: F401
from .movement import Concat, Expand, GetItem, IndexPut, Pad, Permute, Reshape, Split, Stack, Unbind, Where  # noqa: F401
from .recurrent import GRUSequence, LSTMSequence, RNNSequence  # noqa: F401
from .reduce import LogSoftmax, Max, Mean, Min, Softmax, Sum  # noqa: F401
from .scan import CumProd, CumSum, RevCumSum  # noqa: F401
from .triangular import Tril, Triu  # noqa: F401
