"""The example scripts run end to end (tiny settings) and produce what they promise."""

import numpy as np
from example_loader import load_example

import tinygrad_rnn as tg
from tinygrad_rnn.apps import charlm, demo


def _load(name):
    return load_example(name)


def test_char_lstm_trains_samples_and_checkpoints(tmp_path, capsys):
    mod = _load("char_lstm")
    out = tmp_path / "ck.npz"
    res = mod.main(
        [
            "--corpus",
            "zen",
            "--steps",
            "40",
            "--hidden",
            "32",
            "--embed",
            "8",
            "--batch",
            "8",
            "--bptt",
            "16",
            "--lr",
            "1e-2",
            "--sample-len",
            "40",
            "--out",
            str(out),
        ]
    )
    assert res.last_loss < res.first_loss - 0.5
    printed = capsys.readouterr().out
    assert "sample (temperature" in printed and "loss curve" in printed and res.sample in printed
    ck = tg.load(out)  # the library's training checkpoint: resumable with `tinygrad-rnn train --resume`
    assert ck["kind"] == "charlm" and ck["step"] == 40 and ck["losses"].shape == (40,)
    model, chars, cfg = charlm.load_model(str(out))  # the checkpoint restores the model
    assert (cfg.hidden, cfg.embed, cfg.corpus) == (32, 8, "zen") and "".join(chars) == ck["vocab"]
    np.testing.assert_array_equal(model.embed.weight.numpy(), ck["model"]["embed.weight"].numpy())


def test_char_lstm_runs_the_library_demo_with_its_defaults(monkeypatch):
    """make demo (examples/char_lstm.py) and `tinygrad-rnn demo` share one implementation and its settings."""
    mod = _load("char_lstm")
    seen = []
    monkeypatch.setattr(mod, "run_demo", lambda cfg: seen.append(cfg) or demo.DemoResult(0, cfg.out))
    mod.main([])
    assert seen == [demo.DemoConfig()]


def test_char_lstm_reads_a_text_file(tmp_path):
    mod = _load("char_lstm")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abcabcabcabc " * 40, encoding="utf-8")
    res = mod.main(
        [
            "--corpus",
            str(corpus),
            "--steps",
            "30",
            "--hidden",
            "16",
            "--embed",
            "4",
            "--batch",
            "4",
            "--bptt",
            "8",
            "--sample-len",
            "5",
            "--out",
            str(tmp_path / "c.npz"),
        ]
    )
    assert res.last_loss < res.first_loss


def test_sequence_to_one_example():
    assert _load("sequence_to_one").main(["--steps", "150"]) >= 0.9


def test_sequence_to_sequence_example():
    res = _load("sequence_to_sequence").main(["--steps", "150"])
    assert res["bidirectional"] >= 0.9 and res["forward-only"] <= 0.4


def test_autodiff_seeds_example(capsys):
    _load("autodiff_seeds").main([])
    printed = capsys.readouterr().out
    assert printed.count("gradcheck + gradgradcheck: passed") == 3
