"""Parameter groups for every optimizer: add_param_group, per-group options, named parameters, and state
dicts with several groups; trajectories against torch.optim where torch is installed."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import backend, nn, optim

SHAPES = [(3, 4), (5,), (2, 3), (4,)]

# per optimizer: defaults, then options of groups 1 and 2 (group 0 takes the defaults), then a late group
GROUPS = {
    "SGD": (
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.1, momentum=0.5, dampening=0.2, weight_decay=0.01),
        dict(momentum=0.8, nesterov=True),
        dict(lr=0.02, momentum=0.0, weight_decay=0.1),
    ),
    "Adagrad": (
        dict(lr=0.1),
        dict(lr_decay=0.05, weight_decay=0.02),
        dict(lr=0.3, initial_accumulator_value=0.5, eps=1e-6),
        dict(lr=0.05),
    ),
    "RMSprop": (
        dict(lr=0.01),
        dict(alpha=0.9, centered=True),
        dict(momentum=0.7, weight_decay=0.05, lr=0.005),
        dict(lr=0.02, centered=True, momentum=0.3),
    ),
    "Adam": (
        dict(lr=0.01),
        dict(betas=(0.8, 0.95), weight_decay=0.1),
        dict(lr=0.03, amsgrad=True, eps=1e-6),
        dict(betas=(0.5, 0.9), amsgrad=True),
    ),
    "AdamW": (
        dict(lr=0.01),
        dict(weight_decay=0.5, betas=(0.85, 0.98)),
        dict(lr=0.02, amsgrad=True),
        dict(weight_decay=0.0),
    ),
}


def _grad(p, k, i):
    rng = np.random.default_rng(100 * k + i)
    return 0.7 * p + 0.5 * np.sin(3.0 * p) + rng.standard_normal(p.shape)


def _init():
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s) for s in SHAPES]


def _make(lib, cls_name, params, late_at=None):
    defaults, g1, g2, _ = GROUPS[cls_name]
    cls = getattr(lib.optim, cls_name)
    groups = [{"params": params[:1]}, {"params": params[1:2], **g1}, {"params": params[2:3], **g2}]
    kw = dict(foreach=False) if lib is not tg else {}
    return cls(groups, **defaults, **kw)


def _step_all(opt, params, k, set_grad):
    opt.zero_grad()
    for i, p in enumerate(params):
        set_grad(p, _grad(_numpy(p), k, i))
    opt.step()


def _numpy(p):
    return p.detach().numpy() if hasattr(p, "detach") and not isinstance(p, tg.Tensor) else p.numpy()


def _tg_grad(p, g):
    p.grad = tg.Tensor(g.copy())


def _tg_run(cls_name, steps=8, late_at=3, hook=None):
    params = [tg.Tensor(a.copy(), requires_grad=True) for a in _init()]
    opt = _make(tg, cls_name, params)
    traj = []
    for k in range(steps):
        if k == late_at:
            opt.add_param_group({"params": [params[3]], **GROUPS[cls_name][3]})
        if hook is not None:
            hook(k, opt)
        _step_all(opt, params[: 3 if k < late_at else 4], k, _tg_grad)
        traj.append([p.numpy().copy() for p in params])
    return opt, params, traj


# ---- without torch -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GROUPS))
def test_add_param_group_fills_in_the_defaults(name):
    opt, params, _ = _tg_run(name, steps=4)
    defaults, g1, g2, late = GROUPS[name]
    for group, own in zip(opt.param_groups, [{}, g1, g2, late]):
        for k, v in opt.defaults.items():
            assert group[k] == own.get(k, defaults.get(k, v)), (k, group[k])
    assert [g["params"][0] for g in opt.param_groups] == params
    assert len(opt.state) == 4


def test_each_group_uses_its_own_options():
    """Two identical parameters in two SGD groups with different options move exactly as their own options say."""
    a = tg.Tensor(np.ones(3), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "weight_decay": 0.1}], lr=0.1)
    a.grad, b.grad = tg.Tensor(np.full(3, 2.0)), tg.Tensor(np.full(3, 2.0))
    opt.step()
    np.testing.assert_allclose(a.numpy(), 1 - 0.1 * 2.0)
    np.testing.assert_allclose(b.numpy(), 1 - 0.5 * (2.0 + 0.1 * 1.0))
    opt.param_groups[0]["lr"] = 1.0  # changing a group's option takes effect at the next step
    opt.step()
    np.testing.assert_allclose(a.numpy(), 0.8 - 1.0 * 2.0)


def test_add_param_group_errors():
    p, q = tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [q, p]})
    with pytest.raises(TypeError, match="optimizer parameters need to be organized in ordered collections"):
        opt.add_param_group({"params": {q}})
    with pytest.raises(TypeError, match="organized in ordered collections"):
        optim.SGD({p, q}, lr=0.1)
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(ValueError, match="Adam: invalid beta parameter at index 0"):
        opt.add_param_group({"params": [q], "betas": (1.5, 0.9)})
    assert len(opt.param_groups) == 1  # failed additions leave the optimizer alone
    opt.add_param_group({"params": q, "lr": 0.5})  # a single tensor is accepted, as in PyTorch
    assert opt.param_groups[1]["params"] == [q] and opt.param_groups[1]["lr"] == 0.5


def test_named_parameters_are_accepted_and_kept():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"] == [model.weight, model.bias]
    opt2 = optim.Adam([{"params": [("w", model.weight)]}, {"params": [model.bias], "lr": 0.1}])
    assert opt2.param_groups[0]["param_names"] == ["w"] and "param_names" not in opt2.param_groups[1]
    with pytest.raises(TypeError, match="mixes \\(name, Tensor\\) pairs with other entries"):
        optim.SGD([("w", model.weight), model.bias], lr=0.1)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["weight", "bias"]
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]


def test_sgd_lr_defaults_to_pytorchs():
    assert optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)]).defaults["lr"] == 1e-3


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_state_dict_with_several_groups_round_trips_through_save(tmp_path, name):
    opt, params, _ = _tg_run(name, steps=5)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1], [2], [3]]
    # as in PyTorch, a parameter without state (SGD without momentum) has no entry
    assert set(sd["state"]) == ({"0", "1", "2"} if name == "SGD" else {"0", "1", "2", "3"})
    tg.save({"opt": sd, "params": [p.numpy() for p in params]}, tmp_path / "ck.npz")
    for k in range(5, 9):
        _step_all(opt, params, k, _tg_grad)
    want = [p.numpy().copy() for p in params]

    ck = tg.load(tmp_path / "ck.npz")
    params2 = [tg.Tensor(a, requires_grad=True) for a in ck["params"]]
    opt2 = _make(tg, name, params2)
    opt2.add_param_group({"params": [params2[3]]})  # options come from the state dict
    opt2.load_state_dict(ck["opt"])
    for g, g_saved in zip(opt2.param_groups, opt.param_groups):
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in g_saved.items() if k != "params"}
    for k in range(5, 9):
        _step_all(opt2, params2, k, _tg_grad)
    for a, b in zip(params2, want):
        np.testing.assert_array_equal(a.numpy(), b)


def test_load_state_dict_checks_the_group_layout():
    opt, _, _ = _tg_run("Adam", steps=4)
    sd = opt.state_dict()
    params = [tg.Tensor(a.copy(), requires_grad=True) for a in _init()]
    three = _make(tg, "Adam", params)
    with pytest.raises(ValueError, match="the state dict has 4 parameter group\\(s\\) but this optimizer has 3"):
        three.load_state_dict(sd)
    other = optim.Adam([{"params": params[:2]}, {"params": params[2:3]}, {"params": params[3:]}])
    with pytest.raises(ValueError, match="parameter group 0 has 1 parameter\\(s\\) in the state dict but 2 in"):
        other.load_state_dict({"state": {}, "param_groups": sd["param_groups"][:3]})


# ---- against torch ------------------------------------------------------------------------------------
def _torch_run(torch, cls_name, steps=8, late_at=3, hook=None):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in _init()]
    opt = _make(type("lib", (), {"optim": torch.optim}), cls_name, params)
    traj = []

    def set_grad(p, g):
        p.grad = torch.tensor(g.copy())

    for k in range(steps):
        if k == late_at:
            opt.add_param_group({"params": [params[3]], **GROUPS[cls_name][3]})
        if hook is not None:
            hook(k, opt)
        _step_all(opt, params[: 3 if k < late_at else 4], k, set_grad)
        traj.append([p.detach().numpy().copy() for p in params])
    return opt, params, traj


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_per_group_options_and_a_late_group_match_torch(torch, name):
    opt, _, ours = _tg_run(name)
    topt, _, theirs = _torch_run(torch, name)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-13, err_msg=f"step {k} param {i}")
    for g, tg_ in zip(opt.param_groups, topt.param_groups):
        for k in opt.defaults:
            assert g[k] == tg_[k], k


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_changing_group_options_between_steps_matches_torch(torch, name):
    def hook(k, opt):
        if k == 5:
            opt.param_groups[1]["lr"] *= 0.3
            opt.param_groups[0]["weight_decay"] = 0.2
            if "betas" in opt.param_groups[2]:
                opt.param_groups[2]["betas"] = (0.7, 0.9)
            if "momentum" in opt.param_groups[2]:
                opt.param_groups[2]["momentum"] = 0.6

    _, _, ours = _tg_run(name, steps=10, hook=hook)
    _, _, theirs = _torch_run(torch, name, steps=10, hook=hook)
    for a, b in zip(ours[-1], theirs[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_state_dict_layout_matches_torch(torch, name):
    opt, _, _ = _tg_run(name, steps=4)
    topt, _, _ = _torch_run(torch, name, steps=4)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    assert sorted(int(k) for k in sd["state"]) == sorted(tsd["state"])
    for k, st in sd["state"].items():
        assert set(st) == set(tsd["state"][int(k)]), name
        for key, v in st.items():
            theirs = tsd["state"][int(k)][key].numpy()
            np.testing.assert_allclose(np.asarray(backend.to_numpy(v), dtype=float), theirs, rtol=1e-11, atol=1e-13)
