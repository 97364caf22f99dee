"""Containers that register what they hold: ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

A plain Python list of modules is invisible to ``parameters()`` and ``state_dict()``; these hold their
entries as submodules (or parameters) named ``"0"``, ``"1"``, ... (lists) or by key (dicts), so a
``ModuleList`` stored as ``layers`` gives PyTorch's state_dict keys ``layers.0.weight``. Lists are
renumbered after a deletion or an insertion, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..tensor import Tensor
from .module import Module, Parameter


def _index(owner: str, i: Any, n: int) -> int:
    if not isinstance(i, int) or isinstance(i, bool):
        raise TypeError(f"{owner}: indices must be integers or slices, not {type(i).__name__}")
    if not -n <= i < n:
        raise IndexError(f"{owner}: index {i} is out of range for {n} entries")
    return i % n


def _module(owner: str, m: Any) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{owner}: {type(m).__name__} is not a Module")
    return m


def _parameter(owner: str, p: Any) -> Parameter:
    if isinstance(p, Parameter):
        return p
    if isinstance(p, Tensor):  # PyTorch wraps a plain tensor into a Parameter
        return Parameter(p)
    raise TypeError(f"{owner}: {type(p).__name__} is not a Parameter or Tensor")


def _items(owner: str, entries: Any) -> list:
    """(key, value) pairs from a mapping or an iterable of pairs, in order."""
    if isinstance(entries, Mapping):
        return list(entries.items())
    out = []
    for j, kv in enumerate(entries):
        if not isinstance(kv, (tuple, list)) or len(kv) != 2:
            raise TypeError(f"{owner}.update: element #{j} should be a (key, value) pair, got {kv!r}")
        out.append(tuple(kv))
    return out


class _Indexed(Module):
    """Shared code of the two lists: entries live in one registry under the keys "0", "1", ..."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _registry(self) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check(self, v: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _values(self) -> list:
        return list(self._registry().values())

    def _renumber(self, values: list) -> None:
        for k in list(self._registry()):
            delattr(self, k)
        for j, v in enumerate(values):
            setattr(self, str(j), v)

    def __len__(self) -> int:
        return len(self._registry())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values())

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):  # a slice is a new container sharing the entries, as in PyTorch
            return type(self)(self._values()[i])
        return self._values()[_index(type(self).__name__, i, len(self))]

    def __setitem__(self, i: int, v: Any) -> None:
        setattr(self, str(_index(type(self).__name__, i, len(self))), self._check(v))

    def __delitem__(self, i: int | slice) -> None:
        values = self._values()
        if isinstance(i, slice):
            del values[i]
        else:
            del values[_index(type(self).__name__, i, len(values))]
        self._renumber(values)

    def __iadd__(self, other: Iterable[Any]) -> _Indexed:
        return self.extend(other)

    def __add__(self, other: Iterable[Any]) -> _Indexed:
        return type(self)(self._values() + list(other))

    def append(self, v: Any) -> _Indexed:
        setattr(self, str(len(self)), self._check(v))
        return self

    def extend(self, values: Iterable[Any]) -> _Indexed:
        if isinstance(values, (Module, Tensor)) or not isinstance(values, Iterable):
            raise TypeError(f"{type(self).__name__}.extend: expected an iterable, got {type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def insert(self, index: int, v: Any) -> None:
        """Insert before ``index`` (list semantics: an index past either end inserts at that end)."""
        values = self._values()
        values.insert(index, self._check(v))
        self._renumber(values)

    def pop(self, index: int = -1) -> Any:
        v = self[index]
        del self[index]
        return v


class ModuleList(_Indexed):
    """A list of modules, registered as submodules ``"0"``, ``"1"``, ...; no ``forward`` of its own."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__(modules)

    def _registry(self) -> dict:
        return self._modules

    def _check(self, v: Any) -> Module:
        return _module("ModuleList", v)


class ParameterList(_Indexed):
    """A list of parameters, registered as ``"0"``, ``"1"``, ...; a plain Tensor is wrapped in a Parameter."""

    def _registry(self) -> dict:
        return self._parameters

    def _check(self, v: Any) -> Parameter:
        return _parameter("ParameterList", v)

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {p.shape} {p.dtype}" for k, p in self._parameters.items())


class _Keyed(Module):
    """Shared code of the two dicts: entries live in one registry under their (string) keys, in order."""

    def __init__(self, entries: Any = None) -> None:
        super().__init__()
        if entries is not None:
            self.update(entries)

    def _registry(self) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check(self, v: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _key(self, key: Any) -> str:
        owner = type(self).__name__
        if not isinstance(key, str):
            raise TypeError(f"{owner}: keys must be strings, got {type(key).__name__}")
        if key == "" or "." in key:
            raise KeyError(
                f"{owner}: key {key!r} must be non-empty and contain no '.' (it becomes part of state_dict names)"
            )
        if key not in self._registry() and hasattr(self, key):  # would shadow a method or an attribute
            raise KeyError(f"{owner}: key {key!r} clashes with an attribute of the container")
        return key

    def __getitem__(self, key: str) -> Any:
        reg = self._registry()
        if key not in reg:
            raise KeyError(f"{type(self).__name__}: no entry {key!r}; keys are {list(reg)}")
        return reg[key]

    def __setitem__(self, key: str, v: Any) -> None:
        setattr(self, self._key(key), self._check(v))

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018  (raises the KeyError above for a missing key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._registry())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._registry()))

    def __contains__(self, key: object) -> bool:
        return key in self._registry()

    def keys(self) -> list:
        return list(self._registry())

    def values(self) -> list:
        return list(self._registry().values())

    def items(self) -> list:
        return list(self._registry().items())

    def get(self, key: str, default: Any = None) -> Any:
        return self._registry().get(key, default)

    def pop(self, key: str) -> Any:
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        for k in list(self._registry()):
            delattr(self, k)

    def update(self, entries: Any) -> None:
        for k, v in _items(type(self).__name__, entries):
            self[k] = v


class ModuleDict(_Keyed):
    """An ordered dict of modules, registered as submodules under their keys; no ``forward`` of its own."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__(modules)

    def _registry(self) -> dict:
        return self._modules

    def _check(self, v: Any) -> Module:
        return _module("ModuleDict", v)


class ParameterDict(_Keyed):
    """An ordered dict of parameters under their keys; a plain Tensor is wrapped in a Parameter."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__(parameters)

    def _registry(self) -> dict:
        return self._parameters

    def _check(self, v: Any) -> Parameter:
        return _parameter("ParameterDict", v)

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {p.shape} {p.dtype}" for k, p in self._parameters.items())
