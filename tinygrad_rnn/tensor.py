"""``Tensor``: a backend array, a ``requires_grad`` flag, a ``grad``, and the tape node that made it."""

from __future__ import annotations

import builtins
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any, SupportsIndex, overload

import numpy as np

from . import backend
from . import function as _function
from .backend import is_array, xp
from .device import check as _check_device
from .device import current as _current_device
from .device import device as _device

_PY_SCALARS = (bool, int, float)


def _check_dtype(op: str, d: np.dtype) -> np.dtype:
    if d.kind not in "biuf":
        raise TypeError(f"{op}: unsupported dtype {d}; tensors hold booleans, integers or floats")
    return d


def as_array(data: Any, dtype: Any = None, op: str = "Tensor") -> Any:
    """Turn user data into a backend array, with the dtype rules of :class:`Tensor`."""
    if isinstance(data, Tensor):
        data = data.data
    want = None if dtype is None else _check_dtype(op, np.dtype(dtype))
    if is_array(data):
        a = data
    elif isinstance(data, (np.ndarray, np.generic)):
        a = backend.to_backend(data)
    else:
        if isinstance(data, (str, bytes)):
            raise TypeError(f"{op}: cannot make a tensor from a string ({data!r}); pass numbers")
        try:
            host = np.asarray(data)
        except ValueError as e:  # NumPy 2 refuses ragged nested sequences
            raise ValueError(
                f"{op}: cannot make a tensor from a ragged nested sequence (sub-lists of different lengths): {e}"
            ) from None
        if host.dtype == object:
            raise TypeError(
                f"{op}: cannot make a tensor from objects of type "
                f"{sorted({type(v).__name__ for v in np.ravel(host)})}; pass numbers or arrays"
            )
        if host.dtype.kind == "f" and want is None:  # Python floats take the default dtype
            want = backend.get_default_dtype()
        a = backend.to_backend(host)
    _check_dtype(op, a.dtype)
    if want is not None and a.dtype != want:
        a = a.astype(want)
    return a


_SCALAR_CACHE: dict = {}


def _scalar(v: Any, d: np.dtype) -> Any:
    """A 0-d array of ``v`` in dtype ``d``; shared between ops (arrays are never written in place)."""
    if isinstance(v, np.ndarray) or (isinstance(v, float) and (v == 0.0 or v != v)):
        return xp.asarray(v, dtype=d)  # 0-d arrays are unhashable; -0.0 == 0.0 and NaN != NaN as dict keys
    key = (type(v), v, d)
    a = _SCALAR_CACHE.get(key)
    if a is None:
        if len(_SCALAR_CACHE) > 4096:
            _SCALAR_CACHE.clear()
        a = _SCALAR_CACHE[key] = xp.asarray(v, dtype=d)
    return a


# ---- PyTorch spellings ---------------------------------------------------------------------------
class _Default:
    """A default that tells "not passed" apart from an explicit value, so that passing both PyTorch's
    and NumPy's name for one argument (``dim=`` and ``axis=``) is caught even when one of them is given
    its default value. Its repr is the value it stands for, so signatures read ``dim=None``."""

    __slots__ = ("shown",)

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


_NONE: Any = _Default("None")
_FALSE: Any = _Default("False")
_ZERO: Any = _Default("0")
_LAST: Any = _Default("-1")


def _both(op: str, torch_name: str, numpy_name: str) -> TypeError:
    return TypeError(
        f"{op}: got both {torch_name}= and {numpy_name}= (PyTorch's and NumPy's name for the same argument); pass one"
    )


def _pick_dim(op: str, dim: Any, axis: Any, default: Any) -> Any:
    """The dimension given as ``dim`` (or positionally) or as NumPy's ``axis``, else ``default``."""
    unset = type(dim) is _Default
    if axis is _NONE:
        return default if unset else dim
    if not unset:
        raise _both(op, "dim", "axis")
    return axis


def _pick_keep(op: str, keepdim: Any, keepdims: Any) -> bool:
    if keepdims is _FALSE:
        return False if keepdim is _FALSE else bool(keepdim)
    if keepdim is not _FALSE:
        raise _both(op, "keepdim", "keepdims")
    return bool(keepdims)


