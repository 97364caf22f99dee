"""Recurrent cells composed from the framework's own ops.

Each cell has a *step* function (:mod:`tinygrad_rnn.steps`) that takes the input projection
``xw = x W_ihᵀ + b_ih`` already computed, so a sequence layer can project all T inputs with one matmul
and run only the recurrent part in its time loop; the cell modules call the same step functions, one
time step at a time.

Notation follows the lecture notes: a_t is the hidden state (PyTorch's h_t), w^(x) the input weights
(``weight_ih``), w^(a) the recurrent weights (``weight_hh``), b^(a) the bias (``bias_ih + bias_hh``).
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..steps import activation, gru_step, lstm_step, rnn_step  # noqa: F401  (re-exported: nn.cells.lstm_step)
from ..tensor import Tensor
from . import init
from .module import Module

State = Any


def check_dtype(owner: str, what: str, t: Tensor, want: Any) -> None:
    """Raise unless ``t`` (the input or an initial state of ``owner``) has the parameters' dtype ``want``.

    The one dtype rule of the cells and sequence layers, checked once at the module boundary so every
    path (fused or composed) gives this same message: without it the fused ops would compute in the
    input's dtype and hand float64 gradients to float32 parameters. Integer input is refused too, as
    PyTorch does: it is almost always token ids that were meant for an embedding first.
    """
    got = t.dtype
    if got == want:
        return
    fix = f"cast {'the input' if what == 'input' else what} with .astype({want})"
    if what == "input" and got.kind == "f":
        fix += f" or the module with .to({got})"
    raise TypeError(
        f"{owner}: {what} dtype {got} != parameter dtype {want}; tinygrad_rnn never upcasts silently: {fix}"
    )


# ---- cell modules -----------------------------------------------------------------------------------
class _CellBase(Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, got "
                f"{input_size} and {hidden_size}"
            )
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        k = init.fan_in_bound(hidden_size)
        G = self.gates * hidden_size
        self.weight_ih = init.uniform((G, input_size), k)
        self.weight_hh = init.uniform((G, hidden_size), k)
        self.register_parameter("bias_ih", init.uniform((G,), k) if bias else None)
        self.register_parameter("bias_hh", init.uniform((G,), k) if bias else None)

    def _input(self, x: Tensor) -> tuple:
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input (N, {self.input_size}) or ({self.input_size},), got shape {x.shape}"
            )
        check_dtype(name, "input", x, self.weight_ih.dtype)
        batched = x.ndim == 2
        return (x if batched else x.reshape(1, -1)), batched

    def _state(self, s: Tensor | None, x: Tensor, batched: bool, what: str = "hx", size: int | None = None) -> Tensor:
        size = self.hidden_size if size is None else size
        want = (x.shape[0], size)
        if s is None:
            return Tensor(xp.zeros(want, dtype=x.dtype))
        check_dtype(type(self).__name__, what, s, x.dtype)  # x already has the parameters' dtype
        if not batched:
            if s.shape != (size,):
                raise ValueError(
                    f"{type(self).__name__}: {what} must have shape ({size},) for unbatched input, got {s.shape}"
                )
            return s.reshape(1, -1)
        if s.shape != want:
            raise ValueError(f"{type(self).__name__}: {what} must have shape {want}, got {s.shape}")
        return s

    def _xw(self, x: Tensor) -> Tensor:
        xw = x @ self.weight_ih.T
        return xw if self.bias_ih is None else xw + self.bias_ih

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    r"""Elman cell: a_t = g(w^(x) x_t + b_ih + w^(a) a_{t-1} + b_hh), g = tanh or ReLU.

    ============ ==========================================
    x            ``(N, input_size)`` or ``(input_size,)``
    hx           ``(N, hidden_size)`` (zeros if omitted)
    weight_ih    ``(hidden_size, input_size)``  (w^(x))
    weight_hh    ``(hidden_size, hidden_size)`` (w^(a))
    returns      a_t, ``(N, hidden_size)``
    ============ ==========================================
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        act = activation(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias)
        self._act = act
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._input(x)
        h = self._state(hx, x, batched)
        xw = self._xw(x)
        if self.bias_hh is not None:
            xw = xw + self.bias_hh
        h = rnn_step(xw, h, self.weight_hh.T, self._act)
        return h if batched else h.reshape(-1)


