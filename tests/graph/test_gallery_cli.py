"""The gallery (viz/gallery.py) and the drawing command line (python -m tinygrad_rnn.graph).

These tests render with Graphviz on purpose and do not skip without it: CI installs graphviz, and a
missing `dot` must fail loudly here rather than leave the gallery untested.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from device_helpers import child_pythonpath

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `viz` is a folder of the repository, not part of the installed package
    sys.path.insert(0, str(ROOT))

from tinygrad_rnn.graph.__main__ import main as cli  # noqa: E402
from viz import gallery  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
# file -> label lines its drawing must show
EXPECTED = {
    "seed_z_xy": ["x", "y", "z", "matmul"],
    "seed_sigmoid": ["x", "W", "b", "sigmoid", "y"],
    "seed_relu": ["X", "W", "b", "relu", "H"],
    "rnn_unfolded_T3": ["w^(x)", "w^(a)", "w^(o)", "t = 1", "t = 3", "x₁", "x₃", "a₀ = 0", "y₃ (target)", "C"],
    "rnn_unfolded_T3_wx": ["w^(x)", "copy at t=1", "copy at t=3", "t = 3", "gradient path to w^(x)"],
    "rnn_per_step_T3": ["w^(o)", "y₁ (target)", "y₂ (target)", "y₃ (target)", "t = 3"],
    "rnn_per_step_T3_wx": ["w^(o)", "copy at t=1", "gradient path to w^(x)"],
    "rnn_output_recurrent_T3": ["w^(y)", "o₀ = 0", "t = 3"],
    "lstm_cell": ["weight_ihᵀ", "weight_hhᵀ", "bias_ih", "a^(c)_(t-1)", "a^(h)_t", "a^(c)_t", "LSTMCell"],
    "gru_cell": ["weight_hh[:4]ᵀ", "weight_hh[4:]ᵀ", "a_(t-1)", "a_t", "GRUCell"],
    "rnn_2layer_T3_cell": ["layer 0", "layer 1", "t = 3", "x₁…x₃", "weight_hh_l1ᵀ"],
    "rnn_2layer_T3_op": ["layer 1", "t = 3", "tanh", "weight_ih_l1ᵀ"],
    "rnn_bidirectional_T3_cell": ["layer 0 reverse", "weight_hh_l0_reverseᵀ", "t = 3", "concat"],
    "lstm_T30_cell": ["t = 1", "t = 30", "a^(h)₀ = 0", "a^(c)₀ = 0", "weight_hh_l0ᵀ"],
    "tbptt_window2": ["window 2 (steps 4-6)", "a₃ (detached)", "detached state (✂ BPTT cut)", "C₂"],
    "spring_euler_T3": ["k", "m", "h", "A", "s₀", "v₀", "s₃", "v₃", "cos(2)", "t = 3"],
    "recursive_tree": ["compose.weightᵀ", "compose.bias", "head.weightᵀ", "E[leaf tokens 0, 1, 2, 3]", "tanh", "y"],
    "seq2seq_attention_step": [
        "additive attention",
        "softmax",
        "attention.v.weightᵀ",
        "attention.key_proj.bias",
        "H^enc = h₁…h₃ (keys)",
        "s₀ (decoder state)",
        "GRU cell",
        "logits",
        "s₁",
    ],
    "transformer_block": [
        "self_attn.in_proj_weightᵀ",
        "self_attn.out_proj.bias",
        "norm1.weight",
        "linear2.weightᵀ",
        "masked_softmax",
        "padded key (True = blocked)",
        "1/√d_h",
        "x",
        "out",
    ],
}
SUMMARY_END = "∂C/∂w^(x) uses w^(a): 2 (t=2, t=3); w^(o): 1 (t=3); w^(x): 3 (t=1, t=2, t=3)"
SUMMARY_PER_STEP = "∂C/∂w^(x) uses w^(a): 2 (t=2, t=3); w^(o): 3 (t=1, t=2, t=3); w^(x): 3 (t=1, t=2, t=3)"


def svg_texts(path: Path) -> list:
    """The text of every <text> element of an SVG (one per label line); fails if the file is not XML."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    return [(t.text or "").strip() for t in root.iter(SVG + "text")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    return out, gallery.build(str(out))


# ---- the gallery ---------------------------------------------------------------------------------------
def test_gallery_writes_every_figure_and_an_index(built):
    out, written = built
    assert [Path(p).name for p in written] == [f"{n}.svg" for n in EXPECTED] + ["index.md"]
    assert sorted(os.listdir(out)) == sorted([f"{n}.svg" for n in EXPECTED] + ["index.md"])
    index = (out / "index.md").read_text(encoding="utf-8")
    for name in EXPECTED:
        assert f"]({name}.svg)" in index
    assert index.count("\n## ") == len(EXPECTED)  # one heading (and caption) per figure


@pytest.mark.parametrize("name", list(EXPECTED))
def test_gallery_figure_is_svg_with_its_labels(built, name):
    out, _ = built
    texts = svg_texts(out / f"{name}.svg")
    missing = [want for want in EXPECTED[name] if want not in texts]
    assert not missing, f"{name}.svg lacks the labels {missing}"


def test_gallery_answers_the_notes_question_with_copies(built):
    out, _ = built
    index = (out / "index.md").read_text(encoding="utf-8")
    assert SUMMARY_END in index and SUMMARY_PER_STEP in index
    # shared weights: one w^(x) node; copies: one w^(x) node per step, all on the gradient path
    assert svg_texts(out / "rnn_unfolded_T3.svg").count("w^(x)") == 1
    wx = ET.parse(out / "rnn_unfolded_T3_wx.svg").getroot()
    nodes = [g for g in wx.iter(SVG + "g") if g.get("class") == "node"]
    copies = [g for g in nodes if [t.text for t in g.iter(SVG + "text")][:1] == ["w^(x)"]]
    assert len(copies) == 3
    for g in copies:  # drawn in the highlight colour
        assert any(p.get("stroke") == "#e31a1c" for p in g.iter(SVG + "path"))


