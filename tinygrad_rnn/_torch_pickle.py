"""The restricted unpickler behind :mod:`._torch_format`: what a ``torch.save`` pickle may contain.

A pre-pass walks the opcodes (:func:`_scan`) and refuses any outside :data:`_ALLOWED_OPS` before
``pickle`` runs; ``find_class`` then hands out only inert stand-ins (:class:`_Marker` and friends) for
the allow-listed names, so unpickling never calls anything of the file's choosing. The rules and
limits are listed in :mod:`._torch_format`'s docstring.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import reprlib
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from ._npz import BadArchive

MAX_PICKLE_OPS = 10_000_000
MAX_NDIM = 64  # NumPy's own limit
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_MAGIC_OP = b"\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")  # LONG1, 10 bytes: how pickle writes it
_INT_RANGE = (-(1 << 63), 1 << 64)

# Opcodes of protocols 2-5 that build only plain data, plus the ones PyTorch's format needs (GLOBAL,
# STACK_GLOBAL and REDUCE reach find_class's stand-ins; BUILD reaches their __setstate__; BINPERSID
# reaches persistent_load). Everything else is refused by name before unpickling starts.
_ALLOWED_OPS = frozenset(
    "PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 BINFLOAT "
    "SHORT_BINUNICODE BINUNICODE BINUNICODE8 SHORT_BINSTRING BINSTRING SHORT_BINBYTES BINBYTES BINBYTES8 "
    "EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST APPEND APPENDS LIST EMPTY_DICT DICT SETITEM SETITEMS "
    "EMPTY_SET ADDITEMS FROZENSET BINGET LONG_BINGET BINPUT LONG_BINPUT MEMOIZE GLOBAL STACK_GLOBAL REDUCE "
    "BUILD BINPERSID".split()
)
_OP_HINTS = {
    "INST": "it instantiates an arbitrary class",
    "OBJ": "it instantiates an arbitrary class",
    "NEWOBJ": "it instantiates an arbitrary class",
    "NEWOBJ_EX": "it instantiates an arbitrary class",
    "EXT1": "it names a global through copyreg's extension registry",
    "EXT2": "it names a global through copyreg's extension registry",
    "EXT4": "it names a global through copyreg's extension registry",
    "PERSID": "PyTorch writes binary persistent ids",
    "NEXT_BUFFER": "out-of-band buffers are not part of PyTorch's format",
    "READONLY_BUFFER": "out-of-band buffers are not part of PyTorch's format",
    "LONG4": "integers must fit in 64 bits",
}

# storage type name -> NumPy dtype; bfloat16 is read as uint16 and widened to float32.
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(np.uint16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}
_TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": np.uint16, "int64": np.int64, "long": np.int64,
    "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
}  # fmt: skip
# torch dtypes that have no NumPy counterpart here: complex, quantized, 8/4-bit floats, bit-packed, sub-byte ints.
_OTHER_DTYPES = re.compile(r"complex\d*|c(?:float|double|half)|q(?:u?int\w*)|quint\w+|float[48]_\w+|bits\w+|u?int[1-7]")
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_LEAVES = (type(None), bool, int, float, str, bytes)


class _SafeRepr(reprlib.Repr):
    """repr for error messages about hostile values: bounded in depth, items and string length (a plain
    repr of a deep or huge unpickled value could recurse or build megabytes), no object's own __repr__."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother = 3, 60, 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr_instance(self, x: Any, level: int) -> str:
        if type(x) in (type(None), bool, float):
            return repr(x)
        if type(x) is bytes:
            return repr(x[: self.maxstring]) + ("..." if len(x) > self.maxstring else "")
        if isinstance(x, dict):  # _StateDict
            return self.repr_dict(x, level)
        if isinstance(x, _Marker):
            return x.name
        return f"<{type(x).__name__}>"


_SAFE_REPR = _SafeRepr()


def _short(v: Any) -> str:
    r = _SAFE_REPR.repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


# ---- the stand-ins find_class hands out ---------------------------------------------------------------


