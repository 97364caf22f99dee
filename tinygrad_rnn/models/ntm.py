r"""Neural Turing Machine (Graves, Wayne & Danihelka, 2014): an LSTM controller with a differentiable memory.

The notes' picture: an LSTM/GRU that addresses memory cells; exact integer reads/writes cannot be
optimised, so every read and write touches *all* N cells with a weighting w (non-negative, Σ_i w_i = 1)
focused by a softmax; the address can come from the cells' *contents* (compare a key with each row) and
from their *location* (shift the previous focus). Everything is composed from the framework's ops, so
gradients flow back through memory to earlier time steps.

One time step t (B examples at once; every head h has its own parameters, computed from the controller)::

    controller   (h_t, c_t) = LSTMCell([x_t; r^1_{t-1}; …; r^R_{t-1}], (h_{t-1}, c_{t-1}))
    head params  [k̂, β̂, ĝ, ŝ, γ̂ (, ê, â)] = W_h h_t + b_h              (one Linear per head)
                 k = tanh(k̂)        key                        (M,)
                 β = softplus(β̂)    key strength, ≥ 0          ()
                 g = σ(ĝ)           interpolation gate, (0,1)   ()
                 s = softmax(ŝ)     shift weights over (−1, 0, +1)
                 γ = 1 + softplus(γ̂) sharpening, ≥ 1            ()
                 e = σ(ê), a = tanh(â)   erase and add vectors (write heads only), (M,)
    addressing   K(k, M_i) = k·M_i / (√(k·k + ε) √(M_i·M_i + ε))                cosine similarity
                 w^c_i = softmax_i(β K(k, M_i))                                  content
                 w^g   = g w^c + (1 − g) w_{t−1}                                 interpolation
                 w̃_i   = Σ_{j} w^g_j s_{(i − j) mod N}  = s₋₁ w^g_{i+1} + s₀ w^g_i + s₊₁ w^g_{i−1}
                 w_i   = (w̃_i + ε)^γ / Σ_j (w̃_j + ε)^γ = softmax_i(γ log(w̃_i + ε))   sharpening
    read         r = wᵀ M_{t−1}                         (every read head reads the memory before this write)
    write        M_t = M_{t−1} ∘ Π_h (1 − w^h e^hᵀ) + Σ_h w^h a^hᵀ   (all erases, then all adds)
    output       y_t = W_o [h_t; r^1_t; …; r^R_t] + b_o   (logits; no squashing)

The ε's (``NTM.eps``, 1e-6 by default) make the cosine defined for an all-zero key or row (the √ is never
of 0, so its gradient is finite too) and keep log(w̃ + ε) finite when a weight underflows to 0. The
sharpening is normalised as a softmax (max subtracted), not as Σ w̃^γ: for large γ that sum underflows
(0.3^50 ≈ 7e-27), and dividing by it plus an ε would no longer give weights that sum to 1.
Initial state: memory ``M_0`` is a learned ``(N, M)`` parameter
(small uniform init; an all-equal memory would make content addressing useless at t = 1), every head's
``w_0`` is one-hot on slot 0 (so a location-shifting head has a definite start), ``r_0 = w_0ᵀ M_0`` and
the controller starts from zeros. k and a go through tanh to keep memory values bounded (the paper
leaves them unconstrained; bounded values make training on short budgets steadier).

Shapes (time-major like ``nn.LSTM``; T steps, B batch, I inputs, O outputs, N slots of width M):

======================== ======================= =================================================
``x``                    ``(T, B, I)``           input sequence
outputs                  ``(T, B, O)``           logits from :meth:`NTM.forward`
memory ``M``             ``(B, N, M)``           one memory per example
weights ``w``            ``(B, N)``              per head; rows ≥ 0, sum to 1 (up to ε)
key ``k``, ``e``, ``a``  ``(B, M)``              per head
``β, g, γ``              ``(B, 1)``              per head
shift ``s``              ``(B, 3)``              per head, over shifts (−1, 0, +1)
read weights             ``(T, B, R, N)``        ``return_weights=True``
write weights            ``(T, B, W, N)``        ``return_weights=True``
======================== ======================= =================================================
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..nn import init
from ..nn.cells import LSTMCell
from ..nn.layers import Linear
from ..nn.module import Module
from ..op_functions import concat, softplus, stack
from ..tensor import Tensor

__all__ = [
    "NTM",
    "address",
    "circular_shift",
    "content_addressing",
    "cosine_similarity",
    "interpolate",
    "read_memory",
    "sharpen",
    "write_memory",
]

#: default ε for the cosine, the sharpening log and normalisers (see the module docstring)
EPS = 1e-6


# ---- addressing, one function per equation (each batched over B) ----------------------------------------
def cosine_similarity(key: Tensor, memory: Tensor, eps: float = EPS) -> Tensor:
    """K(k, M_i) for every row i: ``key (B, M)``, ``memory (B, N, M)`` -> ``(B, N)``."""
    B, M = key.shape
    dots = (memory @ key.reshape(B, M, 1)).reshape(B, memory.shape[1])  # M_i · k, batched
    # ε inside the √ rather than added to the norm: √0 has an infinite derivative, √ε does not
    k_norm = ((key * key).sum(axis=-1, keepdims=True) + eps).sqrt()  # (B, 1)
    m_norm = ((memory * memory).sum(axis=-1) + eps).sqrt()  # (B, N)
    return dots / (k_norm * m_norm)


def content_addressing(key: Tensor, beta: Tensor, memory: Tensor, eps: float = EPS) -> Tensor:
    """w^c = softmax_i(β K(k, M_i)): ``beta (B, 1)`` -> ``(B, N)``."""
    return (beta * cosine_similarity(key, memory, eps)).softmax(axis=-1)


def interpolate(w_content: Tensor, w_prev: Tensor, gate: Tensor) -> Tensor:
    """w^g = g w^c + (1 − g) w_{t−1}: the gate chooses between content focus and the previous focus."""
    return w_prev + gate * (w_content - w_prev)


def _roll(w: Tensor, shift: int) -> Tensor:
    """``np.roll(w, shift, axis=1)`` from slices and a concat (so it has a gradient): out_i = w_{i−shift}."""
    N = w.shape[1]
    shift %= N
    if shift == 0:
        return w
    return concat([w[:, N - shift :], w[:, : N - shift]], axis=1)


def circular_shift(w: Tensor, s: Tensor) -> Tensor:
    """w̃_i = s₋₁ w_{i+1} + s₀ w_i + s₊₁ w_{i−1} (indices mod N): a circular convolution with 3 taps.

    ``s (B, 3)`` holds the weights of shifts (−1, 0, +1); a shift of +1 moves the focus from slot i to i+1.
    """
    if s.ndim != 2 or s.shape[1] != 3 or s.shape[0] != w.shape[0]:
        raise ValueError(f"circular_shift: s must be (B={w.shape[0]}, 3) over shifts (-1, 0, +1), got {s.shape}")
    return s[:, 0:1] * _roll(w, -1) + s[:, 1:2] * w + s[:, 2:3] * _roll(w, 1)


def sharpen(w: Tensor, gamma: Tensor, eps: float = EPS) -> Tensor:
    """w_i = (w̃_i + ε)^γ / Σ_j (w̃_j + ε)^γ with γ ≥ 1, undoing the blur that the shift adds.

    Computed as softmax_i(γ log(w̃_i + ε)): a plain power has no finite derivative w.r.t. γ at w̃ = 0, and
    the softmax's max-subtraction keeps the normaliser from underflowing when γ is large.
    """
    return (gamma * (w + eps).log()).softmax(axis=-1)


def address(
    key: Tensor,
    beta: Tensor,
    gate: Tensor,
    shift: Tensor,
    gamma: Tensor,
    w_prev: Tensor,
    memory: Tensor,
    eps: float = EPS,
) -> Tensor:
    """The whole addressing pipeline: content -> interpolation -> shift -> sharpening, ``(B, N)``."""
    w = content_addressing(key, beta, memory, eps)
    w = interpolate(w, w_prev, gate)
    w = circular_shift(w, shift)
    return sharpen(w, gamma, eps)


def read_memory(w: Tensor, memory: Tensor) -> Tensor:
    """r = wᵀ M: ``w (B, N)``, ``memory (B, N, M)`` -> ``(B, M)``."""
    B, N = w.shape
    return (w.reshape(B, 1, N) @ memory).reshape(B, memory.shape[2])


def write_memory(memory: Tensor, ws: list, erases: list, adds: list) -> Tensor:
    """M ∘ Π_h (1 − w^h e^hᵀ) + Σ_h w^h a^hᵀ for write heads h (each ``w (B, N)``, ``e, a (B, M)``)."""
    if not (len(ws) == len(erases) == len(adds)):
        raise ValueError(
            f"write_memory: need one erase and one add per weighting, got {len(ws)} weightings, "
            f"{len(erases)} erases, {len(adds)} adds"
        )
    B, N, M = memory.shape
    for w, e in zip(ws, erases):
        memory = memory * (1.0 - w.reshape(B, N, 1) * e.reshape(B, 1, M))  # outer products, batched
    for w, a in zip(ws, adds):
        memory = memory + w.reshape(B, N, 1) * a.reshape(B, 1, M)
    return memory


# ---- the model ----------------------------------------------------------------------------------------------
class NTM(Module):
    r"""Neural Turing Machine with an LSTM controller; see the module docstring for the equations.

    ``forward(x (T, B, I), return_weights=False)`` returns logits ``(T, B, O)``, or ``(logits, weights)``
    with ``weights = {"read": (T, B, R, N), "write": (T, B, W, N)}`` when ``return_weights`` is True.
    Parameters: ``controller`` (LSTMCell), ``read_heads[h]`` / ``write_heads[h]`` (Linear, C -> M + 6 or
    3M + 6), ``output`` (Linear, C + R·M -> O), ``memory_init`` (N, M).
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        controller_size: int,
        memory_slots: int,
        memory_width: int,
        read_heads: int = 1,
        write_heads: int = 1,
        eps: float = EPS,
    ) -> None:
        super().__init__()
        sizes = {
            "input_size": input_size,
            "output_size": output_size,
            "controller_size": controller_size,
            "memory_slots": memory_slots,
            "memory_width": memory_width,
            "read_heads": read_heads,
            "write_heads": write_heads,
        }
        for what, v in sizes.items():
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"NTM: {what} must be a positive int, got {v!r}")
        if not eps > 0:
            raise ValueError(f"NTM: eps must be > 0 (it keeps the cosine and the sharpening log finite), got {eps!r}")
        self.input_size, self.output_size, self.controller_size = input_size, output_size, controller_size
        self.N, self.M, self.R, self.W, self.eps = memory_slots, memory_width, read_heads, write_heads, eps
        M = memory_width
        self.controller = LSTMCell(input_size + read_heads * M, controller_size)
        # a read head emits k (M), β, g, s (3), γ; a write head also e (M) and a (M)
        self.read_sizes = [M, 1, 1, 3, 1]
        self.write_sizes = [M, 1, 1, 3, 1, M, M]
        for h in range(read_heads):
            setattr(self, f"read_head{h}", Linear(controller_size, sum(self.read_sizes)))
        for h in range(write_heads):
            setattr(self, f"write_head{h}", Linear(controller_size, sum(self.write_sizes)))
        self.output = Linear(controller_size + read_heads * M, output_size)
        # small and distinct rows: identical rows would give content addressing nothing to tell apart
        self.memory_init = init.uniform((memory_slots, memory_width), 0.1)

    def _head(self, layer: Linear, sizes: list, h: Tensor) -> list:
        k, b, g, s, y, *ea = layer(h).split(sizes, axis=-1)
        out = [k.tanh(), softplus(b), g.sigmoid(), s.softmax(axis=-1), 1.0 + softplus(y)]
        if ea:
            out += [ea[0].sigmoid(), ea[1].tanh()]
        return out

    def forward(self, x: Tensor, return_weights: bool = False) -> Any:
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[2] != self.input_size:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"NTM: expected input (T, B, {self.input_size}), got {shape}")
        T, B, _ = x.shape
        if T == 0 or B == 0:
            raise ValueError(f"NTM: input has an empty time or batch axis, shape {x.shape}")
        if x.dtype != self.memory_init.dtype:
            raise TypeError(
                f"NTM: input dtype {x.dtype} != parameter dtype {self.memory_init.dtype}; "
                f"convert one side (.double() / .float())"
            )
        N, M = self.N, self.M
        memory = self.memory_init.reshape(1, N, M).expand(B, N, M)
        w0 = xp.zeros((B, N), dtype=x.dtype)
        w0[:, 0] = 1.0
        w_read = [Tensor(w0) for _ in range(self.R)]
        w_write = [Tensor(w0) for _ in range(self.W)]
        reads = [read_memory(w, memory) for w in w_read]
        state = None
        outs, read_hist, write_hist = [], [], []
        for x_t in x.unbind(0):
            h, c = self.controller(concat([x_t, *reads], axis=-1), state)
            state = (h, c)
            # reads first, from M_{t-1}: the order of the equations in the module docstring
            for i in range(self.R):
                k, b, g, s, y = self._head(getattr(self, f"read_head{i}"), self.read_sizes, h)
                w_read[i] = address(k, b, g, s, y, w_read[i], memory, self.eps)
                reads[i] = read_memory(w_read[i], memory)
            erases, adds = [], []
            for i in range(self.W):
                k, b, g, s, y, e, a = self._head(getattr(self, f"write_head{i}"), self.write_sizes, h)
                w_write[i] = address(k, b, g, s, y, w_write[i], memory, self.eps)
                erases.append(e)
                adds.append(a)
            memory = write_memory(memory, w_write, erases, adds)
            outs.append(self.output(concat([h, *reads], axis=-1)))
            if return_weights:
                read_hist.append(stack(w_read, axis=1))
                write_hist.append(stack(w_write, axis=1))
        y = stack(outs, axis=0)
        if not return_weights:
            return y
        return y, {"read": stack(read_hist, axis=0), "write": stack(write_hist, axis=0)}

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, output_size={self.output_size}, "
            f"controller_size={self.controller_size}, memory_slots={self.N}, memory_width={self.M}, "
            f"read_heads={self.R}, write_heads={self.W}"
        )
