"""Bad input fails early with an error that says which op, and what was wrong with which shapes/dtypes/axes."""

import re

import numpy as np
import pytest

import tinygrad_rnn as tg


def _raises(exc, fn, *needles):
    """Run fn, expect ``exc``, and check every needle occurs in the message; return the message."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"{n!r} not in error message {msg!r}"
    return msg


# ---- shapes in binary ops, matmul, joins ------------------------------------------------------------------


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4, 5)), ((2, 3), (2,)), ((5,), (4,)), ((2, 3, 4), (2, 5, 6))])
def test_matmul_shape_mismatch_names_op_and_both_shapes(a_shape, b_shape):
    a, b = tg.randn(*a_shape, requires_grad=True), tg.randn(*b_shape)
    _raises(ValueError, lambda: a @ b, "matmul", str(a_shape), str(b_shape))
    _raises(ValueError, lambda: tg.matmul(a, b), "matmul", str(a_shape), str(b_shape))


def test_matmul_with_0d_operand():
    _raises(ValueError, lambda: tg.randn(2, 3) @ tg.Tensor(2.0), "matmul", "(2, 3)", "()")


@pytest.mark.parametrize(
    "name, op",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("maximum", lambda a, b: a.maximum(b)),
        ("minimum", lambda a, b: tg.minimum(a, b)),
    ],
)
def test_broadcast_mismatch_names_op_and_both_shapes(name, op):
    a, b = tg.randn(2, 3, requires_grad=True), tg.randn(4, 3)
    msg = _raises(ValueError, lambda: op(a, b), name)
    # both shapes appear (NumPy writes "(2,3) (4,3)", the inputs part "(2, 3) ... (4, 3)")
    compact = msg.replace(" ", "")
    assert "(2,3)" in compact and "(4,3)" in compact
    assert msg.startswith(name + ":")


def test_broadcast_mismatch_with_array_operand():
    a = tg.randn(2, 3)
    msg = _raises(ValueError, lambda: a * np.ones((3, 2), np.float32), "mul")
    assert "(2,3)" in msg.replace(" ", "") and "(3,2)" in msg.replace(" ", "")


def test_concat_mismatch_names_op_and_shapes():
    a, b = tg.randn(2, 3), tg.randn(4, 5)
    _raises(ValueError, lambda: tg.concat([a, b], axis=0), "concat", "(2, 3)", "(4, 5)")
    _raises(ValueError, lambda: tg.cat([a, tg.randn(3)]), "concat", "(2, 3)", "(3,)")


def test_concat_and_stack_of_nothing():
    _raises(ValueError, lambda: tg.concat([]), "concat", "at least one")
    _raises(ValueError, lambda: tg.stack([]), "stack", "at least one")


def test_stack_of_different_shapes():
    _raises(ValueError, lambda: tg.stack([tg.randn(2, 3), tg.randn(3, 2)]), "stack", "same shape", "(2, 3)", "(3, 2)")
    _raises(ValueError, lambda: tg.stack([tg.randn(2), tg.randn(2), tg.randn(3)], axis=1), "stack", "(3,)")


def test_where_shape_mismatch():
    cond = np.ones((2, 3), dtype=bool)
    msg = _raises(ValueError, lambda: tg.where(cond, tg.randn(2, 3), tg.randn(5)), "where")
    assert "(5,)" in msg


def test_where_with_non_boolean_cond():
    _raises(TypeError, lambda: tg.where(np.ones(3), tg.randn(3), tg.randn(3)), "where", "boolean", "float64")


# ---- what a tensor may hold -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_requires_grad_on_non_float_tensor(dtype):
    data = np.zeros(3, dtype=dtype)
    msg = _raises(TypeError, lambda: tg.Tensor(data, requires_grad=True), "requires_grad", dtype, "floating")
    assert "astype" in msg  # says how to fix it
    t = tg.Tensor(data)
    _raises(TypeError, lambda: t.requires_grad_(), dtype)
    assert t.requires_grad is False


def test_requires_grad_on_python_int_list():
    _raises(TypeError, lambda: tg.tensor([1, 2, 3], requires_grad=True), "int64")
    _raises(TypeError, lambda: tg.arange(3, requires_grad=True), "int64")


def test_turning_off_requires_grad_on_non_leaf():
    y = tg.randn(2, requires_grad=True) * 2.0
    _raises(RuntimeError, lambda: y.requires_grad_(False), "non-leaf", "detach")


@pytest.mark.parametrize(
    "data", ["abc", b"abc", ["a", "b"], np.array(["x", "y"])], ids=["str", "bytes", "str_list", "str_array"]
)
def test_strings_refused(data):
    msg = _raises(TypeError, lambda: tg.Tensor(data), "Tensor")
    assert "string" in msg or "unsupported dtype <U1" in msg, msg


def test_object_data_refused():
    _raises(TypeError, lambda: tg.Tensor([object()]), "Tensor", "object")
    _raises(TypeError, lambda: tg.Tensor([1.0, None]), "Tensor", "NoneType")
    _raises(TypeError, lambda: tg.Tensor(np.array([1, object()], dtype=object)), "Tensor", "object")
    _raises(TypeError, lambda: tg.Tensor({"a": 1}), "Tensor", "dict")


def test_complex_refused():
    _raises(TypeError, lambda: tg.Tensor([1 + 2j]), "Tensor", "complex")
    _raises(TypeError, lambda: tg.Tensor([1.0]).astype("complex64"), "astype", "complex64")


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1.0], [2.0, 3.0], []], [1, [2, 3]]])
def test_ragged_lists_refused(data):
    _raises(ValueError, lambda: tg.Tensor(data), "Tensor", "ragged")


def test_string_operand_refused():
    _raises(TypeError, lambda: tg.Tensor([1.0]) + "x", "string")


# ---- axes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fn",
    [
        ("sum", lambda x, ax: x.sum(axis=ax)),
        ("mean", lambda x, ax: x.mean(axis=ax)),
        ("max", lambda x, ax: x.max(axis=ax)),
        ("softmax", lambda x, ax: x.softmax(ax)),
        ("softmax", lambda x, ax: tg.softmax(x, axis=ax)),
        ("log_softmax", lambda x, ax: x.log_softmax(ax)),
        ("concat", lambda x, ax: tg.concat([x, x], axis=ax)),
        ("unbind", lambda x, ax: x.unbind(ax)),
        ("unbind", lambda x, ax: tg.unbind(x, axis=ax)),
        ("split", lambda x, ax: tg.split(x, 1, axis=ax)),
    ],
)
@pytest.mark.parametrize("axis", [2, -3, 7])
def test_out_of_range_axis(name, fn, axis):
    x = tg.randn(2, 3, requires_grad=True)
    msg = _raises(ValueError, lambda: fn(x, axis), name, "out of range")
    assert re.search(rf"axis {axis}\b", msg), msg
    assert msg.startswith(name + ":"), msg  # one prefix, not doubled


@pytest.mark.parametrize("axis", [3, -4, 9])
def test_out_of_range_stack_axis(axis):
    # stack makes a new axis: for 2-d inputs the valid axes are -3..2
    x = tg.randn(2, 3)
    _raises(ValueError, lambda: tg.stack([x, x], axis=axis), "stack", f"axis {axis}", "3 dimension(s)")
    assert tg.stack([x, x], axis=-3).shape == (2, 2, 3) and tg.stack([x, x], axis=2).shape == (2, 3, 2)


def test_axis_in_tuple_out_of_range_and_repeated_and_wrong_type():
    x = tg.randn(2, 3)
    _raises(ValueError, lambda: x.sum(axis=(0, 5)), "sum", "axis 5")
    _raises(ValueError, lambda: x.mean(axis=(1, -1)), "mean", "repeated")
    _raises(TypeError, lambda: x.sum(axis=1.5), "sum", "1.5")


def test_unbind_and_split_of_0d():
    s = tg.Tensor(2.0)
    _raises(ValueError, lambda: s.unbind(0), "unbind", "axis 0", "0-d")
    _raises(ValueError, lambda: tg.split(s, 1), "split", "axis 0", "0-d")
    _raises(TypeError, lambda: list(s), "0-d")
    _raises(TypeError, lambda: len(s), "0-d")


def test_permute_with_bad_axes():
    _raises(ValueError, lambda: tg.randn(2, 3).permute(0, 0), "permute", "(0, 0)", "(2, 3)")
    _raises(ValueError, lambda: tg.randn(2, 3).permute(0, 1, 2), "permute", "(2, 3)")


def test_squeeze_non_unit_axis():
    # NumPy's spelling keeps NumPy's rule; PyTorch's (positional or dim=) leaves the dimension alone
    _raises(ValueError, lambda: tg.randn(2, 3).squeeze(axis=0), "squeeze", "axis 0", "length 2")
    assert tg.randn(2, 3).squeeze(0).shape == (2, 3)


# ---- movement ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 2), (5,), (-1, 4), (7, -1)])
def test_reshape_to_incompatible_shape(shape):
    x = tg.randn(2, 3, requires_grad=True)
    _raises(ValueError, lambda: x.reshape(*shape), "reshape", "(2, 3)", str(tuple(shape)), "6 elements")


def test_expand_to_incompatible_shape():
    _raises(ValueError, lambda: tg.randn(2, 3).expand(4, 3), "expand", "(2, 3)", "(4, 3)")


@pytest.mark.parametrize("sizes", [[1, 1], [2, 2], [4, -1], [5]])
def test_split_sizes_not_adding_up(sizes):
    x = tg.randn(3, 2)
    _raises(ValueError, lambda: tg.split(x, sizes), "split", str(sizes), "add up to 3", "(3, 2)")
    _raises(ValueError, lambda: x.split(sizes), "split", "add up to 3")


def test_split_non_positive_size():
    _raises(ValueError, lambda: tg.split(tg.randn(3), 0), "split", "positive", "0")


@pytest.mark.parametrize(
    "pad_width",
    [
        [(1, 1)],  # too few pairs
        [(1, 1), (1, 1), (0, 0)],  # too many pairs
        [(1, 1), (-1, 0)],  # negative
        [(1, 1), (1,)],  # not a pair
        [1, 2],  # ints instead of pairs
        5,  # not a sequence at all
    ],
    ids=["few", "many", "negative", "short_pair", "ints", "scalar"],
)
def test_pad_with_wrong_pad_width(pad_width):
    x = tg.randn(2, 3)
    msg = _raises(ValueError, lambda: tg.pad(x, pad_width), "pad", "pad_width")
    assert "pair" in msg


@pytest.mark.parametrize("index, axis, size", [(5, 0, 2), (-3, 0, 2), ((slice(None), 7), 1, 3), ([0, 9], 0, 2)])
def test_indexing_out_of_bounds(index, axis, size):
    x = tg.randn(2, 3, requires_grad=True)
    # integer arrays are range-checked before the backend sees them (CuPy would not check them)
    where = f"dimension {axis}" if isinstance(index, list) else f"axis {axis}"
    msg = _raises(IndexError, lambda: x[index], "getitem", where, f"size {size}")
    assert msg.startswith("getitem:")


def test_indexing_too_many_indices_and_float_index():
    x = tg.randn(2, 3)
    _raises(IndexError, lambda: x[0, 0, 0], "getitem", "too many indices")
    _raises(IndexError, lambda: x[[0.5, 1.0]], "getitem", "float64")
    _raises(IndexError, lambda: x[tg.Tensor([0.5])], "getitem")


# ---- scalars --------------------------------------------------------------------------------------------------


def test_item_on_multi_element_tensor():
    _raises(ValueError, lambda: tg.randn(2, 3).item(), "item", "(2, 3)")
    _raises(ValueError, lambda: float(tg.randn(2)), "item", "(2,)")
    _raises(ValueError, lambda: bool(tg.randn(2)), "(2,)", "ambiguous")
    assert tg.Tensor([[4.0]]).item() == 4.0  # one element of any shape is fine


def test_clip_without_bounds():
    _raises(ValueError, lambda: tg.randn(3).clip(), "clip", "min", "max")


def test_set_default_dtype_rejects_non_float():
    _raises(TypeError, lambda: tg.set_default_dtype("int64"), "set_default_dtype", "int64", "float32", "float64")


# ---- autograd misuse -------------------------------------------------------------------------------------------


def test_grad_on_input_that_does_not_require_grad():
    w = tg.randn(3, requires_grad=True)
    c = tg.randn(3)
    y = (w * c).sum()
    _raises(RuntimeError, lambda: tg.grad(y, c), "grad", "input 0", "does not require grad", "(3,)")
    _raises(RuntimeError, lambda: tg.grad(y, [w, c]), "grad", "input 1", "does not require grad")
    _raises(RuntimeError, lambda: tg.grad(y, [w, np.ones(3)]), "grad", "input 1", "(3,) float64")


def test_grad_on_output_without_graph():
    w = tg.randn(3, requires_grad=True)
    _raises(RuntimeError, lambda: tg.grad(tg.randn(3).sum(), w), "grad", "output 0", "does not require grad")


def test_grad_outputs_count_mismatch():
    w = tg.randn(3, requires_grad=True)
    y1, y2 = w * 2.0, w * 3.0
    _raises(ValueError, lambda: tg.grad([y1, y2], w, grad_outputs=[np.ones(3)]), "grad", "1 grad_outputs", "2 outputs")


def test_backward_without_graph():
    _raises(RuntimeError, lambda: tg.randn(3).sum().backward(), "backward", "does not require grad")


def test_backward_non_scalar_without_grad():
    y = tg.randn(2, 3, requires_grad=True) * 2.0
    _raises(RuntimeError, lambda: y.backward(), "backward", "scalar", "(2, 3)")


@pytest.mark.parametrize(
    "bad",
    [np.ones(3, np.float32), np.ones((3, 2), np.float32), tg.ones(2, 2), tg.ones(6)],
    ids=["array_short", "array_transposed", "tensor_square", "tensor_flat"],
)
def test_backward_with_grad_of_wrong_shape(bad):
    x = tg.randn(2, 3, requires_grad=True)
    y = x * 2.0
    msg = _raises(ValueError, lambda: y.backward(bad), "backward", str(tuple(bad.shape)), "(2, 3)")
    assert "does not match" in msg
    assert x.grad is None


def test_backward_with_grad_of_wrong_dtype():
    y = tg.randn(3, requires_grad=True) * 2.0
    _raises(TypeError, lambda: y.backward(tg.ones(3, dtype="float64")), "backward", "float64", "float32")


def test_grad_outputs_wrong_shape():
    x = tg.randn(2, requires_grad=True)
    _raises(ValueError, lambda: tg.grad(x * 2.0, x, grad_outputs=np.ones(3)), "grad", "(3,)", "(2,)")


def test_retain_grad_without_requires_grad():
    _raises(RuntimeError, lambda: tg.randn(2).retain_grad(), "retain_grad", "does not require grad")


def test_error_messages_from_backward_reuse_name_the_op():
    x = tg.randn(3, requires_grad=True)
    y = x.tanh().sum()
    y.backward()
    _raises(RuntimeError, lambda: y.backward(), "retain_graph", "'sum'")
