"""pytorch/examples ``word_language_model`` (programs/word_language_model.py), ported by renaming its
imports: it trains here, and, when PyTorch is importable, its per-batch training losses and its
validation and test losses match PyTorch's from the same initial weights."""

import math

import numpy as np
import pytest
from test_ported_programs import _load

import tinygrad_rnn as tg


@pytest.fixture(scope="module")
def port():
    """The port, run as ``main.py --accel`` on a GPU backend (the program picks its device from that
    flag, and a process here computes on its one device), as the program is given on a CPU otherwise."""
    module = _load("word_language_model")
    main = module.main
    module.main = lambda *a, **kw: main(*a, accel=tg.accelerator.is_available(), **kw)
    return module


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("torch")
    return _load("word_language_model", torch_imports=True)


def _check_learns(result, epochs):
    losses, val_losses, test_loss, start = result
    per_epoch = len(losses) // epochs
    assert len(losses) == per_epoch * epochs and len(val_losses) == epochs
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(val_losses)) and math.isfinite(test_loss)
    first, last = np.mean(losses[:per_epoch]), np.mean(losses[-per_epoch:])
    assert last < 0.8 * first
    assert val_losses[-1] < val_losses[0] - 0.3
    ntokens = start["decoder.bias"].shape[0]
    assert test_loss < 0.8 * math.log(ntokens)  # well below a uniform guess over the vocabulary


@pytest.mark.parametrize("model_type", ["LSTM", "GRU", "RNN_TANH"])
def test_word_language_model_trains(port, model_type, capsys):
    result = port.main(model_type, epochs=10, log_interval=5)
    _check_learns(result, epochs=10)
    start = result[3]
    assert start["encoder.weight"].dtype == np.float32 and np.abs(start["encoder.weight"]).max() <= 0.1
    out = capsys.readouterr().out
    assert "| epoch   1 |     5/   11 batches |" in out and "| End of training | test loss" in out


def test_word_language_model_dry_run_and_tied_weights(port):
    losses, val_losses, test_loss, start = port.main("GRU", epochs=2, dry_run=True, tied=True)
    assert len(losses) == 2 and len(val_losses) == 2 and math.isfinite(test_loss)
    np.testing.assert_array_equal(start["decoder.weight"], start["encoder.weight"])  # tied


def test_word_language_model_transformer_trains(port):
    _check_learns(port.main("Transformer", epochs=3, lr=1.0), epochs=3)


def _compare(port, reference, rtol=1e-5, **kw):
    ref_losses, ref_val, ref_test, start = reference.main(**kw)
    losses, val_losses, test_loss, _ = port.main(init=start, **kw)
    assert len(losses) == len(ref_losses)
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(val_losses, ref_val, rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(test_loss, ref_test, rtol=rtol, atol=1e-7)


# Clipped SGD at lr 5 in float32 for 36 (LSTM/GRU) or 24 steps: the plain RNNs are the more sensitive to
# rounding (their loss differences grow from ~1e-7 to a few 1e-6 by the third epoch).
@pytest.mark.parametrize("model_type, epochs", [("LSTM", 3), ("GRU", 3), ("RNN_TANH", 2), ("RNN_RELU", 2)])
def test_word_language_model_matches_pytorch(port, reference, model_type, epochs):
    _compare(port, reference, model_type=model_type, epochs=epochs)


def test_word_language_model_adamw_tied_matches_pytorch(port, reference):
    _compare(port, reference, model_type="LSTM", epochs=2, use_optimizer=True, lr=0.01, tied=True)


def test_word_language_model_transformer_matches_pytorch(port, reference):
    _compare(port, reference, model_type="Transformer", epochs=3, lr=1.0)
