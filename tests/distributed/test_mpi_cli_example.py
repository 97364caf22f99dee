"""``tinygrad-rnn train`` and ``examples/distributed_char_lm.py`` under ``mpiexec -n 2``.

The example: 2 ranks x 4 streams print the loss curve of one process with 8 streams (within float32
rounding), both the example's own reference and the CLI trainer's, and it runs alone too. The CLI:
one checkpoint, written by rank 0, equal to the single-process run with the doubled batch up to
rounding; ``--resume`` under mpiexec ends bit for bit where the uninterrupted 2-rank run ends, and a
2-rank checkpoint resumes in one process. Ctrl-C: a SIGINT reaching every rank or only one stops both
after the same step with a consistent checkpoint; a SIGINT to mpiexec (what a terminal's Ctrl-C does
under Open MPI, which then kills the ranks) ends the job at once, never leaving a checkpoint that does
not resume exactly. A bad argument found by rank 0 ends every rank with exit status 2, without a hang.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpi_run import ROOT, env, mpiexec
from state_compare import differences, flat

import tinygrad_rnn as tg
from tinygrad_rnn.apps import charlm, ranks

EXAMPLE = str(ROOT / "examples" / "distributed_char_lm.py")
EX_ARGS = ["--corpus", "zen", "--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "16", "--steps", "30"]
TINY = ["--corpus", "zen", "--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "16", "--no-progress"]
STEPS = 24  # zen in 8 streams is 7 windows of 16: the runs wrap around the data three times
DOUBLED = charlm.TrainConfig(corpus="zen", hidden=16, embed=8, batch=8, bptt=16)  # one process, 2 x 4 streams
RTOL = 1e-5  # float32: the ranks' gradient sums round differently from one process's
PAUSES = ("TINYGRAD_RNN_TEST_PAUSE_COMMIT", "TINYGRAD_RNN_TEST_PAUSE_SAVE", "TINYGRAD_RNN_TEST_PAUSE_WINDOW")


# ---- launching ------------------------------------------------------------------------------------
def child_env(extra: dict[str, str] | None = None, alone: bool = False) -> dict[str, str]:
    e = {k: v for k, v in env().items() if k not in PAUSES}
    if alone:  # as if started outside mpiexec, even when the tests themselves run under a launcher
        e = {k: v for k, v in e.items() if not k.startswith(("OMPI_COMM_WORLD", "PMIX_", "PMI_"))}
    e["PYTHONUNBUFFERED"] = "1"  # rank 0's lines arrive when printed (the signal tests wait for one)
    return {**e, **(extra or {})}


def on_two_ranks(*args: str) -> list[str]:
    return [mpiexec(), "-n", "2", "--oversubscribe", sys.executable, *args]


def run(cmd: list[str], cwd: Path, alone: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=child_env(alone=alone), cwd=cwd, capture_output=True, text=True, timeout=120)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return run(on_two_ranks("-m", "tinygrad_rnn", "train", *args), cwd)


def cli_alone(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "tinygrad_rnn", "train", *args], cwd, alone=True)


# ---- comparing training states --------------------------------------------------------------------
def params(ck: dict) -> np.ndarray:
    return np.concatenate([ck["model"][k].numpy().ravel() for k in sorted(ck["model"])])


def doubled_batch_run(steps: int) -> charlm.Trainer:
    """One process with the 2 ranks' 8 streams, in this process (no process group here)."""
    trainer = charlm.Trainer(DOUBLED)
    for _ in range(steps):
        trainer.train_step()
    return trainer


# ---- in this process (no process group) -----------------------------------------------------------
def test_the_ranks_states_join_into_one_process_state_and_split_back():
    rng = np.random.default_rng(0)
    lstm = [[rng.standard_normal((2, 3, 5)) for _ in range(2)] for _ in range(4)]  # 4 ranks' (h, c)
    joined = charlm.join_states(lstm)
    assert [a.shape for a in joined] == [(2, 12, 5), (2, 12, 5)]
    for rank in range(4):
        for got, want in zip(charlm.split_state(joined, rank, 3), lstm[rank]):
            np.testing.assert_array_equal(got, want)
    gru = [rng.standard_normal((1, 2, 5)) for _ in range(2)]
    np.testing.assert_array_equal(charlm.split_state(charlm.join_states(gru), 1, 2), gru[1])
    assert charlm.join_states([None, None]) is None and charlm.split_state(None, 1, 2) is None


