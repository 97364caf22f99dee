"""The sequence layers and cells keep the "no silent upcast" rule and handle empty batches, on the fused and
the composed path alike.

* Dtypes: the input (and h0, c0) must have the layer's parameter dtype. A mismatch, or integer/bool input,
  is one ``TypeError`` raised at the layer boundary, before anything runs or is recorded, with the same
  message on both paths: it names the layer, what was wrong (input, h0, c0) and both dtypes. Before, the
  fused path ran a float64 input in float64 and wrote float64 ``.grad`` into float32 parameters, and a
  float32 input into a ``.double()`` layer died inside NumPy ("output array is not acceptable").
* N = 0: correctly shaped empty outputs and states (as PyTorch), and backward gives zero gradients of the
  parameters' shapes and dtype; also with h0, ``lengths=[]``, dropout and batch_first.
* T = 0: a clear ``ValueError`` on both paths (PyTorch raises too: there is no last step to take h_n from).
* Unbatched ``(T, I)`` input with and without ``h0 (L*D, H)`` agrees with the batched N = 1 call on both paths.

PyTorch cross-checks run only where torch imports; every other assertion stands without it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.ops.recurrent import GRUSequence, LSTMSequence, RNNSequence

I, H, T = 3, 4, 5
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch cross-check: torch is not installed")

CELLS = {
    "rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, {}),
    "gru": (nn.GRU, {}),
}
VARIANTS = {
    "plain": {},
    "batch_first": {"batch_first": True},
    "bi_2layer": {"num_layers": 2, "bidirectional": True},
    "bi_2layer_batch_first_nobias": {"num_layers": 2, "bidirectional": True, "batch_first": True, "bias": False},
    "2layer_dropout": {"num_layers": 2, "dropout": 0.5},
}
# variants only some cells have; both run on the composed path even with fused=True (no fused op for them)
EXTRA = {
    ("lstm", "proj"): {"proj_size": 2},
    ("lstm", "proj_bi_2layer_batch_first"): {
        "proj_size": 3,
        "num_layers": 2,
        "bidirectional": True,
        "batch_first": True,
    },
    ("gru", "reset_before"): {"reset_after": False},
    ("gru", "reset_before_bi_2layer"): {"reset_after": False, "num_layers": 2, "bidirectional": True},
}
LAYERS = [(c, v) for c in CELLS for v in VARIANTS] + list(EXTRA)
PATHS = {"fused": True, "composed": False}


def _kwargs(cell: str, variant: str) -> dict:
    return {**CELLS[cell][1], **(VARIANTS[variant] if variant in VARIANTS else EXTRA[(cell, variant)])}


def _make(cell: str, variant: str, fused: bool, dtype: str = "float32") -> nn.RNNBase:
    """The layer with seeded parameters, so the fused and composed layers of a case are the same layer."""
    tg.manual_seed(0)
    layer = CELLS[cell][0](I, H, **_kwargs(cell, variant), fused=fused)
    return layer.double() if dtype == "float64" else layer


def _dims(layer: nn.RNNBase) -> tuple:
    """(L * D, D, H_out)."""
    D = layer.num_directions
    return layer.num_layers * D, D, layer.proj_size or layer.hidden_size


def _is_lstm(layer: nn.RNNBase) -> bool:
    return isinstance(layer, nn.LSTM)


def _x(layer: nn.RNNBase, Tn: int, Nn: int | None, dtype: str = "float32", requires_grad: bool = False) -> tg.Tensor:
    """Input of Tn steps and Nn sequences (None: unbatched), in the layer's layout."""
    if Nn is None:
        shape: tuple = (Tn, I)
    else:
        shape = (Nn, Tn, I) if layer.batch_first else (Tn, Nn, I)
    data = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    return tg.Tensor(data, requires_grad=requires_grad)


def _states(layer: nn.RNNBase, Nn: int | None, dtypes: tuple = ("float32", "float32"), requires_grad: bool = False):
    """h0 (and c0 for an LSTM) of the right shapes, in the given dtypes: the ``hx`` argument."""
    L, _, h_out = _dims(layer)
    rng = np.random.default_rng(4)

    def state(size: int, dtype: str) -> tg.Tensor:
        shape = (L, size) if Nn is None else (L, Nn, size)
        data = rng.standard_normal(shape).astype(dtype)
        return tg.Tensor(data, requires_grad=requires_grad and data.dtype.kind == "f")

    h0 = state(h_out, dtypes[0])
    return (h0, state(layer.hidden_size, dtypes[1])) if _is_lstm(layer) else h0


