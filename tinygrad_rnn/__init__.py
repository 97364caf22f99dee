"""tinygrad_rnn: tape-based reverse-mode autodiff on NumPy/CuPy, built for recurrent networks."""

from . import backend, runtime  # noqa: F401  (runtime: opt-in process settings, nothing applied on import)
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .backend import get_default_dtype, manual_seed, set_default_dtype
from .creation import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    arange,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from .functions import (
    amax,
    amin,
    argmax,
    argmin,
    cat,
    clip,
    concat,
    exp,
    flatten,
    is_floating_point,
    log,
    log1p,
    log_softmax,
    matmul,
    maximum,
    mean,
    minimum,
    numel,
    pad,
    relu,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    tanh,
    unbind,
    unsqueeze,
    where,
)
from .functions import max as max  # torch.max etc.: module attributes (tg.max), never builtins here
from .functions import min as min
from .functions import sum as sum
from .generator import Generator
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .serialization import load, save
from .tensor import Size, Tensor, return_types

# PyTorch's dtype names, as NumPy scalar types: `x.dtype == tg.float32` holds, and every `dtype=` takes
# them. `float`, `int` and `bool` shadow the builtins only as attributes (`tg.float`), as in PyTorch;
# they are left out of __all__ (as are `sum`, `max` and `min`) so `from tinygrad_rnn import *` cannot
# shadow the builtins.
float32 = float = backend.np.float32
float64 = double = backend.np.float64
float16 = half = backend.np.float16
int64 = long = backend.np.int64
int32 = int = backend.np.int32
int16 = short = backend.np.int16
int8 = backend.np.int8
uint8 = backend.np.uint8
bool = backend.np.bool_

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "tensor",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "randn",
    "rand",
    "uniform",
    "arange",
    "eye",
    "grad",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "save",
    "load",
    "set_default_dtype",
    "get_default_dtype",
    "manual_seed",
    "Generator",
    "backend",
    "concat",
    "cat",
    "stack",
    "split",
    "unbind",
    "where",
    "pad",
    "maximum",
    "minimum",
    "matmul",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "tanh",
    "sigmoid",
    "relu",
    "softmax",
    "log_softmax",
    "clip",
    "float32",
    "float64",
    "double",
    "float16",
    "half",
    "int64",
    "long",
    "int32",
    "int16",
    "short",
    "int8",
    "uint8",
    "Size",
    "return_types",
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
    "mean",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "flatten",
    "squeeze",
    "unsqueeze",
    "numel",
    "is_floating_point",
    "diagnostics",
    "graph",
    "models",
    "nn",
    "optim",
    "scope",
    "utils",
]

from . import diagnostics, graph, models, nn, optim, utils  # noqa: E402  (they build on everything above)
from .function import scope  # noqa: E402
