"""``Function``: one differentiable op. Applied while grad mode is on, the instance *is* the tape node.

A subclass writes ``forward`` on backend arrays and ``backward`` right beside it. ``backward`` is written
once with Python operators and the helpers in :mod:`tinygrad_rnn.ops.dual`, so the same lines run on
arrays (a plain ``backward()``) and on Tensors (``create_graph=True``, which records the backward pass
itself and gives higher-order derivatives).

A node keeps its input tensors (``parents``), the input arrays it saw (``saved``, plus the output array
when ``needs_output``) and a creation number ``seq``. It never references its output tensor, so a graph
that nobody holds is freed by reference counting.
"""

from __future__ import annotations

import sys
from typing import Any

from . import views as _views
from .backend import xp
from .modes import MODES, Switch

Tensor: Any = None  # bound by tensor.py once the class exists (the two modules need each other)


def describe(values: Any) -> str:
    """'(2, 3) float32, (3,) float64' for error messages."""
    parts = []
    for v in values:
        d = v
        parts.append(f"{tuple(d.shape)} {d.dtype}" if hasattr(d, "shape") else repr(v))
    return ", ".join(parts)


def _rewrap(op: str, err: Exception, inputs: tuple) -> Exception:
    """Re-raise a backend error with the op's name and the shapes/dtypes it was given."""
    cls: type[Exception]
    if isinstance(err, TypeError):
        cls = TypeError
    elif isinstance(err, IndexError) and not isinstance(err, ValueError):
        cls = IndexError
    else:
        cls = ValueError
    msg = str(err)
    if not msg.startswith(op + ":"):
        msg = f"{op}: {msg} (inputs: {describe(inputs)})"
    return cls(msg)


def check_finite(op: str, what: str, arrays: Any, shapes_of: tuple) -> None:
    for i, a in enumerate(arrays):
        if a is None or getattr(a, "dtype", None) is None or a.dtype.kind != "f":
            continue
        if not bool(xp.isfinite(a).all()):
            bad = "NaN" if bool(xp.isnan(a).any()) else "Inf"
            raise FloatingPointError(
                f"detect_anomaly: {what} of op '{op}' produced {bad} in output {i} of shape {tuple(a.shape)} "
                f"(inputs: {describe(shapes_of)})"
            )


class scope(Switch):  # noqa: N801  (a context manager, used like a function)
    """Label the nodes recorded inside: ``with scope("t=3"): ...``. Scopes nest; graph drawings turn
    them into clusters (the recurrent layers open one per layer, direction and time step). A scope
    labels only the nodes its own thread records."""

    mode = "scope"

    def __init__(self, label: str) -> None:
        self.label = str(label)

    def value(self, old: tuple) -> tuple:
        return old + (self.label,)


