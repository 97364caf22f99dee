"""ModuleList, ModuleDict, ParameterList, ParameterDict: registration, PyTorch's names, list/dict behaviour."""

import copy

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim


def _lin(i):
    return nn.Linear(i + 1, 2)


class Stack(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 1), "b": nn.Linear(4, 2, bias=False)})
        self.scales = nn.ParameterList([tg.ones(4), tg.ones(4) * 2.0])
        self.extra = nn.ParameterDict({"gain": tg.ones(1)})

    def forward(self, x):
        for layer, s in zip(self.layers, self.scales):
            x = layer(x) * s
        return {k: h(x) for k, h in self.heads.items()}


STACK_KEYS = [
    "layers.0.weight",
    "layers.0.bias",
    "layers.1.weight",
    "layers.1.bias",
    "layers.2.weight",
    "layers.2.bias",
    "heads.a.weight",
    "heads.a.bias",
    "heads.b.weight",
    "scales.0",
    "scales.1",
    "extra.gain",
]


def test_nested_containers_register_with_pytorch_names_and_train():
    m = Stack()
    assert list(m.state_dict()) == STACK_KEYS
    assert len(list(m.parameters())) == len(STACK_KEYS)
    assert isinstance(m.scales[0], nn.Parameter) and m.scales[0].requires_grad
    opt = optim.SGD(m.parameters(), lr=0.1)
    before = m.layers[0].weight.numpy().copy()
    out = m(tg.randn(2, 4))
    (out["a"].sum() + out["b"].sum()).backward()
    opt.step()
    assert not np.array_equal(before, m.layers[0].weight.numpy())
    m2 = Stack()
    m2.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m2.layers[2].bias.numpy(), m.layers[2].bias.numpy())


