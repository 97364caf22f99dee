"""Reading ``torch.save`` checkpoints without PyTorch and without running pickle's code.

PyTorch writes a checkpoint as a pickle whose tensors are calls to rebuild functions over *storages*:
blocks of raw little-endian bytes kept outside the pickle. Unpickling normally imports and calls
whatever the file names, so a checkpoint can run any code. Here it cannot: the file is first scanned
opcode by opcode (:mod:`pickletools`, which only parses), then unpickled by a ``pickle.Unpickler``
whose ``find_class`` hands out only this module's own stand-ins for the few names PyTorch's format
uses. Each stand-in checks its arguments and builds plain data; nothing of the file's is ever imported
or called. The result holds tinygrad_rnn Tensors, dicts, OrderedDicts, lists, tuples, sets, str,
bytes, int, float, bool and None.

Formats read:

- the zip format (``torch.save`` since PyTorch 1.6): ``<name>/data.pkl``, one ``<name>/data/<key>``
  member per storage and ``<name>/byteorder`` (``little`` or ``big``; little when missing). Other
  members (``version``, ``.data/serialization_id``, ...) are ignored, never read;
- the legacy format (``_use_new_zipfile_serialization=False``, PyTorch < 1.6): five pickles (magic
  number, protocol version 1001, system info, the object, the storage keys) followed by each storage
  as an int64 element count and its bytes, all little-endian.

The names the pickle may use (anything else: ``refuses global <module>.<name>``):

- ``torch._utils._rebuild_tensor``, ``_rebuild_tensor_v2`` and ``_rebuild_tensor_v3`` (a strided view
  of a storage), ``_rebuild_parameter`` and ``_rebuild_parameter_with_state`` (an ``nn.Parameter``;
  extra Python attributes of the parameter are dropped), ``torch._tensor._rebuild_from_type_v2`` with
  ``torch.Tensor`` or ``torch.nn.parameter.Parameter`` (a tensor with Python attributes, which are
  dropped);
- the storage types ``torch.<T>Storage`` (and ``torch.cuda.<T>Storage`` of PyTorch 1.x) for Float,
  Double, Half, BFloat16, Long, Int, Short, Char, Byte and Bool, ``torch.storage.UntypedStorage``, and
  the dtypes ``torch.float32`` ... ``torch.uint64`` that ``_rebuild_tensor_v3`` names;
- ``collections.OrderedDict`` (its ``_metadata`` attribute, PyTorch's per-module versions, set by
  ``BUILD``, is read and dropped; ``BUILD`` on anything else is refused), ``torch.Size`` (becomes a
  tuple), ``builtins.set``/``frozenset``, and ``_codecs.encode(text, "latin1")`` (how protocol 2
  writes ``bytes``). Each stand-in checks its arguments: a wrong count or type is refused by name.

Dtypes: bool, uint8, int8, int16, int32, int64, uint16, uint32, uint64, float16, float32 and float64
load as themselves; **bfloat16 loads as float32** (exactly: a bfloat16 is the top half of a float32).
Complex, quantized, float8 and bit-packed dtypes are refused, as are sparse, nested, meta and
tensor-subclass records, NumPy objects, pickled Modules and any other class.

Limits and checks (every failure is ``BadArchive``, which ``load`` reports as ``ValueError``):

- the zip's directory is checked as for tinygrad_rnn's own format (:func:`_npz.check_directory`):
  every member inside the one archive folder (no ``..``, no empty or odd names), no duplicates,
  stored or deflated, not encrypted, declared sizes possible for the file, no overlaps; CRCs are
  checked as members are read; TorchScript archives (``constants.pkl``, ``code/``) are refused;
- a pickle is at most ``MAX_PICKLE_BYTES`` (64 MiB) and ``MAX_PICKLE_OPS`` (10 million) opcodes of
  protocol 2 to 5; opcodes that build arbitrary objects or read outside the pickle (``INST``, ``OBJ``,
  ``NEWOBJ``, ``NEWOBJ_EX``, ``EXT1/2/4``, ``PERSID``, out-of-band buffers) and protocol 0 text
  opcodes are refused by name; memo indices must be assigned in order (a huge index would make the
  unpickler allocate a huge memo); integers must fit in 64 bits (keeps hashing and size arithmetic
  cheap); nothing may follow the pickle's ``STOP`` in ``data.pkl``;
- a storage reference is ``('storage', <type>, <key>, <location>, <numel>)`` (legacy: one more field,
  ``None``); its key must name a member (zip) or a listed storage (legacy) holding exactly
  ``numel * itemsize`` bytes; the same key must always be declared alike; the location is ignored;
- a tensor record's offset, sizes and strides are non-negative ints (at most 64 dimensions), and the
  furthest element it reaches, ``offset + sum((size_i - 1) * stride_i)``, lies inside its storage:
  checked with Python ints before any view is made, so no value can read outside the storage;
  ``requires_grad`` is a bool (true only for floating dtypes), the hooks an empty dict, the metadata
  at most ``{'neg': bool}`` (a lazy negation, applied);
- the tensors together may hold at most ``MIN_BUDGET`` (64 MiB) + ``MAX_EXPANSION`` (16) times the
  file's size: a small file cannot describe many large overlapping views of one storage. Identical
  views (one tensor saved under two names, as tied weights are) are built once and share their data;
- the result nests at most ``max_depth`` containers inside one another, has no cycles, and its dict
  keys and set items are str, bytes, int, float, bool, None or tuples of those. Shared references
  stay shared. The result is checked whole before any storage is read, so a refused file costs no
  tensor allocation; error messages show hostile values cut short (:class:`_SafeRepr`).

Tensors are copied out of the storages into contiguous arrays (a tensor that is exactly its own
storage keeps it); ``map_location`` has no meaning here: they land on the active backend.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import re
import reprlib
import struct
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from . import _npz, backend
from ._npz import BadArchive
from .tensor import Tensor

MAX_PICKLE_BYTES = 64 << 20
MAX_PICKLE_OPS = 10_000_000
MIN_BUDGET = 64 << 20
MAX_EXPANSION = 16
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


# ---- argument checks -----------------------------------------------------------------------------------


def _int(v: Any, what: str) -> int:
    if type(v) is not int or v < 0:
        raise BadArchive(f"{what} must be a non-negative int, not {_short(v)}")
    return v


def _ints(v: Any, what: str) -> tuple[int, ...]:
    if type(v) is not tuple or len(v) > MAX_NDIM:
        raise BadArchive(f"{what} must be a tuple of at most {MAX_NDIM} ints, not {_short(v)}")
    return tuple(_int(x, f"each of {what}") for x in v)


def _empty_hooks(v: Any) -> None:
    if type(v) not in (dict, _StateDict) or v:
        raise BadArchive(f"a tensor's backward hooks must be an empty OrderedDict, not {_short(v)}")


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise BadArchive(f"{what} must be a bool, not {_short(v)}")
    return v


class _Loader:
    """One checkpoint's unpickling state: the stand-ins, the storages it declares, the views it makes."""

    def __init__(
        self, source: str, budget: int, members: dict[str, zipfile.ZipInfo] | None = None, prefix: str = ""
    ) -> None:
        self.source = source  # "zip" or "legacy": the persistent-id layout
        self.budget = budget
        self.zip_members = members or {}
        self.prefix = prefix
        self.storages: dict[str, _Storage] = {}
        self.view_bytes = 0
        self.allow_storages = False  # only the object's own pickle may refer to storages
        rebuild = {
            "_rebuild_tensor": self._rebuild_tensor,
            "_rebuild_tensor_v2": self._rebuild_tensor_v2,
            "_rebuild_tensor_v3": self._rebuild_tensor_v3,
            "_rebuild_parameter": self._rebuild_parameter,
            "_rebuild_parameter_with_state": self._rebuild_parameter_with_state,
        }
        g: dict[tuple[str, str], _Marker] = {
            ("torch._utils", k): _Func(f"torch._utils.{k}", fn) for k, fn in rebuild.items()
        }
        self.tensor_funcs = tuple(
            g["torch._utils", k] for k in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3")
        )
        g["torch._tensor", "_rebuild_from_type_v2"] = _Func("torch._tensor._rebuild_from_type_v2", self._from_type)
        g["collections", "OrderedDict"] = _Func("collections.OrderedDict", _ordered_dict)
        g["torch", "Size"] = _Func("torch.Size", _size)
        g["torch", "Tensor"] = _TensorType("torch.Tensor", False)
        g["torch.nn.parameter", "Parameter"] = _TensorType("torch.nn.parameter.Parameter", True)
        untyped = _StorageType("torch.storage.UntypedStorage", np.dtype(np.uint8), untyped=True)
        g["torch.storage", "UntypedStorage"] = g["torch", "UntypedStorage"] = untyped
        for mod in ("builtins", "__builtin__"):
            g[mod, "set"] = _Func("builtins.set", _set)
            g[mod, "frozenset"] = _Func("builtins.frozenset", _frozenset)
        g["_codecs", "encode"] = _Func("_codecs.encode", _encode_bytes)
        for n, dt in _STORAGE_DTYPES.items():
            g["torch", n] = g["torch.cuda", n] = _StorageType(f"torch.{n}", dt)
        for n, t in _TORCH_DTYPES.items():
            g["torch", n] = _DType(f"torch.{n}", np.dtype(t))
        assert set(g) == _KNOWN_GLOBALS
        self.globals = g

    # -- what the unpickler calls --
    def find_class(self, module: Any, name: Any) -> Any:
        _check_global_name(module, name)
        return self.globals[module, name]

    def persistent_load(self, pid: Any) -> _Storage:
        if not self.allow_storages:
            raise BadArchive("refuses a persistent id outside the checkpoint's object pickle")
        if type(pid) is not tuple or not pid:
            raise BadArchive(f"refuses persistent id {_short(pid)} (PyTorch writes a tuple)")
        tag = pid[0].decode("ascii", "replace") if type(pid[0]) is bytes else pid[0]
        if tag == "module":
            raise BadArchive("refuses a pickled Module (torch.save(model)); save model.state_dict() instead")
        if tag != "storage":
            raise BadArchive(f"refuses persistent id of kind {_short(tag)} (only 'storage')")
        want = 5 if self.source == "zip" else 6
        if len(pid) != want:
            raise BadArchive(f"a storage persistent id has {len(pid)} fields; the {self.source} format has {want}")
        stype, key, location, numel = pid[1:5]
        if want == 6 and pid[5] is not None:
            raise BadArchive("refuses a storage view (PyTorch < 1.0); re-save the checkpoint with a current torch")
        if not isinstance(stype, _StorageType):
            raise BadArchive(f"a storage persistent id names type {_short(stype)}, not a storage type")
        if type(key) is bytes:
            key = key.decode("ascii", "replace")
        if type(key) is not str or not _KEY.fullmatch(key):
            raise BadArchive(f"a storage persistent id has key {_short(key)}")
        if type(location) not in (str, bytes) or len(location) > 100:
            raise BadArchive(f"a storage persistent id has location {_short(location)}")
        nbytes = _int(numel, f"storage {key!r}'s element count") * stype.dtype.itemsize
        old = self.storages.get(key)
        if old is not None:
            # torch.save refuses to write one storage under two types; a file that does is not its own.
            if old.stype.name.split(".")[-1] != stype.name.split(".")[-1] or old.nbytes != nbytes:
                raise BadArchive(f"storage {key!r} is declared twice with different types or sizes")
            return old
        if self.source == "zip":
            member = f"{self.prefix}/data/{key}"
            info = self.zip_members.get(member)
            if info is None:
                raise BadArchive(f"storage {key!r} has no member {member!r}")
            if info.file_size != nbytes:
                raise BadArchive(
                    f"storage {key!r} declares {numel} elements of {stype.name} ({nbytes} bytes) but member "
                    f"{member!r} holds {info.file_size} bytes"
                )
        storage = _Storage(key, stype, nbytes)
        self.storages[key] = storage
        return storage

    # -- the rebuild functions --
    def _view(
        self,
        storage: Any,
        offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any,
        dtype: np.dtype | None,
        bf16: bool,
        metadata: Any = None,
    ) -> _Pending:
        if not isinstance(storage, _Storage):
            raise BadArchive(f"a tensor record's storage is {_short(storage)}, not a storage")
        offset = _int(offset, "a tensor's storage offset")
        size, stride = _ints(size, "a tensor's size"), _ints(stride, "a tensor's stride")
        if len(size) != len(stride):
            raise BadArchive(f"a tensor's size {size} and stride {stride} differ in length")
        rg = _bool(requires_grad, "a tensor's requires_grad")
        if dtype is None:
            if storage.stype.untyped:
                raise BadArchive("a typed tensor record (v2) refers to an untyped storage")
            dtype, bf16 = storage.stype.dtype, storage.stype.bf16
        elif not storage.stype.untyped:
            raise BadArchive("_rebuild_tensor_v3 refers to a typed storage; PyTorch writes an untyped one")
        neg = False
        if metadata is not None:
            if type(metadata) is not dict or not set(metadata) <= {"neg", "conj"}:
                raise BadArchive(f"a tensor's metadata {_short(metadata)} is not understood")
            if _bool(metadata.get("conj", False), "the conj bit"):
                raise BadArchive("a tensor with the conjugate bit (complex tensors are not supported)")
            neg = _bool(metadata.get("neg", False), "the neg bit")
            if neg and dtype.kind not in "if":
                raise BadArchive(f"a negated view of a {dtype} tensor")
        itemsize = dtype.itemsize
        count = math.prod(size)
        elements = storage.nbytes // itemsize
        if not count and math.prod(max(n, 1) for n in size) * itemsize >= 1 << 62:
            raise BadArchive(f"an empty tensor of size {size} has other dimensions too large for an array")
        if count:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= elements:
                raise BadArchive(
                    f"a tensor (offset {offset}, size {size}, stride {stride}) reaches element {last} of "
                    f"storage {storage.key!r}, which holds {elements} elements of {dtype}"
                )
        if rg and not (bf16 or dtype.kind == "f"):
            raise BadArchive(f"a {dtype} tensor cannot require gradients")
        view = (dtype.str, bf16, offset, size, stride if count else (), neg)
        if view not in storage.views:
            self.view_bytes += count * (4 if bf16 else itemsize)
            if self.view_bytes > self.budget:
                raise BadArchive(
                    f"the tensors would hold more than {self.budget} bytes, far more than the file's storages "
                    "(many overlapping views of one storage)"
                )
            storage.views.add(view)
        return _Pending(view, storage, rg, False)

    def _rebuild_tensor(self, *args: Any) -> _Pending:
        _arity("torch._utils._rebuild_tensor", args, 4, 4)
        storage, offset, size, stride = args
        return self._view(storage, offset, size, stride, False, None, False)

    def _rebuild_tensor_v2(self, *args: Any) -> _Pending:
        _arity("torch._utils._rebuild_tensor_v2", args, 6, 7)
        storage, offset, size, stride, rg, hooks, *meta = args
        _empty_hooks(hooks)
        return self._view(storage, offset, size, stride, rg, None, False, *meta)

    def _rebuild_tensor_v3(self, *args: Any) -> _Pending:
        _arity("torch._utils._rebuild_tensor_v3", args, 7, 8)
        storage, offset, size, stride, rg, hooks, dtype, *meta = args
        _empty_hooks(hooks)
        if not isinstance(dtype, _DType):
            raise BadArchive(f"_rebuild_tensor_v3's dtype is {_short(dtype)}, not a dtype")
        return self._view(storage, offset, size, stride, rg, dtype.dtype, dtype.bf16, *meta)

    def _rebuild_parameter(self, *args: Any) -> _Pending:
        _arity("torch._utils._rebuild_parameter", args, 3, 3)
        data, rg, hooks = args
        return self._parameter(data, rg, hooks)

    def _rebuild_parameter_with_state(self, *args: Any) -> _Pending:
        _arity("torch._utils._rebuild_parameter_with_state", args, 4, 4)
        data, rg, hooks, _state = args  # the parameter's Python attributes: dropped
        return self._parameter(data, rg, hooks)

    def _parameter(self, data: Any, rg: Any, hooks: Any) -> _Pending:
        if not isinstance(data, _Pending) or data.parameter:
            raise BadArchive(f"a Parameter's data is {_short(data)}, not a tensor record")
        _empty_hooks(hooks)
        rg = _bool(rg, "a Parameter's requires_grad")
        if rg and np.dtype(data.view[0]).kind != "f" and not data.view[1]:
            raise BadArchive(f"a {np.dtype(data.view[0])} Parameter cannot require gradients")
        return _Pending(data.view, data.storage, rg, True)

    def _from_type(self, *args: Any) -> _Pending:
        _arity("torch._tensor._rebuild_from_type_v2", args, 4, 4)
        func, new_type, fargs, _state = args  # the tensor's Python attributes: dropped
        if not any(func is f for f in self.tensor_funcs):
            raise BadArchive(f"_rebuild_from_type_v2 calls {_short(func)}, not a tensor rebuild function")
        if not isinstance(new_type, _TensorType):
            raise BadArchive(f"_rebuild_from_type_v2 makes a {_short(new_type)}, not a Tensor or Parameter")
        if type(fargs) is not tuple:
            raise BadArchive("_rebuild_from_type_v2's arguments are not a tuple")
        t = func(*fargs)
        return _Pending(t.view, t.storage, t.requires_grad, new_type.parameter)


