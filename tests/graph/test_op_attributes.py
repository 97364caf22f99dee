"""Drawings ask ops what they are through class attributes of ``Function`` (``param_suffix``,
``label_params``, ``multiplies_inputs``) and never print an array-valued param's values; ``save`` writes
drawings for both command lines.

The ops defined here are new classes with new names, so a drawing that still knew ops by their class
names would draw them wrongly. The fused recurrent layers run with ``lengths`` carry a (T, N, 1) boolean
mask as a param: its label shows the mask's dtype and shape, never its values.
"""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.tape import Function
from tinygrad_rnn.views import parents

# what printing a boolean or float array would leave in a label: [[, [ True, False], 0.5 0.25
ARRAY_DUMP = re.compile(r"\[\[|\[\s*(True|False)\b|\b(True|False)\]|\d\.\d*\s+-?\d")


def tape_nodes(t):
    """Every tape node behind ``t`` (no recursion)."""
    out, stack, seen = [], [t._fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn)
        stack.extend(p._fn for p in parents(fn))
    return out


def fused_node(t):
    (fn,) = [f for f in tape_nodes(t) if hasattr(f, "composed")]
    return fn


def op_labels(g):
    return [n.label for n in g.ops()]


# ---- a fused run with lengths: the mask is shown by dtype and shape -----------------------------------------
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_lstm_with_lengths_labels_the_mask_by_shape(bidirectional):
    T, N = 5, 3
    lstm = nn.LSTM(2, 4, bidirectional=bidirectional)
    with nn.use_fused(True):
        out, _ = lstm(tg.randn(T, N, 2), lengths=[5, 2, 4])
    loss = out.sum()
    fused = [f for f in tape_nodes(loss) if hasattr(f, "composed")]
    assert len(fused) == (2 if bidirectional else 1)
    mask = fused[0].params["mask"]
    assert mask is not None and tuple(mask.shape)[:2] == (T, N)  # the run really carries a mask
    want = f"mask=<{mask.dtype} {tuple(mask.shape)}>"
    boxed = tg.graph.build(loss, expand_fused=False)
    seq = [lab for lab in op_labels(boxed) if lab.startswith(fused[0].op_name())]
    assert len(seq) == len(fused)
    for lab in seq:
        assert want in lab and not ARRAY_DUMP.search(lab), lab
    assert ("reverse=True" in seq[1]) if bidirectional else all("reverse" not in lab for lab in seq)
    # drawn unfolded (the default), no label dumps the mask either
    for lab in op_labels(tg.graph.graph(loss)):
        assert not ARRAY_DUMP.search(lab), lab


def test_fused_rnn_label_keeps_its_settings_and_hides_the_mask():
    rnn = nn.RNN(2, 3, nonlinearity="relu")
    with nn.use_fused(True):
        out, _ = rnn(tg.randn(4, 2, 2), lengths=[4, 1])
    loss = out.sum()
    mask = fused_node(loss).params["mask"]
    (lab,) = [n.label for n in tg.graph.build(loss, expand_fused=False).ops() if n.op_type is type(fused_node(loss))]
    assert lab.split("\n")[0] == fused_node(loss).op_name()
    assert f"mask=<{mask.dtype} {tuple(mask.shape)}>" in lab and "nonlinearity=relu" in lab
    assert not ARRAY_DUMP.search(lab)


def test_packed_sequence_run_draws_without_array_dumps(tmp_path):
    x = tg.randn(4, 3, 2)
    packed = nn.utils.rnn.pack_padded_sequence(x, [4, 3, 1], enforce_sorted=False)
    with nn.use_fused(True):
        out, (h, _) = nn.LSTM(2, 3)(packed)
    loss = out.data.sum() + h.sum()
    for g in (tg.graph.build(loss, expand_fused=False), tg.graph.graph(loss)):
        for lab in op_labels(g):
            assert not ARRAY_DUMP.search(lab), lab
    boxed = op_labels(tg.graph.build(loss, expand_fused=False))
    assert any(lab.startswith(fused_node(loss).op_name()) and "mask=<bool" in lab for lab in boxed), boxed
    tg.graph.draw(loss, path=tmp_path / "packed", format="svg")
    texts = "\n".join("".join(el.itertext()) for el in ET.parse(tmp_path / "packed.svg").getroot().iter())
    assert "LSTM" in texts and "pack" in texts and not ARRAY_DUMP.search(texts)


# ---- the label rule for arrays holds for any op ----------------------------------------------------------
class Scaled(Function):
    """x * k, with extra params that only the label reads."""

    def forward(self, x, k, **_):
        self.k = k
        return x * k

    def backward(self, g, x):
        return g * self.k


class OnlyB(Scaled):
    label_params = ("b",)


def test_array_params_print_dtype_and_shape_never_values():
    x = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    weights = np.linspace(0, 1, 12, dtype=np.float32).reshape(4, 3)
    y = Scaled.apply(x, k=2.0, table=weights, pair=(np.zeros(2, bool), 7), one=np.float32(0.5), off=False)
    (lab, _) = op_labels(tg.graph.graph(y.sum()))
    assert lab == "scaled\nk=2.0 table=<float32 (4, 3)> pair=(<bool (2,)>, 7) one=0.5"


