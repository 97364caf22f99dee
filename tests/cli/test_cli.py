"""The tinygrad-rnn command line (python -m tinygrad_rnn): help, errors, train/resume/sample, draw, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import cli
from tinygrad_rnn.apps import charlm, demo

REPO = Path(__file__).resolve().parents[2]
TINY = ["--corpus", "zen", "--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "16", "--no-progress"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        timeout=120,
        check=False,
    )


def test_help_lists_every_subcommand():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    for cmd in ("demo", "train", "sample", "draw", "bench", "info"):
        assert cmd in r.stdout


@pytest.mark.parametrize(
    "cmd, expected",
    [
        ("demo", "--steps"),
        ("train", "--resume"),
        ("sample", "--temperature"),
        ("info", "--json"),
        ("draw", "--checkpoint"),
        ("bench", "--quick"),
    ],
)
def test_subcommand_help(cmd, expected):
    r = run_cli(cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert expected in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("train", "--hidden", "0"),
        ("train", "--model", "lstmx"),
        ("frobnicate",),
        ("train", "--steps", "abc"),
        ("train", "--resume"),
        ("sample", "/nonexistent.npz"),
        ("train", "--backend", "tpu"),
        ("demo", "--lr", "0"),
        ("demo", "--corpus", "/nonexistent.txt"),
        (),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args):
    r = run_cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], r.stderr
    assert r.stdout == ""


def test_info_prints_versions():
    r = run_cli("info")
    assert r.returncode == 0, r.stderr
    assert f"tinygrad_rnn   {tg.__version__}" in r.stdout
    assert np.__version__ in r.stdout
    assert "python" in r.stdout and "backend" in r.stdout and "GPU" in r.stdout and "BLAS" in r.stdout


def test_train_writes_checkpoint_and_sample_prints_text(tmp_path):
    ck = tmp_path / "m.npz"
    r = run_cli(
        "train",
        *TINY,
        "--model",
        "gru",
        "--steps",
        "20",
        "--checkpoint",
        str(ck),
        "--plot",
        str(tmp_path / "curve.png"),
    )
    assert r.returncode == 0, r.stderr
    assert "tokens/s" in r.stdout and "final loss" in r.stdout
    assert (tmp_path / "curve.png").is_file() or "matplotlib is not installed" in r.stdout
    saved = tg.load(ck)
    assert saved["step"] == 20 and len(saved["losses"]) == 20 and saved["losses"][-1] < saved["losses"][0]
    s = run_cli("sample", str(ck), "--prompt", "Beautiful", "--length", "40", "--seed", "3")
    assert s.returncode == 0, s.stderr
    text = s.stdout.rstrip("\n")
    assert text.startswith("Beautiful") and len(text) >= len("Beautiful") + 30
    assert set(text) <= set(saved["vocab"]) | {"\n"}
    again = run_cli("sample", str(ck), "--prompt", "Beautiful", "--length", "40", "--seed", "3")
    assert again.stdout == s.stdout  # --seed makes sampling repeatable


def test_resume_gives_the_same_losses_as_training_straight(tmp_path):
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    a = run_cli("train", *TINY, "--steps", "20", "--checkpoint", str(straight))
    b = run_cli("train", *TINY, "--steps", "10", "--checkpoint", str(split))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert tg.load(split)["step"] == 10
    c = run_cli("train", "--steps", "20", "--checkpoint", str(split), "--resume", "--no-progress")
    assert c.returncode == 0, c.stderr
    assert "resumed" in c.stdout
    la, lc = tg.load(straight)["losses"], tg.load(split)["losses"]
    assert len(la) == len(lc) == 20
    np.testing.assert_allclose(lc, la, rtol=0, atol=1e-6)
    # same data position, and the carried state was restored (otherwise the losses after step 10 differ)
    assert tg.load(split)["pos"] == tg.load(straight)["pos"]


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, monkeypatch, capsys):
    ck = tmp_path / "interrupted.npz"
    real_step = charlm.Trainer.train_step

    def step_or_interrupt(self: charlm.Trainer) -> float:
        if self.step == 7:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(charlm.Trainer, "train_step", step_or_interrupt)
    code = cli.main(["train", *TINY, "--steps", "20", "--checkpoint", str(ck)])
    assert code == 130
    assert ck.is_file()
    saved = tg.load(ck)
    assert saved["step"] == 7 and len(saved["losses"]) == 7
    assert "interrupted at step 7" in capsys.readouterr().err


def test_every_n_writes_intermediate_checkpoints(tmp_path, monkeypatch):
    ck = tmp_path / "every.npz"
    seen: list[int] = []
    real_save = charlm.Trainer.save

    def recording_save(self: charlm.Trainer, path: str) -> None:
        seen.append(self.step)
        real_save(self, path)

    monkeypatch.setattr(charlm.Trainer, "save", recording_save)
    assert cli.main(["train", *TINY, "--steps", "9", "--every", "4", "--checkpoint", str(ck)]) == 0
    assert seen == [4, 8, 9]


def test_draw_passthrough_and_checkpoint_write_svg(tmp_path):
    out = tmp_path / "lstm.svg"
    r = run_cli("draw", "--model", "lstm", "--steps", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))
    ck = tmp_path / "m.npz"
    assert run_cli("train", *TINY, "--steps", "2", "--checkpoint", str(ck)).returncode == 0
    out2 = tmp_path / "ck.svg"
    r2 = run_cli("draw", "--checkpoint", str(ck), "--steps", "2", "--out", str(out2))
    assert r2.returncode == 0, r2.stderr
    assert "<svg" in out2.read_text()
    bad = run_cli("draw", "--model", "nope")
    assert bad.returncode == 2


def test_draw_checkpoint_writes_dot_text_like_the_graph_command(tmp_path, capsys):
    ck = tmp_path / "m.npz"
    assert cli.main(["train", *TINY, "--steps", "1", "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    out = tmp_path / "new" / "drawing"  # a missing folder is created; .dot is added, as the graph command does
    assert cli.main(["draw", "--checkpoint", str(ck), "--steps", "2", "--format", "dot", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}.dot"
    text = (tmp_path / "new" / "drawing.dot").read_text(encoding="utf-8")
    assert text.startswith("digraph ") and "T = 2" in text and "m.npz" in text
    assert cli.main(["draw", "--checkpoint", str(ck), "--steps", "2", "--out", str(tmp_path / "d.svg")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'd.svg'} (and {tmp_path / 'd.dot'})"
    assert "<svg" in (tmp_path / "d.svg").read_text(encoding="utf-8")


def test_bench_missing_folder_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "bench_script", lambda: tmp_path / "bench" / "rnn_bptt.py")
    assert cli.main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "source checkout" in err


def test_demo_runs_a_few_steps(tmp_path):
    out = tmp_path / "demo.npz"
    r = run_cli(
        "demo", "--steps", "5", "--corpus", "zen", "--hidden", "32", "--sample-len", "20", "--no-progress",
        "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "trained 5 steps" in r.stdout and "sample (temperature 0.6, seed 0)" in r.stdout
    assert tg.load(out)["step"] == 5
    closing = r.stdout[r.stdout.rindex("\ncheckpoint: ") :]  # the same ending as examples/char_lstm.py
    for cmd in (f"sample {out} --prompt 'The '", f"draw --checkpoint {out}", f"train --checkpoint {out} --resume"):
        assert cmd in closing, closing
    png = tmp_path / "demo_loss.png"
    assert png.is_file() or "matplotlib is not installed" in r.stdout


def test_demo_command_has_the_demo_settings():
    """`tinygrad-rnn demo` and examples/char_lstm.py (make demo) are one demo: the same defaults."""
    args = cli.parser().parse_args(["demo"])
    assert demo.DemoConfig.from_args(args) == demo.DemoConfig()
    assert (demo.DemoConfig().steps, demo.DemoConfig().lr, demo.DemoConfig().prompt) == (800, 5e-3, "The ")


def test_no_progress_help_says_plain_lines_on_a_terminal():
    for cmd in ("train", "demo"):
        r = run_cli(cmd, "--help")
        assert "plain progress lines even on a terminal" in " ".join(r.stdout.split()), r.stdout
