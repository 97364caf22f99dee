"""Run under mpiexec (or alone): train a small recurrent model with DistributedDataParallel on this rank's
shard and write the final parameters (and per-step losses) to an .npz named by the arguments.

    python ddp_train.py OUT.npz CELL OPTIMIZER DTYPE STEPS [no_sync]

Every rank takes columns rank*b:(rank+1)*b of a global batch of K*b; run alone (K = 1) with the whole
batch, the same script is the single-process reference.
"""

import sys

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
from tinygrad_rnn import nn, optim

out_path, cell, opt_name, dtype, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
accumulate = len(sys.argv) > 6 and sys.argv[6] == "no_sync"
reference_world = int(sys.argv[7]) if len(sys.argv) > 7 else None  # alone: the global batch of that world
tg.set_default_dtype(dtype)
dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
K = reference_world or world


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = layer(3, 6, num_layers=2)
        self.head = nn.Linear(6, 2)
        self.spare = nn.Linear(2, 2)  # never used: must not hang the job, and keeps no gradient

    def forward(self, x, lengths):
        out, _ = self.rnn(x, lengths=lengths)
        return self.head(out)


tg.manual_seed(7 + rank)  # each rank starts elsewhere: DDP must broadcast rank 0's weights
model = Model()
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several buckets
opt = {
    "sgd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.05),
}[opt_name](ddp.parameters())
rng = np.random.default_rng(0)
T, b = 6, 3
B = K * b
mine = slice(rank * b, (rank + 1) * b) if reference_world is None else slice(0, B)
losses = []
for _ in range(steps):
    X = rng.standard_normal((T, B, 3)).astype(dtype)
    Y = rng.standard_normal((T, B, 2)).astype(dtype)
    L = rng.integers(1, T + 1, B)
    opt.zero_grad()
    micro = 2 if accumulate else 1
    for m in range(micro):  # gradient accumulation: all but the last micro-batch under no_sync
        cols = np.arange(B)[mine][m::micro]
        x, y, lengths = tg.tensor(X[:, cols]), tg.tensor(Y[:, cols]), L[cols].tolist()
        ctx = ddp.no_sync() if m < micro - 1 else None
        if ctx:
            ctx.__enter__()
        loss = ((ddp(x, lengths) - y) ** 2).sum(axis=(0, 2)).sum() / len(range(B)[mine])  # this process's mean
        loss.backward()
        if ctx:
            ctx.__exit__(None, None, None)
        losses.append(loss.item())
    opt.step()
flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
gathered = [None] * world
dist.all_gather_object(gathered, flat)
if rank == 0:
    np.savez(
        out_path,
        params=flat,
        identical=all(np.array_equal(g, flat) for g in gathered),
        spare_grad=model.spare.weight.grad is None,
        world=world,
    )
dist.destroy_process_group()
