"""tinygrad_rnn: tape-based reverse-mode autodiff on NumPy/CuPy, built for recurrent networks."""

from . import backend, runtime  # noqa: F401  (runtime: opt-in process settings, nothing applied on import)
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .backend import get_default_dtype, manual_seed, set_default_dtype
from .creation import arange, eye, full, ones, ones_like, rand, randn, tensor, uniform, zeros, zeros_like
from .functions import (
    cat,
    clip,
    concat,
    exp,
    log,
    log1p,
    log_softmax,
    matmul,
    maximum,
    minimum,
    pad,
    relu,
    sigmoid,
    softmax,
    split,
    sqrt,
    stack,
    tanh,
    unbind,
    where,
)
from .generator import Generator
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .serialization import load, save
from .tensor import Tensor

float32 = backend.np.float32
float64 = backend.np.float64

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
