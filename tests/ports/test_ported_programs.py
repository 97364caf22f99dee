"""Public PyTorch RNN programs, ported by renaming their imports (the files in programs/), run here
and, when PyTorch is importable, side by side with PyTorch from the same initial weights."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent / "programs"


def _load(name, torch_imports=False):
    """Import a ported program; with ``torch_imports`` its renamed imports are turned back into torch's."""
    path = HERE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_port_{name}_{int(torch_imports)}", path)
    mod = importlib.util.module_from_spec(spec)
    if not torch_imports:
        spec.loader.exec_module(mod)
        return mod
    src = path.read_text()
    renamed = src.split("RENAMED_IMPORTS = ")[1].split("\n")[0]
    original = src.split("ORIGINAL_IMPORTS = ")[1].split("\n")[0]
    block = eval(renamed)  # the renamed import lines, exactly as they stand at the top of the file
    assert src.count(block) == 1, "the ported file must keep its renamed imports as one block"
    sys.modules[spec.name] = mod
    exec(compile(src.replace(block, eval(original)), str(path), "exec"), mod.__dict__)
    return mod


def test_time_sequence_prediction_trains():
    losses, test_losses, _ = _load("time_sequence_prediction").main(steps=2, future=20)
    assert len(losses) > 20 and np.all(np.isfinite(losses))
    assert losses[-1] < 0.05 * losses[0]  # LBFGS fits the sine waves
    assert test_losses[1] < test_losses[0] < 0.05


def test_time_sequence_prediction_matches_pytorch():
    pytest.importorskip("torch")
    ref_losses, ref_test, start = _load("time_sequence_prediction", torch_imports=True).main(steps=2, future=20)
    losses, test_losses, _ = _load("time_sequence_prediction").main(steps=2, future=20, init=start)
    assert len(losses) == len(ref_losses)  # the same number of closure calls: the same line searches
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(test_losses, ref_test, rtol=1e-9, atol=1e-15)


def test_sequence_models_tutorial_tags_the_sentence():
    mod = _load("sequence_models_tutorial")
    out, (h, c) = mod.lstm_demo()
    assert out.shape == (5, 1, 3) and h.shape == c.shape == (1, 1, 3)
    losses, scores, _ = mod.main(epochs=300)
    assert losses[-1] < 0.1 * losses[0]
    assert scores.argmax(axis=1).tolist() == [0, 1, 2, 0, 1]  # DET NN V DET NN, as the tutorial says


def test_sequence_models_tutorial_matches_pytorch():
    pytest.importorskip("torch")
    ref_losses, ref_scores, start = _load("sequence_models_tutorial", torch_imports=True).main(epochs=30)
    losses, scores, _ = _load("sequence_models_tutorial").main(epochs=30, init=start)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-7)  # float32, 60 SGD steps
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
