"""Data-parallel training across processes on MPI, with PyTorch's ``torch.distributed`` names.

    import tinygrad_rnn.distributed as dist
    dist.init_process_group()            # the world that `mpiexec -n K` started (one process alone)
    model = tg.nn.parallel.DistributedDataParallel(model)
    ...                                  # every rank: its shard of the data, the same training loop

Nothing here imports mpi4py until ``init_process_group`` runs. See :mod:`.group` (the world, failure
handling), :mod:`.collectives` (``all_reduce``, ``broadcast``, ...), :mod:`.nccl` (the CuPy path) and
:class:`tinygrad_rnn.nn.parallel.DistributedDataParallel`.
"""

from .collectives import ReduceOp, all_gather_object, all_reduce, barrier, broadcast, broadcast_object_list
from .group import (
    Work,
    abort,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    launched_by_mpi,
)

__all__ = [
    "ReduceOp",
    "Work",
    "abort",
    "launched_by_mpi",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
]
