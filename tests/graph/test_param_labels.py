"""Drawings name parameters by the module path they were registered under when no ``params=`` is given.

A parameter remembers (weakly) which modules hold it and under which attribute, and a module which
parents hold it; ``tg.graph`` walks those up to the outermost live module and uses its ``state_dict``
keys. These tests check the names against ``state_dict`` and ``params=model`` for fused and composed
recurrent layers at both detail levels, containers, tied weights, moved and deleted modules, copies,
and that an explicit ``params=`` still wins. The rendering test needs Graphviz's `dot` and is never
skipped (CI installs graphviz).
"""

import copy
import gc
import pickle
import re
import threading
import weakref
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn.module import registered_names

LSTM_NAMES = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}


def param_names(g):
    return [n.name for n in g.nodes.values() if n.kind == "param"]


def dot_labels(text):
    """The label text of every node line in DOT text (escapes undone)."""
    out = []
    for q in re.findall(r'^\s*\w+ \[label="((?:[^"\\]|\\.)*)"', text, flags=re.M):
        out.append(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), q))
    return out


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 2)
        self.rnn = nn.LSTM(2, 3, num_layers=2)


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(3, 4)

    def forward(self, ids):
        out, _ = self.encoder.rnn(self.encoder.embed(ids))
        return self.head(out).sum()


def lstm_loss(fused, T=3):
    lstm = nn.LSTM(2, 3)
    with nn.use_fused(fused):
        out, _ = lstm(tg.randn(T, 1, 2))
    return lstm, (out**2).sum()


# ---- the recurrent layers, fused or composed, at both detail levels ---------------------------------------
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("detail", ["op", "cell"])
def test_lstm_parameters_drawn_by_name_without_params(fused, detail):
    lstm, loss = lstm_loss(fused)
    text = tg.graph.to_dot(loss, detail=detail)
    for name in LSTM_NAMES:
        assert name in text
    assert "param (" not in text  # no parameter fell back to its shape
    g = tg.graph.graph(loss, detail=detail)
    assert set(param_names(g)) == LSTM_NAMES
    # the same names as naming the model explicitly, node for node
    explicit = tg.graph.graph(loss, detail=detail, params=lstm)
    assert [(n.id, n.name, n.label) for n in g.nodes.values()] == [
        (n.id, n.name, n.label) for n in explicit.nodes.values()
    ]
    assert text == tg.graph.to_dot(loss, detail=detail, params=lstm)


def test_fused_node_drawn_unexpanded_is_named_too():
    lstm, loss = lstm_loss(True)
    g = tg.graph.build(loss, expand_fused=False)
    assert set(param_names(g)) == LSTM_NAMES


@pytest.mark.parametrize("fused", [True, False])
def test_highlight_by_registered_name(fused):
    _, loss = lstm_loss(fused)
    text = tg.graph.to_dot(loss, highlight="weight_hh_l0", detail="cell")
    assert "gradient path to weight_hh_l0" in text
    path = tg.graph.gradient_path(tg.graph.graph(loss), "weight_hh_l0")
    assert path.count("weight_hh_l0") == 3


# ---- nested modules and containers: the names are state_dict keys ------------------------------------------
@pytest.mark.parametrize("fused", [True, False])
def test_nested_modules_give_state_dict_keys(fused):
    model = Seq2Seq()
    with nn.use_fused(fused):
        loss = model(tg.Tensor(np.array([[1], [3], [4]])))
    g = tg.graph.graph(loss)
    drawn = set(param_names(g))
    keys = set(model.state_dict())
    assert drawn <= keys
    used = {n.tensor for n in g.nodes.values() if n.kind == "param"}
    assert drawn == {k for k, p in model.named_parameters() if any(p is u for u in used)}
    assert "encoder.rnn.weight_hh_l1" in drawn and "encoder.embed.weight" in drawn and "head.bias" in drawn
    explicit = tg.graph.graph(loss, params=model)
    assert [n.label for n in g.nodes.values()] == [n.label for n in explicit.nodes.values()]


