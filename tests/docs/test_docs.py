"""The documentation stays true: the tutorial's doctests pass, the API generator works without extra
packages, every example is listed, and the PyTorch comparison's checkable claims hold."""

from __future__ import annotations

import doctest
import importlib.util
import pathlib

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_tutorial_doctests_pass():
    tg.manual_seed(0)
    res = doctest.testfile(
        str(DOCS / "tutorial.md"),
        module_relative=False,
        verbose=False,
        report=True,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert res.failed == 0, f"{res.failed} of {res.attempted} tutorial examples failed"
    assert res.attempted > 20


def _build_api():
    spec = importlib.util.spec_from_file_location("docs_build_api", DOCS / "build_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_builtin_api_generator(tmp_path):
    files = _build_api().build_builtin(tmp_path)
    names = {p.name for p in files}
    assert {
        "index.md",
        "tinygrad_rnn.md",
        "tinygrad_rnn.nn.md",
        "tinygrad_rnn.optim.md",
        "tinygrad_rnn.graph.md",
    } <= names
    top = (tmp_path / "tinygrad_rnn.md").read_text(encoding="utf-8")
    assert "### `Tensor.backward(" in top and "Accumulate" in top
    assert "## class `LSTM(" in (tmp_path / "tinygrad_rnn.nn.md").read_text(encoding="utf-8")
    assert "## class `Adam(" in (tmp_path / "tinygrad_rnn.optim.md").read_text(encoding="utf-8")
    assert "## `to_dot(" in (tmp_path / "tinygrad_rnn.graph.md").read_text(encoding="utf-8")
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert "[`tinygrad_rnn.nn`](tinygrad_rnn.nn.md)" in index


def test_build_api_main_builtin(tmp_path, capsys):
    assert _build_api().main(["--builtin", "--out", str(tmp_path / "api")]) == 0
    assert (tmp_path / "api" / "index.md").exists()
    assert "Markdown" in capsys.readouterr().out


def test_every_example_is_documented():
    text = (DOCS / "examples.md").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    assert scripts
    missing = [s for s in scripts if f"examples/{s}" not in text]
    assert not missing, f"docs/examples.md does not mention {missing}"


def test_docs_link_each_other():
    tut = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    assert "coming_from_pytorch.md" in tut and "examples.md" in tut


# ---- docs/coming_from_pytorch.md: the mechanically checkable claims ----------------------------------
PT = (DOCS / "coming_from_pytorch.md").read_text(encoding="utf-8")


def test_lstm_names_shapes_and_gate_order():
    assert "`weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`" in PT
    assert "LSTM `i, f, g, o`; GRU `r, z, n`" in PT
    I, H = 5, 7
    lstm = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    shapes = {k: p.shape for k, p in lstm.named_parameters()}
    for k in range(2):
        in_k = I if k == 0 else 2 * H
        for sfx in ("", "_reverse"):
            assert shapes[f"weight_ih_l{k}{sfx}"] == (4 * H, in_k)  # "(4H, I)"
            assert shapes[f"weight_hh_l{k}{sfx}"] == (4 * H, H)  # "(4H, H)"
            assert shapes[f"bias_ih_l{k}{sfx}"] == (4 * H,)
            assert shapes[f"bias_hh_l{k}{sfx}"] == (4 * H,)
    assert len(shapes) == 16
    gru, rnn = nn.GRU(I, H), nn.RNN(I, H)
    assert gru.weight_ih_l0.shape == (3 * H, I) and gru.weight_hh_l0.shape == (3 * H, H)
    assert rnn.weight_ih_l0.shape == (H, I) and rnn.weight_hh_l0.shape == (H, H)
    proj = nn.LSTM(I, H, proj_size=3)
    assert proj.weight_hr_l0.shape == (3, H) and proj.weight_hh_l0.shape == (4 * H, 3)
    assert nn.Linear(I, H).weight.shape == (H, I)


def test_lstm_gate_order_is_i_f_g_o():
    tg.manual_seed(1)
    cell = nn.LSTMCell(2, 3)
    x = tg.tensor(np.random.default_rng(0).normal(size=(1, 2)), dtype="float32")
    h0, c0 = tg.tensor(np.full((1, 3), 0.3, np.float32)), tg.tensor(np.full((1, 3), -0.2, np.float32))
    h, c = cell(x, (h0, c0))
    pre = (
        x.numpy() @ cell.weight_ih.numpy().T
        + h0.numpy() @ cell.weight_hh.numpy().T
        + cell.bias_ih.numpy()
        + cell.bias_hh.numpy()
    )
    i, f, g, o = np.split(pre, 4, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c_ref = sig(f) * c0.numpy() + sig(i) * np.tanh(g)
    assert np.allclose(c.numpy(), c_ref, atol=1e-6)
    assert np.allclose(h.numpy(), sig(o) * np.tanh(c_ref), atol=1e-6)


def test_shapes_and_state_dict_claims():
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    out, (h_n, c_n) = lstm(tg.randn(3, 5, 4))
    assert out.shape == (3, 5, 6) and h_n.shape == (2, 3, 6) and c_n.shape == (2, 3, 6)
    sd = {k: v.numpy() for k, v in lstm.state_dict().items()}  # NumPy arrays load, as from PyTorch
    other = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    res = other.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in other.state_dict().items():
        assert np.array_equal(v.numpy(), sd[k])


def test_optimizers_losses_and_layers_exist():
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert f"`{name}`" in PT or f"`optim.{name}`" in PT
        assert hasattr(optim, name)
    assert hasattr(optim.lr_scheduler, "StepLR") and hasattr(optim.lr_scheduler, "LambdaLR")
    for name in (
        "CrossEntropyLoss",
        "NLLLoss",
        "MSELoss",
        "BCEWithLogitsLoss",
        "RNNCell",
        "LSTMCell",
        "GRUCell",
        "Linear",
        "Embedding",
        "Dropout",
        "Sequential",
    ):
        assert name in PT and hasattr(nn, name)
    import tinygrad_rnn.nn.functional as F

    for name in ("cross_entropy", "mse_loss", "binary_cross_entropy_with_logits"):
        assert hasattr(F, name)
    assert tg.cat is tg.concat
    p = nn.Linear(2, 2).weight
    p.grad = tg.zeros(2, 2)
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None  # set_to_none=True by default


def test_split_like_pytorch_and_pad_numpy_style():
    assert [t.shape for t in tg.split(tg.zeros(5), 2)] == [(2,), (2,), (1,)]
    assert [t.shape for t in tg.zeros(6, 2).split([1, 5])] == [(1, 2), (5, 2)]
    assert tg.pad(tg.zeros(2, 2), ((1, 0), (0, 2))).shape == (3, 4)  # first axis first


def test_transpose_and_axis_keywords():
    x = tg.zeros(2, 3, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2)  # two axes: swap (PyTorch)
    assert x.transpose().shape == x.T.shape == (4, 3, 2)  # none: reverse (NumPy)
    assert x.permute(1, 0, 2).shape == (3, 2, 4)
    assert x.sum(axis=0, keepdims=True).shape == (1, 3, 4)  # NumPy's spelling is an alias
    assert x.sum(dim=0, keepdim=True).shape == (1, 3, 4)  # PyTorch's
    with pytest.raises(TypeError, match="both dim= and axis="):
        x.sum(dim=0, axis=0)
    assert x.expand(2, 3, 4).shape == (2, 3, 4) and tg.zeros(1, 4).expand(3, -1).shape == (3, 4)


def test_pytorch_dims_max_sizes_and_dtypes():
    x = tg.tensor(np.arange(6.0).reshape(2, 3), dtype=tg.float32)
    assert x.sum(dim=1, keepdim=True).shape == (2, 1) and tg.cat([x, x], dim=1).shape == (2, 6)
    assert x.max().shape == () and isinstance(x.max(axis=1), tg.Tensor)
    values, indices = tg.max(x, 1)
    assert values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2] and indices.dtype == tg.long
    assert x.size() == tg.Size([2, 3]) and x.size(-1) == 3 and x.numel() == 6 and x.dim() == 2
    assert isinstance(x.shape, tuple) and not isinstance(x.shape, tg.Size)
    assert x.to(tg.float64).dtype == tg.double and x.long().dtype == tg.int64 and x.type().endswith(".FloatTensor")
    assert tg.zeros(2, 1).squeeze(0).shape == (2, 1) and tg.softmax(x).shape == (2, 3)
    assert nn.Softmax(dim=1)(x).shape == (2, 3) and nn.Linear(2, 2).to(tg.float64).weight.dtype == tg.float64


def test_no_silent_upcasts_and_default_dtypes():
    with pytest.raises(TypeError, match="never upcasts"):
        tg.zeros(2, dtype="float32") + tg.zeros(2, dtype="float64")
    assert (tg.zeros(2, dtype="float32") + 1.5).dtype == np.float32
    assert (tg.zeros(2, dtype="float32") + tg.tensor([1, 2])).dtype == np.float32
    assert tg.tensor(1.0).dtype == np.float32 and tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor(np.zeros(2)).dtype == np.float64


def test_in_place_api_and_one_device():
    for name in ("add_", "sub_", "mul_", "div_", "copy_", "fill_", "zero_", "clamp_", "uniform_", "normal_"):
        assert callable(getattr(tg.Tensor, name)) and name in PT, name
    assert "__setitem__" in vars(tg.Tensor) or hasattr(tg.Tensor, "__setitem__")
    assert "version counter" in PT and "`.data`" in PT
    assert "one device per process" in PT and "y.cpu().numpy()" in PT
    if tg.backend.name == "numpy":  # the NumPy backend's one device is the CPU: moving to cuda is an error
        for move in (lambda: nn.Linear(2, 2).to("cuda"), lambda: nn.Linear(2, 2).cuda(), lambda: tg.ones(2).cuda()):
            with pytest.raises(ValueError, match="one device per process"):
                move()
        assert tg.ones(2).cpu().device == "cpu" and not tg.cuda.is_available()
    p = nn.Linear(2, 2).weight
    before, view = p.array, p.data
    p.grad = tg.ones(2, 2)
    optim.SGD([p], lr=0.1).step()
    assert p.array is before and np.array_equal(view.numpy(), p.numpy())  # written in place, as PyTorch


def test_fused_switch_and_lengths():
    assert "use_fused" in PT and "TINYGRAD_RNN_FUSED" in PT and "TINYGRAD_RNN_BACKEND" in PT
    lstm = nn.LSTM(2, 3)
    x = tg.randn(4, 2, 2)
    a, _ = lstm(x)
    with nn.use_fused(False):
        b, _ = lstm(x)
    assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)
    out, (h_n, _) = lstm(x, lengths=[4, 2])
    assert np.all(out.numpy()[2:, 1] == 0) and np.allclose(h_n.numpy()[0, 1], out.numpy()[1, 1])
    padded, lengths = nn.utils.pad_sequence([tg.zeros(3, 2), tg.zeros(1, 2)])
    assert padded.shape == (3, 2, 2) and lengths == [3, 1]
