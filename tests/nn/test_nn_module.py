"""nn.Module machinery and the feed-forward layers: registration, state_dict, modes, Linear, Embedding,
Dropout, Sequential and the activation modules."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def _np(t):
    return np.asarray(t.numpy())


class Block(nn.Module):
    """A nested model: parameters, a submodule, a cell and a plain (unregistered) tensor."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.proj = nn.Linear(3, 4)
        self.cell = nn.RNNCell(4, 2)
        self.head = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1, bias=False))
        self.not_a_param = tg.Tensor(np.zeros(2, dtype=np.float32))  # plain Tensor: not registered

    def forward(self, x):
        h = self.cell(self.proj(x * self.scale))
        return self.head(h)


EXPECTED_BLOCK_NAMES = [
    "scale",
    "proj.weight",
    "proj.bias",
    "cell.weight_ih",
    "cell.weight_hh",
    "cell.bias_ih",
    "cell.bias_hh",
    "head.0.weight",
    "head.0.bias",
    "head.2.weight",
]


# ---- registration ------------------------------------------------------------------------------------


def test_named_parameters_order_and_names_nested():
    m = Block()
    names = [k for k, _ in m.named_parameters()]
    assert names == EXPECTED_BLOCK_NAMES
    shapes = {k: p.shape for k, p in m.named_parameters()}
    assert shapes["proj.weight"] == (4, 3)
    assert shapes["cell.weight_ih"] == (2, 4)
    assert shapes["cell.weight_hh"] == (2, 2)
    assert shapes["head.2.weight"] == (1, 5)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert len(list(m.parameters())) == len(EXPECTED_BLOCK_NAMES)
    assert m.num_parameters() == 3 + 12 + 4 + 8 + 4 + 2 + 2 + 10 + 5 + 5


