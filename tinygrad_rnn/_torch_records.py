"""The records a ``torch.save`` pickle may build, checked: storages, tensor rebuilds, and the few plain
containers (``OrderedDict``, ``torch.Size``, sets, protocol 2's bytes). :class:`_Loader` is what the
restricted unpickler (:mod:`._torch_pickle`) calls for each allowed name; every argument is checked
here before anything is built (the rules are in :mod:`._torch_format`'s docstring).
"""

from __future__ import annotations

import math
import zipfile
from typing import Any

import numpy as np

from ._npz import BadArchive
from ._torch_pickle import (
    _KEY,
    _KNOWN_GLOBALS,
    _STORAGE_DTYPES,
    _TORCH_DTYPES,
    MAX_NDIM,
    _check_global_name,
    _DType,
    _Func,
    _Marker,
    _Pending,
    _short,
    _StateDict,
    _Storage,
    _StorageType,
    _TensorType,
)

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
