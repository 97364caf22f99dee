"""Language-model components (tinygrad_rnn.models.language): vocabulary, model gradients, sampling,
perplexity, embedding look-ups, and a small LM that learns a repetitive corpus."""

import math

import numpy as np
import pytest
from example_loader import load_example

import tinygrad_rnn as tg
import tinygrad_rnn.nn.functional as F
from tinygrad_rnn import nn, optim
from tinygrad_rnn.models.language import (
    RNNLanguageModel,
    Vocab,
    analogy,
    nearest_neighbours,
    next_token_distribution,
    perplexity,
    sample,
)


# ---- Vocab -------------------------------------------------------------------------------------------
def test_vocab_round_trip_min_freq_and_order():
    toks = ["the", "cat", "sat", "on", "the", "mat", "the", "cat", "ran"]
    v = Vocab.build(toks, min_freq=2)
    assert v.itos[:3] == ["<pad>", "<unk>", "<eos>"] and (v.pad_id, v.unk_id, v.eos_id) == (0, 1, 2)
    assert v.itos[3:] == ["the", "cat"]  # by falling frequency; 'sat', 'on', … cut
    assert v.decode(v.encode(["cat", "the"])) == ["cat", "the"]
    assert v.encode(["sat", "dog"]) == [v.unk_id, v.unk_id]  # rare and unseen both map to <unk>
    full = Vocab.build(toks)
    assert full.decode(full.encode(toks)) == toks  # min_freq=1: lossless round trip
    assert full.itos[5:] == ["mat", "on", "ran", "sat"]  # frequency ties are alphabetical
    assert len(Vocab.build(toks, max_size=1)) == 4


def test_vocab_errors_are_clear():
    v = Vocab.build(["a", "b"])
    with pytest.raises(KeyError, match="'zz' is not in the vocabulary"):
        v.encode(["zz"], strict=True)
    with pytest.raises(IndexError, match=r"id 99 is out of range \[0, 5\)"):
        v.decode([3, 99])
    with pytest.raises(IndexError, match="out of range"):
        v.decode([-1])
    with pytest.raises(TypeError, match="got a str"):
        Vocab.build("abc")
    with pytest.raises(TypeError, match="got a str"):
        v.encode("ab")
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(["a"], min_freq=0)
    with pytest.raises(ValueError, match="duplicate"):
        Vocab(["a", "a"])


# ---- the model ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,one_hot,tie", [("lstm", True, False), ("gru", False, False), ("rnn", False, True)])
def test_language_model_gradcheck(cell, one_hot, tie):
    """Float64 central differences agree with backward for every parameter (the tied one included)."""
    tg.manual_seed(3)
    m = RNNLanguageModel(5, 3, 3, cell=cell, one_hot=one_hot, tie_weights=tie).double()
    ids = np.array([[0, 4], [2, 1], [3, 3]])
    target = np.array([[2, 1], [3, 3], [4, 0]])
    params = list(m.parameters())
    if tie:
        assert m.head.weight is m.embedding.weight and len(params) == 6  # listed once: emb, 4 RNN, head bias

    def loss(*_ps):
        logits, _ = m(ids)
        assert logits.dtype == np.float64
        return F.cross_entropy(logits.reshape(-1, 5), target.reshape(-1), reduction="sum")

    assert tg.gradcheck(loss, params)