def _reduce_args(op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple:
    """(axes, keepdims) for a reduction. PyTorch reduces every dimension for ``dim=()`` (NumPy's
    ``axis=()`` reduces none), so an empty tuple means "all" only when it came as ``dim``."""
    if not dim and type(dim) in _SEQS:
        dim = None
    return _pick_dim(op, dim, axis, None), _pick_keep(op, keepdim, keepdims)


_SEQS = (tuple, list)


class Size(tuple):
    """PyTorch's ``torch.Size``: the tuple of dimensions that :meth:`Tensor.size` returns.

    It is a plain tuple (compares equal to ``(2, 3)``, unpacks, indexes) with ``numel()`` and a
    PyTorch-like repr; slicing it or adding a tuple gives a ``Size`` again, as in PyTorch.
    """

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    @overload
    def __getitem__(self, i: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> Size: ...
    def __getitem__(self, i: Any) -> Any:
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other: Any) -> Size:
        return Size(tuple.__add__(self, tuple(other)))

    def __repr__(self) -> str:
        return f"tinygrad_rnn.Size({list(self)})"


# x.max(dim) / x.min(dim) return these, like PyTorch's torch.return_types.max / .min
_max_result = namedtuple("max", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
_min_result = namedtuple("min", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
# x.sort(dim) / x.topk(k) return these (torch.return_types.sort / .topk)
_sort_result = namedtuple("sort", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
_topk_result = namedtuple("topk", ("values", "indices"), module="tinygrad_rnn.return_types")  # type: ignore[name-match]
return_types = SimpleNamespace(max=_max_result, min=_min_result, sort=_sort_result, topk=_topk_result)

# PyTorch's legacy type names (x.type(), x.type("torch.LongTensor")) and their NumPy dtypes
_TYPE_NAMES: dict[str, np.dtype] = {
    "FloatTensor": np.dtype(np.float32),
    "DoubleTensor": np.dtype(np.float64),
    "HalfTensor": np.dtype(np.float16),
    "LongTensor": np.dtype(np.int64),
    "IntTensor": np.dtype(np.int32),
    "ShortTensor": np.dtype(np.int16),
    "CharTensor": np.dtype(np.int8),
    "ByteTensor": np.dtype(np.uint8),
    "BoolTensor": np.dtype(np.bool_),
}
_TYPE_OF_DTYPE = {d: n for n, d in _TYPE_NAMES.items()}
_PREFIXES = ("torch.cuda.", "tinygrad_rnn.cuda.", "torch.", "tinygrad_rnn.")


def _cuda_name(device: Any) -> Any:
    """``x.cuda()`` / ``x.cuda(1)`` / ``x.cuda("cuda:1")`` as a device name."""
    return "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)


def _as_dtype(op: str, dtype: Any) -> np.dtype:
    """A dtype from a NumPy dtype/type, a dtype name ('float64') or PyTorch's type name ('torch.LongTensor')."""
    given = dtype
    if isinstance(dtype, str):
        dtype = dtype.strip()
        for p in _PREFIXES:
            if dtype.startswith(p):
                if ".cuda." in p:
                    _check_device(op, "cuda")
                dtype = dtype[len(p) :]
                break
        if dtype in _TYPE_NAMES:
            return _TYPE_NAMES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{op}: {given!r} is not a dtype (e.g. tinygrad_rnn.float64, 'float64', 'torch.LongTensor')"
        ) from None
    return _check_dtype(op, d)


def _is_dtype(v: Any) -> bool:
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, (np.generic, bool, int, float))):
        return True
    if isinstance(v, str):
        try:
            _as_dtype("to", v)
        except (TypeError, ValueError):
            return False
        return True
    return False


def _parse_to_args(op: str, args: tuple, kwargs: dict) -> tuple:
    """PyTorch's ``to`` signatures, ``to(dtype)``, ``to(device, dtype=None)``, ``to(tensor)``, each with
    ``non_blocking=`` and ``copy=``, as ``(dtype or None, copy)``. Every device goes through
    :func:`_check_device`, the one place that knows which devices exist."""
    kw = dict(kwargs)
    dtype, device = kw.pop("dtype", None), kw.pop("device", None)
    copy = bool(kw.pop("copy", False))
    kw.pop("non_blocking", None)  # nothing runs asynchronously here
    if kw.pop("memory_format", None) not in (None, "preserve_format"):
        raise TypeError(f"{op}: memory_format is not supported (arrays keep their own layout)")
    if kw:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(kw)}")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        dtype, device = rest.pop(0).dtype, None
    elif rest and not _is_dtype(rest[0]) and not isinstance(rest[0], bool):
        device = rest.pop(0)  # None included: to(None) keeps the device, as in PyTorch
    if rest and _is_dtype(rest[0]):
        if dtype is not None:
            raise TypeError(f"{op}: dtype given both positionally and as dtype=")
        dtype = rest.pop(0)
    for name in ("non_blocking", "copy"):  # the trailing positional flags of to(dtype, non_blocking, copy)
        if rest and isinstance(rest[0], bool):
            flag = rest.pop(0)
            copy = flag if name == "copy" else copy
    if rest:
        raise TypeError(
            f"{op}: cannot read the arguments {args!r}; expected to(dtype), to(device, dtype) or to(tensor)"
        )
    if device is not None:
        _check_device(op, device)
    return (None if dtype is None else _as_dtype(op, dtype)), copy