def test_module_list_dict_and_parameter_containers():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
            self.scales = nn.ParameterList([tg.ones(2), tg.ones(2)])
            self.extra = nn.ParameterDict({"gain": tg.ones(1)})

        def forward(self, x):
            for layer, s in zip(self.layers, self.scales):
                x = layer(x) * s
            return (self.heads["a"](x) * self.extra["gain"]).sum()

    m = Stack()
    names = set(param_names(tg.graph.graph(m(tg.randn(4, 2)))))
    assert {"layers.0.weight", "layers.1.bias", "heads.a.weight", "scales.0", "scales.1", "extra.gain"} <= names
    assert names <= set(m.state_dict())
    # a deletion renumbers the list; the drawing follows (no stale "layers.1")
    second = m.layers[1]
    del m.layers[0]
    y = second(tg.randn(1, 2)).sum()
    assert set(param_names(tg.graph.graph(y))) == {"layers.0.weight", "layers.0.bias"}


# ---- tied, moved, deleted ----------------------------------------------------------------------------------
class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = nn.Linear(3, 5, bias=False)
        self.embed = nn.Embedding(5, 3)
        self.decoder.weight = self.embed.weight  # tied: one tensor, two names

    def forward(self, ids):
        return self.decoder(self.embed(ids)).sum()


def test_tied_weights_show_every_name_first_as_named_parameters():
    m = TiedLM()
    loss = m(tg.Tensor(np.array([1, 2])))
    g = tg.graph.graph(loss)
    nodes = [n for n in g.nodes.values() if n.kind == "param"]
    assert len(nodes) == 2 and all(n.tensor is m.embed.weight for n in nodes)  # looked up, and used as Wᵀ
    first = next(k for k, p in m.named_parameters() if p is m.embed.weight)
    for n in nodes:
        assert (n.name, n.aliases) == (first, ("embed.weight",)) == ("decoder.weight", ("embed.weight",))
    # each line names the node as drawn (view suffix included)
    assert "decoder.weightᵀ\n= embed.weightᵀ\n(5, 3)" in dot_labels(tg.graph.to_dot(loss))
    # either name highlights the one tensor; the path is reported under the first name
    for name in ("decoder.weight", "embed.weight"):
        assert "gradient path to decoder.weight" in tg.graph.to_dot(loss, highlight=name)
    # explicit params= keeps today's behaviour: one name per tensor, no aliases
    explicit = [n for n in tg.graph.graph(loss, params=m).nodes.values() if n.kind == "param"]
    assert [(n.name, n.aliases) for n in explicit] == [("decoder.weight", ())] * 2
    assert registered_names([m.embed.weight]) == {id(m.embed.weight): ["decoder.weight", "embed.weight"]}


def test_a_parameter_moved_between_modules_shows_its_current_name():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = a, b

    two = Two()
    w = a.weight
    b.moved = w  # now held twice
    del a.weight  # ... and then only by b
    assert param_names(tg.graph.graph((w * 2.0).sum())) == ["b.moved"]
    b.moved = nn.Parameter(np.zeros((2, 2), np.float32))  # reassigned: w is held by no module now
    assert param_names(tg.graph.graph((w * 2.0).sum())) == ["param (2, 2)"]
    two.c = b  # a submodule under a second name: state_dict (named_modules) lists it once, as "b"
    assert registered_names([b.bias])[id(b.bias)] == ["b.bias"]
    del two.b
    assert registered_names([b.bias])[id(b.bias)] == ["c.bias"]


def test_a_deleted_parent_leaves_no_stale_name_and_is_not_kept_alive():
    lstm, loss = lstm_loss(False)

    class Wrapper(nn.Module):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

    wrapper = Wrapper(lstm)
    assert set(param_names(tg.graph.graph(loss))) == {"rnn." + n for n in LSTM_NAMES}
    ref = weakref.ref(wrapper)
    del wrapper
    assert ref() is None  # the back-references are weak: no cycle keeps the parent (no gc needed)
    assert set(param_names(tg.graph.graph(loss))) == LSTM_NAMES
    w = lstm.weight_hh_l0
    del lstm
    gc.collect()
    assert "weight_hh_l0" not in tg.graph.to_dot((w * 1.0).sum())  # its module is gone: drawn by shape


def test_registration_lists_do_not_grow():
    p = nn.Parameter(np.ones(2, np.float32))
    m = nn.Module()
    for i in range(50):
        setattr(m, f"w{i % 3}", p)
        setattr(m, f"w{(i + 1) % 3}", nn.Parameter(np.ones(2, np.float32)))
    lst = nn.ParameterList([nn.Parameter(np.ones(1, np.float32)) for _ in range(3)])
    for _ in range(20):  # each renumbering registers every entry under a new index
        lst.insert(0, lst.pop())
    assert len(p.__dict__["_owner_refs"]) <= 3
    assert all(len(q.__dict__["_owner_refs"]) <= 3 for q in lst)