def _unpack(result) -> list:
    """[output, h_n] or [output, h_n, c_n]."""
    out, st = result
    return [out, *st] if isinstance(st, tuple) else [out, st]


def _param_grads_are_untouched(layer: nn.RNNBase, dtype: str) -> None:
    for k, p in layer.named_parameters():
        assert p.grad is None, f"{k} got a .grad from a refused call"
        assert p.dtype == np.dtype(dtype), k


# ---- the dtype rule -----------------------------------------------------------------------------------

# name -> (layer dtype, input dtype, state dtypes (h0, c0) or None for no hx, what is wrong, N, LSTM only)
# N: a batch size, 0 for an empty batch, None for unbatched input.
DTYPE_CASES = {
    "f64_input_into_f32_layer": ("float32", "float64", None, "input", 2, False),
    "f32_input_into_f64_layer": ("float64", "float32", None, "input", 2, False),
    "f16_input_into_f32_layer": ("float32", "float16", None, "input", 2, False),
    "f16_input_into_f64_layer": ("float64", "float16", None, "input", 2, False),
    "int64_input": ("float32", "int64", None, "input", 2, False),
    "int32_input_into_f64_layer": ("float64", "int32", None, "input", 2, False),
    "uint8_input": ("float32", "uint8", None, "input", 2, False),
    "bool_input": ("float32", "bool", None, "input", 2, False),
    "f64_input_unbatched": ("float32", "float64", None, "input", None, False),
    "f64_input_empty_batch": ("float32", "float64", None, "input", 0, False),
    "f64_input_with_matching_f64_h0": ("float32", "float64", ("float64", "float64"), "input", 2, False),
    "f64_input_with_f32_h0": ("float32", "float64", ("float32", "float32"), "input", 2, False),
    "f64_h0_into_f32_layer": ("float32", "float32", ("float64", "float32"), "h0", 2, False),
    "f32_h0_into_f64_layer": ("float64", "float64", ("float32", "float64"), "h0", 2, False),
    "f64_h0_unbatched": ("float32", "float32", ("float64", "float32"), "h0", None, False),
    "f64_h0_empty_batch": ("float32", "float32", ("float64", "float32"), "h0", 0, False),
    "int_h0": ("float32", "float32", ("int64", "float32"), "h0", 2, False),
    "f64_c0_into_f32_layer": ("float32", "float32", ("float32", "float64"), "c0", 2, True),
    "f32_c0_into_f64_layer": ("float64", "float64", ("float64", "float32"), "c0", 2, True),
    "f64_c0_unbatched": ("float32", "float32", ("float32", "float64"), "c0", None, True),
    "f64_c0_empty_batch": ("float32", "float32", ("float32", "float64"), "c0", 0, True),
    "f64_h0_and_c0_names_h0_first": ("float32", "float32", ("float64", "float64"), "h0", 2, True),
}


def _dtype_params() -> list:
    return [
        pytest.param(cell, variant, case, id=f"{cell}-{variant}-{case}")
        for cell, variant in LAYERS
        for case, spec in DTYPE_CASES.items()
        if not spec[5] or cell == "lstm"
    ]


def _wrong_dtype(case: str) -> str:
    """The dtype of the argument the case gets wrong."""
    _, x_dtype, state_dtypes, what, _, _ = DTYPE_CASES[case]
    h0_dtype, c0_dtype = state_dtypes or ("", "")
    return {"input": x_dtype, "h0": h0_dtype, "c0": c0_dtype}[what]


def _expected_message(layer: nn.RNNBase, what: str, got: str, want: str) -> str:
    fix = f"cast {'the input' if what == 'input' else what} with .astype({want})"
    if what == "input" and np.dtype(got).kind == "f":
        fix += f" or the module with .to({got})"
    return (
        f"{type(layer).__name__}: {what} dtype {got} != parameter dtype {want}; "
        f"tinygrad_rnn never upcasts silently: {fix}"
    )


