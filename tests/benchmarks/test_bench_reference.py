"""The BPTT benchmark's float64 references are trustworthy. The hand-written NumPy reference
(bench/impls/numpy_ref.py): its loss and gradients equal tinygrad_rnn's in float64 for LSTM, GRU and
tanh-RNN, agree with central differences of its own loss, and (when PyTorch is installed) equal
PyTorch's. The reference of the stacked / bidirectional / lengths configs (tinygrad_rnn's composed
path in float64): it agrees with central differences, with the fused layers, and with PyTorch's packed
layers and cell loop and JAX's masked scan where installed. And the driver's quick run on a tiny config
completes and writes valid JSON and the README section."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from impls import common, numpy_ref, tinygrad_impl  # noqa: E402

CELLS = list(common.CELLS)


def _case(cell, dtype=np.float64):
    cfg = common.Config(cell, 3, 6, 5, 4)  # I != H so a transposed weight cannot pass
    return cfg, common.make_weights(cfg, dtype), common.make_input(cfg, dtype)


def _ref(cfg, w, x, dtype=np.float64):
    r = numpy_ref.build(cfg, w, x, dtype)
    r.step()
    loss, grads = r.result()
    return loss, {k: v.copy() for k, v in grads.items()}


@pytest.mark.parametrize("fused", [None, False], ids=["default", "composed"])
@pytest.mark.parametrize("cell", CELLS)
def test_reference_equals_tinygrad_float64(cell, fused):
    cfg, w, x = _case(cell)
    want = _ref(cfg, w, x)
    t = tinygrad_impl.TinygradRunner(cfg, w, x, np.float64, fused=fused)
    if fused is False:
        assert t.mode == "composed"
    t.step()
    got = t.result()
    for k in common.GRAD_NAMES:
        assert got[1][k].shape == want[1][k].shape and got[1][k].dtype == np.float64, k
    errs = common.rel_errors(got, want)
    assert max(errs.values()) < 1e-12, errs


@pytest.mark.parametrize("cell", CELLS)
def test_reference_central_differences(cell):
    """Independent of any framework: dL/dθ of a few entries of every weight and of x."""
    cfg, w, x = _case(cell)
    loss0, grads = _ref(cfg, w, x)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in common.GRAD_NAMES:
        arr = x if name == "x" else w[name]
        for flat in rng.choice(arr.size, size=3, replace=False):
            idx = np.unravel_index(flat, arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            lp = _ref(cfg, w, x)[0]
            arr[idx] = old - eps
            lm = _ref(cfg, w, x)[0]
            arr[idx] = old
            assert abs((lp - lm) / (2 * eps) - grads[name][idx]) < 1e-7 + 1e-5 * abs(grads[name][idx]), (name, idx)


@pytest.mark.parametrize("cell", CELLS)
def test_reference_steps_repeat_and_float32_is_close(cell):
    """Buffers are reused: a second step gives the same numbers; float32 agrees with float64."""
    cfg, w, x = _case(cell)
    want = _ref(cfg, w, x)
    r = numpy_ref.build(cfg, w, x, np.float64)
    r.step()
    r.step()
    assert max(common.rel_errors(r.result(), want).values()) == 0.0
    r32 = numpy_ref.build(cfg, common.make_weights(cfg, np.float32), common.make_input(cfg, np.float32), np.float32)
    r32.step()
    assert all(v.dtype == np.float32 for v in r32.result()[1].values())
    assert max(common.rel_errors(r32.result(), want).values()) < common.CHECK_TOL


@pytest.mark.parametrize("cell", CELLS)
def test_reference_equals_pytorch(cell):
    pytest.importorskip("torch")
    from impls import torch_cells, torch_fused

    cfg, w, x = _case(cell)
    want = _ref(cfg, w, x)
    for mod in (torch_fused, torch_cells):
        t = mod.build(cfg, w, x, np.float64)
        t.step()
        errs = common.rel_errors(t.result(), want)
        assert max(errs.values()) < 1e-12, (mod.NAME, errs)


LENGTHS_KEYS = ["lstm:3:7:5:4:L2:bi:len", "gru:3:7:5:4:L2:bi:len", "rnn-tanh:3:7:5:4:L2:bi:len"]


@pytest.mark.parametrize("key", LENGTHS_KEYS)
def test_lengths_reference_central_differences(key):
    """The stacked reference's gradients are those of its own loss (over valid positions only)."""
    import rnn_bptt

    cfg = common.Config.parse(key)
    w, x = common.make_weights(cfg, np.float64), common.make_input(cfg, np.float64)

    def loss_grads():
        r = tinygrad_impl.TinygradRunner(cfg, w, x, np.float64, fused=False)
        r.step()
        return r.result()

    loss0, grads = loss_grads()
    assert rnn_bptt.reference_result(cfg)[0][0] == loss0
    valid = common.valid_mask(cfg)
    assert not valid.all() and valid.any(axis=0).all()  # some padding, every sequence non-empty
    assert np.all(grads["x"][~valid] == 0.0)  # padded inputs do not reach the loss
    rng = np.random.default_rng(1)
    eps = 1e-6
    for name in ("weight_hh_l0_reverse", "weight_ih_l1", "bias_hh_l1_reverse", "x"):
        arr = x if name == "x" else w[name]
        for flat in rng.choice(arr.size, size=2, replace=False):
            idx = np.unravel_index(flat, arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            lp = loss_grads()[0]
            arr[idx] = old - eps
            lm = loss_grads()[0]
            arr[idx] = old
            assert abs((lp - lm) / (2 * eps) - grads[name][idx]) < 1e-8 + 1e-5 * abs(grads[name][idx]), (name, idx)


@pytest.mark.parametrize("key", LENGTHS_KEYS)
def test_lengths_reference_equals_other_implementations_float64(key):
    """Fused tinygrad_rnn always; PyTorch packed + cell loop and JAX's masked scan when installed."""
    import importlib.util

    import rnn_bptt

    cfg = common.Config.parse(key)
    w, x = common.make_weights(cfg, np.float64), common.make_input(cfg, np.float64)
    want, name = rnn_bptt.reference_result(cfg)
    assert "composed" in name and set(want[1]) == set(common.grad_names(cfg))
    builders = [lambda: tinygrad_impl.TinygradRunner(cfg, w, x, np.float64)]
    if importlib.util.find_spec("torch"):
        from impls import torch_cells, torch_fused

        builders += [lambda: torch_fused.build(cfg, w, x, np.float64), lambda: torch_cells.build(cfg, w, x, np.float64)]
    if importlib.util.find_spec("jax"):
        from impls import jax_scan

        builders.append(lambda: jax_scan.build(cfg, w, x, np.float64))
    for build in builders:
        r = build()
        r.step()
        errs = common.rel_errors(r.result(), want)
        assert set(errs) == set(common.grad_names(cfg)) | {"loss"}
        assert max(errs.values()) < 1e-12, (type(r).__name__, errs)


def test_flop_count_formula():
    cfg = common.Config("lstm", 32, 50, 64, 128)
    assert common.gemm_flops(cfg) == 3 * 50 * 2 * 32 * (64 + 128) * 4 * 128
    assert common.gemm_flops(common.Config("gru", 1, 1, 1, 1)) == 3 * 2 * 2 * 3
    # two bidirectional layers with lengths: layer 1 reads 2H inputs; only valid positions count
    bi = common.Config.parse("lstm:32:40:12:64:L2:bi:len")
    n = int(common.make_lengths(bi).sum())
    assert common.gemm_flops(bi) == 2 * (3 * 2 * n * (12 + 64) * 4 * 64 + 3 * 2 * n * (128 + 64) * 4 * 64)


def test_quick_driver_run_writes_valid_json(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro stays\n<!-- BEGIN GENERATED: bench/rnn_bptt.py -->\nold\n"
        "<!-- END GENERATED: bench/rnn_bptt.py -->\ntail stays\n"
    )
    cmd = [
        sys.executable,
        str(BENCH / "rnn_bptt.py"),
        "--quick",
        "--impls",
        "numpy_ref,tinygrad_rnn,jax_scan",
        "--configs",
        "lstm:2:3:4:5",
        "--rounds",
        "2",
        "--repeats",
        "2",
        "--warmup-seconds",
        "0",
        "--scaling-T",
        "3,6",
        "--no-overhead",
        "--gemm-n",
        "64",
        "--results-dir",
        str(tmp_path / "results"),
        "--readme",
        str(readme),
        "--publish",
        "--no-cold-start",  # the cold start and the interleaved A/B: tests/benchmarks/test_bench_suite.py
        "--interleaved-seconds",
        "0",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    files = sorted((tmp_path / "results").glob("*.json"))
    assert {f.name for f in files} >= {"latest.json"} and len(files) == 2
    res = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert res["quick"] is True and res["gemm_peak"]["gflops"] > 0
    rows = {r["impl"]: r for r in res["results"]}
    assert set(rows) == {"numpy_ref", "tinygrad_rnn", "jax_scan"}
    jax_row = rows.pop("jax_scan")  # an optional anchor: absent (not failed) unless JAX is installed
    assert jax_row["status"] in ("absent", "ok"), jax_row
    assert (jax_row["status"] == "absent") == ("jax_scan" in res["absent"])
    for r in rows.values():
        assert r["status"] == "ok" and r["check_passed"] is True, r
        assert r["config"] == "lstm:2:3:4:5" and len(r["times_ms"]) == 4 and r["min_ms"] <= r["median_ms"]
        assert r["rss_delta_mb"] >= 0 and r["traced_peak_mb"] > 0 and r["gflops"] > 0
    assert rows["numpy_ref"]["ratio_to_numpy_ref"] == 1.0
    assert rows["tinygrad_rnn"]["ratio_to_torch_fused"] is None  # torch was not part of this run
    assert sorted((r["impl"], r["T"]) for r in res["scaling"]) == [
        ("numpy_ref", 3),
        ("numpy_ref", 6),
        ("tinygrad_rnn", 3),
        ("tinygrad_rnn", 6),
    ]
    assert res["env"]["machine"]["logical_cores"] >= 1
    text = readme.read_text()
    assert text.startswith("intro stays\n") and text.endswith("tail stays\n") and "\nold\n" not in text
    assert "| `tinygrad_rnn` | ok |" in text and "| implementation |" in p.stdout


def test_failed_check_is_reported_and_flagged():
    """A wrong gradient (or a float64 one) fails the check, and the aggregated row is flagged."""
    import rnn_bptt

    class Broken:
        NAME, LABEL = "broken", "broken"

        @staticmethod
        def build(cfg, w, x, dtype):
            r = numpy_ref.build(cfg, w, x, dtype)

            class Runner:
                def step(self):
                    r.step()

                def result(self):
                    loss, g = r.result()
                    g = dict(g, weight_hh_l0=g["weight_hh_l0"] * 1.01, x=g["x"].astype(np.float64))
                    return loss, g

            return Runner()

    chk = rnn_bptt.run_check(Broken, "gru")
    assert chk["passed"] is False
    assert any(p.startswith("weight_hh_l0 rel. error") for p in chk["problems"])
    assert "x gradient is float64, not float32" in chk["problems"]
    cfg = common.Config("gru", 2, 3, 4, 5)
    row = rnn_bptt.aggregate(
        [
            {
                "impl": "broken",
                "label": "broken",
                "status": "check_failed",
                "check": chk,
                "times_ms": [2.0, 1.0, 3.0],
                "rss_delta_mb": 1.0,
            }
        ],
        cfg,
        100.0,
    )
    assert row["status"] == "check_failed" and row["flagged"] is True and row["median_ms"] == 2.0
    md = rnn_bptt.render_markdown(
        {
            "started_utc": "t",
            "quick": True,
            "settings": {"rounds": 1, "warmup": 1, "repeats": 3, "budget_s": 1.0},
            "configs": [cfg.as_dict() | {"key": cfg.key, "gemm_gflop_per_step": 0.0}],
            "results": [row],
        }
    )
    assert "**FAILED**" in md and "2.00 ⚠" in md