def _arity(name: str, args: tuple, lo: int, hi: int) -> None:
    if not lo <= len(args) <= hi:
        want = lo if lo == hi else f"{lo} or {hi}"
        raise BadArchive(f"{name} called with {len(args)} arguments; it takes {want}")


def _ordered_dict(*args: Any) -> _StateDict:
    if args == ():
        return _StateDict()
    if len(args) == 1 and type(args[0]) is list and all(type(p) is tuple and len(p) == 2 for p in args[0]):
        return _StateDict(args[0])
    raise BadArchive(f"collections.OrderedDict called with {_short(args)}")


def _size(*args: Any) -> tuple:
    if len(args) != 1:
        raise BadArchive(f"torch.Size called with {len(args)} arguments")
    return _ints(tuple(args[0]) if type(args[0]) is list else args[0], "torch.Size")


def _set(*args: Any) -> set:
    if len(args) > 1 or (args and type(args[0]) not in (list, tuple)):
        raise BadArchive(f"builtins.set called with {_short(args)}")
    return set(args[0]) if args else set()


def _frozenset(*args: Any) -> frozenset:
    return frozenset(_set(*args))


def _encode_bytes(*args: Any) -> bytes:
    if len(args) != 2 or type(args[0]) is not str or args[1] not in ("latin1", "latin-1"):
        raise BadArchive(f"_codecs.encode called with {_short(args)}; only (text, 'latin1') is read")
    return args[0].encode("latin1")


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, loader: _Loader) -> None:
        super().__init__(io.BytesIO(data))
        self._loader = loader

    def find_class(self, module: str, name: str) -> Any:
        return self._loader.find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return self._loader.persistent_load(pid)


