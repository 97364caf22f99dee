"""What ``make demo`` shows a newcomer: a corpus of prose, a readable sample, commands that work, quiet logs.

The sample the demo prints, from its own settings (about 35 s), is checked once; the other tests use the
same path (examples/char_lstm.py: the default corpus, temperature, prompt and seed) with a shorter, smaller
training. A model trained on the raw ``pydoc_data`` text sampled rows of hundreds of ``*`` (the
reStructuredText heading rules), which the corpus tests guard against at the source.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil

import pytest
from example_loader import load_example

from tinygrad_rnn import cli
from tinygrad_rnn.apps import charlm, corpus
from tinygrad_rnn.apps.training import _progress, run_training

MAX_RUN = 10  # identical characters in a row that a readable sample may hold


def longest_run(text: str) -> int:
    return max((len(m.group(0)) for m in re.finditer(r"(.)\1*", text, re.S)), default=0)


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


def demo_module():
    return load_example("char_lstm")


@pytest.fixture(scope="module")
def pydoc_text() -> str:
    pytest.importorskip("pydoc_data.topics", reason="this Python ships without pydoc_data")
    return charlm.load_corpus("pydoc")


# ---- the corpus -------------------------------------------------------------------------------------------
def test_pydoc_corpus_is_prose_without_markup(pydoc_text):
    assert 100_000 < len(pydoc_text) < 600_000
    assert longest_run(pydoc_text) <= MAX_RUN  # the raw text has heading rules of 70+ characters (3.11: 4)
    for marker in (">>>", "::=", "+---", "|===", "*operator overloading*"):
        assert marker not in pydoc_text
    assert "operator overloading" in pydoc_text  # the emphasis is unwrapped, the words kept
    assert not set("‘’“”…—–") & set(pydoc_text)  # typographic quotes and dashes are ASCII
    paragraphs = pydoc_text.split("\n\n")
    assert len(set(paragraphs)) == len(paragraphs)  # the overlapping topics' paragraphs are kept once


def test_cleaning_keeps_prose_and_drops_markup():
    rst = (
        "The “if” statement\n******************\n\n"
        "The *if* statement is used for conditional execution [1]:\n\n"
        '   if_stmt ::= "if" assignment_expression ":" suite\n\n'
        "For example:\n\n   >>> x = 1\n\n   y = [i for i in range(3)]\n\n"
        "+-----+-----+\n| a   | b   |\n+-----+-----+\n\n"
        "object.__new__(cls[, ...])\n\n"
        "   Called to create a new instance of class *cls*, which is\n   then returned.\n"
    )
    again = "The *if* statement is used for conditional execution [1]:"  # topics overlap: kept once
    assert corpus.pydoc_prose({"if": rst, "also": again}) == (
        "The if statement is used for conditional execution:\n\n"
        "Called to create a new instance of class cls, which is\nthen returned.\n"
    )


def test_zen_and_files_still_load(tmp_path):
    assert charlm.load_corpus("zen").startswith("The Zen of Python, by Tim Peters")
    path = tmp_path / "t.txt"
    path.write_text("*****\n", encoding="utf-8")
    assert charlm.load_corpus(str(path)) == "*****\n"  # a file is the user's text, used as it is


# ---- the sample and the closing instructions --------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, pydoc_text):
    """The demo on its default corpus, temperature, prompt and seed, with a shorter training (~4 s)."""
    out = tmp_path_factory.mktemp("demo") / "char_lstm.npz"
    buf = io.StringIO()
    mod = demo_module()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", buf)
        res = mod.main(["--hidden", "128", "--steps", "150", "--lr", "1e-2", "--out", str(out)])
    return res, buf.getvalue(), out


def test_demo_sample_is_readable(demo_run, pydoc_text):
    res, printed, _ = demo_run
    sample = res.sample
    assert sample.startswith("The ") and sample in printed
    assert longest_run(sample) <= MAX_RUN, sample
    known = set(words(pydoc_text))
    found = words(sample)
    assert len(found) >= 20, sample
    assert sum(w in known for w in found) >= 0.5 * len(found), sample


def test_the_full_demo_sample_is_readable(tmp_path, pydoc_text):
    """The sample ``make demo`` prints: its own settings (800 steps, about 35 s on 2 cores), unchanged."""
    buf = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", buf)
        res = demo_module().main(["--out", str(tmp_path / "char_lstm.npz")])
    sample = res.sample
    assert sample.startswith("The ") and sample in buf.getvalue() and len(sample) >= 300
    assert longest_run(sample) <= MAX_RUN, sample
    found, known = words(sample), set(words(pydoc_text))
    assert len(found) >= 40 and sum(w in known for w in found) >= 0.8 * len(found), sample
    assert res.last_loss < 1.3  # measured 1.10 (last 10 steps)


def _printed_command(printed: str, sub: str) -> list[str]:
    """The arguments after the program of the command line the demo printed last for ``sub``."""
    closing = printed[printed.rindex("\ncheckpoint: ") :]  # the instructions after the sample
    for line in closing.splitlines():
        if line.startswith("    "):
            argv = shlex.split(line)
            if sub in argv:
                return argv[argv.index(sub) :]
    raise AssertionError(f"no {sub!r} command in:\n{closing}")


def test_printed_sample_command_reproduces_the_sample(demo_run, capsys):
    res, printed, out = demo_run
    assert f"checkpoint: {out}" in printed
    argv = _printed_command(printed, "sample")
    assert argv[1] == str(out)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.rstrip("\n") == res.sample


def test_printed_draw_command_draws_the_trained_model(demo_run):
    _, printed, out = demo_run
    argv = _printed_command(printed, "draw")
    assert argv[:3] == ["draw", "--checkpoint", str(out)]
    if shutil.which("dot") is None:  # svg needs Graphviz; the DOT text needs nothing
        argv += ["--format", "dot", "--out", str(out.with_suffix(".dot"))]
    assert cli.main(argv) == 0


def test_loss_curve_png_is_next_to_the_checkpoint(demo_run):
    pytest.importorskip("matplotlib")
    _, printed, out = demo_run
    png = out.with_name("char_lstm_loss.png")
    assert f"loss curve written to {png}" in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- progress: a live bar on a terminal, a line every 10 % elsewhere ---------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def tiny_trainer() -> charlm.Trainer:
    return charlm.Trainer(charlm.TrainConfig(corpus="zen", hidden=8, embed=4, batch=2, bptt=8))


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert _progress(10, 0, plain=False) is None
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _progress(10, 0, plain=True) is None
    assert run_training(tiny_trainer(), 60, None, None) == 0
    assert capsys.readouterr().out == ""  # no progress lines next to the bar
    drawn = terminal.getvalue()
    assert "60/60" in drawn and "loss=" in drawn
    assert drawn.count("\r") < 20  # redrawn every mininterval, not on every step


def test_log_gets_one_line_per_tenth_of_the_run(monkeypatch, capsys):
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal, as in CI or `make demo > log 2>&1`
    assert run_training(tiny_trainer(), 30, None, None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [f"{s}/30" for s in range(3, 31, 3)]
