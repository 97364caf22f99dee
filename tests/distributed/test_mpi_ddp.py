"""DistributedDataParallel under ``mpiexec``: K ranks with batch b end with the parameters one process
reaches with batch K·b, bitwise identical on every rank and repeatable bit for bit."""

import json

import numpy as np
import pytest
from mpi_run import run, run_alone

CASES = [  # (cell, optimizer, dtype, ranks)
    ("lstm", "sgd", "float64", 2),
    ("lstm", "adam", "float64", 2),
    ("lstm", "adamw", "float64", 2),
    ("lstm", "rmsprop", "float64", 2),
    ("lstm", "adagrad", "float64", 2),
    ("gru", "adam", "float64", 2),
    ("rnn", "sgd", "float64", 2),
    ("lstm", "adam", "float32", 2),
    ("lstm", "sgd", "float64", 3),
    ("gru", "adam", "float32", 3),
]
TOL = {"float64": 1e-12, "float32": 1e-6}


def _train(tmp_path, cell, opt, dtype, k, *extra):
    dist_out, ref_out = tmp_path / "ranks.npz", tmp_path / "alone.npz"
    r = run(k, "ddp_train.py", str(dist_out), cell, opt, dtype, "4", *extra)
    assert r.returncode == 0, r.stderr
    mode = extra[0] if extra else ""
    r = run_alone("ddp_train.py", str(ref_out), cell, opt, dtype, "4", mode, str(k))
    assert r.returncode == 0, r.stderr
    return np.load(dist_out), np.load(ref_out)


@pytest.mark.parametrize("cell, opt, dtype, k", CASES)
def test_k_ranks_match_one_process_with_k_times_the_batch(tmp_path, cell, opt, dtype, k):
    ranks, alone = _train(tmp_path, cell, opt, dtype, k)
    assert int(ranks["world"]) == k and int(alone["world"]) == 1
    assert bool(ranks["identical"]), "the replicas' parameters differ"
    assert bool(ranks["spare_grad"]), "a parameter no rank used got a gradient"
    a, b = ranks["params"], alone["params"]
    scale = np.abs(b).max()
    assert np.abs(a - b).max() <= TOL[dtype] * scale, np.abs(a - b).max()
    assert not np.array_equal(a, _initial(tmp_path, cell, dtype)), "training did not move the parameters"


def _initial(tmp_path, cell, dtype):
    out = tmp_path / "init.npz"
    r = run_alone("ddp_train.py", str(out), cell, "sgd", dtype, "0", "", "2")
    assert r.returncode == 0, r.stderr
    return np.load(out)["params"]


def test_no_sync_accumulation_matches_one_process(tmp_path):
    ranks, alone = _train(tmp_path, "lstm", "adam", "float64", 2, "no_sync")
    assert bool(ranks["identical"])
    np.testing.assert_allclose(ranks["params"], alone["params"], rtol=0, atol=1e-12)


def test_runs_repeat_bit_for_bit(tmp_path):
    first = run(2, "ddp_train.py", str(tmp_path / "a.npz"), "gru", "adam", "float32", "3")
    second = run(2, "ddp_train.py", str(tmp_path / "b.npz"), "gru", "adam", "float32", "3")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert np.array_equal(np.load(tmp_path / "a.npz")["params"], np.load(tmp_path / "b.npz")["params"])


def test_a_layer_used_on_one_rank_gets_the_average_and_uneven_batches_do_not_hang():
    r = run(2, "ddp_partial.py", timeout=60)
    assert r.returncode == 0, r.stderr
    out = {d["rank"]: d for d in map(json.loads, [ln for ln in r.stdout.splitlines() if ln.startswith("{")])}
    half = np.array(out[0]["local"]) / 2  # rank 0's gradient averaged with rank 1's (none: zeros)
    np.testing.assert_allclose(out[0]["extra"], half, rtol=1e-12)
    np.testing.assert_array_equal(out[0]["extra"], out[1]["extra"])