def test_label_params_choose_what_is_printed():
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = OnlyB.apply(x, k=3.0, b="kept", c="dropped")
    assert op_labels(tg.graph.graph(y.sum()))[0] == "onlyb\nb=kept"
    # where's condition is data: not printed at all, while the default prints every set param
    z = tg.where(x > 0.5, x, x * 2.0)
    assert "where" in op_labels(tg.graph.graph(z.sum()))
    assert op_labels(tg.graph.graph(Scaled.apply(x, k=3.0, c="shown").sum()))[0] == "scaled\nk=3.0 c=shown"


# ---- param_suffix: which ops fold into a parameter's node -----------------------------------------------
class Twice(Scaled):
    param_suffix = ".times({k})"


def test_param_suffix_folds_an_op_into_the_parameter_node():
    W = nn.Parameter(np.ones((2, 3), np.float32))
    x = tg.Tensor(np.ones((4, 2), np.float32))
    g = tg.graph.graph((x @ Twice.apply(W, k=2.0)).sum(), params={"W": W})
    (param,) = [n for n in g.nodes.values() if n.kind == "param"]
    assert param.label == "W.times(2.0)\n(2, 3)" and param.tensor is W
    assert [n.op for n in g.ops()] == ["MatMul", "Sum"]
    # the same op without a suffix is a node of its own
    g = tg.graph.graph((x @ Scaled.apply(W, k=2.0)).sum(), params={"W": W})
    assert [n.op for n in g.ops()] == ["Scaled", "MatMul", "Sum"]
    assert [n.label for n in g.nodes.values() if n.kind == "param"] == ["W\n(2, 3)"]


def test_view_suffixes_chain_and_a_matrix_transpose_is_written_T():
    W = nn.Parameter(np.ones((4, 3), np.float32))
    V = nn.Parameter(np.ones((2, 3, 4), np.float32))
    y = (W.T[:2].reshape(8).astype(np.float64).sum() + V.permute(0, 2, 1).expand(5, 2, 4, 3).sum()).sum()
    g = tg.graph.graph(y, params={"W": W, "V": V})
    labels = sorted(n.label.split("\n")[0] for n in g.nodes.values() if n.kind == "param")
    assert labels == ["V.permute(0, 2, 1).expand(5, 2, 4, 3)", "Wᵀ[:2].reshape(8,).astype(float64)"]


def test_a_suffix_naming_a_missing_param_is_a_clear_error():
    class Broken(Scaled):
        param_suffix = ".by({factor})"

    W = nn.Parameter(np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"Broken\.param_suffix '\.by\(\{factor\}\)' names param 'factor'"):
        tg.graph.graph(Broken.apply(W, k=2.0).sum(), params={"W": W})


# ---- multiplies_inputs: which ops make a gradient path use the other input's weight ----------------------
class Product(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g, a, b):
        return g * b, g * a


class FlaggedProduct(Product):
    multiplies_inputs = True


@pytest.mark.parametrize("cls, used", [(Product, ["A"]), (FlaggedProduct, ["A", "B"])])
def test_multiplies_inputs_decides_which_weights_a_path_uses(cls, used):
    A, B = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(3, np.float32))
    x = tg.Tensor(np.ones(3, np.float32))
    loss = cls.apply((x + A).tanh(), B).sum()
    path = tg.graph.gradient_path(tg.graph.graph(loss, params={"A": A, "B": B}), "A")
    assert sorted(path.copies) == used


def test_the_library_products_say_so():
    from tinygrad_rnn import ops

    assert [c.multiplies_inputs for c in (ops.MatMul, ops.Mul, ops.Div, ops.Pow)] == [True] * 4
    assert [c.multiplies_inputs for c in (ops.Add, ops.Maximum, ops.Where, ops.Clip)] == [False] * 4


# ---- parameters are nn.Parameter instances, whatever the class is called -----------------------------------
def test_parameters_are_known_by_class_not_by_name():
    class Weight(nn.Parameter):
        pass

    class Parameter(tg.Tensor):  # a look-alike name that is not nn.Parameter
        pass

    w = Weight(np.ones(2, np.float32))
    fake = Parameter(np.ones(2, np.float32), requires_grad=True)
    g = tg.graph.graph((w * fake).sum(), params={})
    kinds = {n.tensor is w: n.kind for n in g.nodes.values() if n.kind in ("param", "input")}
    assert kinds == {True: "param", False: "input"}


# ---- save: the one place both command lines write drawings ------------------------------------------------
def test_save_dot_and_svg(tmp_path):
    loss = (nn.Parameter(np.ones(2, np.float32)) * 2.0).sum()
    text = tg.graph.to_dot(loss)
    (dot,) = tg.graph.save(text, tmp_path / "a" / "b" / "g", "dot")
    assert dot == str(tmp_path / "a" / "b" / "g.dot") and open(dot, encoding="utf-8").read() == text
    assert tg.graph.save(text, tmp_path / "h.dot", "dot") == [str(tmp_path / "h.dot")]
    written = tg.graph.save(text, tmp_path / "s" / "g.svg", "svg")
    assert written == [str(tmp_path / "s" / "g.svg"), str(tmp_path / "s" / "g.dot")]
    assert "<svg" in open(written[0], encoding="utf-8").read()
    assert open(written[1], encoding="utf-8").read() == text
    assert tg.graph.saved_line(written) == f"wrote {written[0]} (and {written[1]})"
    with pytest.raises(ValueError, match="format must be"):
        tg.graph.save(text, tmp_path / "x", "gif")