class LSTMCell(_CellBase):
    r"""Long short-term memory cell (gate order i, f, g, o as in PyTorch).

    a^(i)_t = σ(w^(i) x_t + w^(I) a^(h)_{t-1} + b^(i))      input gate
    a^(f)_t = σ(w^(f) x_t + w^(F) a^(h)_{t-1} + b^(f))      forget gate
    a^(g)_t = tanh(w^(g) x_t + w^(G) a^(h)_{t-1} + b^(g))   candidate
    a^(o)_t = σ(w^(o) x_t + w^(O) a^(h)_{t-1} + b^(o))      output gate
    a^(c)_t = a^(f)_t × a^(c)_{t-1} + a^(i)_t × a^(g)_t     cell (long-term memory)
    a^(h)_t = a^(o)_t × tanh(a^(c)_t)                       hidden state

    ``weight_ih`` stacks [w^(i); w^(f); w^(g); w^(o)] as ``(4H, input_size)``, ``weight_hh`` the
    capitalised ones as ``(4H, H)``; each bias is ``(4H,)``. ``forward(x, (h, c))`` returns ``(h', c')``.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)

    def forward(self, x: Tensor, hx: tuple | None = None) -> tuple:
        x, batched = self._input(x)
        h0, c0 = (None, None) if hx is None else hx
        h, c = self._state(h0, x, batched, "h0"), self._state(c0, x, batched, "c0")
        xw = self._xw(x)
        if self.bias_hh is not None:
            xw = xw + self.bias_hh
        h, c = lstm_step(xw, h, c, self.weight_hh.T)
        return (h, c) if batched else (h.reshape(-1), c.reshape(-1))


class GRUCell(_CellBase):
    r"""Gated recurrent unit (gate order r, z, n as in PyTorch).

    a^(r)_t = σ(w^(r) x_t + b_ir + w^(R) a_{t-1} + b_hr)                    reset gate
    a^(z)_t = σ(w^(z) x_t + b_iz + w^(Z) a_{t-1} + b_hz)                    update gate
    reset_after=True (PyTorch, cuDNN):
        a^(g)_t = tanh(w^(g) x_t + b_in + a^(r)_t × (w^(G) a_{t-1} + b_hn))
    reset_after=False (the original formula, and the notes'):
        a^(g)_t = tanh(w^(g) x_t + b_in + w^(G) (a^(r)_t × a_{t-1}) + b_hn)
    a_t = (1 - a^(z)_t) × a^(g)_t + a^(z)_t × a_{t-1}

    The notes write the update as (1 - z) a_{t-1} + z a^(g); PyTorch's z is the notes' 1 - z, and we
    follow PyTorch so its checkpoints load unchanged. Weights: ``weight_ih (3H, input_size)``,
    ``weight_hh (3H, H)``, biases ``(3H,)``.
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, reset_after: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = reset_after

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._input(x)
        h = self._state(hx, x, batched)
        w_hh_t, w_hn_t = gru_weights(self.weight_hh, self.hidden_size, self.reset_after)
        h = gru_step(self._xw(x), h, w_hh_t, self.bias_hh, self.reset_after, w_hn_t)
        return h if batched else h.reshape(-1)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")


def gru_weights(weight_hh: Tensor, H: int, reset_after: bool) -> tuple:
    """(w_hh_t, w_hn_t) as :func:`gru_step` wants them, transposed once per sequence."""
    if reset_after:
        return weight_hh.T, None
    return weight_hh[: 2 * H].T, weight_hh[2 * H :].T