def _refused_call(cell: str, variant: str, case: str, fused: bool) -> tuple:
    """Make the case's call; return (layer, the TypeError's message, the expected message)."""
    layer_dtype, x_dtype, state_dtypes, what, Nn, _ = DTYPE_CASES[case]
    layer = _make(cell, variant, fused, layer_dtype)
    x = _x(layer, T, Nn, x_dtype, requires_grad=x_dtype.startswith("float"))
    hx = None
    if state_dtypes is not None:
        hx = _states(layer, Nn, state_dtypes, requires_grad=True)
    with pytest.raises(TypeError) as info:
        layer(x, hx)
    return layer, str(info.value), _expected_message(layer, what, _wrong_dtype(case), layer_dtype)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell, variant, case", _dtype_params())
def test_dtype_mismatch_is_one_clear_error_at_the_layer(cell, variant, case, path):
    layer, msg, want = _refused_call(cell, variant, case, PATHS[path])
    layer_dtype, what = DTYPE_CASES[case][0], DTYPE_CASES[case][3]
    assert msg == want
    assert msg.startswith(type(layer).__name__ + ": ")  # names the layer, not an inner op
    assert _wrong_dtype(case) in msg and layer_dtype in msg and what in msg
    # nothing ran: in particular no float64 gradient can reach a float32 parameter
    _param_grads_are_untouched(layer, layer_dtype)


@pytest.mark.parametrize("cell, variant, case", _dtype_params())
def test_dtype_error_is_identical_on_fused_and_composed_paths(cell, variant, case):
    _, fused_msg, _ = _refused_call(cell, variant, case, True)
    _, composed_msg, _ = _refused_call(cell, variant, case, False)
    assert fused_msg == composed_msg


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_dtype_error_also_under_no_grad_and_in_eval(cell, path):
    layer = _make(cell, "bi_2layer", PATHS[path]).eval()
    with tg.no_grad(), pytest.raises(TypeError, match="input dtype float64 != parameter dtype float32"):
        layer(_x(layer, T, 2, "float64"))


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell, variant", LAYERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matching_dtype_keeps_the_dtype_forward_and_backward(cell, variant, path, dtype):
    """The positive side of the rule: a float32 layer stays float32 on every output and gradient (and
    float64 stays float64), so the optimizer never meets a gradient of another dtype."""
    layer = _make(cell, variant, PATHS[path], dtype)
    x = _x(layer, T, 2, dtype, requires_grad=True)
    hx = _states(layer, 2, (dtype, dtype), requires_grad=True)
    outs = _unpack(layer(x, hx))
    assert all(o.dtype == np.dtype(dtype) for o in outs)
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    assert x.grad is not None and x.grad.dtype == np.dtype(dtype)
    for s in hx if isinstance(hx, tuple) else (hx,):
        assert s.grad is not None and s.grad.dtype == np.dtype(dtype)
    for k, p in layer.named_parameters():
        assert p.grad is not None and p.grad.dtype == np.dtype(dtype), k
    tg.optim.SGD(layer.parameters(), lr=0.1).step()  # the optimizer accepts every gradient


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_refused_call_leaves_the_layer_usable(cell, path):
    layer = _make(cell, "plain", PATHS[path])
    with pytest.raises(TypeError):
        layer(_x(layer, T, 2, "float64", requires_grad=True))
    out, _ = layer(_x(layer, T, 2, "float32"))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in layer.parameters())


@needs_torch
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("x_dtype", ["float64", "int64"])
def test_pytorch_also_refuses_input_of_another_dtype(cell, x_dtype):
    import torch  # noqa: PLC0415

    tl = getattr(torch.nn, CELLS[cell][0].__name__)(I, H, **CELLS[cell][1])
    with pytest.raises((ValueError, RuntimeError), match="dtype"):
        tl(torch.zeros(T, 2, I, dtype=getattr(torch, x_dtype)))


# ---- the fused ops called directly ---------------------------------------------------------------------

OPS = {
    "rnn_sequence": (RNNSequence, 1, 1, {"nonlinearity": "tanh"}),
    "lstm_sequence": (LSTMSequence, 4, 2, {}),
    "gru_sequence": (GRUSequence, 3, 1, {}),
}


