r"""The notes' "2nd model": a recurrent network whose recurrence runs through its *output* (a Jordan network).

The hidden activation sees the input and the previous output, never the previous hidden activation:

.. math::

    a_t = \tanh\big(w^{(x)} x_t + w^{(y)} y_{t-1} + b\big), \qquad o_t = w^{(o)} a_t + c

What is fed in as :math:`y_{t-1}` decides how the model trains and runs:

* **teacher forcing** (``teacher_forcing=True``): :math:`y_{t-1}` is the *previous target*. Every step then
  depends only on data, so the T steps decouple: no back-propagation through time is needed and all steps
  run as one batched matrix product.
* **free running** (``teacher_forcing=False``): :math:`y_{t-1} = o_{t-1}`, the model's own previous
  output (only the initial :math:`y_0` comes from ``y_prev[0]``, or zeros). This is how the model is used
  at test time, when no targets exist; the gradient flows back through the fed-back outputs (BPTT).
* **scheduled sampling** (``teacher_forcing=True, sampling_prob=p``): at every step t >= 1 and for every
  sequence independently, the model's own :math:`o_{t-1}` replaces the target with probability p (drawn
  from ``tg.backend.host_rng()``, so ``tg.manual_seed`` makes it repeatable). Raising p during training
  narrows the gap between the teacher-forced training and the free-running test conditions.

========================= ======================================================================
x                         ``(T, N, I)`` inputs
y_prev                    ``(T, N, O)``: ``y_prev[t]`` is the value fed as :math:`y_{t-1}` at step t
                          (the targets shifted right by one step, see :meth:`shift_targets`)
w^(x) / b                 ``in_proj.weight (H, I)`` / ``in_proj.bias (H,)``
w^(y)                     ``out_proj.weight (H, O)`` (no bias: b is already there)
w^(o) / c                 ``head.weight (O, H)`` / ``head.bias (O,)``
a_t                       ``(N, H)``; returned outputs ``(T, N, O)`` stack :math:`o_1 … o_T`
========================= ======================================================================
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..nn.layers import Linear
from ..nn.module import Module
from ..op_functions import concat, stack, where
from ..tape import scope
from ..tensor import Tensor


class OutputRecurrentRNN(Module):
    r"""Jordan network: :math:`a_t = \tanh(w^{(x)} x_t + w^{(y)} y_{t-1} + b)`, :math:`o_t = w^{(o)} a_t + c`.

    ``forward(x, y_prev=None, teacher_forcing=True, sampling_prob=0.0) -> outputs (T, N, O)``; see the
    module docstring for the three ways of feeding :math:`y_{t-1}` and for the shapes.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"OutputRecurrentRNN: {what} must be a positive int, got {v!r}")
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.in_proj = Linear(input_size, hidden_size)  # w^(x), b
        self.out_proj = Linear(output_size, hidden_size, bias=False)  # w^(y): one bias per unit is enough
        self.head = Linear(hidden_size, output_size)  # w^(o), c

    @staticmethod
    def shift_targets(y: Tensor, y0: Tensor | None = None) -> Tensor:
        """``(T, N, O)`` targets -> the ``y_prev`` that teacher forcing feeds: ``[y0, y_1, …, y_{T-1}]``
        (``y0`` defaults to zeros of shape ``(N, O)``)."""
        if not isinstance(y, Tensor) or y.ndim != 3:
            raise ValueError(
                f"OutputRecurrentRNN.shift_targets: expected a 3-d (T, N, O) Tensor, got "
                f"{y.shape if isinstance(y, Tensor) else type(y).__name__}"
            )
        first = (
            Tensor(backend.xp.zeros((1,) + y.shape[1:], dtype=y.dtype)) if y0 is None else y0.reshape(1, *y.shape[1:])
        )
        return concat([first, y[:-1]], axis=0) if y.shape[0] > 1 else first

    # ---- input checking ----------------------------------------------------------------------------
    def _check(self, x: Any, y_prev: Any, teacher_forcing: bool, sampling_prob: float) -> None:
        name = "OutputRecurrentRNN"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"{name}: expected input (T, N, input_size={self.input_size}) with T >= 1, got shape {x.shape}"
            )
        if not 0.0 <= float(sampling_prob) <= 1.0:
            raise ValueError(f"{name}: sampling_prob must be in [0, 1], got {sampling_prob}")
        if sampling_prob and not teacher_forcing:
            raise ValueError(
                f"{name}: sampling_prob mixes targets with the model's outputs, so it needs "
                "teacher_forcing=True (free running already feeds only the model's outputs)"
            )
        if y_prev is None:
            if teacher_forcing:
                raise ValueError(
                    f"{name}: teacher_forcing=True needs y_prev (T, N, output_size="
                    f"{self.output_size}), the previous targets; pass teacher_forcing=False to "
                    "run on the model's own outputs"
                )
            return
        if not isinstance(y_prev, Tensor):
            raise TypeError(f"{name}: y_prev must be a Tensor, got {type(y_prev).__name__}")
        T, N, _ = x.shape
        if y_prev.shape != (T, N, self.output_size):
            raise ValueError(
                f"{name}: y_prev must have shape (T, N, output_size) = {(T, N, self.output_size)} "
                f"to match input shape {x.shape}, got {y_prev.shape}"
            )
        if y_prev.dtype != x.dtype:
            raise TypeError(f"{name}: y_prev dtype {y_prev.dtype} != input dtype {x.dtype}")

    # ---- forward -----------------------------------------------------------------------------------
    def forward(
        self, x: Tensor, y_prev: Tensor | None = None, teacher_forcing: bool = True, sampling_prob: float = 0.0
    ) -> Tensor:
        """Outputs :math:`o_1 … o_T` as ``(T, N, O)``; ``y_prev[t]`` is fed as :math:`y_{t-1}` at step t."""
        self._check(x, y_prev, teacher_forcing, sampling_prob)
        T, N, I = x.shape
        H, O = self.hidden_size, self.output_size
        with scope("OutputRecurrentRNN"):
            # w^(x) x_t + b for all T steps in one matmul: the input part never depends on the recurrence
            xw = self.in_proj(x.reshape(T * N, I)).reshape(T, N, H)
            if teacher_forcing and not sampling_prob:
                # the steps decouple: y_{t-1} is data, so the whole sequence is two more matmuls
                y_data: Any = y_prev  # given with teacher forcing (_check)
                a = (xw + self.out_proj(y_data.reshape(T * N, O)).reshape(T, N, H)).tanh()
                return self.head(a.reshape(T * N, H)).reshape(T, N, O)
            y = y_prev[0] if y_prev is not None else Tensor(backend.xp.zeros((N, O), dtype=x.dtype))
            if sampling_prob:
                # one Bernoulli draw per (step, sequence) from the seeded host generator; (T, N, 1) broadcasts
                draws = backend.host_rng().random((T, N, 1)) < float(sampling_prob)
                use_own = backend.to_backend(draws)
            outs: list = []
            xws = xw.unbind(0)
            for t in range(T):
                with scope(f"t={t + 1}"):
                    if t > 0:
                        if not teacher_forcing:
                            y = outs[-1]  # free running: o_{t-1}
                        else:  # scheduled sampling
                            y = where(use_own[t], outs[-1], y_prev[t])  # type: ignore[index]  # given: _check
                    a = (xws[t] + self.out_proj(y)).tanh()
                    outs.append(self.head(a))
            return stack(outs, axis=0)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, output_size={self.output_size}"
