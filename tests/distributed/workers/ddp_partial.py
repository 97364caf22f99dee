"""Run under mpiexec -n 2: only rank 0 uses the `extra` layer; it must get half of rank 0's gradient on
every rank, and nothing may hang. Also an uneven last batch (rank 1 has fewer rows)."""

import json

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
from tinygrad_rnn import nn

tg.set_default_dtype("float64")
dist.init_process_group()
rank = dist.get_rank()


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = nn.Linear(2, 2)
        self.extra = nn.Linear(2, 1)

    def forward(self, x, use_extra):
        h = self.base(x)
        return self.extra(h).sum() if use_extra else h.sum()


tg.manual_seed(0)
model = Model()
ddp = nn.parallel.DistributedDataParallel(model)
x = tg.tensor(np.ones((3 if rank == 0 else 1, 2)))  # uneven batches
ddp(x, use_extra=rank == 0).backward()
local = None
if rank == 0:  # what rank 0 alone would compute for the extra layer
    ref = Model()
    ref.load_state_dict(model.state_dict())
    ref(x, True).backward()
    local = ref.extra.weight.grad.numpy().tolist()
print(json.dumps({"rank": rank, "extra": model.extra.weight.grad.numpy().tolist(), "local": local}))
dist.destroy_process_group()
