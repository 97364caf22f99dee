"""Run under mpiexec with PYTHONPATH=tests/fake_gpu TINYGRAD_RNN_BACKEND=cupy: the NCCL process group
on the CuPy stand-in (its fake NCCL over MPI). Prints one JSON line of results per rank.

Collectives (all_reduce SUM/AVG/MAX, a strided view, broadcast) and one DistributedDataParallel
training step, whose gradients are compared across ranks and with a gradient computed alone on the
whole batch (the mean of the ranks' gradients).
"""

import json
import sys

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
from tinygrad_rnn import backend, nn

assert backend.name == "cupy" and backend.xp.__standin__, "run with the stand-in: PYTHONPATH=tests/fake_gpu"
dist.init_process_group("nccl")
r, n = dist.get_rank(), dist.get_world_size()
out = {"rank": r, "size": n, "backend": dist.get_backend(), "group": type(dist.group.current()).__name__}
t = tg.tensor([float(r + 1), 2.0 * r])
dist.all_reduce(t)
out["sum"] = t.numpy().tolist()
u = tg.tensor([r + 1.0, -(r + 1.0)])
dist.all_reduce(u, op=dist.ReduceOp.AVG)
out["avg"] = u.numpy().tolist()
m = tg.tensor([r + 1.0, -(r + 1.0)])
dist.all_reduce(m, op=dist.ReduceOp.MAX)
out["max"] = m.numpy().tolist()
view = tg.zeros(3, 4)[:, 1]  # strided: reduced through a contiguous buffer and written back
dist.all_reduce(view.fill_(float(r + 1)))
out["strided"] = view.numpy().tolist()
i = tg.tensor([r], dtype=tg.int64)
dist.all_reduce(i, async_op=True).wait()
out["int_async"] = int(i.item())
b = tg.tensor(np.arange(3.0) + 10 * r)
dist.broadcast(b, src=n - 1)
out["bcast"] = b.numpy().tolist()

# one DDP step: rank k takes columns k*B/n:(k+1)*B/n of a global batch
tg.manual_seed(3 + r)  # different initial weights: DDP broadcasts rank 0's
model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
ddp = nn.parallel.DistributedDataParallel(model)
rng = np.random.default_rng(0)
B = 4 * n
X, Y = rng.standard_normal((B, 3)).astype(np.float32), rng.standard_normal((B, 2)).astype(np.float32)
cols = slice(r * 4, (r + 1) * 4)
loss = ((ddp(tg.tensor(X[cols])) - tg.tensor(Y[cols])) ** 2).mean()
loss.backward()
grads = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
weights = np.concatenate([p.numpy().ravel() for p in model.parameters()])
gathered = [None] * n
dist.all_gather_object(gathered, (grads, weights))
out["grads_identical"] = all(np.array_equal(g, grads) and np.array_equal(w, weights) for g, w in gathered)
# the same gradient computed alone over the whole batch (the mean of the per-rank means)
ref = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
ref.load_state_dict(model.state_dict())
for p in ref.parameters():
    p.grad = None
((ref(tg.tensor(X)) - tg.tensor(Y)) ** 2).mean().backward()
want = np.concatenate([p.grad.numpy().ravel() for p in ref.parameters()])
out["grads_match_single_process"] = bool(np.allclose(grads, want, rtol=1e-5, atol=1e-6))
dist.barrier()
print(json.dumps(out))
sys.stdout.flush()
dist.destroy_process_group()