class Tensor:
    """An n-dimensional array that records the ops applied to it so gradients can flow back.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python floats become the default dtype (float32
    unless :func:`set_default_dtype` changed it), Python ints become int64, NumPy arrays keep their dtype.
    """

    __slots__ = ("data", "_requires_grad", "grad", "_fn", "_idx", "_cut", "__weakref__")
    __array_ufunc__ = None  # make NumPy hand `ndarray (op) Tensor` to our reflected operators
    __array_priority__ = 1000
    data: Any
    _fn: Any  # the Function node that made this tensor (None for leaves and untracked results)
    _idx: int
    _cut: bool

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = as_array(data, dtype)
        self._fn = None
        self._idx = 0
        self.grad: Tensor | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, fn: Any, idx: int) -> Tensor:
        t = object.__new__(cls)
        t.data, t._requires_grad, t.grad, t._fn, t._idx = data, requires_grad, None, fn, idx
        return t

    # ---- attributes --------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients; this one is "
                f"{self.data.dtype} with shape {self.shape}. Cast it first, e.g. .astype('float32')"
            )
        if not flag and self._fn is not None:
            raise RuntimeError("requires_grad: cannot turn off gradients of a non-leaf tensor; use .detach()")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self._fn is None)
    grad_fn = property(lambda self: self._fn)
    T = property(lambda self: self.permute(*range(self.ndim - 1, -1, -1)))

    def numpy(self) -> np.ndarray:
        """A host NumPy array (a copy from the GPU under CuPy; shared memory under NumPy)."""
        return backend.to_numpy(self.data)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number; shape is {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._fn is not None:
            extra += f", grad_fn=<{type(self._fn).__name__}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # ---- autograd ----------------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``grad`` is required unless self is a scalar)."""
        _autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same values cut from the tape (shares memory); truncated BPTT uses this on carried state."""
        t = Tensor._make(self.data, False, None, 0)
        t._cut = self._fn is not None  # graph drawings show where a tape was cut
        return t

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()``."""
        if self._fn is not None:
            if self._fn.retained is None:
                self._fn.retained = {}
            self._fn.retained[self._idx] = weakref.ref(self)
        elif not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        return self

    # ---- operands ----------------------------------------------------------------------------------
    def _lift(self, other: Any, op: str) -> Tensor:
        """``other`` as a Tensor that may meet ``self`` in an op, without silent float upcasts.

        Python numbers and 0-d arrays adopt this tensor's float dtype; integer/bool tensors meeting a
        float tensor are cast to its dtype; two float tensors of different precision are an error.
        """
        if isinstance(other, Tensor):
            return other
        d = self.data.dtype
        if isinstance(other, _PY_SCALARS) or (getattr(other, "ndim", None) == 0 and hasattr(other, "dtype")):
            other_float = isinstance(other, float) or getattr(getattr(other, "dtype", None), "kind", "") == "f"
            if d.kind == "f":
                return Tensor._make(_scalar(other, d), False, None, 0)
            if other_float:
                return Tensor._make(xp.asarray(other, dtype=backend.get_default_dtype()), False, None, 0)
            return Tensor._make(xp.asarray(other), False, None, 0)
        return Tensor(other) if not isinstance(other, (list, tuple)) or d.kind != "f" else Tensor(other, dtype=d)

    def _pair(self, other: Any, op: str, reflected: bool = False) -> tuple:
        if type(other) is Tensor and other.data.dtype is self.data.dtype:  # the common case, kept short
            return (other, self) if reflected else (self, other)
        b = self._lift(other, op)
        a = self
        da, db = a.data.dtype, b.data.dtype
        if da != db:
            fa, fb = da.kind == "f", db.kind == "f"
            if fa and fb:
                if b.ndim == 0:
                    b = b.astype(da)
                elif a.ndim == 0:
                    a = a.astype(db)
                else:
                    x, y = (b, a) if reflected else (a, b)
                    raise TypeError(
                        f"{op}: dtype mismatch, {x.dtype} {x.shape} and {y.dtype} {y.shape}; "
                        "tinygrad_rnn never upcasts silently: cast one side with .astype(...)"
                    )
            elif fa:
                b = Tensor._make(b.data.astype(da), False, None, 0)
            elif fb:
                a = Tensor._make(a.data.astype(db), False, None, 0)
        return (b, a) if reflected else (a, b)

    # The operator table stays one line per op, like the ops' own forward/backward.
    # fmt: off
    # ---- arithmetic --------------------------------------------------------------------------------
    def __add__(self, o): return _ops.Add.apply(*self._pair(o, "add"))
    def __radd__(self, o): return _ops.Add.apply(*self._pair(o, "add", True))
    def __sub__(self, o): return _ops.Sub.apply(*self._pair(o, "sub"))
    def __rsub__(self, o): return _ops.Sub.apply(*self._pair(o, "sub", True))
    def __mul__(self, o): return _ops.Mul.apply(*self._pair(o, "mul"))
    def __rmul__(self, o): return _ops.Mul.apply(*self._pair(o, "mul", True))
    def __truediv__(self, o): return _ops.Div.apply(*self._pair(o, "div"))
    def __rtruediv__(self, o): return _ops.Div.apply(*self._pair(o, "div", True))
    def __matmul__(self, o): return _ops.MatMul.apply(*self._pair(o, "matmul"))
    def __rmatmul__(self, o): return _ops.MatMul.apply(*self._pair(o, "matmul", True))
    def __neg__(self): return _ops.Neg.apply(self)
    def __abs__(self): return _ops.Abs.apply(self)
    def __pos__(self): return self

    def __pow__(self, o):
        if isinstance(o, _PY_SCALARS) and self.data.dtype.kind == "f":
            # np.float64 subclasses float: take its Python value so it cannot upcast a float32 tensor
            return _ops.PowScalar.apply(self, p=o.item() if isinstance(o, np.generic) else o)
        return _ops.Pow.apply(*self._pair(o, "pow"))

    def __rpow__(self, o): return _ops.Pow.apply(*self._pair(o, "pow", True))

    add, sub, mul, div, matmul, pow = __add__, __sub__, __mul__, __truediv__, __matmul__, __pow__
    neg, abs = __neg__, __abs__

    # comparisons give boolean tensors outside the tape
    def _cmp(self, o, f): a, b = self._pair(o, f.__name__); return Tensor._make(f(a.data, b.data), False, None, 0)
    def __lt__(self, o): return self._cmp(o, xp.less)
    def __le__(self, o): return self._cmp(o, xp.less_equal)
    def __gt__(self, o): return self._cmp(o, xp.greater)
    def __ge__(self, o): return self._cmp(o, xp.greater_equal)
    def __eq__(self, o): return self._cmp(o, xp.equal)
    def __ne__(self, o): return self._cmp(o, xp.not_equal)
    def __invert__(self): return Tensor._make(~self.data, False, None, 0)
    def any(self) -> bool: return bool(self.data.any())
    def all(self) -> bool: return bool(self.data.all())

    def maximum(self, o): return _ops.Maximum.apply(*self._pair(o, "maximum"))
    def minimum(self, o): return _ops.Minimum.apply(*self._pair(o, "minimum"))

    # ---- unary -------------------------------------------------------------------------------------
    def exp(self): return _ops.Exp.apply(self)
    def log(self): return _ops.Log.apply(self)
    def log1p(self): return _ops.Log1p.apply(self)
    def sqrt(self): return _ops.Sqrt.apply(self)
    def tanh(self): return _ops.Tanh.apply(self)
    def sigmoid(self): return _ops.Sigmoid.apply(self)
    def relu(self): return _ops.Relu.apply(self)
    # fmt: on

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        # NumPy scalar / 0-d bounds (np.float64) would upcast a float32 tensor: use their Python values
        min, max = (
            v.item() if isinstance(v, (np.generic, np.ndarray)) and v.ndim == 0 else v  # noqa: A001
            for v in (min, max)
        )
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    def astype(self, dtype: Any) -> Tensor:
        """NumPy's name for a cast (PyTorch: :meth:`to`, :meth:`type`). Float to float is differentiable;
        a cast to an integer or boolean dtype is not, so its result never requires grad."""
        d = _check_dtype("astype", np.dtype(dtype))
        if d == self.data.dtype:
            return self
        if self._requires_grad and d.kind != "f":
            return Tensor._make(self.data.astype(d), False, None, 0)
        return _ops.Cast.apply(self, dtype=d)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to(device, dtype=None)``, ``to(other)`` (its dtype), with
        ``copy=`` and ``non_blocking=``. The device must be the one this process's backend runs on
        (``'cpu'`` under NumPy, ``'cuda'`` under CuPy); asking for another is a ``ValueError``."""
        dtype, copy = _parse_to_args("to", args, kwargs)
        out = self if dtype is None else self.astype(dtype)
        if copy and out is self:  # a differentiable copy, like PyTorch's clone()
            out = _ops.Cast.apply(self, dtype=self.data.dtype)
        return out

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """No argument: PyTorch's type name (``'tinygrad_rnn.FloatTensor'``; ``'tinygrad_rnn.cuda.FloatTensor'``
        under CuPy). With a dtype, a dtype name or a type name (``'torch.LongTensor'``): the cast tensor."""
        if dtype is None:
            d = self.data.dtype
            name = _TYPE_OF_DTYPE.get(d, f"{d.name.capitalize()}Tensor")
            return ("tinygrad_rnn.cuda." if backend.name == "cupy" else "tinygrad_rnn.") + name
        return self.astype(_as_dtype("type", dtype))

    def is_floating_point(self) -> builtins.bool:
        return self.data.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        """Bytes per element (PyTorch's ``element_size``; NumPy's ``itemsize``)."""
        return self.data.dtype.itemsize

    # ---- devices (one per process: see tinygrad_rnn/device.py) ----------------------------------------
    @property
    def device(self) -> _device:
        return _current_device()

    @property
    def is_cuda(self) -> builtins.bool:
        return backend.name == "cupy"

    def cpu(self) -> Tensor:
        """This tensor under NumPy. Under CuPy it stays on the GPU, the only device of the process;
        ``.numpy()``/``.item()``/``.tolist()`` copy to the host, so ``y.cpu().numpy()`` works on both."""
        return self

    def cuda(self, device: Any = None, non_blocking: builtins.bool = False) -> Tensor:
        """This tensor under CuPy; a ``ValueError`` under NumPy (this process has no GPU)."""
        _check_device(
            "cuda", "cuda" if device is None else (f"cuda:{device}" if isinstance(device, builtins.int) else device)
        )
        return self

    # ---- reductions --------------------------------------------------------------------------------
    # PyTorch's spelling first (``dim``, ``keepdim``, positional dim); NumPy's ``axis=``/``keepdims=``
    # are aliases. The checks below are identity tests on the defaults, so the common call (no keyword,
    # ``x.sum()`` or ``x.sum(1)``) builds nothing.
    def sum(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE,
            dtype: Any = None) -> Tensor:  # fmt: skip
        """Sum over ``dim`` (an int, a tuple, or None/``()`` for all), keeping the reduced dims with ``keepdim``."""
        x, dim, keepdim = _sum_mean_args(self, "sum", dim, keepdim, axis, keepdims, dtype)
        return _ops.Sum.apply(x, axis=dim, keepdims=keepdim)

    def mean(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE,
             dtype: Any = None) -> Tensor:  # fmt: skip
        """Mean over ``dim`` (an int, a tuple, or None/``()`` for all)."""
        x, dim, keepdim = _sum_mean_args(self, "mean", dim, keepdim, axis, keepdims, dtype)
        return _ops.Mean.apply(x, axis=dim, keepdims=keepdim)

    def max(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
        """PyTorch's max. ``x.max()``: the largest element (0-d; ties share the gradient equally).
        ``x.max(dim, keepdim=False)``: the namedtuple ``(values, indices)``; the gradient goes to the
        element at ``indices``, which on ties is the first maximum (NumPy's and PyTorch's argmax).
        ``x.max(other)`` with a tensor: the elementwise maximum.

        NumPy's spelling keeps NumPy's meaning: ``x.max(axis=1)`` (or any call with ``axis=`` or
        ``keepdims=``) returns the values only, like :meth:`amax`.
        """
        return _max_min(self, "max", dim, keepdim, axis, keepdims)

    def min(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Any:
        """PyTorch's min; see :meth:`max` (the same forms, with ``(values, indices)`` of the minimum)."""
        return _max_min(self, "min", dim, keepdim, axis, keepdims)

    def amax(self, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """The maximum over ``dim`` (an int or a tuple; ``()``, the default, means all). Values only;
        ties share the gradient equally, as in PyTorch's amax."""
        dim, keepdim = _reduce_args("amax", _NONE if dim == () else dim, keepdim, axis, keepdims)
        return _ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim: Any = (), keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """The minimum over ``dim``; see :meth:`amax`."""
        dim, keepdim = _reduce_args("amin", _NONE if dim == () else dim, keepdim, axis, keepdims)
        return _ops.Min.apply(self, axis=dim, keepdims=keepdim)

    def argmax(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """int64 indices of the maxima along ``dim`` (None: into the flattened tensor); the first on ties.
        Not differentiable."""
        dim, keepdim = _pick_dim("argmax", dim, axis, None), _pick_keep("argmax", keepdim, keepdims)
        return _arg_reduce(self, "argmax", dim, keepdim)

    def argmin(self, dim: Any = _NONE, keepdim: Any = _FALSE, *, axis: Any = _NONE, keepdims: Any = _FALSE) -> Tensor:
        """int64 indices of the minima along ``dim``; see :meth:`argmax`."""
        dim, keepdim = _pick_dim("argmin", dim, axis, None), _pick_keep("argmin", keepdim, keepdims)
        return _arg_reduce(self, "argmin", dim, keepdim)

    def softmax(self, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
        """Softmax along ``dim`` (default: the last), computed in ``dtype`` when one is given."""
        d = (-1 if dim is _NONE else dim) if axis is _NONE else _pick_dim("softmax", dim, axis, -1)
        x = self if dtype is None else self.astype(dtype)
        return _ops.Softmax.apply(x, axis=-1 if d is None else d)

    def log_softmax(self, dim: Any = _NONE, dtype: Any = None, *, axis: Any = _NONE) -> Tensor:
        """Log-softmax along ``dim`` (default: the last), computed in ``dtype`` when one is given."""
        d = (-1 if dim is _NONE else dim) if axis is _NONE else _pick_dim("log_softmax", dim, axis, -1)
        x = self if dtype is None else self.astype(dtype)
        return _ops.LogSoftmax.apply(x, axis=-1 if d is None else d)

    # ---- movement ----------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self if shape == self.data.shape else _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        """PyTorch's flatten: dims ``start_dim..end_dim`` (inclusive) merged into one; a 0-d tensor gives shape (1,)."""
        if self.ndim == 0:
            return self.reshape(1)
        s = self.data.shape
        a = _ops.reduce.normalize_axis("flatten", start_dim, len(s))
        b = _ops.reduce.normalize_axis("flatten", end_dim, len(s))
        if a > b:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {s})")
        n = 1
        for k in s[a : b + 1]:
            n *= k
        return self.reshape(s[:a] + (n,) + s[b + 1 :])

    def unsqueeze(self, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
        """A new dimension of length 1 at ``dim`` (in ``-ndim-1..ndim``)."""
        d = _pick_dim("unsqueeze", dim, axis, None)
        if d is None:
            raise TypeError("unsqueeze: missing the dim argument")
        d = _ops.reduce.normalize_axis("unsqueeze", d, self.ndim + 1)
        s = self.data.shape
        return self.reshape(s[:d] + (1,) + s[d:])

    def squeeze(self, dim: Any = _NONE, *, axis: Any = _NONE) -> Tensor:
        """Drop dimensions of length 1: all of them, or those in ``dim`` (an int or a tuple).

        PyTorch's rule for ``dim``: a named dimension that is not of length 1 is left as it is. NumPy's
        ``axis=`` keeps NumPy's rule: such a dimension is a ``ValueError``.
        """
        numpy_rule = axis is not _NONE
        d = _pick_dim("squeeze", dim, axis, None)
        s = self.data.shape
        if d is None:
            return self.reshape(tuple(n for n in s if n != 1))
        axes = _ops.reduce.normalize_axes("squeeze", d, self.ndim)
        if numpy_rule:
            for a in axes:
                if a < len(s) and s[a] != 1:
                    raise ValueError(f"squeeze: axis {a} has length {s[a]}, not 1 (shape {tuple(s)})")
        return self.reshape(tuple(n for i, n in enumerate(s) if not (i in axes and n == 1)))

    def permute(self, *axes: int) -> Tensor:
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _ops.Permute.apply(self, axes=axes)

    def transpose(self, *axes: int) -> Tensor:
        """No arguments: reverse the axes. ``(d0, d1)``: swap two axes (PyTorch). All axes: permute."""
        if not axes:
            return self.T
        if len(axes) == 2 and self.ndim != 2:
            return self.swapaxes(*axes)
        if len(axes) == 2 and self.ndim == 2:
            return self.permute(1, 0) if axes[0] % 2 != axes[1] % 2 else self
        return self.permute(*axes)

    def swapaxes(self, a: int, b: int) -> Tensor:
        order = list(range(self.ndim))
        a, b = a % max(self.ndim, 1), b % max(self.ndim, 1)
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        shape = tuple(shape)
        return self if shape == self.data.shape else _ops.Expand.apply(self, shape=shape)

    def expand(self, *shape: int) -> Tensor:
        """PyTorch's expand: -1 keeps a dimension's size."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        return self.broadcast_to(
            tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
        )

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_as_index(index))

    def split(self, split_size_or_sections: Any, dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
        """PyTorch's split along ``dim`` (default 0): an int is each piece's size, a list the sizes."""
        return _functions.split(self, split_size_or_sections, _pick_dim("split", dim, axis, 0))

    def unbind(self, dim: Any = _ZERO, *, axis: Any = _NONE) -> tuple:
        """The slices along ``dim`` (default 0), as a tuple."""
        d = (0 if dim is _ZERO else dim) if axis is _NONE else _pick_dim("unbind", dim, axis, 0)
        return _ops.Unbind.apply(self, axis=d)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple:
        """PyTorch's chunk: pieces of ``ceil(n / chunks)`` along ``dim``; there may be fewer than ``chunks``."""
        return _functions.chunk(self, chunks, dim)

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        """Elements ``start .. start + length - 1`` along ``dim`` (a differentiable slice)."""
        return _functions.narrow(self, dim, start, length)

    def t(self) -> Tensor:
        """A 2-D tensor transposed; 0-d and 1-D unchanged (PyTorch's ``t()``)."""
        return _functions.t(self)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """``self`` when its array is C-contiguous, else a C-ordered copy (the gradient passes through)."""
        return self if self.data.flags.c_contiguous else _ops.Contiguous.apply(self)

    def is_contiguous(self, memory_format: Any = None) -> builtins.bool:
        return builtins.bool(self.data.flags.c_contiguous)

    def clone(self, memory_format: Any = None) -> Tensor:
        """A copy with its own memory, still on the tape (the gradient passes through unchanged)."""
        return _ops.Clone.apply(self)

    def flip(self, *args: Any, dims: Any = None) -> Tensor:
        """Reverse the order along ``dims``: ``x.flip(0)``, ``x.flip(0, 1)``, ``x.flip((0, 1))``,
        ``x.flip(dims=[0])``."""
        return _functions.flip(self, *args, dims=dims)

    def repeat(self, *sizes: Any) -> Tensor:
        """PyTorch's repeat (NumPy's ``tile``, not NumPy's ``repeat``): ``sizes[i]`` copies along dim i."""
        return _functions.repeat(self, *sizes)

    def repeat_interleave(self, repeats: Any, dim: Any = None, *, output_size: Any = None) -> Tensor:
        """Each element (or slice along ``dim``) repeated in place: NumPy's ``repeat``."""
        return _functions.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.triu(self, diagonal)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        return _functions.diag(self, diagonal)

    # ---- selection by index (PyTorch) ----------------------------------------------------------------
    def gather(self, dim: builtins.int, index: Any) -> Tensor:
        """``out[i][j] = self[i][index[i][j]]`` for ``dim=1``; differentiable in ``self``."""
        return _functions.gather(self, dim, index)

    def scatter(self, dim: builtins.int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
        """Out of place: a copy with ``src`` (or ``value``) written at ``index`` along ``dim``."""
        return _functions.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim: builtins.int, index: Any, src: Any) -> Tensor:
        """Out of place: a copy with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
        return _functions.scatter_add(self, dim, index, src)

    def index_select(self, dim: builtins.int, index: Any) -> Tensor:
        return _functions.index_select(self, dim, index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where the boolean ``mask`` is True (broadcast); zero gradient there."""
        return _functions.masked_fill(self, mask, value)

    # ---- sorting and scans (PyTorch) -----------------------------------------------------------------
    def sort(self, dim: Any = _LAST, descending: builtins.bool = False, stable: builtins.bool = False, *,
             axis: Any = _NONE) -> Any:  # fmt: skip
        """The namedtuple ``(values, indices)`` sorted along ``dim``; always stable (see :func:`sort`)."""
        return _functions.sort(self, dim, descending, stable, axis=axis)

    def argsort(self, dim: Any = _LAST, descending: builtins.bool = False, stable: builtins.bool = False, *,
                axis: Any = _NONE) -> Tensor:  # fmt: skip
        return _functions.argsort(self, dim, descending, stable, axis=axis)

    def topk(self, k: builtins.int, dim: Any = _LAST, largest: builtins.bool = True, sorted: builtins.bool = True,
             *, axis: Any = _NONE) -> Any:  # fmt: skip
        """The namedtuple ``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        return _functions.topk(self, k, dim, largest, sorted, axis=axis)

    def cumsum(self, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
        return _functions.cumsum(self, dim, dtype=dtype, axis=axis)

    def cumprod(self, dim: Any = _NONE, *, dtype: Any = None, axis: Any = _NONE) -> Tensor:
        return _functions.cumprod(self, dim, dtype=dtype, axis=axis)

    # ---- batched products (PyTorch) ------------------------------------------------------------------
    def bmm(self, other: Tensor) -> Tensor:
        return _functions.bmm(self, other)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return _functions.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # ---- new tensors like this one (PyTorch): this dtype unless dtype= says otherwise -----------------
    def _new(self, op: str, make: Any, size: tuple, dtype: Any, requires_grad: builtins.bool, device: Any) -> Tensor:
        d = self.data.dtype if dtype is None else _as_dtype(op, dtype)
        return _creation._make(make(_creation._shape(size, None, op), dtype=d), requires_grad, device, op)

    def new_zeros(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        return self._new("new_zeros", xp.zeros, size, dtype, requires_grad, device)

    def new_ones(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        return self._new("new_ones", xp.ones, size, dtype, requires_grad, device)

    def new_empty(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        """Uninitialised, as :func:`empty`."""
        return self._new("new_empty", xp.empty, size, dtype, requires_grad, device)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: builtins.bool = False,
                 device: Any = None) -> Tensor:  # fmt: skip
        full = lambda shape, dtype: xp.full(shape, fill_value, dtype=dtype)  # noqa: E731
        return self._new("new_full", full, (size,), dtype, requires_grad, device)

    def new_tensor(
        self, data: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None
    ) -> Tensor:
        """A copy of ``data`` (never shared, as in PyTorch) in this tensor's dtype unless ``dtype``."""
        d = self.data.dtype if dtype is None else _as_dtype("new_tensor", dtype)
        return _creation._make(as_array(data, d, "new_tensor").copy(), requires_grad, device, "new_tensor")

    # ---- sizes (PyTorch) ---------------------------------------------------------------------------
    @overload
    def size(self) -> Size: ...
    @overload
    def size(self, dim: SupportsIndex) -> builtins.int: ...
    def size(self, dim: Any = None) -> Any:
        """PyTorch's ``size()``: the :class:`Size` of the tensor, or with ``dim`` (negative counts from the
        end) that dimension's length. ``.shape`` is the same tuple (a plain one); :meth:`numel` counts elements."""
        s = self.data.shape
        if dim is None:
            return Size(s)
        n = len(s)
        if isinstance(dim, builtins.bool) or not isinstance(dim, (builtins.int, np.integer)):
            raise TypeError(f"size: dim must be an int, got {dim!r}")
        if not -n <= dim < n:
            raise IndexError(
                f"size: dim {dim} is out of range for a tensor with {n} dimension(s)"
                + (f" (valid: {-n}..{n - 1})" if n else " (a 0-d tensor has none)")
            )
        return builtins.int(s[dim])

    def numel(self) -> builtins.int:
        """The number of elements (NumPy's ``.size``)."""
        return builtins.int(self.data.size)

    nelement = numel

    def dim(self) -> builtins.int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

    ndimension = dim

    # ---- casts (PyTorch) ---------------------------------------------------------------------------
    # x.float(), x.long(), ...: made from _CASTS below the class (one line each would be nine copies
    # of one method). Declared here for type checkers; last in the class, since a name like ``int``
    # or ``bool`` shadows the builtin in the rest of the class body.
    float: Callable[[], Tensor]
    double: Callable[[], Tensor]
    half: Callable[[], Tensor]
    long: Callable[[], Tensor]
    int: Callable[[], Tensor]
    short: Callable[[], Tensor]
    char: Callable[[], Tensor]
    byte: Callable[[], Tensor]
    bool: Callable[[], Tensor]


_CASTS = {
    "float": np.float32,
    "double": np.float64,
    "half": np.float16,
    "long": np.int64,
    "int": np.int32,
    "short": np.int16,
    "char": np.int8,
    "byte": np.uint8,
    "bool": np.bool_,
}


def _cast_method(name: str, dtype: Any) -> Callable[[Tensor], Tensor]:
    def cast(self: Tensor) -> Tensor:
        return self.astype(dtype)

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"``self.astype({np.dtype(dtype).name})``: PyTorch's ``{name}()``."
    return cast


for _name, _dtype in _CASTS.items():
    setattr(Tensor, _name, _cast_method(_name, _dtype))


def _sum_mean_args(x: Tensor, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any, dtype: Any) -> tuple:
    """(input, axis, keepdims) for ``Sum``/``Mean``. The common call (PyTorch's spelling or no arguments)
    is resolved with identity tests alone, so ``x.sum()`` / ``x.sum(1)`` build nothing."""
    if axis is _NONE and keepdims is _FALSE:
        if dim is _NONE or (not dim and type(dim) in _SEQS):  # dim=() reduces everything (PyTorch)
            dim = None
        keepdim = False if keepdim is _FALSE else keepdim
    else:
        dim, keepdim = _reduce_args(op, dim, keepdim, axis, keepdims)
    return (x if dtype is None else x.astype(dtype)), dim, keepdim


def _max_min(x: Tensor, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    """The forms of ``x.max(...)`` / ``x.min(...)`` (see :meth:`Tensor.max`)."""
    reduce = _ops.Max if op == "max" else _ops.Min
    if axis is _NONE and keepdims is _FALSE:
        keep = keepdim is not _FALSE and bool(keepdim)
        if dim is _NONE or dim is None:
            return reduce.apply(x, axis=None, keepdims=keep)
        if isinstance(dim, Tensor):
            return x.maximum(dim) if op == "max" else x.minimum(dim)
        return _max_min_dim(x, op, dim, keep)
    dim, keepdim = _reduce_args(op, dim, keepdim, axis, keepdims)
    return reduce.apply(x, axis=dim, keepdims=keepdim)


def _max_min_dim(x: Tensor, op: str, dim: Any, keepdim: bool) -> Any:
    """``x.max(dim)`` / ``x.min(dim)``: (values, indices) along one dimension, as PyTorch returns them.

    The values are ``x`` indexed at the arg-extremum, so the gradient goes to that one element (PyTorch's
    rule for max/min with a dim), and the backward (a scatter) is itself differentiable.
    """
    if isinstance(dim, np.integer):
        dim = builtins.int(dim)
    if isinstance(dim, builtins.bool) or not isinstance(dim, builtins.int):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}; to reduce several dims use a{op}(dim=...)")
    data = x.data
    nd = data.ndim
    make = _max_result if op == "max" else _min_result
    if nd == 0:  # PyTorch accepts dim 0 or -1 on a 0-d tensor: the value itself, index 0
        _ops.reduce.normalize_axis(op, dim if dim >= 0 else dim + 1, 1)
        return make(x, Tensor._make(xp.zeros((), dtype=np.int64), False, None, 0))
    a = _ops.reduce.normalize_axis(op, dim, nd)
    if data.shape[a] == 0:
        raise ValueError(f"{op}: cannot reduce dim {dim} of length 0 (shape {tuple(data.shape)})")
    idx = (data.argmax(axis=a) if op == "max" else data.argmin(axis=a)).astype(np.int64, copy=False)
    # idx has the shape without dim a; an open grid over the other dims broadcasts against it
    index: list = []
    j = 0
    for i, n in enumerate(data.shape):
        if i == a:
            index.append(idx)
        else:
            index.append(xp.arange(n).reshape((1,) * j + (n,) + (1,) * (nd - 2 - j)))
            j += 1
    values = _ops.GetItem.apply(x, index=tuple(index))
    if keepdim:
        values = values.unsqueeze(a)
        idx = xp.expand_dims(idx, a)
    return make(values, Tensor._make(idx, False, None, 0))


def _arg_reduce(x: Tensor, op: str, dim: Any, keepdim: bool) -> Tensor:
    data = x.data
    if data.size == 0:
        raise ValueError(f"{op}: cannot take the {op} of an empty tensor (shape {tuple(data.shape)})")
    f = data.argmax if op == "argmax" else data.argmin
    if dim is None:
        r = f()
        if keepdim:
            r = xp.reshape(r, (1,) * data.ndim)
    elif data.ndim == 0:
        _ops.reduce.normalize_axis(op, dim if dim >= 0 else dim + 1, 1)
        r = xp.zeros((), dtype=np.int64)
    else:
        r = f(axis=_ops.reduce.normalize_axis(op, dim, data.ndim), keepdims=keepdim)
    return Tensor._make(xp.asarray(r).astype(np.int64, copy=False), False, None, 0)


def _as_index(index: Any) -> Any:
    """Tensors and lists inside an index become backend arrays (integer or boolean)."""
    if isinstance(index, tuple):
        return tuple(_as_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, (list, np.ndarray)):
        a = np.asarray(index)
        if a.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must hold integers or booleans, got {a.dtype}")
        return backend.to_backend(a)
    return index


_function.Tensor = Tensor

from . import autograd as _autograd  # noqa: E402
from . import creation as _creation  # noqa: E402
from . import functions as _functions  # noqa: E402
from . import ops as _ops  # noqa: E402