def test_sequential_parameter_names():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert [k for k, _ in s.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_modules_children_and_recurse_flag():
    m = Block()
    assert [k for k, _ in m.named_modules()] == ["", "proj", "cell", "head", "head.0", "head.1", "head.2"]
    assert [k for k, _ in m.named_children()] == ["proj", "cell", "head"]
    assert [type(c).__name__ for c in m.children()] == ["Linear", "RNNCell", "Sequential"]
    assert [type(c).__name__ for c in m.modules()] == [
        "Block",
        "Linear",
        "RNNCell",
        "Sequential",
        "Linear",
        "Tanh",
        "Linear",
    ]
    assert [k for k, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert [k for k, _ in m.named_parameters(prefix="model")][:2] == ["model.scale", "model.proj.weight"]


def test_reassignment_unregisters_and_none_bias_is_skipped():
    m = Block()
    m.scale = tg.Tensor(np.ones(3, dtype=np.float32))  # no longer a Parameter -> no longer registered
    assert "scale" not in dict(m.named_parameters())
    m.proj = None
    assert "proj" not in [k for k, _ in m.named_children()]
    assert not any(k.startswith("proj.") for k, _ in m.named_parameters())
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None
    assert [k for k, _ in lin.named_parameters()] == ["weight"]
    del m.cell
    assert "cell" not in [k for k, _ in m.named_children()]


def test_shared_parameter_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 3)
            self.b.weight = self.a.weight

    t = Tied()
    names = [k for k, _ in t.named_parameters()]
    assert names == ["a.weight", "a.bias", "b.bias"]


def test_setattr_before_super_init_raises_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Bad()


def test_parameter_is_tensor_and_repr():
    p = nn.Parameter(np.arange(3.0))
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert "Parameter containing" in repr(p)
    q = nn.Parameter(tg.Tensor([1.0, 2.0]), requires_grad=False)
    assert not q.requires_grad
    np.testing.assert_array_equal(_np(q), [1.0, 2.0])


# ---- state_dict --------------------------------------------------------------------------------------


def test_state_dict_keys_order_and_detached_values():
    m = Block()
    sd = m.state_dict()
    assert list(sd) == EXPECTED_BLOCK_NAMES
    for k, p in m.named_parameters():
        assert not sd[k].requires_grad and sd[k].grad_fn is None
        np.testing.assert_array_equal(_np(sd[k]), _np(p))


@pytest.mark.parametrize("as_numpy", [True, False])
def test_state_dict_round_trip(as_numpy):
    tg.manual_seed(1)
    a = Block()
    tg.manual_seed(2)
    b = Block()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    assert not np.allclose(_np(a(x)), _np(b(x)))
    sd = {k: (_np(v).copy() if as_numpy else v) for k, v in a.state_dict().items()}
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (ka, pa), (kb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert ka == kb
        np.testing.assert_array_equal(_np(pa), _np(pb))
        assert pb.dtype == np.float32
    np.testing.assert_array_equal(_np(a(x)), _np(b(x)))
    # the load copied: changing the source afterwards does not change b
    a.proj.weight.data = a.proj.weight.data + 1.0
    assert not np.allclose(_np(a.proj.weight), _np(b.proj.weight))


def test_load_state_dict_casts_to_parameter_dtype():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": np.zeros(2, dtype=np.float64)})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(_np(lin.weight), np.eye(2))


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    m = Block()
    before = {k: _np(v).copy() for k, v in m.state_dict().items()}
    sd = {k: _np(v).copy() + 1 for k, v in m.state_dict().items()}
    del sd["cell.weight_hh"]
    sd["cell.weight_xx"] = np.zeros((2, 2), np.float32)
    with pytest.raises(KeyError) as ei:
        m.load_state_dict(sd)
    msg = str(ei.value)
    assert "missing" in msg and "cell.weight_hh" in msg
    assert "unexpected" in msg and "cell.weight_xx" in msg
    # nothing was written
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(_np(v), before[k])


def test_load_state_dict_non_strict_returns_key_lists_and_loads_the_rest():
    m = Block()
    sd = {k: _np(v).copy() + 1 for k, v in m.state_dict().items()}
    del sd["scale"], sd["head.2.weight"]
    sd["extra.weight"] = np.zeros(1, np.float32)
    old_scale = _np(m.scale).copy()
    old_proj = _np(m.proj.weight).copy()
    res = m.load_state_dict(sd, strict=False)
    assert sorted(res.missing_keys) == ["head.2.weight", "scale"]
    assert res.unexpected_keys == ["extra.weight"]
    missing, unexpected = res  # a named tuple like PyTorch's
    assert unexpected == ["extra.weight"]
    np.testing.assert_array_equal(_np(m.scale), old_scale)  # missing: untouched
    np.testing.assert_array_equal(_np(m.proj.weight), old_proj + 1)  # present: loaded


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_shape_mismatch_names_key_and_shapes_and_changes_nothing(strict):
    m = Block()
    before = {k: _np(v).copy() for k, v in m.state_dict().items()}
    sd = {k: _np(v).copy() + 1 for k, v in m.state_dict().items()}  # all good except one key
    sd["proj.weight"] = np.zeros((3, 4), np.float32)  # transposed
    with pytest.raises(ValueError) as ei:
        m.load_state_dict(sd, strict=strict)
    msg = str(ei.value)
    assert "proj.weight" in msg and "(3, 4)" in msg and "(4, 3)" in msg
    for k, v in m.state_dict().items():  # all-or-nothing: the good keys were not written either
        np.testing.assert_array_equal(_np(v), before[k], err_msg=k)


# ---- modes, grads, dtype, repr -----------------------------------------------------------------------


def test_train_eval_propagate_to_all_submodules():
    m = Block()
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.head.train()
    assert m.head[1].training and not m.training and not m.proj.training
    m.train()
    assert all(mod.training for mod in m.modules())
    m.train(False)
    assert not any(mod.training for mod in m.modules())


def test_zero_grad_clears_all_parameter_grads():
    m = Block()
    x = tg.Tensor(np.ones((2, 3), np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert any(np.abs(_np(p.grad)).sum() > 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_repr_contains_class_names_and_sizes():
    m = Block()
    r = repr(m)
    for s in (
        "Block(",
        "(proj): Linear(in_features=3, out_features=4, bias=True)",
        "(cell): RNNCell(4, 2)",
        "(head): Sequential(",
        "(0): Linear(in_features=2, out_features=5",
        "(1): Tanh()",
        "(2): Linear(in_features=5, out_features=1, bias=False)",
    ):
        assert s in r, (s, r)
    assert "Embedding(10, 3, padding_idx=0)" == repr(nn.Embedding(10, 3, padding_idx=0))
    assert "Dropout(p=0.25)" == repr(nn.Dropout(0.25))
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True)) == "LSTM(3, 4, num_layers=2, bidirectional=True)"


def test_double_casts_parameters_and_forward():
    m = Block()
    ids = [id(p) for p in m.parameters()]
    vals = [_np(p).astype(np.float64) for p in m.parameters()]
    assert m.double() is m
    assert [id(p) for p in m.parameters()] == ids  # same Parameter objects, new dtype
    for p, v in zip(m.parameters(), vals):
        assert p.dtype == np.float64
        np.testing.assert_array_equal(_np(p), v)
    y = m(tg.Tensor(np.ones((2, 3))))
    assert y.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())


# ---- Linear ------------------------------------------------------------------------------------------


def test_linear_matches_numpy(rng):
    lin = nn.Linear(5, 3)
    x = rng.standard_normal((4, 2, 5)).astype(np.float32)
    y = lin(tg.Tensor(x))
    assert y.shape == (4, 2, 3)
    np.testing.assert_allclose(_np(y), x @ _np(lin.weight).T + _np(lin.bias), rtol=1e-5, atol=1e-6)
    nb = nn.Linear(5, 3, bias=False)
    np.testing.assert_allclose(_np(nb(tg.Tensor(x))), x @ _np(nb.weight).T, rtol=1e-5, atol=1e-6)


def test_linear_backward_matches_numpy(rng):
    lin = nn.Linear(4, 3).double()
    x = tg.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    g = rng.standard_normal((5, 3))
    (lin(x) * tg.Tensor(g)).sum().backward()
    W = _np(lin.weight)
    np.testing.assert_allclose(_np(x.grad), g @ W, rtol=1e-12)
    np.testing.assert_allclose(_np(lin.weight.grad), g.T @ _np(x), rtol=1e-12)
    np.testing.assert_allclose(_np(lin.bias.grad), g.sum(0), rtol=1e-12)


@pytest.mark.parametrize("fan_in", [1, 7, 64])
def test_linear_init_bounds_follow_pytorch(fan_in):
    lin = nn.Linear(fan_in, 50)
    bound = 1 / math.sqrt(fan_in)
    w, b = _np(lin.weight), _np(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # really uniform over the whole range, not collapsed near zero
    assert np.abs(w).max() > 0.8 * bound
    assert w.min() < 0 < w.max()


def test_linear_init_is_seeded():
    tg.manual_seed(7)
    a = nn.Linear(3, 3)
    tg.manual_seed(7)
    b = nn.Linear(3, 3)
    c = nn.Linear(3, 3)
    np.testing.assert_array_equal(_np(a.weight), _np(b.weight))
    assert not np.array_equal(_np(b.weight), _np(c.weight))


def test_linear_wrong_feature_size_error():
    with pytest.raises(ValueError, match=r"expected input \(\*, 5\).*\(2, 4\)"):
        nn.Linear(5, 3)(tg.Tensor(np.zeros((2, 4), np.float32)))


# ---- Embedding ---------------------------------------------------------------------------------------


def test_embedding_forward_rows():
    emb = nn.Embedding(6, 4)
    ids = np.array([[0, 5, 2], [2, 2, 1]])
    out = emb(ids)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(_np(out), _np(emb.weight)[ids])
    out_t = emb(tg.Tensor(ids))
    np.testing.assert_array_equal(_np(out_t), _np(out))


def test_embedding_backward_repeated_ids_scatter_add(rng):
    emb = nn.Embedding(7, 3).double()
    ids = np.array([[1, 3, 1], [1, 6, 3], [0, 1, 1]])  # id 1 five times, id 3 twice, 2/4/5 never
    g = rng.standard_normal((3, 3, 3))
    (emb(ids) * tg.Tensor(g)).sum().backward()
    ref = np.zeros((7, 3))
    np.add.at(ref, ids, g)
    np.testing.assert_allclose(_np(emb.weight.grad), ref, rtol=1e-12, atol=1e-15)
    assert np.abs(ref[1]).sum() > 0 and (ref[[2, 4, 5]] == 0).all()
    np.testing.assert_allclose(_np(emb.weight.grad)[1], g[ids == 1].sum(0), rtol=1e-12)


def test_embedding_padding_idx_zero_row_and_zero_grad(rng):
    emb = nn.Embedding(5, 3, padding_idx=2).double()
    np.testing.assert_array_equal(_np(emb.weight)[2], 0)
    # even if the row is changed later (e.g. by loading a checkpoint) its output and gradient stay zero
    w = _np(emb.weight).copy()
    w[2] = 9.0
    emb.weight.data = w
    ids = np.array([2, 0, 2, 4, 2])
    out = emb(ids)
    np.testing.assert_array_equal(_np(out)[ids == 2], 0)
    g = rng.standard_normal((5, 3))
    (out * tg.Tensor(g)).sum().backward()
    grad = _np(emb.weight.grad)
    np.testing.assert_array_equal(grad[2], 0)
    np.testing.assert_allclose(grad[0], g[1])
    np.testing.assert_allclose(grad[4], g[3])
    assert nn.Embedding(5, 3, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="padding_idx 5 out of range"):
        nn.Embedding(5, 3, padding_idx=5)


def test_embedding_bad_ids():
    emb = nn.Embedding(4, 2)
    with pytest.raises(TypeError, match="ids must be integers.*float"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integers"):
        emb(tg.Tensor([0.5]))
    with pytest.raises(IndexError, match=r"Embedding: index 4 is out of range .* span \[1, 4\], valid is \[0, 3\]"):
        emb(np.array([1, 4]))
    with pytest.raises(IndexError, match=r"Embedding: index -1 is out of range"):
        emb(np.array([-1, 2]))


# ---- Dropout -----------------------------------------------------------------------------------------


def test_dropout_eval_is_identity():
    d = nn.Dropout(0.7).eval()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((50, 50)).astype(np.float32), requires_grad=True)
    y = d(x)
    np.testing.assert_array_equal(_np(y), _np(x))
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.ones((50, 50)))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_train_zeroes_about_p_and_scales_survivors(p):
    d = nn.Dropout(p)
    assert d.training
    x = np.random.default_rng(0).uniform(1.0, 2.0, (200, 200)).astype(np.float32)  # never 0 itself
    xt = tg.Tensor(x, requires_grad=True)
    y = d(xt)
    yv = _np(y)
    dropped = yv == 0
    assert abs(dropped.mean() - p) < 0.02
    np.testing.assert_allclose(yv[~dropped], x[~dropped] / (1 - p), rtol=1e-6)
    y.sum().backward()  # gradient goes only through survivors, with the same scale
    gv = _np(xt.grad)
    np.testing.assert_array_equal(gv[dropped], 0)
    np.testing.assert_allclose(gv[~dropped], 1 / (1 - p), rtol=1e-6)


def test_dropout_repeatable_under_manual_seed_and_differs_between_calls():
    x = tg.Tensor(np.ones((30, 30), np.float32))
    d = nn.Dropout(0.5)
    tg.manual_seed(123)
    a, b = _np(d(x)), _np(d(x))
    tg.manual_seed(123)
    a2, b2 = _np(d(x)), _np(d(x))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b)


def test_dropout_edge_probabilities_and_bad_p():
    x = tg.Tensor(np.ones(10, np.float32))
    np.testing.assert_array_equal(_np(nn.Dropout(0.0)(x)), 1)
    np.testing.assert_array_equal(_np(nn.Dropout(1.0)(x)), 0)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
            nn.Dropout(p)


def test_dropout_inside_sequential_follows_eval():
    s = nn.Sequential(nn.Identity(), nn.Dropout(0.9))
    x = tg.Tensor(np.ones((20, 20), np.float32))
    assert (_np(s(x)) == 0).mean() > 0.7
    s.eval()
    np.testing.assert_array_equal(_np(s(x)), 1)


# ---- Sequential and activations ----------------------------------------------------------------------


def test_sequential_index_len_iter_and_forward(rng):
    l1, act, l2 = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    s = nn.Sequential(l1, act, l2)
    assert len(s) == 3
    assert s[0] is l1 and s[1] is act and s[2] is l2 and s[-1] is l2
    assert list(s) == [l1, act, l2]
    with pytest.raises(IndexError):
        s[3]
    x = rng.standard_normal((5, 3)).astype(np.float32)
    ref = np.maximum(x @ _np(l1.weight).T + _np(l1.bias), 0) @ _np(l2.weight).T + _np(l2.bias)
    np.testing.assert_allclose(_np(s(tg.Tensor(x))), ref, rtol=1e-5, atol=1e-6)
    assert len(nn.Sequential()) == 0
    front = s[:2]  # a slice is a Sequential sharing the same modules (PyTorch)
    assert isinstance(front, nn.Sequential) and len(front) == 2 and front[0] is l1 and front[1] is act
    np.testing.assert_allclose(
        _np(front(tg.Tensor(x))), np.maximum(x @ _np(l1.weight).T + _np(l1.bias), 0), rtol=1e-5, atol=1e-6
    )


def test_linear_accepts_unbatched_vector():
    lin = nn.Linear(3, 2)
    v = np.array([1.0, -2.0, 0.5], np.float32)
    y = lin(tg.Tensor(v))
    assert y.shape == (2,)
    np.testing.assert_allclose(_np(y), _np(lin.weight) @ v + _np(lin.bias), rtol=1e-5)


def test_activation_modules_match_numpy(rng):
    x = rng.standard_normal((3, 5))
    t = tg.Tensor(x)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    cases = [
        (nn.Tanh(), np.tanh(x)),
        (nn.Sigmoid(), 1 / (1 + np.exp(-x))),
        (nn.ReLU(), np.maximum(x, 0)),
        (nn.Identity(), x),
        (nn.Softmax(axis=1), sm),
        (nn.LogSoftmax(axis=1), np.log(sm)),
    ]
    for mod, ref in cases:
        np.testing.assert_allclose(_np(mod(t)), ref, rtol=1e-10, atol=1e-12, err_msg=type(mod).__name__)
    e0 = np.exp(x - x.max(0, keepdims=True))
    np.testing.assert_allclose(_np(nn.Softmax(axis=0)(t)), e0 / e0.sum(0, keepdims=True), rtol=1e-10)


def test_activation_modules_gradcheck(rng):
    for mod in (nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.Softmax(), nn.LogSoftmax()):
        x = tg.Tensor(rng.standard_normal((2, 4)) + 0.05, requires_grad=True)
        assert tg.gradcheck(lambda a, mod=mod: mod(a), [x])


def test_module_gradcheck_through_sequential_parameters(rng):
    tg.set_default_dtype("float64")
    s = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    params = list(s.parameters())
    assert all(p.dtype == np.float64 for p in params)
    assert tg.gradcheck(lambda x, *ps: s(x), [x, *params])
