"""Creation functions with PyTorch's forms, without PyTorch: ``*size`` varargs / tuples / ``size=``,
``dtype=``, ``requires_grad=``, ``device=`` (this process's device only), ``full``'s dtype inference,
the ``*_like`` and ``new_*`` families, ``randint`` / ``randperm``, ``from_numpy`` (shared memory under
NumPy), ``as_tensor``, ``is_tensor`` and ``numel``."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend

HERE = "cuda" if backend.name == "cupy" else "cpu"
ELSEWHERE = "cpu" if backend.name == "cupy" else "cuda"


@pytest.mark.parametrize("make", [tg.zeros, tg.ones, tg.empty, tg.randn, tg.rand])
def test_size_forms(make):
    for args, kw in [((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((tg.Size([2, 3]),), {}), ((), {"size": (2, 3)})]:
        assert make(*args, **kw).shape == (2, 3)
    assert make().shape == () and make(()).shape == () and make(0).shape == (0,)
    assert make(np.int64(2), tg.tensor(3)).shape == (2, 3)  # NumPy and 0-d tensor integers
    t = make(2, dtype=tg.float64, requires_grad=True, device=HERE)
    assert t.dtype == np.float64 and t.requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        make(-1)
    with pytest.raises(TypeError, match="a size is a sequence of ints"):
        make(2.5)
    with pytest.raises(TypeError, match="both positionally and as size="):
        make(2, size=(2,))
    with pytest.raises(ValueError, match="cannot move to"):
        make(2, device=ELSEWHERE)


def test_dtypes_of_creation():
    assert tg.zeros(2).dtype == tg.get_default_dtype() and tg.zeros(2, dtype=tg.long).dtype == np.int64
    assert tg.zeros(2, dtype="torch.LongTensor").dtype == np.int64  # PyTorch's type names are dtypes too
    assert tg.full((2,), 7).dtype == np.int64 and tg.full((2,), True).dtype == np.bool_  # PyTorch's inference
    assert tg.full((2,), 1.5).dtype == tg.get_default_dtype() and tg.full((2,), 7, dtype=tg.float64).dtype == np.float64
    assert tg.full(3, 0.5).tolist() == [0.5] * 3
    with pytest.raises(TypeError, match="randn: draws floating-point samples"):
        tg.randn(2, dtype=tg.int64)
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        tg.zeros(2, dtype=tg.int64, requires_grad=True)


def test_like_families():
    x = tg.tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    for f in (tg.zeros_like, tg.ones_like, tg.empty_like):
        assert f(x).shape == (2, 3) and f(x).dtype == np.int32 and f(x, dtype=tg.float64).dtype == np.float64
    assert tg.full_like(x, 4).tolist() == [[4] * 3] * 2 and tg.zeros_like(x, device=HERE).dtype == np.int32
    y = tg.zeros(2, 2, dtype=tg.float64)
    assert tg.randn_like(y).dtype == np.float64 and tg.rand_like(y).shape == (2, 2)
    assert tg.ones_like(np.zeros((1, 2))).shape == (1, 2)  # arrays work too


def test_new_family_keeps_dtype():
    x = tg.zeros(2, dtype=tg.float64)
    for t in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty([2, 3]), x.new_full((2, 3), 1.5)):
        assert t.shape == (2, 3) and t.dtype == np.float64
    assert x.new_full((2,), 1.5).tolist() == [1.5, 1.5]
    assert x.new_tensor([1, 2]).dtype == np.float64  # the source's dtype, even for int data (PyTorch)
    i = tg.zeros(2, dtype=tg.int32)
    assert i.new_full((2,), 1.5).tolist() == [1, 1] and i.new_zeros(1, dtype=tg.float32).dtype == np.float32
    src = np.array([1.0, 2.0])
    t = x.new_tensor(src, requires_grad=True)
    src[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and t.requires_grad  # new_tensor copies
    with pytest.raises(ValueError, match="cannot move to"):
        x.new_zeros(2, device=ELSEWHERE)


def test_randint_and_randperm():
    tg.manual_seed(3)
    a = tg.randint(5, (100,))
    assert a.dtype == np.int64 and a.shape == (100,) and 0 <= int(a.numpy().min()) and int(a.numpy().max()) < 5
    b = tg.randint(2, 5, (3, 4))
    assert b.shape == (3, 4) and set(np.unique(b.numpy())) <= {2, 3, 4}
    assert tg.randint(0, 2, size=(2,), dtype=tg.float32).dtype == np.float32
    tg.manual_seed(3)
    assert tg.randint(5, (100,)).tolist() == a.tolist()  # seeded
    with pytest.raises(TypeError, match="give the size as a tuple"):
        tg.randint(2, 5, 3)
    with pytest.raises(ValueError, match=r"the range \[low, high\) = \[3, 3\) is empty"):
        tg.randint(3, 3, (1,))
    p = tg.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10)) and tg.randperm(0).shape == (0,)


def test_arange_end_and_device():
    assert tg.arange(5).dtype == np.int64 and tg.arange(0, end=3).tolist() == [0, 1, 2]
    assert tg.arange(0.0, 1.0, 0.5, device=HERE).dtype == tg.get_default_dtype()
    with pytest.raises(TypeError, match="both stop and end="):
        tg.arange(0, 3, end=3)
    assert tg.eye(2, device=HERE).shape == (2, 2) and tg.tensor([1.0], device=HERE).shape == (1,)


def test_from_numpy_as_tensor_is_tensor_numel():
    a = np.arange(3.0)
    t = tg.from_numpy(a)
    assert t.dtype == np.float64 and t.tolist() == [0.0, 1.0, 2.0]
    a[0] = 7.0
    assert t.tolist()[0] == (7.0 if backend.name == "numpy" else 0.0)  # shared under NumPy, copied to the GPU
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        tg.from_numpy([1.0])
    x = tg.zeros(2)
    assert tg.as_tensor(x) is x and tg.as_tensor(x, dtype=tg.float64).dtype == np.float64
    assert tg.as_tensor([1, 2]).dtype == np.int64 and tg.as_tensor([1.5]).dtype == tg.get_default_dtype()
    assert tg.is_tensor(x) and not tg.is_tensor(np.zeros(2)) and tg.numel(tg.zeros(2, 3)) == 6