def test_gallery_is_deterministic(built, tmp_path):
    out, _ = built
    again = gallery.build(str(tmp_path))
    for path in again:
        name = Path(path).name
        assert Path(path).read_bytes() == (out / name).read_bytes(), f"{name} differs between two runs"
    assert [f.dot for f in gallery.figures()] == [f.dot for f in gallery.figures()]


def test_gallery_command_line_without_dot(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert gallery.main(["--out", str(tmp_path / "g")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err


# ---- the command line ----------------------------------------------------------------------------------
def test_cli_writes_svg_and_dot(tmp_path, capsys):
    assert cli(["--model", "notes-rnn", "--out", str(tmp_path / "notes.svg")]) == 0
    texts = svg_texts(tmp_path / "notes.svg")
    assert "w^(x)" in texts and "t = 3" in texts and "t = 1" in texts
    assert (tmp_path / "notes.dot").read_text(encoding="utf-8").startswith("digraph")
    assert "wrote" in capsys.readouterr().out

    assert (
        cli(
            ["--model", "lstm", "--layers", "2", "--detail", "cell", "--format", "dot", "--out", str(tmp_path / "lstm")]
        )
        == 0
    )
    text = (tmp_path / "lstm.dot").read_text(encoding="utf-8")
    assert text.startswith("digraph") and "weight_hh_l1" in text and 'label="layer 1"' in text
    assert 'label="t = 3"' in text and "box3d" in text  # collapsed cells
    assert not (tmp_path / "lstm.svg").exists()


def test_cli_highlight_prints_the_copies_summary(tmp_path, capsys):
    assert (
        cli(
            [
                "--model",
                "notes-rnn",
                "--highlight",
                "w^(x)",
                "--copies",
                "--format",
                "dot",
                "--out",
                str(tmp_path / "wx.dot"),
            ]
        )
        == 0
    )
    assert SUMMARY_END in capsys.readouterr().out
    text = (tmp_path / "wx.dot").read_text(encoding="utf-8")
    # w^(x), w^(a), b^(a) at each of 3 steps; w^(o), b^(o) only at t=3 (one output at the end)
    assert text.count("copy at t=") == 11 and "gradient path to w^(x)" in text

    assert (
        cli(["--model", "notes-rnn", "--highlight", "w^(x)", "--output-per-step", "--format", "dot", "--out", "-"]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(SUMMARY_PER_STEP + "\n") and "digraph" in out

    assert cli(["--model", "gru", "--highlight", "weight_ih_l0", "--format", "dot", "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("∂C/∂weight_ih_l0 uses ") and "weight_hh_l0: 2 (t=2, t=3)" in out


def test_cli_unknown_highlight_lists_the_parameters(tmp_path, capsys):
    assert (
        cli(["--model", "notes-rnn", "--highlight", "w^(z)", "--format", "dot", "--out", str(tmp_path / "x.dot")]) == 1
    )
    err = capsys.readouterr().err
    assert "w^(z) is not a parameter" in err and "['b^(a)', 'b^(o)', 'w^(a)', 'w^(o)', 'w^(x)']" in err
    assert not (tmp_path / "x.dot").exists()
    assert cli(["--model", "lstm", "--bidirectional", "--highlight", "W", "--format", "dot", "--out", "-"]) == 1
    err = capsys.readouterr().err
    assert "'weight_ih_l0_reverse'" in err and "'head.weight'" in err


def test_cli_missing_dot_exits_2_but_dot_format_works(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert cli(["--model", "rnn", "--out", str(tmp_path / "r.svg")]) == 2
    err = capsys.readouterr().err
    assert "`dot` program was not found" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "r.svg").exists()
    assert (tmp_path / "r.dot").read_text(encoding="utf-8").startswith("digraph")  # written anyway
    assert cli(["--model", "rnn", "--format", "dot", "--out", str(tmp_path / "only.dot")]) == 0
    assert (tmp_path / "only.dot").read_text(encoding="utf-8").startswith("digraph")


def test_cli_usage(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--model",
        "--steps",
        "--layers",
        "--bidirectional",
        "--hidden",
        "--detail",
        "--highlight",
        "--copies",
        "--output-per-step",
        "--format",
        "--out",
    ):
        assert flag in out
    with pytest.raises(SystemExit) as e:
        cli(["--model", "notes-rnn", "--layers", "2"])
    assert e.value.code == 2 and "notes-rnn" in capsys.readouterr().err
    assert cli(["--model", "gru", "--list-params"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "head.weight", "head.bias"]


def test_cli_as_a_module_in_a_subprocess(tmp_path):
    # absolute paths: the child runs in tmp_path, and on the CuPy stand-in it imports the stand-in too
    env = dict(os.environ, PYTHONPATH=child_pythonpath(ROOT))
    out = tmp_path / "bi.svg"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinygrad_rnn.graph",
            "--model",
            "rnn",
            "--layers",
            "2",
            "--bidirectional",
            "--detail",
            "cell",
            "--highlight",
            "weight_hh_l0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("∂C/∂weight_hh_l0 uses ")
    texts = svg_texts(out)
    assert "layer 1 reverse" in texts and "gradient path to weight_hh_l0" in texts
