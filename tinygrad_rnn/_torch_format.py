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
import re
import struct
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from . import _npz, backend
from ._npz import BadArchive
from ._torch_pickle import (
    _LEAVES,
    _MAGIC_OP,
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    _Bounded,
    _Marker,
    _Pending,
    _scan,
    _short,
    _StateDict,
    _Storage,
    _unpickle,
)
from ._torch_records import _Loader  # noqa: F401  (for the tests)
from .tensor import Tensor

MAX_PICKLE_BYTES = 64 << 20
MIN_BUDGET = 64 << 20
MAX_EXPANSION = 16


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
        self.arrays: dict[tuple, Any] = {}
        self.versions: dict[tuple, list] = {}

    def __call__(self, p: _Pending) -> Tensor:
        key = (id(p.storage), p.view)
        arr = self.arrays.get(key)
        if arr is None:  # one device copy per view, so aliases share memory on the GPU too
            arr = self.arrays[key] = backend.to_backend(self._array(p.storage, p.view))
        if p.parameter:
            from .nn.module import Parameter  # here: nn imports this package's tensor module first

            t: Tensor = Parameter(arr, requires_grad=p.requires_grad)
        else:
            t = Tensor(arr, requires_grad=p.requires_grad, _share=True)
        t._ver = self.versions.setdefault(key, [0])  # aliases share memory, so they share a version counter
        return t

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
