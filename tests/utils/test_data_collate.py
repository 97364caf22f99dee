"""default_collate and default_convert: structure, dtypes, shapes and errors (no PyTorch needed)."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.utils.data import default_collate, default_convert

Pair = namedtuple("Pair", "x y")


@pytest.mark.parametrize(
    "batch, dtype, shape",
    [
        ([1.0, 2.0], np.float64, (2,)),  # Python floats: float64, as torch.tensor(..., dtype=float64)
        ([1, 2, 3], np.int64, (3,)),
        ([True, False], np.bool_, (2,)),
        ([1, 2.5], np.float32, (2,)),  # int first, then a float: the default dtype (torch.tensor's rule)
        ([1.0, 2], np.float64, (2,)),
        ([np.float32(1), np.float32(2)], np.float32, (2,)),
        ([np.float64(1)], np.float64, (1,)),
        ([np.int32(1), np.int32(5)], np.int32, (2,)),
        ([np.bool_(True)], np.bool_, (1,)),
        ([np.array(1.0), np.array(2.0)], np.float64, (2,)),
        ([np.zeros(2, np.float32)] * 3, np.float32, (3, 2)),
        ([np.zeros((2, 3), np.int16)] * 2, np.int16, (2, 2, 3)),
    ],
)
def test_numbers_and_arrays(batch, dtype, shape):
    out = default_collate(batch)
    assert isinstance(out, tg.Tensor)
    assert out.dtype == dtype and out.shape == shape


def test_mixed_numbers_follow_the_default_dtype():
    tg.set_default_dtype("float64")
    assert default_collate([1, 2.5]).dtype == np.float64
    assert default_collate([1.0, 2.0]).dtype == np.float64


def test_values_survive():
    assert default_collate([1.5, -2.0]).tolist() == [1.5, -2.0]
    assert default_collate([np.arange(3), np.arange(3) + 10]).tolist() == [[0, 1, 2], [10, 11, 12]]


def test_tensors_stack_on_a_new_axis_keeping_dtype():
    out = default_collate([tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])])
    assert out.shape == (2, 2) and out.dtype == np.float32 and out.tolist() == [[1, 2], [3, 4]]
    out = default_collate([tg.tensor(3), tg.tensor(4)])
    assert out.shape == (2,) and out.dtype == np.int64
    assert default_collate([tg.zeros(2, 3, dtype="float64")] * 4).shape == (4, 2, 3)


def test_stacking_tensors_that_require_grad_keeps_the_tape():
    a, b = tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)
    out = default_collate([a, b])
    assert out.requires_grad
    (out * tg.tensor([[1.0], [2.0]])).sum().backward()
    assert a.grad.tolist() == [1, 1, 1] and b.grad.tolist() == [2, 2, 2]
    with tg.no_grad():
        assert not default_collate([a, b]).requires_grad


def test_untracked_tensors_give_a_leaf():
    out = default_collate([tg.zeros(2), tg.ones(2)])
    assert out.is_leaf and not out.requires_grad


def test_strings_and_bytes_stay_lists():
    assert default_collate(["a", "bc"]) == ["a", "bc"]
    assert default_collate([b"a", b"b"]) == [b"a", b"b"]
    assert default_collate([np.str_("x"), np.str_("y")]) == ["x", "y"]


def test_tuples_transpose_into_a_list():
    out = default_collate([(1, 2.0), (3, 4.0)])
    assert isinstance(out, list) and len(out) == 2
    assert out[0].dtype == np.int64 and out[0].tolist() == [1, 3]
    assert out[1].dtype == np.float64 and out[1].tolist() == [2.0, 4.0]


def test_lists_transpose_into_a_list():
    out = default_collate([[1, 2], [3, 4]])
    assert isinstance(out, list) and [t.tolist() for t in out] == [[1, 3], [2, 4]]


def test_namedtuples_are_preserved():
    out = default_collate([Pair(np.zeros(2, np.float32), 1), Pair(np.ones(2, np.float32), 0)])
    assert isinstance(out, Pair)
    assert out.x.shape == (2, 2) and out.y.tolist() == [1, 0]


def test_dicts_collate_per_key_and_keep_type():
    out = default_collate([{"x": 1, "y": [1.0], "name": "a"}, {"x": 2, "y": [2.0], "name": "b"}])
    assert set(out) == {"x", "y", "name"}
    assert out["x"].tolist() == [1, 2] and out["name"] == ["a", "b"]
    assert isinstance(out["y"], list) and out["y"][0].tolist() == [1.0, 2.0]
    od = default_collate([OrderedDict(b=1, a=2), OrderedDict(b=3, a=4)])
    assert isinstance(od, OrderedDict) and list(od) == ["b", "a"]


def test_nested_structures():
    batch = [{"seq": (np.zeros(3, np.float32), 5), "meta": {"id": i}} for i in range(4)]
    out = default_collate(batch)
    assert out["seq"][0].shape == (4, 3) and out["seq"][1].tolist() == [5] * 4
    assert out["meta"]["id"].tolist() == [0, 1, 2, 3]


def test_tensor_dataset_samples():
    from tinygrad_rnn.utils.data import TensorDataset

    ds = TensorDataset(tg.randn(5, 3), tg.arange(5))
    x, y = default_collate([ds[i] for i in (4, 0, 2)])
    assert x.shape == (3, 3) and y.tolist() == [4, 0, 2]


@pytest.mark.parametrize("make", [np.zeros, tg.zeros])
def test_mismatched_shapes_name_the_shapes_and_the_index(make):
    with pytest.raises(RuntimeError, match=r"element 0 has shape \(3,\) and element 2 has shape \(4,\)"):
        default_collate([make(3), make(3), make(4)])
    with pytest.raises(RuntimeError, match="pad_collate"):
        default_collate([make(3), make(4)])


def test_mismatched_sequence_lengths():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


@pytest.mark.parametrize(
    "batch, match",
    [
        ([None], "found <class 'NoneType'>"),
        ([object()], "found <class 'object'>"),
        ([np.array(["a"])], "found <U1"),
        ([np.array([1], dtype=object)], "found object"),
        ([1, "a"], "every sample must be a number"),
        ([1.0, None], "every sample must be a number"),
    ],
)
def test_unsupported_types_are_type_errors(batch, match):
    with pytest.raises(TypeError, match=match):
        default_collate(batch)


def test_empty_batch():
    with pytest.raises(IndexError, match="empty"):
        default_collate([])


def test_default_convert():
    assert default_convert(1) == 1 and default_convert(1.5) == 1.5 and default_convert("s") == "s"
    t = tg.zeros(2)
    assert default_convert(t) is t
    a = default_convert(np.zeros(2))
    assert isinstance(a, tg.Tensor) and a.dtype == np.float64
    s = default_convert(np.float32(1))
    assert isinstance(s, tg.Tensor) and s.shape == () and s.dtype == np.float32
    strs = np.array(["a"])
    assert default_convert(strs) is strs
    assert default_convert(np.str_("x")) == "x"


def test_default_convert_structures():
    out = default_convert((1, np.zeros(1)))
    assert isinstance(out, list) and out[0] == 1 and isinstance(out[1], tg.Tensor)
    out = default_convert([np.zeros(1)])
    assert isinstance(out, list) and isinstance(out[0], tg.Tensor)
    out = default_convert({"a": np.ones(2)})
    assert isinstance(out["a"], tg.Tensor)
    p = default_convert(Pair(np.zeros(1), 2))
    assert isinstance(p, Pair) and isinstance(p.x, tg.Tensor) and p.y == 2
