r"""Parameter initialisers, drawn from the seeded host generator so one seed gives one model everywhere.

Two families live here:

- the layers' own constructors, :func:`uniform`, :func:`normal` and :func:`fan_in_bound`, which make a
  new :class:`Parameter` (used by ``Linear``, ``Embedding`` and the recurrent layers);
- PyTorch's in-place initialisers (``torch.nn.init``), with PyTorch's names, signatures, formulas and
  error messages: :func:`uniform_`, :func:`normal_`, :func:`trunc_normal_`, :func:`constant_`,
  :func:`ones_`, :func:`zeros_`, :func:`eye_`, :func:`dirac_`, :func:`xavier_uniform_`,
  :func:`xavier_normal_`, :func:`kaiming_uniform_`, :func:`kaiming_normal_`, :func:`orthogonal_`,
  :func:`sparse_` and :func:`calculate_gain`.

The in-place initialisers overwrite the tensor's values and return the tensor itself. The tensor
object *and its backend array* stay the same, so a parameter shared by two modules (tied weights)
stays shared and an optimizer that already holds it sees the new values. They write below autograd
(nothing is recorded, as under ``no_grad``), keep the tensor's dtype (values are drawn in float64 on
the host and rounded once to the tensor's dtype) and its device (under CuPy the values are built with
NumPy and copied to the GPU once).

Random numbers come from :func:`tinygrad_rnn.backend.host_rng` (or the NumPy ``Generator`` passed as
``generator``), so ``tg.manual_seed(s)`` makes every initialisation repeatable, and the same seed gives
the same values in float32 and float64 (to float32 rounding). The values are *not* the ones PyTorch
draws for the same seed: the generators differ. The distributions and their parameters (bounds,
standard deviations, fans, gains) are PyTorch's exactly.

.. note::
   Like PyTorch's, these write into memory other objects may see: a tensor made from a NumPy array
   shares that array, and a graph recorded *before* the initialisation would differentiate through
   the new values (PyTorch raises a version-counter error there; this library does not track
   versions). Initialise before the forward pass.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import backend, views
from ..tensor import Tensor
from .module import Parameter

__all__ = [
    "uniform",
    "normal",
    "fan_in_bound",
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]


# ---- the layers' constructors ---------------------------------------------------------------------
def uniform(shape: tuple, bound: float, dtype: Any = None) -> Parameter:
    """A new Parameter drawn from U(-bound, bound): PyTorch's default for Linear and the recurrent layers.

    (Not PyTorch's deprecated ``nn.init.uniform``; the in-place initialiser is :func:`uniform_`.)
    """
    d = backend.get_default_dtype() if dtype is None else dtype
    a = backend.host_rng().uniform(-bound, bound, size=shape).astype(d)
    return Parameter(backend.to_backend(a))


def normal(shape: tuple, std: float = 1.0, dtype: Any = None) -> Parameter:
    """A new Parameter drawn from N(0, std²) (the Embedding default)."""
    d = backend.get_default_dtype() if dtype is None else dtype
    a = (backend.host_rng().standard_normal(size=shape) * std).astype(d)
    return Parameter(backend.to_backend(a))


def fan_in_bound(fan_in: int) -> float:
    """``1 / sqrt(fan_in)`` (0 for an empty fan), the bound PyTorch's layers use."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


# ---- helpers --------------------------------------------------------------------------------------
def _check_tensor(fn: str, tensor: Any, floating: bool = False) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {tensor.dtype}")


def _rng(fn: str, generator: Any) -> np.random.Generator:
    if generator is None:
        return backend.host_rng()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fn}: generator must be a numpy.random.Generator or None, got {type(generator).__name__}")
    return generator


