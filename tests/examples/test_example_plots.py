"""The examples' pictures (--plot / --heatmap) are written as real PNGs (matplotlib is in the examples extra)."""

import pytest
from example_loader import load_example

CASES = [
    ("spring_fit", ["--steps", "5"], "--plot"),
    ("echo_state", [], "--plot"),
    ("ntm_copy", ["--steps", "5"], "--plot"),
    ("hopfield", [], "--plot"),
    ("gan_mixture", ["--steps", "20"], "--plot"),
    ("diffusion_2d", ["--steps", "20"], "--plot"),
    ("seq2seq_reverse", ["--steps", "5"], "--heatmap"),
    ("pixel_rnn", ["--procedural", "--steps", "5"], "--plot"),
    ("captioning", ["--steps", "5", "--train", "50", "--test", "20"], "--plot"),
]


@pytest.mark.parametrize("name,args,flag", CASES)
def test_example_writes_a_png(name, args, flag, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    mod = load_example(name)
    out = tmp_path / f"{name}.png"
    mod.main(args + [flag, str(out)])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_gradient_pathologies_example_runs_every_part_and_writes_plots(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    mod = load_example("gradient_pathologies", "gp")
    res = mod.main(["--out", str(tmp_path), "--quick"])
    assert set(res) == set(mod.PARTS)
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) >= 3 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
