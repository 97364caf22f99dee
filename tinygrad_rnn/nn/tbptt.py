"""Truncated backpropagation through time: walk a long sequence in windows of k steps.

The state that leaves one window is ``detach()``-ed before it enters the next, so each backward pass
spans at most k steps (memory and time O(k)) while the forward values still carry over exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..tensor import Tensor


def detach_state(state: Any) -> Any:
    """Detach a state tensor, or every tensor inside nested tuples/lists (an LSTM's (h, c))."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple/list of Tensors, got {type(state).__name__}")


def windows(*sequences: Any, k: int, axis: int = 0) -> Iterator[tuple]:
    """Yield aligned slices ``[t, t + k)`` of every sequence along ``axis``; the last may be shorter.

    Works on Tensors and arrays alike. All sequences must have the same length along ``axis``.
    """
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"windows: k must be a positive int, got {k!r}")
    if not sequences:
        raise ValueError("windows: give at least one sequence")
    lengths = {s.shape[axis] for s in sequences}
    if len(lengths) != 1:
        raise ValueError(
            f"windows: sequences differ in length along axis {axis}: {[tuple(s.shape) for s in sequences]}"
        )
    T = lengths.pop()
    lead = (slice(None),) * (axis % sequences[0].ndim)
    for start in range(0, T, k):
        yield tuple(s[lead + (slice(start, min(start + k, T)),)] for s in sequences)


def truncated_bptt(
    step: Callable[..., tuple], *sequences: Any, k: int, state: Any = None, axis: int = 0
) -> tuple[list, Any]:
    """Call ``step(*window_slices, state) -> (result, new_state)`` on consecutive windows of k steps.

    ``new_state`` is detached before the next window (the tail window included). ``step`` usually runs
    the model, the loss, ``backward()`` and the optimizer; returns ``(results, final_state)``.

    Example::

        def step(x, y, state):
            out, state = lstm(x, state)
            loss = F.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
            opt.zero_grad(); loss.backward(); opt.step()
            return loss.item(), state

        losses, state = truncated_bptt(step, inputs, targets, k=35)
    """
    results = []
    for win in windows(*sequences, k=k, axis=axis):
        result, state = step(*win, state)
        state = detach_state(state)
        results.append(result)
    return results, state


__all__: Sequence[str] = ["detach_state", "windows", "truncated_bptt"]