def _unpickle(data: bytes, loader: _Loader, what: str) -> Any:
    # data went through _scan: every opcode is allowed, every length inside data, memo indices in order.
    try:
        return _Unpickler(data, loader).load()
    except BadArchive as e:
        raise BadArchive(f"{what}: {e}") from None
    except Exception as e:  # UnpicklingError, TypeError from a bad REDUCE, KeyError from a bad GET, ...
        raise BadArchive(f"{what} could not be unpickled ({type(e).__name__}: {e})") from None


# ---- turning the unpickled tree into the result --------------------------------------------------------


def _key_ok(k: Any, depth: int = 0) -> bool:
    if type(k) in _LEAVES:
        return True
    return type(k) is tuple and depth < 8 and all(_key_ok(x, depth + 1) for x in k)


def _finish(root: Any, make_tensor: Any, max_depth: int) -> Any:
    """The result: containers rebuilt as plain types, tensor records made Tensors, everything checked.

    The tree is walked twice, first only to check it, so no storage is read for a file that is then
    refused. Iterative and memoised by identity, so shared references stay shared and cost nothing
    twice; a container met again while still open is a cycle.
    """
    _walk(root, None, max_depth)
    return _walk(root, make_tensor, max_depth)


def _walk(root: Any, make_tensor: Any, max_depth: int) -> Any:
    done: dict[int, tuple[Any, int]] = {}  # id -> (converted, height)
    open_: set[int] = set()
    stack: list[tuple[Any, bool, int]] = [(root, False, 0)]
    while stack:
        obj, closing, depth = stack.pop()
        t = type(obj)
        if t in _LEAVES:
            continue
        oid = id(obj)
        if t is _Pending:
            if oid not in done:
                done[oid] = (None if make_tensor is None else make_tensor(obj), 0)
            continue
        if t not in (dict, _StateDict, list, tuple, set, frozenset):
            what = obj.name if isinstance(obj, _Marker) else "a bare storage" if t is _Storage else t.__name__
            raise BadArchive(f"refuses {what} as a value (only tensors, containers and plain values are read)")
        if closing:
            open_.discard(oid)
            if t in (dict, _StateDict):
                items = [(k, done[id(v)][0] if type(v) not in _LEAVES else v) for k, v in obj.items()]
                out: Any = dict(items) if t is dict else OrderedDict(items)
                children = list(obj.values())
            elif t in (set, frozenset):
                out, children = (obj if t is frozenset else set(obj)), []
            else:
                children = list(obj)
                conv = [done[id(v)][0] if type(v) not in _LEAVES else v for v in children]
                out = conv if t is list else tuple(conv)
            height = 1 + max((done[id(v)][1] for v in children if type(v) not in _LEAVES), default=0)
            if height > max_depth:
                raise BadArchive(f"the checkpoint nests more than {max_depth} containers inside one another")
            done[oid] = (out, height)
            continue
        if oid in done:
            continue
        if oid in open_:
            raise BadArchive("the checkpoint's object graph has a cycle")
        if depth >= max_depth:
            raise BadArchive(f"the checkpoint nests more than {max_depth} containers inside one another")
        open_.add(oid)
        stack.append((obj, True, depth))
        if t in (dict, _StateDict):
            for k in obj:
                if not _key_ok(k):
                    raise BadArchive(f"refuses dict key {_short(k)} (keys are str, int, float, bool, None, bytes)")
            kids = list(obj.values())
        elif t in (set, frozenset):
            for k in obj:
                if not _key_ok(k):
                    raise BadArchive(f"refuses set item {_short(k)}")
            kids = []
        else:
            kids = list(obj)
        stack.extend((v, False, depth + 1) for v in reversed(kids) if type(v) not in _LEAVES)
    return root if type(root) in _LEAVES else done[id(root)][0]