def _op_inputs(op: str, Tn: int = T, Nn: int = 2, dtype: str = "float32", odd: int | None = None, odd_dtype=None):
    """(x, states..., w_ih, w_hh, b_ih, b_hh) as Tensors; input number ``odd`` gets ``odd_dtype``."""
    _, gates, n_state, _ = OPS[op]
    rng = np.random.default_rng(5)
    shapes = [(Tn, Nn, I)] + [(Nn, H)] * n_state + [(gates * H, I), (gates * H, H), (gates * H,), (gates * H,)]
    return [
        tg.Tensor(rng.standard_normal(s).astype(odd_dtype if i == odd else dtype), requires_grad=True)
        for i, s in enumerate(shapes)
    ]


def _op_positions(op: str) -> list:
    n_state = OPS[op][2]
    names = ["x"] + ["h0", "c0"][:n_state] + ["w_ih", "w_hh", "b_ih", "b_hh"]
    return list(enumerate(names))


@pytest.mark.parametrize("odd_dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "op, pos",
    [(op, pos) for op in OPS for pos, _ in _op_positions(op)],
    ids=lambda v: str(v) if isinstance(v, int) else v,
)
def test_fused_op_refuses_mixed_dtypes_when_called_directly(op, pos, odd_dtype):
    cls, _, _, params = OPS[op]
    base = "float32" if odd_dtype == "float64" else "float64"
    inputs = _op_inputs(op, dtype=base, odd=pos, odd_dtype=odd_dtype)
    with pytest.raises(TypeError) as info:
        cls.apply(*inputs, **params)
    msg = str(info.value)
    assert msg.startswith(op + ":") and "never upcasts silently" in msg
    assert "float32" in msg and "float64" in msg  # the inputs' dtypes are listed


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("dtype", ["int64", "float16_weights_too"])
def test_fused_op_refuses_non_float_or_unlike_input(op, dtype):
    cls, _, _, params = OPS[op]
    if dtype == "int64":
        inputs = _op_inputs(op)
        inputs[0] = tg.Tensor(np.zeros((T, 2, I), np.int64))
    else:  # float16 everywhere would run; float16 x with float32 weights must not
        inputs = _op_inputs(op, odd=0, odd_dtype="float16")
    with pytest.raises(TypeError, match=f"^{op}: every input must have one float dtype"):
        cls.apply(*inputs, **params)


@pytest.mark.parametrize("op", list(OPS))
def test_fused_op_refuses_an_empty_sequence(op):
    cls, _, _, params = OPS[op]
    with pytest.raises(ValueError, match=f"^{op}: the sequence is empty"):
        cls.apply(*_op_inputs(op, Tn=0), **params)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("op", list(OPS))
def test_fused_op_runs_an_empty_batch(op, reverse, masked):
    cls, _, n_state, params = OPS[op]
    inputs = _op_inputs(op, Nn=0)
    mask = tg.backend.to_backend(np.ones((T, 0, 1), bool)) if masked else None  # the ops take backend arrays
    outs = cls.apply(*inputs, reverse=reverse, mask=mask, **params)
    assert [o.shape for o in outs] == [(T, 0, H)] + [(0, H)] * n_state
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    for t in inputs:
        assert t.grad is not None and t.grad.shape == t.shape and not t.grad.numpy().any()


# ---- N = 0 ---------------------------------------------------------------------------------------------

# name -> (with hx, lengths (None, or how to spell "no lengths"), T, layer dtype, grad mode)
EMPTY_CASES = {
    "no_h0": (False, None, T, "float32", True),
    "with_h0": (True, None, T, "float32", True),
    "one_step": (False, None, 1, "float32", True),
    "one_step_with_h0": (True, None, 1, "float32", True),
    "lengths_array": (False, "array", T, "float32", True),
    "lengths_list": (False, "list", T, "float32", True),
    "lengths_tensor": (False, "tensor", T, "float32", True),
    "lengths_with_h0": (True, "array", T, "float32", True),
    "double": (True, None, T, "float64", True),
    "double_lengths": (False, "list", T, "float64", True),
    "no_grad": (True, "array", T, "float32", False),
}


def _empty_lengths(kind: str | None):
    if kind is None:
        return None
    return {
        "array": np.zeros(0, np.int64),
        "list": [],
        "tensor": tg.Tensor(np.zeros(0, np.int64)),
    }[kind]


