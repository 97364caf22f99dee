"""The BPTT suite's plumbing beyond the reference (bench/rnn_bptt.py, bench/impls/): config keys with
layers / directions / lengths, the check on such configs, n/a for implementations that cannot run a
config, the kernel selection of the tinygrad rows, the interleaved A/B, the cold-start pass, the
baseline file and the targets table."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import rnn_bptt  # noqa: E402
from impls import common, interleave, numpy_ref, targets, tinygrad_impl, tinygrad_numpy_kernels  # noqa: E402

LEN_KEY = "lstm:2:5:3:4:L2:bi:len"
HAS_TORCH = importlib.util.find_spec("torch") is not None
ON_NUMPY = os.environ.get("TINYGRAD_RNN_BACKEND", "numpy") == "numpy"


def test_config_keys_round_trip_and_bad_keys_are_clear():
    cfg = common.Config.parse("lstm:32:40:12:64:L2:bi:len")
    assert (cfg.layers, cfg.bidirectional, cfg.with_lengths, cfg.directions, cfg.simple) == (2, True, True, 2, False)
    assert cfg.key == "lstm:32:40:12:64:L2:bi:len" and common.Config.parse(cfg.key) == cfg
    assert common.Config.parse("gru:1:2:3:4:len:bi").key == "gru:1:2:3:4:bi:len"  # flags in any order
    assert common.Config.parse("lstm:1:2:3:4").simple and common.Config.parse("lstm:1:2:3:4:L1").key == "lstm:1:2:3:4"
    assert cfg.title == "lstm 32/40/12/64, 2 layers, bidirectional, lengths"
    for bad, why in (
        ("lstm:1:2:3", "expected cell:B:T:I:H"),
        ("lstm:1:2:3:4:up", "unknown flag 'up'"),
        ("lstm:a:2:3:4", "e.g."),
    ):
        with pytest.raises(ValueError, match=why):
            common.Config.parse(bad)
    with pytest.raises(ValueError, match="layers must be >= 1"):
        common.Config.parse("lstm:1:2:3:4:L0")
    keys = [c.key for c in common.DEFAULT_CONFIGS]
    assert keys[:6] == [
        "lstm:32:50:64:128",
        "lstm:64:100:128:256",
        "lstm:16:200:32:64",
        "gru:32:50:64:128",
        "rnn-tanh:32:50:64:128",
        "lstm:1:1000:8:32",
    ]
    assert keys[6:] == ["lstm:64:64:1:64", "lstm:64:100:512:512", "lstm:32:40:12:64:L2:bi:len"]
    assert common.BATCH1_CONFIG.key in keys


def test_lengths_are_fixed_and_the_loss_counts_valid_positions_only():
    cfg = common.Config.parse("lstm:32:40:12:64:L2:bi:len")
    lens = common.make_lengths(cfg)
    assert lens.dtype == np.int64 and lens.shape == (32,) and np.array_equal(lens, common.make_lengths(cfg))
    assert lens[0] == 40 and lens.min() >= 20 and lens.max() <= 40 and len(set(lens.tolist())) > 5
    assert common.make_lengths(common.Config("lstm", 32, 40, 12, 64)) is None
    assert common.valid_mask(cfg).sum() == lens.sum()
    assert common.loss_scale(cfg) == 1.0 / (lens.sum() * 2 * 64)
    assert common.loss_scale(common.Config("gru", 2, 3, 4, 5)) == 1.0 / (2 * 3 * 5)


def test_one_layer_weights_are_the_numbers_drawn_before_stacked_layers_existed():
    cfg = common.Config("gru", 3, 7, 5, 4)
    rng = np.random.default_rng([common.SEED, 5, 4, 3])
    k = 1.0 / np.sqrt(4)
    old = {n: rng.uniform(-k, k, s) for n, s in zip(common.PARAM_NAMES, ((12, 5), (12, 4), (12,), (12,)))}
    got = common.make_weights(cfg, np.float64)
    assert list(got) == list(common.PARAM_NAMES) and all(np.array_equal(got[n], old[n]) for n in old)
    stacked = common.make_weights(common.Config.parse("gru:3:7:5:4:L2:bi"), np.float64)
    assert stacked["weight_ih_l1_reverse"].shape == (12, 8) and len(stacked) == 16


class _IgnoresLengths(tinygrad_impl.TinygradRunner):
    """A wrong implementation: runs the padded batch as if every sequence were T long."""

    def step(self):
        self.lengths = None
        super().step()


class _DropsAGradient(tinygrad_impl.TinygradRunner):
    def result(self):
        loss, g = super().result()
        g.pop("weight_hh_l1_reverse")
        return loss, g


def test_the_check_on_a_lengths_config_compares_every_number():
    cfg = common.Config.parse(LEN_KEY)
    ok = rnn_bptt.run_check(tinygrad_impl, cfg)
    assert ok["passed"] is True and ok["config"] == "lstm:3:7:5:4:L2:bi:len", ok
    assert ok["reference"].startswith("tinygrad_rnn composed") and ok["max_rel_err"] < 1e-5
    assert set(ok["rel_err"]) == set(common.grad_names(cfg)) | {"loss"} and len(ok["rel_err"]) == 18
    for broken, problem in (
        (_IgnoresLengths, "loss rel. error"),
        (_DropsAGradient, "weight_hh_l1_reverse rel. error inf"),
    ):
        mod = type("M", (), {"build": staticmethod(lambda c, w, x, dt, b=broken: b(c, w, x, dt))})
        chk = rnn_bptt.run_check(mod, cfg)
        assert chk["passed"] is False and any(p.startswith(problem) for p in chk["problems"]), chk["problems"]
    bad = rnn_bptt.run_check(type("M", (), {"build": staticmethod(_IgnoresLengths)}), cfg)
    assert bad["rel_err"]["x"] > 0.01 and bad["rel_err"]["weight_ih_l0_reverse"] > 0.01  # O(1), not rounding


def test_plain_layer_implementations_answer_n_a_not_a_failure():
    cfg = common.Config.parse(LEN_KEY)
    assert (
        rnn_bptt._supports(numpy_ref, cfg)[0] is False and rnn_bptt._supports(numpy_ref, common.check_config("gru"))[0]
    )
    assert rnn_bptt._supports(tinygrad_impl, cfg) == (True, "")
    r = rnn_bptt.launch(["--worker", "numpy_ref", "--config", LEN_KEY, "--check"], 120)
    assert r["status"] == "n/a" and "one plain layer" in r["reason"] and "times_ms" not in r


def test_the_tinygrad_rows_choose_their_kernels_in_the_worker():
    argv = ["--worker", "tinygrad_numpy_kernels", "--config", "lstm:2:3:4:5", "--repeats", "1", "--warmup", "1"]
    r = rnn_bptt.launch(argv + ["--warmup-seconds", "0", "--timed-seconds", "0"], 120)
    assert r["env_set"] == {"TINYGRAD_RNN_KERNELS": "numpy"}, r
    if ON_NUMPY:
        assert r["status"] == "ok" and r["first_step_ms"] > 0 and r["import_s"] > 0, r
        assert r["kernel_info"]["kernels"] == "numpy" and r["kernel_info"]["backend"] == "numpy"
    else:  # a GPU backend runs its own kernels: the row is absent rather than mislabelled
        assert r["status"] == "absent" and "reports kernels 'cupy'" in r["reason"], r
    # the default row runs the library's default whatever the caller's environment says
    argv[1] = "tinygrad_rnn"
    r = rnn_bptt.launch(argv + ["--prewarm"], 120, env={"TINYGRAD_RNN_KERNELS": "numpy"})
    assert r["status"] == "ok" and r["env_set"] == {"TINYGRAD_RNN_KERNELS": None}, r
    assert "first_step_ms" not in r and r["peak_mb"] >= 0  # a pre-warmed worker measures memory instead
    if importlib.util.find_spec("numba") and ON_NUMPY:
        assert r["kernel_info"]["kernels"] == "numba"
    assert tinygrad_numpy_kernels.ENV == {"TINYGRAD_RNN_KERNELS": "numpy"}


def test_interleaved_workers_step_in_turn_and_drop_what_cannot_run():
    def cmd(name, key):
        return [sys.executable, str(BENCH / "rnn_bptt.py"), "--worker-stepper", name, "--config", key, "--warmup", "1"]

    marks = (rnn_bptt.RESULT_MARK, rnn_bptt.STEP_MARK)
    names = ["numpy_ref", "tinygrad_rnn", "tinygrad_numpy_kernels"]
    r = interleave.run("lstm:2:3:4:5", names, 0.2, lambda n: cmd(n, "lstm:2:3:4:5"), str(BENCH.parent), marks, 120)
    ran = names if ON_NUMPY else names[:2]  # the NumPy-kernels row is absent on a GPU backend
    assert r["status"] == "ok" and r["participants"] == ran and r["steps"] >= interleave.MIN_CYCLES, r
    assert all(m > 0 for m in r["median_ms"].values())
    got = {(p["a"], p["b"]): p for p in r["pairs"]}
    pairs = {
        ("tinygrad_rnn", "numpy_ref"),
        ("tinygrad_numpy_kernels", "numpy_ref"),
        ("tinygrad_rnn", "tinygrad_numpy_kernels"),
    }
    assert set(got) == (pairs if ON_NUMPY else {("tinygrad_rnn", "numpy_ref")})
    p = got[("tinygrad_rnn", "numpy_ref")]
    assert math.isclose(p["ratio_of_medians"], r["median_ms"]["tinygrad_rnn"] / r["median_ms"]["numpy_ref"])
    assert interleave.pair(r, "tinygrad_rnn", "numpy_ref") == p["ratio_of_medians"]
    r = interleave.run(LEN_KEY, names[:2], 0.1, lambda n: cmd(n, LEN_KEY), str(BENCH.parent), marks, 120)
    assert r["status"] == "skipped" and r["dropped"]["numpy_ref"].startswith("n/a: one plain layer"), r


def _res(rows, configs, **extra):
    return {"configs": [c.as_dict() | {"key": c.key, "title": c.title} for c in configs], "results": rows} | extra


def test_targets_say_met_not_met_and_not_measured():
    lstm, gru = common.Config("lstm", 1, 1000, 8, 32), common.Config("gru", 2, 3, 4, 5)
    rows = [
        {"impl": "tinygrad_rnn", "config": lstm.key, "ratio_to_torch_fused": 0.6, "ratio_to_jax_scan": 0.9},
        {"impl": "tinygrad_rnn", "config": gru.key, "ratio_to_torch_fused": 0.8, "ratio_to_jax_scan": 1.2},
    ]
    rows[0] |= {"median_ms": 1.5, "peak_mb": 3.0}
    rows.append({"impl": "torch_fused", "config": lstm.key, "peak_mb": 4.0})
    inter = [
        {
            "config": gru.key,
            "status": "ok",
            "pairs": [{"a": "tinygrad_rnn", "b": "torch_fused", "ratio_of_medians": 0.45}],
        }
    ]
    summary = {"tinygrad_rnn": {"steps": [{"T_from": 100, "T_to": 1000, "T_factor": 10.0, "time_factor": 10.5}]}}
    base = {"source": "tinygrad_rnn", "started_utc": "then", "paired": {gru.key: 1.0}, "interleaved": {}}
    rows.append({"impl": "tinygrad_numpy_kernels", "config": gru.key, "ratio_to_numpy_ref": 1.2})
    t = {
        r["target"].split(":")[0]: r
        for r in targets.evaluate(_res(rows, [lstm, gru], interleaved=inter, scaling_summary=summary, baseline=base))
    }
    first = t["tinygrad_rnn ≤ 1.0× torch_fused on every config"]
    assert first["status"] == "met" and first["values"] == {lstm.key: 0.6, gru.key: 0.45}  # interleaved wins
    assert first["source"] == "interleaved and paired" and "worst 0.60" in first["measured"]
    assert t["stretch"]["status"] == "met"
    assert t["faster than jax_scan on every config"]["status"] == "not met"
    assert t["GRU and RNN ≥ 2× ahead of torch_fused (≤ 0.5×)"]["status"] == "met"
    b1 = t["batch 1"]
    assert b1["status"] == "met" and b1["values"][lstm.key] == 1.5 and "1.50 µs" in b1["measured"]
    mem = t["peak memory ≤ torch_fused on every config"]
    assert mem["status"] == "not measured" and mem["values"] == {lstm.key: -1.0, gru.key: None}  # gru: no numbers
    assert t["time linear in T"]["status"] == "met"
    nk = t["NumPy kernels no slower than before"]
    assert nk["status"] == "not met" and math.isclose(nk["values"][gru.key], 1.2) and nk["values"][lstm.key] is None
    base["paired"][gru.key] = 1.15  # 1.2 / 1.15 is within the stated run-to-run slack
    again = targets.evaluate(_res(rows, [lstm, gru], baseline=base))
    assert again[-1]["status"] == "met" and again[4]["status"] == "met"
    assert targets.evaluate(_res([], [lstm]))[0]["status"] == "not measured"


def test_the_baseline_is_the_numpy_kernels_row_of_an_earlier_file(tmp_path):
    old = {
        "started_utc": "before",
        "results": [{"impl": "tinygrad_rnn", "config": "gru:2:3:4:5", "ratio_to_numpy_ref": 1.04}],
        "interleaved": [{"config": "gru:2:3:4:5", "ratio_of_medians": 1.01}],  # the one-process A/B's format
    }
    f = tmp_path / "old.json"

    def loaded():
        f.write_text(json.dumps(old))
        b = rnn_bptt.load_baseline(str(f))
        return b and (b["source"], b["paired"]["gru:2:3:4:5"], b["interleaved"]["gru:2:3:4:5"])

    assert loaded() == ("tinygrad_rnn", 1.04, 1.01)
    old["results"][0]["kernel_info"] = {"kernels": "numba"}  # a compiled-kernels run without the NumPy row
    assert loaded() is None
    old["results"].append({"impl": "tinygrad_numpy_kernels", "config": "gru:2:3:4:5", "ratio_to_numpy_ref": 0.98})
    old["interleaved"] = [
        {
            "config": "gru:2:3:4:5",
            "pairs": [{"a": "tinygrad_numpy_kernels", "b": "numpy_ref", "ratio_of_medians": 0.97}],
        }
    ]
    assert loaded() == ("tinygrad_numpy_kernels", 0.98, 0.97)
    assert rnn_bptt.load_baseline(str(tmp_path / "missing.json")) is None and rnn_bptt.load_baseline("") is None


def test_driver_run_with_a_lengths_config(tmp_path):
    impls = ["numpy_ref", "tinygrad_rnn", "tinygrad_numpy_kernels"] + (["torch_fused"] if HAS_TORCH else [])
    opts = "--quick --rounds 2 --repeats 2 --warmup-seconds 0 --no-scaling --no-overhead --gemm-n 64"
    opts += " --interleaved-seconds 0.2 --readme= --baseline="
    cmd = [sys.executable, str(BENCH / "rnn_bptt.py"), *opts.split(), "--impls", ",".join(impls)]
    cmd += ["--configs", f"lstm:2:3:4:5,{LEN_KEY}", "--results-dir", str(tmp_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = {(r["impl"], r["config"]): r for r in res["results"]}
    assert rows[("numpy_ref", LEN_KEY)]["status"] == "n/a"
    for name in impls[1:]:
        r = rows[(name, LEN_KEY)]
        if name == "tinygrad_numpy_kernels" and not ON_NUMPY:
            assert r["status"] == "absent"
            continue
        assert r["status"] == "ok" and r["check_passed"] is True and len(r["times_ms"]) == 4, r
        assert r["peak_mb"] is not None and len(r["first_step_ms"]) == 1 and r["ratio_to_numpy_ref"] is None
    assert res["configs"][1]["lengths"] == common.make_lengths(common.Config.parse(LEN_KEY)).tolist()
    assert [t["status"] for t in res["targets"]][-1] == "not measured" and len(res["targets"]) == 8
    inter = {r["config"]: r for r in res["interleaved"]}
    assert inter["lstm:2:3:4:5"]["status"] == "ok" and inter[LEN_KEY]["dropped"]["numpy_ref"].startswith("n/a")
    if HAS_TORCH:
        assert interleave.pair(inter[LEN_KEY], "tinygrad_rnn", "torch_fused") > 0
    if res["env"]["versions"]["numba"]:
        cold = {r["config"]: r for r in res["cold_start"]}
        empty, warm = cold[LEN_KEY]["empty"], cold[LEN_KEY]["warm"]
        assert empty["status"] == warm["status"] == "ok" and empty["first_step_ms"] > 0 and warm["first_step_ms"] > 0
        ki = rows[("tinygrad_rnn", LEN_KEY)].get("kernel_info")
        if ON_NUMPY and (ki is None or ki.get("kernels") == "numba"):
            assert empty["numba_cache"]["cache_misses"] > 0, empty  # compiled into the empty cache ...
            assert warm["numba_cache"]["cache_misses"] == 0 and warm["numba_cache"]["warm"] is True  # ... loaded
    md = p.stdout
    assert "#### Targets" in md and "| `numpy_ref` | n/a (one plain layer only" in md and "BLAS kernel in use" in md
    assert "Recurrent kernels:" in md and "#### First call" in md and "#### Interleaved A/B" in md