class _Tensors:
    """Makes Tensors from checked records, reading each storage once and each distinct view once."""

    def __init__(self, read_storage: Any, big_endian: bool) -> None:
        self.read_storage = read_storage
        self.big_endian = big_endian
        self.arrays: dict[tuple, np.ndarray] = {}

    def __call__(self, p: _Pending) -> Tensor:
        key = (id(p.storage), p.view)
        arr = self.arrays.get(key)
        if arr is None:
            arr = self.arrays[key] = self._array(p.storage, p.view)
        if p.parameter:
            from .nn.module import Parameter  # here: nn imports this package's tensor module first

            return Parameter(backend.to_backend(arr), requires_grad=p.requires_grad)
        return Tensor(backend.to_backend(arr), requires_grad=p.requires_grad)

    def _array(self, st: _Storage, view: tuple) -> np.ndarray:
        dstr, bf16, offset, size, stride, neg = view
        dtype = np.dtype(dstr)
        out_dtype = np.dtype(np.float32) if bf16 else dtype
        count = math.prod(size)
        if count == 0:
            return np.empty(size, dtype=out_dtype)
        if st.data is None:
            st.data = self.read_storage(st)
        raw = st.data
        itemsize = dtype.itemsize
        src = dtype.newbyteorder(">" if self.big_endian else "<")
        flat = raw[: (st.nbytes // itemsize) * itemsize].view(src)
        contiguous = stride == _c_strides(size)
        if contiguous and offset == 0 and count == flat.size and len(st.views) == 1 and src.isnative and not bf16:
            a = flat.reshape(size)  # the tensor is its whole storage: keep the buffer, no copy
        else:
            # Bounds were checked against the storage in _view: this view reads only inside flat.
            v = np.lib.stride_tricks.as_strided(
                flat[offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
            )
            a = np.array(v, dtype=dtype.newbyteorder("="), order="C")
        if bf16:
            a = (a.astype(np.uint32) << 16).view(np.float32)
        if neg:
            a = np.negative(a)
        return a


def _c_strides(size: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for n in reversed(size):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


def _budget(file_size: int) -> int:
    return MIN_BUDGET + MAX_EXPANSION * file_size


# ---- the zip format --------------------------------------------------------------------------------------

_TORCHSCRIPT = ("constants.pkl", "code/")
_PART = re.compile(r"[A-Za-z0-9_.-]{1,200}")


def zip_prefix(infos: list[zipfile.ZipInfo]) -> str | None:
    """The archive folder ``<name>`` of a ``<name>/data.pkl`` member, if the zip has one."""
    found = sorted({i.filename[: -len("/data.pkl")] for i in infos if i.filename.endswith("/data.pkl")})
    found = [p for p in found if p and "/" not in p]
    if len(found) > 1:
        raise BadArchive(f"a zip with {len(found)} PyTorch archives ({found[:3]}); torch.save writes one")
    return found[0] if found else None


def _torch_name_ok(prefix: str) -> Any:
    def ok(name: str) -> bool:
        if not name.startswith(prefix + "/") or len(name) > 1000:
            return False
        parts = name[len(prefix) + 1 :].split("/")
        if parts[-1] == "":  # a directory entry, as zip tools add when re-packing
            parts = parts[:-1]
        return all(_PART.fullmatch(p) and p.strip(".") for p in parts)

    return ok


def load_zip(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], file_size: int, prefix: str, max_depth: int) -> Any:
    """Read a zip-format ``torch.save`` checkpoint whose archive folder is ``prefix``."""
    if any(i.filename.startswith(f"{prefix}/{m}") for m in _TORCHSCRIPT for i in infos):
        raise BadArchive("a TorchScript archive (torch.jit.save); tinygrad_rnn reads torch.save checkpoints only")
    members = _npz.check_directory(
        infos, file_size, _torch_name_ok(prefix), f"a member of the PyTorch archive folder {prefix[:100]!r}"
    )
    big_endian = False
    order = members.get(f"{prefix}/byteorder")
    if order is not None:
        value = _npz.read_member(zf, order, max_bytes=16).tobytes()
        if value not in (b"little", b"big"):
            raise BadArchive(f"byteorder record {value[:20]!r} is neither 'little' nor 'big'")
        big_endian = value == b"big"
    pkl = members[f"{prefix}/data.pkl"]
    if pkl.file_size > MAX_PICKLE_BYTES:
        raise BadArchive(f"data.pkl holds {pkl.file_size} bytes; the limit is {MAX_PICKLE_BYTES}")
    data = _npz.read_member(zf, pkl, max_bytes=MAX_PICKLE_BYTES).tobytes()
    end = _scan(_Bounded(io.BytesIO(data), len(data)), "data.pkl")
    if end != len(data):
        raise BadArchive(f"data.pkl has {len(data) - end} bytes after the pickle's STOP")
    loader = _Loader("zip", _budget(file_size), members, prefix)
    loader.allow_storages = True
    root = _unpickle(data, loader, "data.pkl")

    def read_storage(st: _Storage) -> np.ndarray:
        return _npz.read_member(zf, members[f"{prefix}/data/{st.key}"])

    return _finish(root, _Tensors(read_storage, big_endian), max_depth)


# ---- the legacy format -------------------------------------------------------------------------------------


def looks_legacy(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) starts like a legacy ``torch.save`` file."""
    return looks_pickle(head) and _MAGIC_OP in head[:40]


def looks_pickle(head: bytes) -> bool:
    """Whether ``head`` starts like a pickle of protocol 2 to 5 (refused unless it is a legacy checkpoint)."""
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")


def looks_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def _read_exact(f: IO[bytes], n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise BadArchive(f"{what} ends after {len(data)} of its {n} bytes (truncated?)")
    return data


def load_legacy(f: IO[bytes], file_size: int, max_depth: int) -> Any:
    """Read a legacy (pre-zip) ``torch.save`` checkpoint from ``f``, which is at offset 0."""
    loader = _Loader("legacy", _budget(file_size))
    pos = 0
    values = []
    for what in ("the magic number", "the protocol version", "the system info", "the object", "the storage keys"):
        f.seek(pos)
        cap = min(MAX_PICKLE_BYTES, file_size - pos)
        window = _Bounded(f, cap)
        try:
            length = _scan(window, f"{what} pickle", wide_ints=what == "the magic number")
        except BadArchive:
            if window.left() == 0 and cap < file_size - pos:  # it ran into the limit, not the file's end
                raise BadArchive(f"{what} pickle is longer than the {MAX_PICKLE_BYTES}-byte limit") from None
            raise
        f.seek(pos)
        data = _read_exact(f, length, f"{what} pickle")
        loader.allow_storages = what == "the object"
        values.append(_unpickle(data, loader, f"{what} pickle"))
        pos += length
        if what == "the magic number" and (type(values[0]) is not int or values[0] != LEGACY_MAGIC):
            raise BadArchive("not a PyTorch checkpoint (wrong magic number)")
        if what == "the protocol version" and (type(values[1]) is not int or values[1] != LEGACY_PROTOCOL):
            raise BadArchive(f"legacy protocol version {_short(values[1])}; only {LEGACY_PROTOCOL} is read")
    root, keys = values[3], values[4]
    if type(keys) is not list or not all(type(k) is str for k in keys) or len(set(keys)) != len(keys):
        raise BadArchive("the storage keys pickle is not a list of distinct strings")
    if set(keys) != set(loader.storages):
        extra = sorted(set(keys) ^ set(loader.storages))[0]
        raise BadArchive(f"storage {extra!r} is listed but never used, or used but not listed")
    # The storages follow in the keys' order, each as an int64 element count and its bytes.
    offsets: dict[str, int] = {}
    for key in keys:
        st = loader.storages[key]
        if pos + 8 + st.nbytes > file_size:
            raise BadArchive(
                f"storage {key!r} ({st.nbytes} bytes at offset {pos + 8}) runs past the end of the "
                f"{file_size}-byte file (truncated?)"
            )
        f.seek(pos)
        (numel,) = struct.unpack("<q", _read_exact(f, 8, f"storage {key!r}'s header"))
        if numel * st.stype.dtype.itemsize != st.nbytes:
            raise BadArchive(f"storage {key!r} holds {numel} elements; the pickle declares {st.nbytes} bytes")
        offsets[key] = pos + 8
        pos += 8 + st.nbytes
    if pos != file_size:
        raise BadArchive(f"{file_size - pos} bytes follow the last storage")

    def read_storage(st: _Storage) -> np.ndarray:
        f.seek(offsets[st.key])
        buf = np.empty(st.nbytes, dtype=np.uint8)
        done = 0
        while done < st.nbytes:
            chunk = f.read(min(1 << 24, st.nbytes - done))
            if not chunk:
                raise BadArchive(f"storage {st.key!r} ends early (the file changed while loading?)")
            buf[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)
        return buf

    return _finish(root, _Tensors(read_storage, big_endian=False), max_depth)
