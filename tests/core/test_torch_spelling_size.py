"""PyTorch's ``x.size()`` / ``x.size(d)``, ``tg.Size``, ``numel()``, ``dim()``; and a PyTorch RNN
program that runs unchanged with ``torch`` renamed to ``tinygrad_rnn``."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg


def test_size_is_a_method_returning_size():
    x = tg.zeros(2, 3, 4)
    s = x.size()
    assert isinstance(s, tg.Size) and isinstance(s, tuple)
    assert s == (2, 3, 4) and s == x.shape and tuple(s) == (2, 3, 4)
    assert s.numel() == 24 == x.numel() == x.nelement()
    assert repr(s) == "tinygrad_rnn.Size([2, 3, 4])" == str(s)
    assert isinstance(s[1:], tg.Size) and s[1:] == (3, 4) and s[0] == 2 and type(s[0]) is int
    assert isinstance(s + (5,), tg.Size) and s + (5,) == (2, 3, 4, 5)
    n, t, c = s  # unpacks
    assert (n, t, c) == (2, 3, 4)
    assert tg.Size([]) == () and tg.Size([]).numel() == 1 and repr(tg.Size([])) == "tinygrad_rnn.Size([])"


def test_size_of_one_dim():
    x = tg.zeros(2, 3, 4)
    assert [x.size(d) for d in range(3)] == [2, 3, 4]
    assert [x.size(d) for d in (-1, -2, -3)] == [4, 3, 2]
    assert x.size(np.int64(1)) == 3 and type(x.size(1)) is int
    with pytest.raises(
        IndexError, match=r"size: dim 3 is out of range for a tensor with 3 dimension\(s\) \(valid: -3..2\)"
    ):
        x.size(3)
    with pytest.raises(IndexError, match="dim -4 is out of range"):
        x.size(-4)
    with pytest.raises(IndexError, match="a 0-d tensor has none"):
        tg.tensor(1.0).size(0)
    with pytest.raises(TypeError, match="size: dim must be an int"):
        x.size(1.0)


def test_numel_dim_ndimension_len():
    x = tg.zeros(2, 3)
    assert x.dim() == 2 == x.ndimension() == x.ndim and len(x) == 2
    s = tg.tensor(5.0)
    assert s.dim() == 0 and s.numel() == 1 and s.size() == () and s.size() == tg.Size([])
    assert tg.zeros(0, 3).numel() == 0
    assert isinstance(x.shape, tuple) and x.shape == (2, 3)  # .shape stays a plain tuple (hot paths)


def test_size_is_not_a_number_any_more():
    # the trap this removes: NumPy's .size (an element count) read as PyTorch's size()
    x = tg.zeros(2, 3)
    assert callable(x.size)
    with pytest.raises(TypeError):
        x.size + 1  # noqa: B018


def test_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(), (3,), (2, 3), (2, 1, 4), (0, 5)]:
        x, t = tg.zeros(shape), torch.zeros(shape)
        assert x.size() == t.size() and x.numel() == t.numel() and x.dim() == t.dim()
        assert repr(x.size()).replace("tinygrad_rnn", "torch") == repr(t.size())
        for d in range(-len(shape), len(shape)):
            assert x.size(d) == t.size(d)
        assert x.size()[1:] == t.size()[1:] and x.size().numel() == t.size().numel()


# ---- a PyTorch program, run as written against either library --------------------------------------


def classifier_program(torch, steps=3):
    """A character-level RNN name classifier in the style of PyTorch's tutorial, written against
    ``torch``'s names only. Returns (losses, accuracy, predictions, a few probes)."""
    nn = torch.nn
    F = torch.nn.functional

    class RNNClassifier(nn.Module):
        def __init__(self, vocab, hidden, classes):
            super().__init__()
            self.embed = nn.Embedding(vocab, 8)
            self.rnn = nn.LSTM(8, hidden, batch_first=True)
            self.out = nn.Linear(hidden, classes)
            self.log_softmax = nn.LogSoftmax(dim=1)

        def forward(self, ids):
            batch_size, seq_len = ids.size()
            h, _ = self.rnn(self.embed(ids))
            last = h[:, -1, :].reshape(batch_size, -1)
            return self.log_softmax(self.out(last))

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(0, 6, (4, 5))).long()
    labels = torch.tensor(rng.integers(0, 3, (4,)), dtype=torch.long)
    model = RNNClassifier(6, 7, 3)
    state = np.load(STATE) if STATE else None
    if state is not None:
        model.load_state_dict({k: torch.tensor(state[k]) for k in state.files})
    model = model.double()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logp = model(ids)
        loss = F.nll_loss(logp, labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        out = model(ids)
        _, predicted = torch.max(out, 1)
        correct = (predicted == labels).sum().item()
        probs = torch.softmax(out, dim=1)
        probes = {
            "sum_dim": probs.sum(dim=1, keepdim=True).size(),
            "argmax": out.argmax(dim=-1).tolist(),
            "max_values": out.max(dim=1).values.tolist(),
            "cat": torch.cat([out, out], dim=1).size(1),
            "stack": torch.stack([out, out], dim=0).size(),
            "split": [p.size(1) for p in out.split(2, dim=1)],
            "numel": out.numel(),
            "dim": out.dim(),
            "float": str(out.float().dtype).split(".")[-1],
            "mean": out.mean(dim=0).tolist(),
            "bool": (out > -1.0).sum().item(),
        }
    return losses, correct / labels.size(0), predicted.tolist(), probes


STATE = None


def test_pytorch_program_runs_on_tinygrad_rnn():
    losses, acc, pred, probes = classifier_program(tg)
    assert len(losses) == 3 and all(np.isfinite(losses)) and 0.0 <= acc <= 1.0 and len(pred) == 4
    assert probes["sum_dim"] == (4, 1) and probes["cat"] == 6 and probes["stack"] == (2, 4, 3)
    assert probes["split"] == [2, 1] and probes["numel"] == 12 and probes["dim"] == 2
    assert probes["float"] == "float32"


def test_pytorch_program_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    global STATE
    torch.manual_seed(0)
    tmpl = torch.nn.Module()
    tmpl.embed = torch.nn.Embedding(6, 8)
    tmpl.rnn = torch.nn.LSTM(8, 7, batch_first=True)
    tmpl.out = torch.nn.Linear(7, 3)
    path = tmp_path / "state.npz"
    np.savez(path, **{k: v.detach().numpy() for k, v in tmpl.state_dict().items()})
    STATE = str(path)
    try:
        got, want = classifier_program(tg), classifier_program(torch)
    finally:
        STATE = None
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9)
    assert got[1] == want[1] and got[2] == want[2]
    for k, v in want[3].items():
        if isinstance(v, list) and v and isinstance(v[0], float):
            np.testing.assert_allclose(got[3][k], v, rtol=1e-9)
        else:
            assert got[3][k] == (tuple(v) if k in ("sum_dim", "stack") else v), k
