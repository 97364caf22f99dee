"""``DistributedDataParallel``: every rank runs the same model on its own shard of the data, and after
``backward()`` every parameter's ``.grad`` is the average over the ranks, so the same optimizer step
keeps the replicas identical.

Gradients travel in buckets. A bucket holds parameters of one dtype in the reverse of their
registration order (the order BPTT finishes them: the output layer first, the first layer last); the
first bucket is small (1 MB) so communication starts early, the others about ``bucket_cap_mb``. Each
parameter's post-accumulate hook (called by the backward pass the moment its ``.grad`` is final)
counts it in; when a bucket is complete, it and every complete bucket before it are packed into one
flat array and started as a non-blocking allreduce, so the reduction overlaps the rest of the backward
pass. Buckets are started in a fixed order on every rank (MPI collectives must match), and the hooks
poll the ones in flight so they progress. At the end of ``backward()`` the remaining buckets are
started, all are waited for, and the averages are written into ``.grad``.

A parameter that got no gradient on this rank (an unused head, a frozen branch) counts as zeros; one
that got none on any rank keeps ``.grad`` unset, as a single process would. So unused parameters never
hang a job, and no ``find_unused_parameters`` is needed (the argument is accepted).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from .. import autograd, backend, distributed
from ..distributed.group import Work, current
from ..modes import MODES
from ..tensor import Tensor
from .module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1 << 20


def _buckets(params: list, cap_bytes: int) -> list:
    """Parameter lists in reverse registration order, one dtype each, the first ~1 MB, then ~``cap_bytes``."""
    out: list = []
    size, cap = 0, _FIRST_BUCKET_BYTES
    for p in reversed(params):
        if out and (size >= cap or out[-1][0].dtype != p.dtype):
            out.append([])
            size, cap = 0, cap_bytes
        if not out:
            out.append([])
        out[-1].append(p)
        size += p.array.nbytes
    return out


class _Step:
    """The reduction of one backward pass: bucket fill counts, buffers and works in flight."""

    def __init__(self, n: int) -> None:
        self.ready = [0] * n
        self.next = 0  # the first bucket not started yet
        self.buffers: list = [None] * n
        self.works: list = []


class DistributedDataParallel(Module):
    """PyTorch's ``DistributedDataParallel`` on the default process group (``distributed.init_process_group``).

    At construction every parameter and buffer gets rank 0's values. ``broadcast_buffers`` also
    sends rank 0's buffers at every forward. ``no_sync()`` accumulates gradients locally for a few
    micro-batches; the next backward outside it averages what accumulated. ``state_dict()`` and
    ``load_state_dict()`` use the wrapped module's own keys (no ``module.`` prefix), so a checkpoint
    saved under DDP loads into the bare model and back; ``load_state_dict`` also accepts keys with the
    prefix. Every forward in grad mode must be followed by a backward, as in PyTorch (evaluate under
    ``no_grad``).

    Beyond PyTorch's arguments: ``overlap=False`` starts every bucket at the end of the backward pass
    instead of during it (to measure what the overlap hides), and ``stats`` counts the reductions, the
    bytes sent and the seconds spent waiting for them at the end of backward.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group: Any = None, bucket_cap_mb: float = 25,
                 find_unused_parameters: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, overlap: bool = True, **kwargs: Any) -> None:  # fmt: skip
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self._group = current()
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        self._params = params
        self._buckets = _buckets(params, int(bucket_cap_mb * (1 << 20)))
        self._where = {id(p): b for b, ps in enumerate(self._buckets) for p in ps}
        self.overlap = overlap  # False: every bucket starts at the end of backward (to measure what overlap hides)
        self.stats = {"steps": 0, "bytes": 0, "wait_s": 0.0}  # reductions, bytes sent into them, time blocked
        self._step: _Step | None = None
        self._expect = False  # a forward in grad mode ran: the next backward must reduce
        self._sync(list(module.parameters()) + [b for _, b in module.named_buffers()])
        self._hooks = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    # ---- forward -----------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers:
            self._sync([b for _, b in self.module.named_buffers()])
        if MODES.grad_enabled and self.require_backward_grad_sync and self._params:
            self._expect = True
            autograd.queue_callback(self._finish)
        return self.module(*args, **kwargs)

    def _sync(self, tensors: list) -> None:
        if self._group.size > 1:
            for t in tensors:
                distributed.broadcast(t, src=0)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward passes only accumulate ``.grad`` locally (gradient accumulation)."""
        old, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ---- the reduction, driven by the backward pass -------------------------------------------------
    def _on_grad(self, p: Tensor) -> None:
        if not self._expect:
            return
        st = self._step
        if st is None:
            st = self._step = _Step(len(self._buckets))
        b = self._where[id(p)]
        st.ready[b] += 1
        while self.overlap and st.next < len(self._buckets) and st.ready[st.next] == len(self._buckets[st.next]):
            self._start(st)
        for w in st.works:  # MPI progresses a non-blocking collective while it is being tested
            w.is_completed()

    def _start(self, st: _Step) -> None:
        b = st.next
        ps = self._buckets[b]
        buf = backend.xp.zeros(sum(p.array.size for p in ps) + len(ps), dtype=ps[0].dtype)
        off = 0
        for k, p in enumerate(ps):
            n = p.array.size
            if p.grad is not None:
                buf[off : off + n] = p.grad.array.ravel()
                buf[-len(ps) + k] = 1  # "this rank has a gradient for p", summed with the values
            off += n
        st.buffers[b] = buf
        self.stats["bytes"] += buf.nbytes
        st.works.append(Work(self._group, self._group.iallreduce(buf, "sum"), f"gradient bucket {b}"))
        st.next += 1

    def _finish(self) -> None:
        if not self._expect:  # a second forward's callback in the same backward: already done
            return
        self._expect = False
        st = self._step or _Step(len(self._buckets))
        self._step = None
        while st.next < len(self._buckets):
            self._start(st)
        t0 = time.perf_counter()
        for w in st.works:
            w.wait()
        self.stats["wait_s"] += time.perf_counter() - t0
        self.stats["steps"] += 1
        size = self._group.size
        for ps, buf in zip(self._buckets, st.buffers):
            used = backend.to_numpy(buf[-len(ps) :])  # the flags, read once per bucket (one copy from a GPU)
            off = 0
            for k, p in enumerate(ps):
                n = p.array.size
                if used[k] > 0:  # some rank had a gradient: the average over all ranks
                    p.grad = Tensor._make((buf[off : off + n] / size).reshape(p.shape), False, None, 0)
                off += n

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> Any:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> Any:
        prefixed = state_dict and all(isinstance(k, str) and k.startswith("module.") for k in state_dict)
        return self.module.load_state_dict(
            {k[len("module."):]: v for k, v in state_dict.items()} if prefixed else state_dict, strict
        )  # fmt: skip
