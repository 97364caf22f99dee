"""``Module`` and ``Parameter``: ordered, named parameters with PyTorch's names and state_dict semantics."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import backend, views
from ..spelling import _cuda_name, _parse_to_args
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a :class:`Module` registers as trainable (``requires_grad=True`` by default)."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        """Shares ``data``'s memory when it is a Tensor or a backend array, as PyTorch's Parameter does."""
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad, _share=True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __getstate__(self) -> tuple:
        # Tensor's slots plus this subclass's __dict__, without the weak back-references (a weakref
        # cannot be pickled, and a copy is not held by the original's modules); a Module's __setstate__
        # links the copy to the copied modules again. Spelled out because Python 3.10's object has no
        # __getstate__ to extend.
        d = {k: v for k, v in self.__dict__.items() if k != _OWNERS}
        slots = {k: getattr(self, k) for k in Tensor.__slots__ if k != "__weakref__" and hasattr(self, k)}
        return (d or None, slots)


# Where a parameter or a module was registered, for drawings that name parameters without params=
# (see registered_names). Each registration appends (weakref to the holding Module, attribute name) to a
# list in the registered object's __dict__: a parameter under _OWNERS, a submodule under _PARENTS. The
# references are weak so a parent or a discarded wrapper is never kept alive by what it holds, and only
# registration and drawing pay for them (nothing on the ops' path). An entry goes stale when the
# attribute is deleted or reassigned; stale and dead entries are skipped when read and pruned when the
# next entry is added, so a list stays about as long as the number of places holding its object now.
_OWNERS = "_owner_refs"
_PARENTS = "_parent_refs"


def _remember(obj: Any, key: str, holder: Module, name: str) -> None:
    """Record that ``holder`` registered ``obj`` (a Parameter or a Module) as attribute ``name``."""
    refs = [e for e in obj.__dict__.get(key, ()) if _holds(e, obj, key)]
    if not any(r() is holder and k == name for r, k in refs):
        refs.append((weakref.ref(holder), name))
    obj.__dict__[key] = refs  # one assignment: a concurrent reader sees the old list or the new one


def _holds(entry: tuple, obj: Any, key: str) -> bool:
    """Does the (weakref, name) ``entry`` still hold ``obj`` (its module alive, the name still ``obj``)?"""
    holder = entry[0]()
    if holder is None:
        return False
    reg = holder.__dict__.get("_parameters" if key == _OWNERS else "_modules")
    return reg is not None and reg.get(entry[1]) is obj


def _holders(obj: Any, key: str) -> list:
    """The live modules that hold ``obj`` now, in registration order."""
    out: list[Module] = []
    for e in tuple(obj.__dict__.get(key, ())):  # a copy: another thread may be registering
        h = e[0]()
        if h is not None and _holds(e, obj, key) and all(h is not o for o in out):
            out.append(h)
    return out


def _roots(m: Module) -> list:
    """The outermost live modules above ``m`` (modules no live module holds), walking up without recursion.

    A module held only inside a cycle of modules (``a.b = b; b.a = a``) has no such root; then ``m`` is
    its own root.
    """
    roots: list = []
    stack, seen = [m], {id(m)}
    while stack:
        x = stack.pop()
        parents = _holders(x, _PARENTS)
        if not parents:
            roots.append(x)
        for p in reversed(parents):  # reversed: the first-registered parent is walked first
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return roots or [m]


def _names_in(root: Module) -> dict:
    """``id(parameter) -> [state_dict keys]`` under ``root``."""
    for _ in range(3):
        try:
            table: dict = {}
            for k, p in root.named_parameters(remove_duplicate=False):
                table.setdefault(id(p), []).append(k)
            return table
        except RuntimeError:  # another thread registered into this model mid-walk: read it again
            continue
    return {}  # still changing: draw its parameters unnamed rather than fail


def registered_names(tensors: Iterable[Any]) -> dict[int, list[str]]:
    """``id(parameter) -> names`` for the parameters among ``tensors`` that some live Module holds.

    A name is the parameter's ``state_dict`` key in the outermost module holding it (a module that no
    live module holds, such as the model the user built): ``encoder.rnn.weight_hh_l0``. A parameter held
    under several names (tied weights, a submodule shared by two parents, or two separate models) gets
    all of them, each model's in its ``state_dict`` order, so the first is the one ``named_parameters()``
    would list. Other tensors are left out. The drawings (``tinygrad_rnn.graph``) use this when no
    ``params=`` is given; it walks the weak back-references recorded at registration up to the roots,
    then reads each root's names once.
    """
    out: dict[int, list[str]] = {}
    root_names: dict[int, dict] = {}  # id(root) -> {id(parameter): [names]}
    roots_of: dict[int, list] = {}  # id(module) -> its roots, shared by its parameters
    keep = []  # the modules whose ids are keys above stay alive until the end (no id is reused)
    done: set = set()
    for t in tensors:
        if id(t) in done or not isinstance(t, Parameter) or not t.__dict__.get(_OWNERS):
            continue
        done.add(id(t))
        names: list[str] = []
        for owner in _holders(t, _OWNERS):
            roots = roots_of.get(id(owner))
            if roots is None:
                roots = roots_of[id(owner)] = _roots(owner)
                keep.append(owner)
            for r in roots:
                table = root_names.get(id(r))
                if table is None:
                    table = root_names[id(r)] = _names_in(r)
                    keep.append(r)
                names.extend(k for k in table.get(id(t), ()) if k not in names)
        if names:
            out[id(t)] = names
    return out


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of layers and models. Assigning a Parameter or Module attribute registers it, in order."""

    training: bool
    _parameters: OrderedDict[str, Any]  # Parameter | None
    _buffers: OrderedDict[str, Any]  # Tensor | None
    _modules: OrderedDict[str, Any]  # Module | None

    if TYPE_CHECKING:
        # Parameters, buffers and submodules are attached with register_parameter/register_buffer or
        # object.__setattr__, which mypy cannot follow: let attribute reads on a Module type as Any.
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        # a name keeps its place in its registry when reassigned (registration order is state_dict order)
        if isinstance(value, Parameter):
            keep = self._parameters
        elif isinstance(value, Module):
            keep = self._modules
        elif value is None and name in self._parameters:
            keep = self._parameters  # a disabled parameter stays listed as None, as in PyTorch
        else:
            keep = None
        for reg in (self._parameters, self._buffers, self._modules):
            if reg is not keep:
                reg.pop(name, None)
        if keep is not None:
            keep[name] = value
            if value is not None:
                _remember(value, _OWNERS if keep is self._parameters else _PARENTS, self, name)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        # without the weak references to the parents: they cannot be pickled, and a copy's parents are
        # the copied ones (their __setstate__ links this module to them)
        return {k: v for k, v in self.__dict__.items() if k != _PARENTS}

    def __setstate__(self, state: dict) -> None:
        # copy.deepcopy and pickle rebuild a module without __setattr__: link what it holds back to it,
        # so a copied model (nn.TransformerEncoder clones its layer) is drawn with its own names
        self.__dict__.update(state)
        for k, p in self._parameters.items():
            if p is not None:
                _remember(p, _OWNERS, self, k)
        for k, m in self._modules.items():
            if m is not None:
                _remember(m, _PARENTS, self, k)

    def __delattr__(self, name: str) -> None:
        for reg in (self._parameters, self._buffers, self._modules):
            reg.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a ``None`` placeholder, e.g. a disabled bias) under ``name``."""
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """State that is saved in state_dict but not trained (running statistics, masks)."""
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    # ---- traversal ---------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        stack = [(prefix, self)]
        seen = set()
        while stack:  # iterative pre-order walk
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            stack.extend(reversed([(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((k, m) for k, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs; a parameter shared by two modules is listed once unless
        ``remove_duplicate=False`` (state_dict lists it under every name, as PyTorch does)."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for k, p in m._parameters.items():
                if p is not None and (not remove_duplicate or id(p) not in seen):
                    seen.add(id(p))
                    yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for mname, m in self.named_modules():
            for k, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{k}" if mname else k), b

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Name -> detached tensor for every parameter and buffer, in registration order."""
        out: OrderedDict = OrderedDict()
        for name, p in self.named_parameters(remove_duplicate=False):
            out[name] = p.detach()
        for name, b in self.named_buffers():
            out[name] = b.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors or NumPy/CuPy arrays) into the parameters, cast to each parameter's dtype.

        With ``strict`` every key must match exactly; shapes must always match.
        """
        own = dict(self.named_parameters(remove_duplicate=False))
        bufs = dict(self.named_buffers())
        missing = [k for k in list(own) + list(bufs) if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own and k not in bufs]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        problems = []
        updates = []
        for k, v in state_dict.items():
            target = own.get(k, bufs.get(k))
            if target is None:
                continue
            arr = v.array if isinstance(v, Tensor) else v
            if not hasattr(arr, "shape"):
                arr = np.asarray(arr)
            if tuple(arr.shape) != target.shape:
                problems.append(f"{k}: checkpoint shape {tuple(arr.shape)} != parameter shape {target.shape}")
                continue
            updates.append((target, backend.to_backend(arr).astype(target.dtype, copy=True)))
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: size mismatch: " + "; ".join(problems))
        for target, arr in updates:  # all-or-nothing: nothing is written if any key is bad
            views.write(target, arr)  # into the parameter's memory, as PyTorch's copy_: views and ties see it
        return IncompatibleKeys(missing, unexpected)

    # ---- modes and helpers -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def cpu(self) -> Module:
        """Every tensor of this process is on its one device (see :mod:`tinygrad_rnn.device`): self."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Self under CuPy; a ``ValueError`` under NumPy (this process has no GPU)."""
        return self.to(_cuda_name(device))

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """PyTorch's ``module.to(dtype)`` / ``to(device, dtype)`` / ``to(tensor)``: cast every floating
        parameter and buffer to a floating ``dtype`` (in place; returns self). The device, if given,
        must be this process's (``'cpu'`` under NumPy, ``'cuda'`` under CuPy)."""
        op = f"{type(self).__name__}.to"
        d, _ = _parse_to_args(op, args, kwargs)
        if d is None:
            return self
        if d.kind != "f":  # PyTorch: "nn.Module.to only accepts floating point or complex dtypes"
            raise TypeError(f"{op}: modules cast only to floating-point dtypes, got {d}")
        for p in self.parameters():
            if p.dtype != d:
                p.array, p.grad = p.array.astype(d), None
        for _, b in self.named_buffers():
            if b.dtype.kind == "f":
                b.array = b.array.astype(d)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def half(self) -> Module:
        return self.to(np.float16)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n" + "\n".join(lines) + "\n)"
