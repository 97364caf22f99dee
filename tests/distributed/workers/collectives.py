"""Run under mpiexec: exercise every collective and print one JSON line of results per rank."""

import json
import sys

import numpy as np

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist

dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()
out = {"rank": r, "size": n, "initialized": dist.is_initialized(), "backend": dist.get_backend()}
t = tg.tensor([float(r + 1), 2.0 * r])
dist.all_reduce(t)
out["sum"] = t.numpy().tolist()
for op in ("AVG", "MAX", "MIN", "PRODUCT"):
    u = tg.tensor(np.array([r + 1.0, -(r + 1.0)]))
    dist.all_reduce(u, op=getattr(dist.ReduceOp, op))
    out[op.lower()] = u.numpy().tolist()
view = tg.zeros(3, 4)[:, 1]  # a strided view: reduced through a contiguous buffer, written back
dist.all_reduce(view.fill_(1.0))
out["strided"] = view.numpy().tolist()
i = tg.tensor([r], dtype=tg.int64)
work = dist.all_reduce(i, async_op=True)
work.wait()
out["int_async"] = int(i.item())
b = tg.tensor(np.arange(3.0) + 10 * r)
dist.broadcast(b, src=n - 1)
out["bcast"] = b.numpy().tolist()
gathered = [None] * n
dist.all_gather_object(gathered, {"r": r, "name": f"rank{r}" * (r + 1)})  # objects of different sizes
out["gathered"] = gathered
objs = [r, [r] * r, f"from {r}"]
dist.broadcast_object_list(objs, src=1 % n)
out["objects"] = objs
dist.barrier()
print(json.dumps(out))
sys.stdout.flush()
dist.destroy_process_group()
out2 = dist.is_initialized()
assert out2 is False