def _run_empty(cell: str, variant: str, case: str, fused: bool) -> tuple:
    with_hx, lengths, Tn, dtype, grad = EMPTY_CASES[case]
    layer = _make(cell, variant, fused, dtype)
    x = _x(layer, Tn, 0, dtype, requires_grad=grad)
    hx = _states(layer, 0, (dtype, dtype), requires_grad=grad) if with_hx else None
    if grad:
        outs = _unpack(layer(x, hx, lengths=_empty_lengths(lengths)))
    else:
        with tg.no_grad():
            outs = _unpack(layer(x, hx, lengths=_empty_lengths(lengths)))
    return layer, x, hx, outs


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(EMPTY_CASES))
@pytest.mark.parametrize("cell, variant", LAYERS)
def test_empty_batch_gives_empty_outputs_and_zero_gradients(cell, variant, case, path):
    layer, x, hx, outs = _run_empty(cell, variant, case, PATHS[path])
    _, _, Tn, dtype, grad = EMPTY_CASES[case]
    L, D, h_out = _dims(layer)
    want = [(0, Tn, D * h_out) if layer.batch_first else (Tn, 0, D * h_out), (L, 0, h_out)]
    if _is_lstm(layer):
        want.append((L, 0, H))
    assert [o.shape for o in outs] == want
    assert all(o.dtype == np.dtype(dtype) for o in outs)
    if not grad:
        assert not any(o.requires_grad for o in outs)
        return
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == np.dtype(dtype)
    for s in () if hx is None else hx if isinstance(hx, tuple) else (hx,):
        assert s.grad is not None and s.grad.shape == s.shape and s.grad.dtype == np.dtype(dtype)
    for k, p in layer.named_parameters():
        assert p.grad is not None, k
        assert p.grad.shape == p.shape and p.grad.dtype == np.dtype(dtype), k
        assert not p.grad.numpy().any(), k


@pytest.mark.parametrize("cell, variant", LAYERS)
def test_empty_batch_agrees_between_paths(cell, variant):
    fused = _run_empty(cell, variant, "lengths_with_h0", True)[3]
    composed = _run_empty(cell, variant, "lengths_with_h0", False)[3]
    assert [(o.shape, o.dtype) for o in fused] == [(o.shape, o.dtype) for o in composed]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_empty_batch_lengths_must_still_match_the_batch(cell, path):
    layer = _make(cell, "plain", PATHS[path])
    with pytest.raises(ValueError, match="one length per batch element"):
        layer(_x(layer, T, 0), lengths=[3])
    with pytest.raises(ValueError, match="one length per batch element"):
        layer(_x(layer, T, 2), lengths=[])


@needs_torch
@pytest.mark.parametrize("cell, variant", [lv for lv in LAYERS if "reset_before" not in lv[1]])
def test_empty_batch_shapes_and_zero_grads_match_pytorch(cell, variant):
    import torch  # noqa: PLC0415

    cls, _ = CELLS[cell]
    kw = _kwargs(cell, variant)
    ours = _make(cell, variant, True)
    tl = getattr(torch.nn, cls.__name__)(I, H, **kw)
    x = torch.zeros((0, T, I) if kw.get("batch_first") else (T, 0, I), requires_grad=True)
    tout, th = tl(x)
    want = [tout, *th] if isinstance(th, tuple) else [tout, th]
    got = _unpack(ours(_x(ours, T, 0)))
    assert [o.shape for o in got] == [tuple(w.shape) for w in want]
    sum(w.sum() for w in want).backward()
    assert all(p.grad is not None and not p.grad.any() for p in tl.parameters())


# ---- T = 0 ---------------------------------------------------------------------------------------------

# name -> (N (None: unbatched), with hx, lengths)
ZERO_T_CASES = {
    "batched": (2, False, None),
    "batched_with_h0": (2, True, None),
    "empty_batch_too": (0, False, None),
    "empty_batch_with_lengths": (0, False, []),
    "unbatched": (None, False, None),
    "unbatched_with_h0": (None, True, None),
}


def _zero_t_message(cell: str, variant: str, case: str, fused: bool) -> tuple:
    Nn, with_hx, lengths = ZERO_T_CASES[case]
    layer = _make(cell, variant, fused)
    x = _x(layer, 0, Nn, requires_grad=True)
    hx = _states(layer, Nn) if with_hx else None
    with pytest.raises(ValueError) as info:
        layer(x, hx, lengths=lengths)
    return layer, x, str(info.value)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(ZERO_T_CASES))