def _write(tensor: Tensor, values: Any) -> Tensor:
    """Overwrite ``tensor``'s values with host ``values`` in place; the only place this module writes.

    The values are rounded once to the tensor's dtype and copied into the tensor's existing backend
    array, so every holder of the tensor (tied modules, optimizers) and of its array sees them. An array
    that cannot be written (a read-only view) is replaced instead, which keeps the Tensor object.
    """
    dst = tensor.array
    src = np.asarray(values).astype(dst.dtype, copy=False)
    if src.shape != dst.shape:  # every caller builds the full shape; a mismatch is a bug here
        raise AssertionError(f"init: built values of shape {src.shape} for a tensor of shape {dst.shape}")
    views.write(tensor, backend.to_backend(src))
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *receptive_field)``: ``in · ∏rf`` and ``out · ∏rf``."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field_size = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field_size, tensor.shape[0] * receptive_field_size


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ---- gains ----------------------------------------------------------------------------------------
_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    r"""The recommended gain for a nonlinearity (PyTorch's table).

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    linear, conv*     :math:`1`
    sigmoid           :math:`1`
    tanh              :math:`5/3`
    relu              :math:`\sqrt{2}`
    leaky_relu        :math:`\sqrt{2 / (1 + \text{negative\_slope}^2)}` (``param``, default 0.01)
    selu              :math:`3/4`
    ================= ====================================================
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope: float = 0.01
        elif (isinstance(param, int) and not isinstance(param, bool)) or isinstance(param, float):
            negative_slope = param  # bools are ints: excluded above, as PyTorch does
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # PyTorch's empirical value (pytorch/pytorch#50664)
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


# ---- constant fills -------------------------------------------------------------------------------
def constant_(tensor: Tensor, val: float) -> Tensor:
    r"""Fill ``tensor`` with :math:`\text{val}` (in place; returns ``tensor``)."""
    _check_tensor("constant_", tensor)
    return _write(tensor, np.full(tensor.shape, val))


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones (in place; returns ``tensor``)."""
    _check_tensor("ones_", tensor)
    return _write(tensor, np.ones(tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros (in place; returns ``tensor``)."""
    _check_tensor("zeros_", tensor)
    return _write(tensor, np.zeros(tensor.shape))


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D ``tensor`` with the (rectangular) identity matrix, as many inputs kept as possible."""
    _check_tensor("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta (identity per group of channels)."""
    _check_tensor("dirac_", tensor)
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    a = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min(out_per_group, sizes[1])):
            a[(g * out_per_group + d, d) + centre] = 1
    return _write(tensor, a)


# ---- random fills ---------------------------------------------------------------------------------
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    r"""Fill ``tensor`` with draws from :math:`\mathcal{U}(a, b)` (in place; returns ``tensor``).

    ``generator`` is a ``numpy.random.Generator`` (default: the library's seeded host generator).
    """
    _check_tensor("uniform_", tensor, floating=True)
    values = _rng("uniform_", generator).uniform(a, b, size=tensor.shape).astype(tensor.dtype)
    if a < b:  # rounding to float32 can land on b itself; keep the interval half-open, as PyTorch's is
        d = tensor.dtype
        values = np.minimum(values, np.nextafter(np.asarray(b, d), np.asarray(a, d)))
    return _write(tensor, values)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    r"""Fill ``tensor`` with draws from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` (in place)."""
    _check_tensor("normal_", tensor, floating=True)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _write(tensor, mean + std * _rng("normal_", generator).standard_normal(size=tensor.shape))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator: Any = None
) -> Tensor:
    r"""Fill ``tensor`` with draws from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated to :math:`[a, b]`.

    Exact rejection sampling, the proposal chosen as PyTorch does: when the interval holds more than 30%
    of the normal's mass, draw normals and redraw those outside :math:`[a, b]`; otherwise draw uniforms
    on :math:`[a, b]` and accept each with probability :math:`\exp(-\tfrac12 z^2 - \text{log\_peak})`,
    the density relative to its peak on the interval.
    """
    _check_tensor("trunc_normal_", tensor, floating=True)
    rng = _rng("trunc_normal_", generator)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    n = math.prod(tensor.shape)
    # Bounds in the tensor's dtype, so no accepted value rounds outside [a, b] when it is stored.
    lo, hi = (float(np.asarray(v, dtype=tensor.dtype)) for v in (a, b))
    out = np.empty(n)
    todo = np.arange(n)
    mass = cdf((b - mean) / std) - cdf((a - mean) / std)
    if mass > 0.3:
        while todo.size:
            x = mean + std * rng.standard_normal(todo.size)
            ok = (x >= lo) & (x <= hi)
            out[todo[ok]] = x[ok]
            todo = todo[~ok]
    else:
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        while todo.size:
            x = rng.uniform(a, b, todo.size)
            ok = np.log(rng.uniform(size=todo.size)) <= -0.5 * ((x - mean) / std) ** 2 - log_peak
            out[todo[ok]] = x[ok]
            todo = todo[~ok]
    return _write(tensor, out.reshape(tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    r"""Glorot (Xavier) uniform: draws from :math:`\mathcal{U}(-a, a)` with

    .. math::
        a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}
    """
    _check_tensor("xavier_uniform_", tensor, floating=True)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # the U(-a, a) with that standard deviation
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    r"""Glorot (Xavier) normal: draws from :math:`\mathcal{N}(0, \text{std}^2)` with

    .. math::
        \text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}
    """
    _check_tensor("xavier_normal_", tensor, floating=True)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(fn: str, tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """He's ``gain / sqrt(fan)``, or None for an empty tensor (a no-op with PyTorch's warning)."""
    _check_tensor(fn, tensor, floating=True)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Any = None
) -> Tensor:
    r"""He (Kaiming) uniform: draws from :math:`\mathcal{U}(-\text{bound}, \text{bound})` with

    .. math::
        \text{bound} = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}

    ``a`` is the negative slope of the rectifier (used with ``'leaky_relu'`` only); ``mode`` is
    ``'fan_in'`` (preserve forward variance) or ``'fan_out'`` (backward). The fans assume the weight is
    used as ``x @ w.T`` with ``w`` of shape ``(fan_out, fan_in)``, as in ``Linear``.
    ``kaiming_uniform_(w, a=math.sqrt(5))`` is PyTorch's ``Linear.reset_parameters``.
    """
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Any = None
) -> Tensor:
    r"""He (Kaiming) normal: draws from :math:`\mathcal{N}(0, \text{std}^2)` with

    .. math::
        \text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}

    The arguments are those of :func:`kaiming_uniform_`.
    """
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Any = None) -> Tensor:
    r"""Fill ``tensor`` with a (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013).

    A tensor with more than 2 dimensions is treated as ``(rows, prod(trailing))``. A standard normal
    matrix (transposed when wide) is factored :math:`A = QR` and :math:`Q` is multiplied column-wise
    by :math:`\operatorname{sign}(\operatorname{diag} R)`, which makes :math:`Q` Haar-distributed
    (Mezzadri 2007); the rows (or columns, when tall) of the result are orthonormal.
    """
    _check_tensor("orthogonal_", tensor, floating=True)
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    numel = math.prod(tensor.shape)
    if numel == 0:
        return tensor
    rows = tensor.shape[0]
    cols = numel // rows
    flat = _rng("orthogonal_", generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    r"""Fill a 2-D ``tensor`` as a sparse matrix (Martens 2010).

    Values are drawn from :math:`\mathcal{N}(0, \text{std}^2)`, then ``ceil(sparsity * rows)`` randomly
    chosen entries of every column are set to zero.
    """
    _check_tensor("sparse_", tensor, floating=True)
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rng = _rng("sparse_", generator)
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    a = std * rng.standard_normal((rows, cols))
    for c in range(cols):
        a[rng.permutation(rows)[:num_zeros], c] = 0.0
    return _write(tensor, a)