# ---- explicit params= and unregistered tensors ---------------------------------------------------------
def test_explicit_params_win_and_unregistered_tensors_are_unlabelled():
    lstm, loss = lstm_loss(False)
    g = tg.graph.graph(loss, params={"W": lstm.weight_hh_l0})
    names = param_names(g)
    assert "W" in names and "weight_ih_l0" not in names and "param (12, 2)" in names
    assert set(param_names(tg.graph.graph(loss, params={}))) == {"param (12, 2)", "param (12, 3)", "param (12,)"}
    x = tg.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    free = nn.Parameter(np.ones((2,), np.float32))
    g = tg.graph.graph(((x @ lstm.weight_hh_l0[:2, :2]) * free).sum())
    kinds = sorted((n.kind, n.name) for n in g.nodes.values() if n.kind in ("param", "input"))
    assert kinds == [("input", None), ("param", "param (2,)"), ("param", "weight_hh_l0")]


# ---- copies of modules -------------------------------------------------------------------------------------
def test_deepcopied_and_unpickled_models_are_named_by_their_own_modules():
    model = Seq2Seq()
    ids = tg.Tensor(np.array([[1], [2]]))
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        drawn = set(param_names(tg.graph.graph(twin(ids))))
        assert drawn and drawn <= set(twin.state_dict())
        assert "encoder.rnn.weight_hh_l0" in drawn
    del model
    gc.collect()
    p = copy.deepcopy(nn.Linear(2, 2)).weight  # a copy held by no live module
    assert param_names(tg.graph.graph((p * 1.0).sum())) == ["param (2, 2)"]
    assert "_owner_refs" not in pickle.loads(pickle.dumps(p)).__dict__


def test_transformer_encoder_clones_are_named_layers_i():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 2)
    out = enc(tg.randn(3, 1, 4)).sum()
    drawn = set(param_names(tg.graph.graph(out)))
    assert {"layers.0.self_attn.in_proj_weight", "layers.1.linear2.weight"} <= drawn
    assert drawn <= set(enc.state_dict())


# ---- odd module structures ---------------------------------------------------------------------------------
def test_a_cycle_of_modules_and_a_deep_stack_do_not_recurse():
    a, b = nn.Linear(2, 2), nn.Module()
    b.a = a
    a.b = b  # a cycle: neither is an outermost module; a drawing still names the weight
    assert param_names(tg.graph.graph((a.weight * 1.0).sum())) in (["weight"], ["a.weight"])
    top = inner = nn.Linear(1, 1)
    for _ in range(1500):  # deeper than Python's recursion limit
        outer = nn.Module()
        outer.m = top
        top = outer
    (name,) = param_names(tg.graph.graph((inner.weight * 1.0).sum()))
    assert name == "m." * 1500 + "weight"


def test_registering_while_drawing_in_another_thread_does_not_crash():
    lstm, loss = lstm_loss(False)
    errors = []
    stop = threading.Event()

    def register():
        try:
            while not stop.is_set():
                holder = nn.Module()
                holder.rnn = lstm
                holder.extra = lstm.weight_hh_l0
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=register)
    t.start()
    try:
        for _ in range(30):
            names = set(param_names(tg.graph.graph(loss)))
            assert len(names) == 4
    finally:
        stop.set()
        t.join()
    assert not errors


# ---- the DOT text renders ----------------------------------------------------------------------------------
def test_named_drawing_renders_with_dot(tmp_path):
    model = TiedLM()
    loss = model(tg.Tensor(np.array([0, 4])))
    tg.graph.draw(loss, path=tmp_path / "tied", format="svg", highlight="embed.weight")
    root = ET.parse(tmp_path / "tied.svg").getroot()
    texts = {"".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")}
    assert "decoder.weightᵀ" in texts and "= embed.weightᵀ" in texts and "gradient path to decoder.weight" in texts
    lstm, loss = lstm_loss(True)
    tg.graph.draw(loss, path=tmp_path / "lstm", format="svg", detail="cell")
    root = ET.parse(tmp_path / "lstm.svg").getroot()
    texts = {"".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")}
    assert {"weight_ih_l0ᵀ", "weight_hh_l0ᵀ", "bias_ih_l0", "bias_hh_l0"} <= texts
