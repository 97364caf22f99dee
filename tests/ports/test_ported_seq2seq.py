"""The PyTorch seq2seq translation tutorial (programs/seq2seq_translation.py), ported by renaming its
imports: trained here on its small corpus, and, when PyTorch is importable, side by side with PyTorch
from the same initial weights, the same pair choices and the same teacher-forcing coin flips."""

import numpy as np
import pytest
from test_ported_programs import _load  # tests/ports is on sys.path: pytest puts it there (no __init__.py)


def test_seq2seq_translation_prepares_the_tutorials_pairs():
    mod = _load("seq2seq_translation")
    assert len(mod.eng_fra_lines()) == 40 and len(mod.pairs) == 36  # filterPairs drops the four off-form pairs
    assert ["vous etes fatigue .", "you are tired ."] in mod.pairs  # normalizeString: accents, case, "."
    assert ["je ne suis pas froid !", "i m not cold !"] in mod.pairs  # "I'm" -> "i m", "!" split off
    words = {w for p in mod.pairs for w in p[0].split(" ")}
    assert mod.input_lang.n_words == len(words) + 2  # SOS and EOS


def test_seq2seq_translation_trains():
    losses, triples, (words, attentions), _ = _load("seq2seq_translation").main(n_iters=300)
    losses = np.asarray(losses)
    assert losses.shape == (300,) and np.all(np.isfinite(losses))
    assert losses[-50:].mean() < 0.85 * losses[:50].mean()  # SGD at the tutorial's lr=0.01
    assert len(triples) == 10
    for _, _, output in triples:
        out = output.split(" ")
        assert out[-1] == "<EOS>" or len(out) == 10  # evaluate() stops at EOS or after max_length words
    assert words and all(isinstance(w, str) for w in words)
    assert attentions.shape == (len(words), 10)  # decoder_attentions[:di + 1]
    np.testing.assert_allclose(attentions.sum(axis=1), 1.0, rtol=1e-5)  # softmax rows


def test_seq2seq_translation_matches_pytorch():
    pytest.importorskip("torch")
    kw = dict(n_iters=100, dropout_p=0.0)  # dropout masks come from each framework's own generator
    ref_losses, ref_triples, (ref_words, ref_attn), start = _load("seq2seq_translation", torch_imports=True).main(**kw)
    losses, triples, (words, attn), _ = _load("seq2seq_translation").main(init=start, **kw)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-7)  # float32, 100 SGD steps (max rel ~2e-7)
    assert triples == ref_triples and words == ref_words  # the same greedy decodings
    np.testing.assert_allclose(attn, ref_attn, rtol=1e-5, atol=1e-6)