@pytest.mark.parametrize("cell, variant", LAYERS)
def test_empty_sequence_is_a_clear_error(cell, variant, case, path):
    """As PyTorch ("Expected sequence length to be larger than 0"): with no step there is no h_n."""
    layer, x, msg = _zero_t_message(cell, variant, case, PATHS[path])
    assert msg == f"{type(layer).__name__}: the sequence is empty, T = 0 (input shape {x.shape})"
    _param_grads_are_untouched(layer, "float32")


@pytest.mark.parametrize("case", list(ZERO_T_CASES))
@pytest.mark.parametrize("cell, variant", LAYERS)
def test_empty_sequence_error_is_identical_on_both_paths(cell, variant, case):
    assert _zero_t_message(cell, variant, case, True)[2] == _zero_t_message(cell, variant, case, False)[2]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_dtype_error_comes_before_the_empty_sequence_error(cell, path):
    layer = _make(cell, "plain", PATHS[path])
    with pytest.raises(TypeError, match="input dtype float64"):
        layer(_x(layer, 0, 2, "float64"))


@needs_torch
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("cell", list(CELLS))
def test_pytorch_also_refuses_an_empty_sequence(cell, unbatched):
    import torch  # noqa: PLC0415

    tl = getattr(torch.nn, CELLS[cell][0].__name__)(I, H, **CELLS[cell][1])
    with pytest.raises(RuntimeError, match="sequence length"):
        tl(torch.zeros((0, I) if unbatched else (0, 2, I)))


# ---- unbatched -----------------------------------------------------------------------------------------


def _batched_twin(x: tg.Tensor, hx, layer: nn.RNNBase) -> tuple:
    """The same call as a batch of one: x (T, 1, I) or (1, T, I), states (L, 1, H)."""
    xb = tg.Tensor(np.expand_dims(x.numpy(), 0 if layer.batch_first else 1), requires_grad=True)
    if hx is None:
        return xb, None
    parts = hx if isinstance(hx, tuple) else (hx,)
    sb = tuple(tg.Tensor(s.numpy()[:, None, :], requires_grad=True) for s in parts)
    return xb, (sb if isinstance(hx, tuple) else sb[0])


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_h0", "with_h0"])
@pytest.mark.parametrize("cell, variant", LAYERS)
def test_unbatched_input_equals_a_batch_of_one(cell, variant, with_hx, path):
    layer = _make(cell, variant, PATHS[path]).eval()  # eval: dropout would draw different masks
    L, D, h_out = _dims(layer)
    x = _x(layer, T, None, requires_grad=True)
    hx = _states(layer, None, requires_grad=True) if with_hx else None
    outs = _unpack(layer(x, hx))
    want = [(T, D * h_out), (L, h_out)] + ([(L, H)] if _is_lstm(layer) else [])
    assert [o.shape for o in outs] == want
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    grads = {k: p.grad.numpy().copy() for k, p in layer.named_parameters()}
    layer.zero_grad()

    xb, hb = _batched_twin(x, hx, layer)
    outs_b = _unpack(layer(xb, hb))
    sum((o.sum() for o in outs_b[1:]), outs_b[0].sum()).backward()
    for o, ob in zip(outs, outs_b):
        np.testing.assert_allclose(o.numpy(), ob.numpy().reshape(o.shape), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xb.grad.numpy().reshape(x.shape), rtol=1e-5, atol=1e-6)
    for k, p in layer.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("cell, variant", LAYERS)
def test_unbatched_agrees_between_paths(cell, variant):
    res = []
    for fused in (True, False):
        layer = _make(cell, variant, fused).eval()
        res.append([o.numpy() for o in _unpack(layer(_x(layer, T, None), _states(layer, None)))])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_h0", "with_h0"])
@pytest.mark.parametrize("cell, variant", [lv for lv in LAYERS if "reset_before" not in lv[1]])
def test_unbatched_matches_pytorch(cell, variant, with_hx):
    import torch  # noqa: PLC0415

    tl = getattr(torch.nn, CELLS[cell][0].__name__)(I, H, **_kwargs(cell, variant)).double().eval()
    ours = _make(cell, variant, True, "float64").eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    x = _x(ours, T, None, "float64")
    hx = _states(ours, None, ("float64", "float64")) if with_hx else None
    got = _unpack(ours(x, hx))
    thx = None
    if isinstance(hx, tuple):
        thx = tuple(torch.tensor(s.numpy()) for s in hx)
    elif hx is not None:
        thx = torch.tensor(hx.numpy())
    tout, th = tl(torch.tensor(x.numpy()), thx)
    want = [tout, *th] if isinstance(th, tuple) else [tout, th]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=1e-10, atol=1e-10)


