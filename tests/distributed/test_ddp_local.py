"""DistributedDataParallel and the hooks it rests on, in a world of one process (no MPI needed)."""

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist
from tinygrad_rnn import autograd, nn
from tinygrad_rnn.nn.parallel import DistributedDataParallel, _buckets


@pytest.fixture
def world():
    dist.init_process_group()
    yield
    dist.destroy_process_group()


def test_post_accumulate_hooks_run_when_each_grad_is_final_and_callbacks_after_all():
    a, b = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0, 4.0], requires_grad=True)
    seen = []
    autograd.register_post_accumulate_grad_hook(a, lambda t: seen.append(("a", t.grad.numpy().tolist())))
    handle = b.register_post_accumulate_grad_hook(
        lambda t: (seen.append(("b", t.grad.numpy().tolist())), autograd.queue_callback(lambda: seen.append("end")))
    )
    # b's gradient is final after the first node of the backward pass runs; a's only at the end
    ((a * 2).sum() + (b * b).sum() * 3 + (a * a).sum()).backward()
    assert seen[-1] == "end" and ("a", [4.0, 6.0]) in seen and ("b", [18.0, 24.0]) in seen
    seen.clear()
    handle.remove()
    (a * b).sum().backward()  # grads accumulate; the removed hook stays silent
    assert seen == [("a", [7.0, 10.0])]
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        autograd.register_post_accumulate_grad_hook(a * 1, lambda t: None)


def test_buckets_reverse_order_one_dtype_and_a_small_first_bucket():
    ps = [nn.Parameter(tg.zeros(10, dtype=tg.float64))] + [nn.Parameter(tg.zeros(150_000)) for _ in range(4)]
    bs = _buckets(ps, cap_bytes=2 << 20)  # 0.6 MB float32 parameters, a 1 MB first bucket, then 2 MB ones
    ids = [[id(p) for p in b] for b in bs]
    assert [i for b in ids for i in b] == [id(p) for p in ps[::-1]]  # the order backward finishes them
    assert all(len({p.dtype for p in b}) == 1 for b in bs)
    assert ids == [[id(ps[4]), id(ps[3])], [id(ps[2]), id(ps[1])], [id(ps[0])]]  # the dtype change: its own


def test_world_of_one_keeps_gradients_and_state_dict_keys(world):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    ref = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    ref.load_state_dict(model.state_dict())
    ddp = DistributedDataParallel(model)
    x = tg.randn(5, 3)
    ddp(x).sum().backward()
    ref(x).sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    assert ddp.module is model and list(ddp.state_dict()) == list(model.state_dict())  # no "module." prefix
    prefixed = {"module." + k: v.numpy() * 0 for k, v in model.state_dict().items()}
    ddp.load_state_dict(prefixed)
    assert all(float(abs(p).sum().item()) == 0 for p in model.parameters())


def test_no_sync_accumulates_and_evaluation_under_no_grad_needs_no_backward(world):
    model = nn.Linear(2, 1)
    ddp = DistributedDataParallel(model)
    x = tg.ones(1, 2)
    with ddp.no_sync():
        ddp(x).sum().backward()
    with tg.no_grad():
        ddp(x)
    ddp(x).sum().backward()
    np.testing.assert_allclose(model.weight.grad.numpy(), [[2.0, 2.0]])


def test_needs_an_initialized_group_and_a_module():
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
    dist.init_process_group()
    try:
        with pytest.raises(TypeError, match="expected a Module"):
            DistributedDataParallel(lambda x: x)
        with pytest.raises(RuntimeError, match="already initialized"):
            dist.init_process_group()
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()