class _Marker:
    """A name from the file, mapped to one of ours. BUILD on it is refused (no attributes to set)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __setstate__(self, state: Any) -> None:
        raise BadArchive(f"refuses pickle opcode BUILD on {self.name}")

    def __call__(self, *args: Any) -> Any:
        raise BadArchive(f"refuses calling {self.name}")

    def __repr__(self) -> str:
        return self.name


class _StorageType(_Marker):
    __slots__ = ("dtype", "untyped", "bf16")

    def __init__(self, name: str, dtype: np.dtype, untyped: bool = False) -> None:
        super().__init__(name)
        self.dtype, self.untyped, self.bf16 = dtype, untyped, name.endswith("BFloat16Storage")


class _DType(_Marker):
    __slots__ = ("dtype", "bf16")

    def __init__(self, name: str, dtype: np.dtype) -> None:
        super().__init__(name)
        self.dtype, self.bf16 = dtype, name == "torch.bfloat16"


class _TensorType(_Marker):
    __slots__ = ("parameter",)

    def __init__(self, name: str, parameter: bool) -> None:
        super().__init__(name)
        self.parameter = parameter


class _Func(_Marker):
    __slots__ = ("impl",)

    def __init__(self, name: str, impl: Any) -> None:
        super().__init__(name)
        self.impl = impl

    def __call__(self, *args: Any) -> Any:
        return self.impl(*args)


class _StateDict(OrderedDict):
    """What ``collections.OrderedDict()`` builds; BUILD may only set PyTorch's ``_metadata`` (dropped)."""

    def __setstate__(self, state: Any) -> None:
        if state is None:
            return
        if type(state) is not dict or not set(state) <= {"_metadata"}:
            raise BadArchive(f"refuses BUILD on an OrderedDict with state {_short(state)} (only '_metadata')")


class _Storage:
    __slots__ = ("key", "stype", "nbytes", "views", "data")
    __hash__ = None  # type: ignore[assignment]  # never a dict key or set item

    def __init__(self, key: str, stype: _StorageType, nbytes: int) -> None:
        self.key, self.stype, self.nbytes = key, stype, nbytes
        self.views: set[tuple] = set()
        self.data: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        raise BadArchive("refuses pickle opcode BUILD on a storage")


class _Pending:
    """A checked tensor record; the Tensor is made once the whole pickle has been read."""

    __slots__ = ("view", "storage", "requires_grad", "parameter")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, view: tuple, storage: _Storage, requires_grad: bool, parameter: bool) -> None:
        self.view, self.storage, self.requires_grad, self.parameter = view, storage, requires_grad, parameter

    def __setstate__(self, state: Any) -> None:
        raise BadArchive("refuses pickle opcode BUILD on a tensor")


# ---- the pre-pass -------------------------------------------------------------------------------------


class _Bounded:
    """A read-only window of ``limit`` bytes on a file, for pickletools: reads past it come back short."""

    def __init__(self, f: IO[bytes], limit: int) -> None:
        self._f, self._left, self._start = f, limit, f.tell()

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def readline(self) -> bytes:
        line = self._f.readline(self._left)
        self._left -= len(line)
        return line

    def tell(self) -> int:
        return self._f.tell() - self._start

    def left(self) -> int:
        return self._left