# ---- the cells -----------------------------------------------------------------------------------------

CELL_MODULES = {
    "rnn_cell_tanh": (nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_cell_relu": (nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm_cell": (nn.LSTMCell, {}),
    "gru_cell": (nn.GRUCell, {}),
    "gru_cell_reset_before": (nn.GRUCell, {"reset_after": False}),
}

# name -> (cell dtype, input dtype, state dtypes or None, what, N (None: unbatched), LSTM only)
CELL_DTYPE_CASES = {
    "f64_input_into_f32_cell": ("float32", "float64", None, "input", 2, False),
    "f32_input_into_f64_cell": ("float64", "float32", None, "input", 2, False),
    "int_input": ("float32", "int64", None, "input", 2, False),
    "f64_input_unbatched": ("float32", "float64", None, "input", None, False),
    "f64_input_empty_batch": ("float32", "float64", None, "input", 0, False),
    "f64_hx": ("float32", "float32", ("float64", "float32"), "hx", 2, False),
    "f32_hx_into_f64_cell": ("float64", "float64", ("float32", "float64"), "hx", 2, False),
    "f64_hx_unbatched": ("float32", "float32", ("float64", "float32"), "hx", None, False),
    "f64_c0": ("float32", "float32", ("float32", "float64"), "c0", 2, True),
    "f64_c0_unbatched": ("float32", "float32", ("float32", "float64"), "c0", None, True),
}


def _make_cell(name: str, dtype: str = "float32") -> nn.Module:
    tg.manual_seed(0)
    cls, kw = CELL_MODULES[name]
    cell = cls(I, H, **kw)
    return cell.double() if dtype == "float64" else cell


def _cell_inputs(cell: nn.Module, Nn: int | None, x_dtype: str, state_dtypes: tuple | None) -> tuple:
    rng = np.random.default_rng(6)
    lead = () if Nn is None else (Nn,)
    x = tg.Tensor(rng.standard_normal((*lead, I)).astype(x_dtype), requires_grad=x_dtype.startswith("float"))
    if state_dtypes is None:
        return x, None
    h, c = (tg.Tensor(rng.standard_normal((*lead, H)).astype(d), requires_grad=True) for d in state_dtypes)
    return x, ((h, c) if isinstance(cell, nn.LSTMCell) else h)


@pytest.mark.parametrize(
    "name, case",
    [(n, c) for n in CELL_MODULES for c, s in CELL_DTYPE_CASES.items() if not s[5] or n == "lstm_cell"],
)
def test_cells_keep_the_same_dtype_rule(name, case):
    cell_dtype, x_dtype, state_dtypes, what, Nn, _ = CELL_DTYPE_CASES[case]
    cell = _make_cell(name, cell_dtype)
    if what == "hx" and isinstance(cell, nn.LSTMCell):
        what = "h0"  # LSTMCell names its two states h0 and c0
    x, hx = _cell_inputs(cell, Nn, x_dtype, state_dtypes)
    with pytest.raises(TypeError) as info:
        cell(x, hx)
    got = {"input": x_dtype, "hx": (state_dtypes or ("",))[0], "h0": (state_dtypes or ("",))[0]}.get(
        what, (state_dtypes or ("", ""))[1]
    )
    assert str(info.value) == _expected_message(cell, what, got, cell_dtype)
    _param_grads_are_untouched(cell, cell_dtype)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("name", list(CELL_MODULES))
def test_cells_run_an_empty_batch_and_an_unbatched_step(name, batched):
    cell = _make_cell(name)
    x, hx = _cell_inputs(cell, 0 if batched else None, "float32", ("float32", "float32"))
    out = cell(x, hx)
    outs = list(out) if isinstance(out, tuple) else [out]
    assert all(o.shape == ((0, H) if batched else (H,)) and o.dtype == np.float32 for o in outs)
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    for k, p in cell.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32, k
        if batched:
            assert not p.grad.numpy().any(), k