def test_module_list_behaves_like_a_list():
    ml = nn.ModuleList([_lin(0), _lin(1)])
    assert len(ml) == 2 and [m.in_features for m in ml] == [1, 2]
    ml.append(_lin(2)).extend([_lin(3)])
    ml += [_lin(4)]
    assert [m.in_features for m in ml] == [1, 2, 3, 4, 5]
    assert ml[-1].in_features == 5 and ml[1].in_features == 2
    sub = ml[1:3]
    assert isinstance(sub, nn.ModuleList) and [m.in_features for m in sub] == [2, 3]
    assert sub[0] is ml[1]  # slices share the modules
    ml.insert(0, _lin(9))
    assert [m.in_features for m in ml] == [10, 1, 2, 3, 4, 5]
    assert list(ml._modules) == [str(i) for i in range(6)]
    del ml[1]
    assert [m.in_features for m in ml] == [10, 2, 3, 4, 5]
    del ml[::2]
    assert [m.in_features for m in ml] == [2, 4]
    assert list(ml.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ml[0] = _lin(6)
    assert ml[0].in_features == 7 and list(ml._modules) == ["0", "1"]
    assert ml.pop().in_features == 4 and len(ml) == 1
    both = ml + nn.ModuleList([_lin(0)])
    assert isinstance(both, nn.ModuleList) and len(both) == 2 and len(ml) == 1
    assert "(0): Linear(in_features=7" in repr(ml)


def test_module_list_errors():
    ml = nn.ModuleList([_lin(0)])
    with pytest.raises(TypeError, match="ModuleList: int is not a Module"):
        ml.append(3)
    with pytest.raises(IndexError, match="ModuleList: index 1 is out of range for 1 entries"):
        ml[1]
    with pytest.raises(TypeError, match="indices must be integers"):
        ml["0"]
    with pytest.raises(TypeError, match="expected an iterable"):
        ml.extend(_lin(0))
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        ml(tg.randn(1, 1))


def test_deepcopy_of_a_module_list_is_independent():
    ml = nn.ModuleList([_lin(1), _lin(1)])
    cp = copy.deepcopy(ml)
    assert list(cp.state_dict()) == list(ml.state_dict())
    np.testing.assert_array_equal(cp[0].weight.numpy(), ml[0].weight.numpy())
    cp[0].weight.data = cp[0].weight.data + 1
    assert not np.array_equal(cp[0].weight.numpy(), ml[0].weight.numpy())
    assert cp[0].weight is not ml[0].weight and cp[0].weight is cp._modules["0"].weight


def test_module_dict_behaves_like_a_dict():
    md = nn.ModuleDict([("enc", _lin(0)), ("dec", _lin(1))])
    assert md.keys() == ["enc", "dec"] and list(md) == ["enc", "dec"] and len(md) == 2
    assert "enc" in md and "x" not in md
    md.update({"dec": _lin(5), "out": _lin(2)})  # an existing key keeps its place
    assert md.keys() == ["enc", "dec", "out"] and md["dec"].in_features == 6
    md["extra"] = _lin(3)
    assert [m.in_features for m in md.values()] == [1, 6, 3, 4]
    assert [k for k, _ in md.items()] == ["enc", "dec", "out", "extra"]
    assert md.pop("enc").in_features == 1 and "enc" not in md
    del md["out"]
    assert list(md.state_dict()) == ["dec.weight", "dec.bias", "extra.weight", "extra.bias"]
    assert md.get("nope") is None
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []


def test_module_dict_errors():
    md = nn.ModuleDict()
    with pytest.raises(KeyError, match="no entry 'x'"):
        md["x"]
    with pytest.raises(KeyError, match="contain no '.'"):
        md["a.b"] = _lin(0)
    with pytest.raises(KeyError, match="clashes with an attribute"):
        md["training"] = _lin(0)
    with pytest.raises(TypeError, match="keys must be strings"):
        md[1] = _lin(0)
    with pytest.raises(TypeError, match="ModuleDict: float is not a Module"):
        md["a"] = 1.0
    with pytest.raises(TypeError, match=r"ModuleDict.update: element #0 should be a \(key, value\) pair"):
        md.update([_lin(0)])


def test_parameter_list_and_dict():
    pl = nn.ParameterList([tg.randn(2), nn.Parameter(tg.randn(3))])
    pl.append(tg.zeros(1))
    assert [p.shape for p in pl] == [(2,), (3,), (1,)] and all(isinstance(p, nn.Parameter) for p in pl)
    assert [k for k, _ in pl.named_parameters()] == ["0", "1", "2"]
    del pl[0]
    assert [k for k, _ in pl.named_parameters()] == ["0", "1"] and pl[0].shape == (3,)
    assert isinstance(pl[:1], nn.ParameterList) and "(0): Parameter of shape (3,)" in repr(pl)
    with pytest.raises(TypeError, match="ParameterList: list is not a Parameter or Tensor"):
        pl.append([1.0])
    pd = nn.ParameterDict({"w": tg.randn(2, 2)})
    pd["b"] = tg.zeros(2)
    assert pd.keys() == ["w", "b"] and list(pd.state_dict()) == ["w", "b"]
    assert isinstance(pd["b"], nn.Parameter) and "b" in pd
    pd.pop("w")
    assert [k for k, _ in pd.named_parameters()] == ["b"]


def test_containers_match_pytorch_state_dict_keys():
    torch = pytest.importorskip("torch")

    class TStack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(3))
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 1), "b": torch.nn.Linear(4, 2, bias=False)})
            self.scales = torch.nn.ParameterList([torch.ones(4), torch.zeros(4)])
            self.extra = torch.nn.ParameterDict({"gain": torch.ones(1)})

    theirs = TStack()
    assert list(theirs.state_dict()) == STACK_KEYS
    ours = Stack()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.layers[1].weight.numpy(), theirs.layers[1].weight.detach().numpy())
    tl = torch.nn.ModuleList([torch.nn.Linear(1, 1) for _ in range(4)])
    ol = nn.ModuleList([nn.Linear(1, 1) for _ in range(4)])
    del tl[1]
    del ol[1]
    tl.insert(1, torch.nn.Linear(1, 1))
    ol.insert(1, nn.Linear(1, 1))
    assert list(ol.state_dict()) == list(tl.state_dict())