def test_language_model_argument_errors():
    with pytest.raises(ValueError, match="emb == hidden"):
        RNNLanguageModel(10, 4, 8, tie_weights=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNLanguageModel(10, 4, 8, cell="transformer")
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        RNNLanguageModel(10, 4, 8)(np.array([1, 2, 3]))


def _constant_logits_model(logits, cell="gru"):
    """A model whose output is ``logits`` at every step whatever the input: every weight is zero and the
    head's bias holds the logits."""
    V = len(logits)
    m = RNNLanguageModel(V, 2, 3, cell=cell)
    for p in m.parameters():
        p.data = np.zeros_like(p.data)
    m.head.bias.data = np.asarray(logits, dtype=m.head.bias.dtype)
    return m


# ---- sampling ----------------------------------------------------------------------------------------
def test_top_k_never_leaves_the_top_k():
    logits = np.array([0.0, 3.0, -1.0, 2.5, 2.9, 1.0, 0.5])
    m = _constant_logits_model(logits)
    out = sample(m, [0], 400, temperature=5.0, top_k=3, rng=0)  # hot: without top-k all 7 would appear
    assert len(out) == 400 and set(out) == {1, 3, 4}
    wide = sample(m, [0], 400, temperature=5.0, rng=0)
    assert set(wide) - {1, 3, 4}  # the control: top-k is what restricts
    p = next_token_distribution(logits, temperature=1.0, top_k=3)
    np.testing.assert_allclose(p[[1, 3, 4]], np.exp(logits[[1, 3, 4]]) / np.exp(logits[[1, 3, 4]]).sum())


def test_temperature_to_zero_is_argmax_on_a_real_model():
    tg.manual_seed(5)
    m = RNNLanguageModel(7, 4, 8, cell="lstm")
    prompt = [3, 1, 4]
    greedy = []
    with tg.no_grad():  # greedy decoding by hand
        logits, state = m(np.array(prompt)[:, None])
        for _ in range(12):
            nxt = int(logits.numpy()[-1, 0].argmax())
            greedy.append(nxt)
            logits, state = m(np.array([[nxt]]), state)
    assert sample(m, prompt, 12, temperature=0.0, rng=1) == greedy
    assert sample(m, prompt, 12, temperature=1e-6, rng=2) == greedy  # the limit, not just the special case


def test_sampling_stops_at_eos_and_is_seeded():
    m = _constant_logits_model([0.0, 0.0, 1.0, 0.3, 0.2])  # eos (2) is likely but not certain
    out = sample(m, [3], 200, eos_id=2, rng=11)
    assert out[-1] == 2 and 2 not in out[:-1] and len(out) < 200
    assert sample(m, [3], 200, rng=11, eos_id=None).count(2) > 1  # without eos_id it keeps going
    a = sample(m, [3], 50, temperature=2.0, rng=123)
    assert a == sample(m, [3], 50, temperature=2.0, rng=123)
    assert a != sample(m, [3], 50, temperature=2.0, rng=124)
    tg.manual_seed(9)
    b = sample(m, [3], 50, temperature=2.0)
    tg.manual_seed(9)
    assert b == sample(m, [3], 50, temperature=2.0)  # rng=None follows tg.manual_seed
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        sample(m, [], 5)
    with pytest.raises(ValueError, match="top_k"):
        sample(m, [1], 5, top_k=0)


# ---- perplexity --------------------------------------------------------------------------------------
def test_perplexity_is_exp_mean_nll_by_hand():
    """Windows of 3 carrying the state give exactly the one-pass NLL (state carries over exactly)."""
    tg.manual_seed(2)
    m = RNNLanguageModel(6, 4, 5, cell="lstm").double()
    ids = np.array([1, 4, 2, 5, 3, 3, 0, 4, 1, 2, 5])
    with tg.no_grad():
        logits, _ = m(ids[:-1, None])
    z = logits.numpy()[:, 0]
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    by_hand = math.exp(-logp[np.arange(len(ids) - 1), ids[1:]].mean())
    assert perplexity(m, ids, bptt=3) == pytest.approx(by_hand, rel=1e-10)
    assert perplexity(m, ids, bptt=100) == pytest.approx(by_hand, rel=1e-10)
    assert m.training  # evaluation restores the mode


def test_perplexity_of_uniform_logits_is_vocab_size():
    m = _constant_logits_model(np.zeros(9), cell="lstm")
    ids = np.random.default_rng(0).integers(0, 9, (40, 3))  # (T, N) streams
    assert perplexity(m, ids, bptt=7) == pytest.approx(9.0, rel=1e-6)


# ---- embeddings --------------------------------------------------------------------------------------
def _toy_embedding():
    v = Vocab(["<pad>", "<unk>", "<eos>", "king", "queen", "man", "woman", "apple", "monarch"])
    W = np.array(
        [
            [0, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
            [1.0, 1.0, 0.0],  # king    = royal + male
            [1.0, -1.0, 0.0],  # queen   = royal + female
            [0.0, 1.0, 0.1],  # man
            [0.0, -1.0, 0.1],  # woman
            [0.0, 0.0, 1.0],  # apple: unrelated
            [1.0, 0.8, 0.0],
        ]
    )  # monarch: next to king
    return v, W


def test_nearest_neighbours_and_analogy_on_a_hand_made_embedding():
    v, W = _toy_embedding()
    nn_king = nearest_neighbours(tg.Tensor(W), v, "king", k=2)
    assert [w for w, _ in nn_king] == ["monarch", "man"]
    assert nn_king[0][1] == pytest.approx(1.8 / (math.sqrt(2) * math.sqrt(1.64)))
    assert [w for w, _ in analogy(W, v, "man", "king", "woman", k=1)] == ["queen"]
    assert [w for w, _ in analogy(W, v, "king", "queen", "man", k=1)] == ["woman"]
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        nearest_neighbours(W, v, "prince")


# ---- learning ----------------------------------------------------------------------------------------
def test_small_lm_learns_a_repetitive_corpus():
    """A word LSTM trained with stateful TBPTT on a cyclic 8-word sentence: held-out perplexity < 1.1.

    A uniform guess over the 11-token vocabulary scores 11 and the initial model about that; the cycle is
    fully predictable (perplexity 1) once the model remembers whether 'the' followed '.' ('cat') or 'on'
    ('mat'); this seed reaches about 1.01 after 60 steps."""
    tg.manual_seed(0)
    text = "the cat sat on the mat and slept . " * 60
    vocab = Vocab.build(text.split())
    ids = np.array(vocab.encode(text.split()))
    train, held = ids[:400], ids[400:]
    streams = train[: 400 // 8 * 8].reshape(8, -1).T  # (50, 8)
    m = RNNLanguageModel(len(vocab), 16, 32, cell="lstm")
    opt = optim.Adam(m.parameters(), lr=1e-2)
    before = perplexity(m, held, bptt=16)
    state = None
    for step in range(60):
        pos = (step * 10) % (streams.shape[0] - 1)
        if pos == 0:
            state = None
        x, y = streams[pos : pos + 10], streams[pos + 1 : pos + 11]
        x = x[: len(y)]
        logits, state = m(x, state)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        state = nn.utils.detach_state(state)
    after = perplexity(m, held, bptt=16)
    assert before > 8.0, before
    assert after < 1.1, after


# ---- the example -------------------------------------------------------------------------------------
def test_word_lm_example_runs_and_lowers_heldout_perplexity(capsys):
    mod = load_example("word_lm")
    assert mod.tokenize("Use x_1, then RETURN 42.") == ["use", "x_", "1", ",", "then", "return", "42", "."]
    res = mod.main(
        [
            "--max-tokens",
            "6000",
            "--steps",
            "40",
            "--embed",
            "32",
            "--hidden",
            "32",
            "--tie",
            "--batch",
            "8",
            "--bptt",
            "16",
            "--min-freq",
            "2",
            "--block",
            "200",
            "--eval-tokens",
            "600",
            "--sample-len",
            "8",
            "--lr",
            "1e-2",
        ]
    )
    assert res["ppl_after"] < res["ppl_before"] / 4, res  # well below a uniform guess
    assert res["last_loss"] < res["first_loss"] - 0.7, res
    printed = capsys.readouterr().out
    for marker in (
        "held-out perplexity before training",
        "sample (temperature 0.7, top-k 40)",
        "nearest neighbours by cosine similarity",
        "analogy ",
    ):
        assert marker in printed, marker