def _scan(f: _Bounded, what: str, wide_ints: bool = False) -> int:
    """Check the pickle starting at ``f``'s position opcode by opcode; its length in bytes.

    ``wide_ints``: let LONG1 go past 64 bits (only for the legacy format's 80-bit magic number).
    """
    n = puts = 0
    try:
        arg: Any
        for op, arg, pos in pickletools.genops(f):  # type: ignore[arg-type]  # read, readline, tell suffice
            n += 1
            name = op.name
            if n > MAX_PICKLE_OPS:
                raise BadArchive(f"{what} has more than {MAX_PICKLE_OPS} pickle opcodes")
            if n == 1 and (name != "PROTO" or not 2 <= arg <= 5):
                raise BadArchive(f"{what} is not a pickle of protocol 2 to 5 (it starts with {name})")
            if name not in _ALLOWED_OPS:
                why = _OP_HINTS.get(name, "a protocol 0/1 text opcode, not part of PyTorch's format")
                raise BadArchive(f"{what}: refuses pickle opcode {name} at byte {pos} ({why})")
            if name in ("BINPUT", "LONG_BINPUT"):
                if arg > puts:
                    raise BadArchive(f"{what}: memo index {arg} at byte {pos} skips ahead of {puts}")
                puts = max(puts, arg + 1)
            elif name == "MEMOIZE":
                puts += 1
            elif name == "FRAME" and arg > f.left():
                raise BadArchive(f"{what}: a frame at byte {pos} declares {arg} bytes; {f.left()} follow")
            elif name == "LONG1" and not wide_ints and not _INT_RANGE[0] <= arg < _INT_RANGE[1]:
                raise BadArchive(f"{what}: the integer at byte {pos} does not fit in 64 bits")
            elif name == "GLOBAL":
                module, _, gname = arg.partition(" ")
                _check_global_name(module, gname)
    except BadArchive:
        raise
    except Exception as e:  # ValueError from pickletools on truncated or unknown opcodes, ...
        raise BadArchive(f"{what} is not a valid pickle ({type(e).__name__}: {e})") from None
    return int(f.tell())


# ---- names ---------------------------------------------------------------------------------------------


def _refusal_hint(module: str, name: str) -> str:
    full = f"{module}.{name}"
    if module in ("torch", "torch.cuda") and name.endswith("Storage"):
        return "complex and quantized tensors are not supported"
    if module == "torch" and _OTHER_DTYPES.fullmatch(name):
        return f"tensors of dtype {full} are not supported"
    if module == "torch._utils" and name.startswith("_rebuild"):
        return "sparse, quantized, nested, meta and device-specific tensors are not supported"
    if module.split(".")[0] == "numpy":
        return "a NumPy object pickled into the checkpoint; store tensors or Python numbers instead"
    if module == "argparse":
        return "pickled argparse arguments; store vars(args) instead"
    if module.startswith("torch.nn.modules") or module == "__main__":
        return "a pickled Module or class (torch.save(model) pickles the code's objects); save model.state_dict()"
    return "only the tensor records of torch.save's format are read"


_KNOWN_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch", "Size"),
    ("torch.storage", "UntypedStorage"),
    ("torch", "UntypedStorage"),
    ("builtins", "set"),
    ("__builtin__", "set"),
    ("builtins", "frozenset"),
    ("__builtin__", "frozenset"),
    ("_codecs", "encode"),
    *(("torch", n) for n in _STORAGE_DTYPES),
    *(("torch.cuda", n) for n in _STORAGE_DTYPES),
    *(("torch", n) for n in _TORCH_DTYPES),
}


def _check_global_name(module: Any, name: Any) -> None:
    if type(module) is not str or type(name) is not str:
        raise BadArchive(f"refuses a global named by {type(module).__name__} and {type(name).__name__}")
    if (module, name) not in _KNOWN_GLOBALS:
        raise BadArchive(f"refuses global {_short_name(module)}.{_short_name(name)} ({_refusal_hint(module, name)})")


def _short_name(s: str) -> str:
    return s if len(s) <= 100 else s[:97] + "..."


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, loader: Any) -> None:  # a _torch_records._Loader
        super().__init__(io.BytesIO(data))
        self._loader = loader

    def find_class(self, module: str, name: str) -> Any:
        return self._loader.find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return self._loader.persistent_load(pid)


def _unpickle(data: bytes, loader: Any, what: str) -> Any:
    # data went through _scan: every opcode is allowed, every length inside data, memo indices in order.
    try:
        return _Unpickler(data, loader).load()
    except BadArchive as e:
        raise BadArchive(f"{what}: {e}") from None
    except Exception as e:  # UnpicklingError, TypeError from a bad REDUCE, KeyError from a bad GET, ...
        raise BadArchive(f"{what} could not be unpickled ({type(e).__name__}: {e})") from None