def test_alone_the_rank_helpers_change_nothing():
    assert ranks.world() == (1, 0)
    before = {s: signal.getsignal(s) for s in ranks.STOP_SIGNALS}
    with ranks.stop_on_signals(), ranks.errors_end_the_job():
        assert {s: signal.getsignal(s) for s in ranks.STOP_SIGNALS} == before
        assert ranks.on_rank0(lambda: 7) == 7 and ranks.mean(2.5) == 2.5 and ranks.gather("x") == ["x"]
        assert ranks.stop_agreed() == 0
        with pytest.raises(ValueError) as e:
            ranks.on_rank0(lambda: int("x"))
        assert not hasattr(e.value, ranks.EVERY_RANK)  # a plain error, as before


# ---- the example ----------------------------------------------------------------------------------
ROW = re.compile(r"^\s*(\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\S+)$", re.M)
WORST = re.compile(r"max relative difference over (\d+) steps: (\S+) \(float32\)")


def test_example_on_two_ranks_prints_the_loss_of_one_process_with_the_doubled_batch(tmp_path):
    r = run(on_two_ranks(EXAMPLE, *EX_ARGS, "--compare"), tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 rank(s) x 4 streams" in r.stdout and "2 ranks x 4" in r.stdout and "1 process x 8" in r.stdout
    assert r.stdout.count("trained 30 steps") == 1  # rank 0 alone prints
    (steps, worst), rows = WORST.findall(r.stdout)[0], ROW.findall(r.stdout)
    assert int(steps) == 30 and float(worst) <= RTOL, r.stdout
    assert len(rows) >= 10
    ranks = np.array([float(row[1]) for row in rows])
    np.testing.assert_allclose(ranks, [float(row[2]) for row in rows], rtol=RTOL)
    # independently of the example's own reference: the CLI trainer, one process with 8 streams
    reference = doubled_batch_run(30).losses
    np.testing.assert_allclose(ranks, [reference[int(row[0]) - 1] for row in rows], rtol=RTOL)
    assert ranks[-1] < ranks[0] - 0.2  # it learns


def test_example_runs_alone(tmp_path):
    r = run([sys.executable, EXAMPLE, *EX_ARGS, "--compare"], tmp_path, alone=True)
    assert r.returncode == 0, r.stderr
    assert "1 rank(s) x 4 streams" in r.stdout
    assert WORST.findall(r.stdout) == [("30", "0.000e+00")]  # the same computation twice


# ---- tinygrad-rnn train ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> dict[str, Any]:
    """The uninterrupted 2-rank run of STEPS steps: its output, folder and final checkpoint."""
    folder = tmp_path_factory.mktemp("straight")
    r = cli(folder, *TINY, "--steps", str(STEPS), "--checkpoint", "ck.npz")
    assert r.returncode == 0, r.stderr
    return {"run": r, "folder": folder, "ck": tg.load(folder / "ck.npz")}


def test_train_on_two_ranks_writes_one_checkpoint_from_rank0(straight):
    out, ck = straight["run"].stdout, straight["ck"]
    assert sorted(p.name for p in straight["folder"].iterdir()) == ["ck.npz"]  # no second file, no temporary
    for line in ("2 ranks x 4 streams", "checkpoint written to ck.npz (step 24)", "final loss", f"step {STEPS:6d}/"):
        assert out.count(line) == 1, (line, out)  # one progress, printed by rank 0
    assert ck["step"] == STEPS and ck["world"] == 2 and len(ck["losses"]) == STEPS
    assert '"batch": 4' in ck["config"]
    assert [np.asarray(s).shape for s in ck["state"]] == [(1, 8, 16), (1, 8, 16)]  # both ranks' streams
    alone = doubled_batch_run(STEPS)
    np.testing.assert_allclose(ck["losses"], alone.losses, rtol=RTOL)
    np.testing.assert_allclose(params(ck), params(alone.checkpoint()), rtol=0, atol=RTOL)
    assert ck["pos"] == alone.pos and ck["tokens"] == alone.tokens


@pytest.fixture(scope="module")
def at_step_10(tmp_path_factory) -> Path:
    """A 2-rank run stopped after 10 of STEPS steps (periodic checkpoints at 4 and 8)."""
    folder = tmp_path_factory.mktemp("split")
    r = cli(folder, *TINY, "--steps", "10", "--every", "4", "--checkpoint", "ck.npz")
    assert r.returncode == 0, r.stderr
    assert tg.load(folder / "ck.npz")["step"] == 10
    return folder / "ck.npz"


def test_resume_on_two_ranks_continues_exactly_like_the_straight_run(tmp_path, straight, at_step_10):
    ck = tmp_path / "ck.npz"
    shutil.copy(at_step_10, ck)
    r = cli(tmp_path, "--checkpoint", "ck.npz", "--resume", "--steps", str(STEPS), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("resumed ck.npz at step 10") == 1
    assert differences(flat(tg.load(ck)), flat(straight["ck"])) == []  # parameters, Adam, state, losses, RNG


def test_a_two_rank_checkpoint_resumes_in_one_process_with_the_doubled_batch(tmp_path, straight, at_step_10):
    ck = tmp_path / "ck.npz"
    shutil.copy(at_step_10, ck)
    r = cli_alone(tmp_path, "--checkpoint", "ck.npz", "--resume", "--steps", str(STEPS), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "8 streams" in r.stdout
    got = tg.load(ck)
    assert "world" not in got and '"batch": 8' in got["config"]  # now a one-process checkpoint
    np.testing.assert_array_equal(got["losses"][:10], straight["ck"]["losses"][:10])
    np.testing.assert_allclose(got["losses"], straight["ck"]["losses"], rtol=RTOL)
    np.testing.assert_allclose(params(got), params(straight["ck"]), rtol=0, atol=RTOL)


def test_a_missing_checkpoint_ends_every_rank_with_status_2(tmp_path):
    start = time.monotonic()
    r = cli(tmp_path, "--checkpoint", "nowhere.npz", "--resume", "--no-progress")
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("tinygrad-rnn train: error: --resume: checkpoint nowhere.npz does not exist") == 2
    assert time.monotonic() - start < 60  # not the 30-minute timeout of a rank left waiting


# ---- Ctrl-C ---------------------------------------------------------------------------------------
def rank_pids(launcher: int) -> dict[int, int]:
    """{rank: pid} of the processes mpiexec started (its children, found through /proc)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher:
            for var in environ:
                if var.startswith(b"OMPI_COMM_WORLD_RANK=") or var.startswith(b"PMIX_RANK="):
                    found[int(var.split(b"=", 1)[1])] = int(entry.name)
    return found


@contextlib.contextmanager
def slow_run(folder: Path) -> Iterator[subprocess.Popen]:
    """A 2-rank run of STEPS steps slowed to >= 50 ms a step (inside the update), checkpointing every 4;
    yields once the first checkpoint is on disk. Whatever the test does, no process outlives it."""
    cmd = on_two_ranks("-m", "tinygrad_rnn", "train", *TINY, "--steps", str(STEPS), "--every", "4",
                       "--checkpoint", "ck.npz")  # fmt: skip
    env = child_env({"TINYGRAD_RNN_TEST_PAUSE_COMMIT": "0.05"})
    child = subprocess.Popen(cmd, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (folder / "ck.npz").exists():  # step 4 at the earliest: well before the end (step 24)
            assert child.poll() is None and time.monotonic() < deadline, child.communicate(timeout=60)
            time.sleep(0.01)
        yield child
    finally:
        if child.poll() is None:  # a failed test (or a hang): kill the ranks, then mpiexec
            for pid in rank_pids(child.pid).values():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            child.kill()
            child.communicate()


def resumes_exactly(folder: Path, straight: dict[str, Any]) -> None:
    """The checkpoint left in ``folder`` is a committed step: resuming it ends in the straight run's state."""
    r = cli(folder, "--checkpoint", "ck.npz", "--resume", "--steps", str(STEPS), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert differences(flat(tg.load(folder / "ck.npz")), flat(straight["ck"])) == []
    assert sorted(p.name for p in folder.iterdir()) == ["ck.npz"]  # a killed save's temporary is cleaned up


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the ranks through /proc")
@pytest.mark.parametrize("targets", [(0, 1), (1,)], ids=["every rank", "rank 1 only"])
def test_sigint_to_the_ranks_stops_both_after_the_same_step(tmp_path, straight, targets):
    with slow_run(tmp_path) as child:
        pids = rank_pids(child.pid)
        assert sorted(pids) == [0, 1], pids
        for rank in targets:
            os.kill(pids[rank], signal.SIGINT)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    found = re.findall(r"interrupted at step (\d+) \(SIGINT reached a rank; all 2 ranks stopped after this step\): "
                       r"checkpoint written to ck.npz \(continue with --resume\)", err)  # fmt: skip
    assert len(found) == 1, err  # said once, by rank 0
    step = int(found[0])
    assert 4 <= step < STEPS
    saved = tg.load(tmp_path / "ck.npz")
    assert saved["step"] == step and len(saved["losses"]) == step
    resumes_exactly(tmp_path, straight)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the ranks through /proc")
def test_sigint_to_mpiexec_ends_the_job_and_leaves_a_checkpoint_that_resumes_exactly(tmp_path, straight):
    with slow_run(tmp_path) as child:
        time.sleep(0.1)
        child.send_signal(signal.SIGINT)  # a terminal's Ctrl-C reaches mpiexec (the ranks have their own group)
        start = time.monotonic()
        child.communicate(timeout=60)
    assert child.returncode != 0
    assert time.monotonic() - start < 10
    assert tg.load(tmp_path / "ck.npz")["step"] < STEPS
    resumes_exactly(tmp_path, straight)
