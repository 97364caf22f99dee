"""Checks of device values without host syncs (tinygrad_rnn/checks.py), run on the CuPy stand-in.

The worker runs in a subprocess with ``PYTHONPATH=tests/fake_gpu TINYGRAD_RNN_BACKEND=cupy``, so these
tests run in every suite (NumPy or stand-in) and never skip. The NumPy behaviour (raise at the op, with
the offending value) is covered by the loss, embedding and indexing tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_rnn as tg

TESTS = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "workers" / "device_checks_worker.py"


def _run(**env: str) -> dict:
    e = {k: v for k, v in os.environ.items() if k != "TINYGRAD_RNN_SYNC_CHECKS"}
    e.update(PYTHONPATH=os.pathsep.join([str(TESTS / "fake_gpu"), str(TESTS.parent)]), TINYGRAD_RNN_BACKEND="cupy")
    e.update(env)
    p = subprocess.run([sys.executable, str(WORKER)], env=e, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def deferred() -> dict:
    return _run()


def test_worker_ran_on_the_standin(deferred):
    assert deferred["backend"] == "cupy" and deferred["standin"]


def test_a_char_lm_training_step_makes_no_host_sync(deferred):
    # Embedding, LSTM, cross entropy, clip_grad_norm_, Adam: every validation stays on the device
    for n, where in deferred["step_syncs"]:
        assert n == 0, f"a training step read the device back {n} time(s):\n{where}"
    assert deferred["item_syncs"] == 1  # loss.item() is the one the user asked for
    assert deferred["pending"] is False


@pytest.mark.parametrize("case, op", [("target", "cross_entropy"), ("embedding", "Embedding"), ("getitem", "getitem")])
def test_a_failed_device_check_raises_at_the_next_read_back(deferred, case, op):
    got = deferred[case]
    assert got["stage"] == 1, f"{op} raised at the op (stage 0) or never: {got}"
    assert got["error"].startswith(f"{op}: ") and "out of range" in got["error"]
    assert "TINYGRAD_RNN_SYNC_CHECKS=1" in got["error"]
    assert got["pending_after"] is False  # raised once, then cleared


def test_the_failing_op_itself_made_no_sync(deferred):
    assert deferred["target"]["op_syncs"] == 0


def test_repeated_checks_hold_one_flag_and_synchronize_reports_them(deferred):
    assert deferred["pending_kinds_after_50"] == 1
    assert deferred["synchronize"].startswith("Embedding: an index is out of range")
    assert deferred["clean_pending"] is False


def test_sync_checks_mode_raises_at_the_op_with_the_value():
    got = _run(TINYGRAD_RNN_SYNC_CHECKS="1")
    assert got["target"]["stage"] == 0 and "target value 25 at position (13,)" in got["target"]["error"]
    assert got["embedding"]["stage"] == 0 and "index -1 is out of range" in got["embedding"]["error"]
    assert got["getitem"]["stage"] == 0 and "index 7 is out of range" in got["getitem"]["error"]
    # one sync per checked op: the embedding ids and the class targets
    assert [n for n, _ in got["step_syncs"]] == [2, 2, 2]


def test_in_this_process_the_error_comes_at_the_op_on_numpy_and_by_the_read_back_on_a_device():
    with pytest.raises(IndexError, match=r"getitem: (index 7|an index) is out of range for dimension 0 of size 5"):
        tg.arange(5.0)[tg.tensor([0, 7])].numpy()
    assert not tg.checks.waiting()