class Function:
    """One differentiable op (see the module docstring). Besides ``forward``/``backward``, a subclass
    describes itself through class attributes; the defaults below suit most ops.

    Autograd and views: ``needs_output``, ``reads_inputs``, ``is_view``, ``read_only_view``,
    ``multi_output`` (each commented where it is set below).

    Drawings (:mod:`tinygrad_rnn.graph`) ask these instead of knowing ops by name:

    * ``param_suffix``: applied to a parameter (or to such a folded view of one), the op is drawn as part
      of the parameter's node rather than as a node of its own, and this suffix is appended to the
      parameter's name. It is a ``str.format`` template over the op's params, each formatted as a label
      prints it (``".reshape{shape}"`` gives ``W.reshape(4, 3)``, ``"{index}"`` gives ``W[:2, 1]``). A
      suffix ``.permute(1, 0)`` is written ``ᵀ``. ``None`` (the default): never folded.
    * ``label_params``: the params the op's label prints, in that order; ``None`` (the default) prints
      every param that is set (not ``None``/``False``), ``()`` prints none. Array-valued params are
      always printed as their dtype and shape, never their values.
    * ``multiplies_inputs``: the derivative with respect to one input is a product with another input
      (matmul, mul, div, pow), so a gradient path through the op uses the other input's weight; ops in
      which an input only selects a branch (maximum, where, clip) leave it False.
    """

    # per-node fields live in slots (set once in apply); an op's own saved values go in its __dict__
    __slots__ = (
        "parents", "saved", "params", "needs_input_grad", "seq", "scope", "versions", "out_versions", "__dict__",
        "__weakref__",
    )  # fmt: skip
    needs_output = False  # backward wants the forward output (tanh, exp, softmax, ...)
    reads_inputs = True  # backward reads the input values (False: only shapes), so writing them later is an error
    is_view = False  # the output may share the input's memory (basic indexing, reshape, ...): see views.py
    read_only_view = False  # views of its output are read-only (expand: elements share memory)
    multi_output = False  # forward returns a tuple; backward gets a list of output grads (None if unused)
    retained: Any = None  # {output index: weakref to a tensor that called retain_grad()}
    buffers: Any = None  # large saved activations of fused ops, released with ``saved``
    n_out = 1
    # how graph drawings show the op (see the class docstring)
    param_suffix: str | None = None
    label_params: tuple[str, ...] | None = None
    multiplies_inputs = False
    # the slots, filled in by apply() when the node is recorded
    parents: tuple
    saved: tuple | None
    params: dict[str, Any]
    needs_input_grad: tuple[bool, ...]
    seq: int
    scope: tuple
    versions: tuple  # the inputs' versions when recorded (None: version 0); see views.py
    out_versions: tuple  # the outputs' version counters, set only for ops whose backward reads the output

    @classmethod
    def op_name(cls) -> str:
        return cls.__name__.lower()

    @classmethod
    def view_step(cls, params: dict, i: int) -> tuple:
        """How output ``i`` of a view op is rebuilt from the input: ``(FunctionClass, params)``."""
        return cls, params

    def forward(self, *arrays: Any, **params: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g: Any, *inputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run forward on the inputs' arrays; record a node when any input requires grad."""
        fn: Any = cls()  # becomes None when nothing is recorded
        n = len(inputs)  # one or two inputs are the common case: skip the comprehension frames
        datas = (
            (inputs[0].array,)
            if n == 1
            else (inputs[0].array, inputs[1].array)
            if n == 2
            else tuple([t.array for t in inputs])
        )
        try:
            out = fn.forward(*datas, **params)
        except (ValueError, IndexError, TypeError) as e:
            raise _rewrap(cls.op_name(), e, inputs) from e
        multi = type(out) is tuple
        state = MODES
        if state.checks:
            if state.anomaly:
                check_finite(cls.op_name(), "forward", out if multi else (out,), inputs)
            if state.debug:
                print(
                    f"[tinygrad_rnn] {cls.op_name()}({describe(inputs)}) -> {describe(out if multi else (out,))}",
                    file=sys.stderr,
                )
        track = False
        if state.grad_enabled:
            a: Any = inputs[0] if n else None
            needs: tuple
            if n == 1:
                if a._view is not None:
                    _views.refresh(a)
                needs = (a._requires_grad,)
            elif n == 2:
                b = inputs[1]
                if a._view is not None:
                    _views.refresh(a)
                if b._view is not None:
                    _views.refresh(b)
                needs = (a._requires_grad, b._requires_grad)
            else:
                for t in inputs:
                    if t._view is not None:
                        _views.refresh(t)
                needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                track = True
                fn.parents = inputs
                fn.saved = datas + (out,) if cls.needs_output else datas
                fn.params = params
                fn.needs_input_grad = needs
                fn.seq = next(_views.SEQ)
                fn.scope = state.scope
                fn.versions = (
                    (a._ver and a._ver[0],)
                    if n == 1
                    else (a._ver and a._ver[0], inputs[1]._ver and inputs[1]._ver[0])
                    if n == 2
                    else tuple([t._ver and t._ver[0] for t in inputs])
                )
        if not track:
            fn = None
        make = Tensor._make
        if not track and state.grad_enabled and any([getattr(t, "_cut", False) for t in inputs]):
            # ops on detached state (unbinding h0 into layers) stay marked, so drawings show the BPTT cut
            outs = [make(o, False, None, 0) for o in (out if multi else (out,))]
            for o in outs:
                o._cut = True
        elif multi:
            if fn is not None:
                fn.n_out = len(out)
            outs = [make(o, track, fn, i) for i, o in enumerate(out)]
        else:  # the common case, kept short
            o = make(out, track, fn, 0)
            if track and cls.needs_output:
                o._ver = c = [0]
                fn.out_versions = (c,)
            if cls.is_view:
                _views.mark(cls, params, inputs[0], (o,))
            return o
        if track and cls.needs_output:
            fn.out_versions = tuple([_views.counter(o) for o in outs])
        if cls.is_view:
            _views.mark(cls, params, inputs[0], outs)
        return tuple(outs) if multi else outs[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{getattr(self, 'seq', '?')}>"
