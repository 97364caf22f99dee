"""tg.Generator: PyTorch's Generator methods over a PCG64 stream."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.generator import DEFAULT_SEED


def draws(g, n=5):
    return g.numpy().integers(0, 1 << 30, size=n).tolist()


def test_exposed_at_top_level():
    assert tg.Generator is tg.generator.Generator
    assert "Generator" in tg.__all__ and "utils" in tg.__all__


def test_fresh_generators_share_the_default_seed():
    a, b = tg.Generator(), tg.Generator()
    assert a.initial_seed() == b.initial_seed() == DEFAULT_SEED == 67280421310721
    assert draws(a) == draws(b)


def test_manual_seed_chains_and_restarts():
    g = tg.Generator()
    assert g.manual_seed(42) is g
    first = draws(g)
    assert draws(g) != first  # the stream moves on
    g.manual_seed(42)
    assert draws(g) == first
    assert g.initial_seed() == 42
    assert draws(tg.Generator().manual_seed(43)) != first


def test_negative_seeds_wrap_to_unsigned_like_pytorch():
    g = tg.Generator().manual_seed(-1)
    assert g.initial_seed() == 2**64 - 1
    assert draws(g) == draws(tg.Generator().manual_seed(2**64 - 1))
    assert tg.Generator().manual_seed(np.int64(7)).initial_seed() == 7


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_out_of_range_seed_is_value_error(seed):
    with pytest.raises(ValueError, match="within"):
        tg.Generator().manual_seed(seed)


@pytest.mark.parametrize("seed", [1.5, "3", None, True])
def test_non_int_seed_is_type_error(seed):
    with pytest.raises(TypeError, match="int"):
        tg.Generator().manual_seed(seed)


def test_seed_is_fresh_and_reported():
    g = tg.Generator()
    s1 = g.seed()
    assert g.initial_seed() == s1 and 0 <= s1 < 2**64
    after = draws(g)
    assert draws(tg.Generator().manual_seed(s1)) == after
    assert tg.Generator().seed() != s1  # 2**-64 chance of a false failure


def test_state_round_trip_resumes_exactly():
    g = tg.Generator().manual_seed(9)
    draws(g, 3)
    g.numpy().random()  # leave the stream mid-way through a buffered 32-bit draw as well
    g.numpy().integers(0, 10, dtype=np.uint32)
    state = g.get_state()
    assert isinstance(state, tg.Tensor) and state.dtype == np.uint8 and state.ndim == 1
    expect = draws(g, 10)
    h = tg.Generator().set_state(state)
    assert draws(h, 10) == expect
    assert h.initial_seed() == 9
    g.set_state(state)
    assert draws(g, 10) == expect


def test_get_state_is_a_snapshot():
    g = tg.Generator()
    s = g.get_state()
    before = s.numpy().copy()
    draws(g)
    assert np.array_equal(s.numpy(), before)


def test_set_state_rejects_other_things():
    g = tg.Generator()
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(np.zeros(45, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(tg.zeros(45))
    with pytest.raises(RuntimeError, match="bytes"):
        g.set_state(tg.Tensor(np.zeros(10, np.uint8)))
    with pytest.raises(RuntimeError, match="increment"):
        g.set_state(tg.Tensor(np.zeros(45, np.uint8)))


def test_device_is_recorded_and_repr():
    g = tg.Generator(device="cuda")
    assert g.device == "cuda"
    assert "initial_seed=67280421310721" in repr(g)


def test_global_seed_is_not_touched_by_a_generator():
    tg.manual_seed(3)
    a = tg.rand(3).numpy()
    tg.manual_seed(3)
    draws(tg.Generator().manual_seed(1), 100)
    assert np.array_equal(tg.rand(3).numpy(), a)
