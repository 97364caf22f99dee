"""bench/gpu.py and bench/gpu_check.sh without a GPU: the plumbing the one-shot GPU run depends on.

The GPU run happens rarely and once, so what can break before it (argument parsing, the worker protocol,
the JSON and markdown it writes, the targets) is checked here on the NumPy backend, in a subprocess, on one
tiny config. Where torch is installed its implementations run on the CPU device, so the full-config check
against "cuDNN" (torch's fused layer) and the ratios are exercised too.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_quick_run_on_numpy_writes_json_and_markdown(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_RNN_BACKEND"}
    cmd = [sys.executable, str(ROOT / "bench" / "gpu.py"), "--quick", "--backend", "numpy", "--out", str(tmp_path)]
    cmd += ["--configs", "lstm:3:4:5:6", "--rounds", "2", "--repeats", "2"]
    cmd += ["--torch-device", "cpu"] if HAS_TORCH else []
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert res["schema"] == "tinygrad_rnn-gpu-bench/1"
    assert res["settings"]["backend"] == "numpy" and res["settings"]["rounds"] == 2
    assert "numpy" in res["env"]["tinygrad_rnn"]
    (cfg,) = res["configs"]
    assert cfg["config"] == "lstm:3:4:5:6" and cfg["status"] == "ok"
    assert list(cfg["impls"]) == ["tinygrad_rnn", "torch_cudnn", "torch_cells"]
    tg = cfg["impls"]["tinygrad_rnn"]
    assert tg["status"] == "ok" and tg["clock"] == "wall", tg
    assert tg["check"]["passed"] and len(tg["round_medians_ms"]) == 2 and len(tg["times_ms"]) >= 4
    assert 0 < tg["min_ms"] <= tg["median_ms"]
    for name in ("torch_cudnn", "torch_cells"):
        assert cfg["impls"][name]["status"] == ("ok" if HAS_TORCH else "absent")
    if HAS_TORCH:  # the same weights: tinygrad_rnn agrees with torch's fused layer on the config itself
        assert tg["full_check"]["passed"] and tg["full_check"]["max_rel_err"] < 1e-4
        assert cfg["impls"]["torch_cells"]["full_check"]["passed"]
        assert cfg["ratios"]["tinygrad_over_cells"]["paired"] > 0
    assert [t["status"] for t in res["targets"]][1:] == ["not measured"] * 2  # no H >= 512, no target config
    assert res["targets"][0]["status"] in (("met", "not met") if HAS_TORCH else ("not measured",))
    md = (tmp_path / "gpu_bench.md").read_text()
    assert "| config | tinygrad ms |" in md and "| lstm:3:4:5:6 |" in md and "Targets:" in md


def test_unknown_impl_is_refused():
    p = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--impls", "tinygrad_rnn,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert p.returncode == 2 and "unknown --impls ['nope']" in p.stderr


def test_gpu_check_help():
    p = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "--standin" in p.stdout and "gpu_bench.json" in p.stdout and "gpu_tests.log" in p.stdout
    p = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown argument" in p.stderr


def _gpu_module():
    spec = importlib.util.spec_from_file_location("bench_gpu_under_test", ROOT / "bench" / "gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # imports NumPy and bench/impls' common helpers only
    return mod


def test_full_check_fails_on_a_wrong_or_nan_gradient():
    import numpy as np

    gpu = _gpu_module()
    grads = {n: np.ones(3, np.float32) for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "x")}

    class Runner:
        def __init__(self, scale, nan=False):
            g = {k: v * scale for k, v in grads.items()}
            if nan:
                g["x"] = np.full(3, np.nan, np.float32)
            self.out = (1.0, g)

        def result(self):
            return self.out

    want = Runner(1.0).result()
    assert gpu._full_check(Runner(1.0 + 1e-5), want)["passed"]
    bad = gpu._full_check(Runner(1.01), want)
    assert not bad["passed"] and abs(bad["max_rel_err"] - 0.01) < 1e-4
    nan = gpu._full_check(Runner(1.0, nan=True), want)
    assert not nan["passed"] and nan["max_rel_err"] is None


def test_ratios_pair_rounds_and_targets_judge_them():
    gpu = _gpu_module()
    tg, cells = {"median_ms": 2.0, "round_medians_ms": [1.0, 3.0]}, {"median_ms": 4.0, "round_medians_ms": [4.0, 4.0]}
    assert gpu._ratio(tg, cells) == {"paired": 0.5, "pooled": 0.5}  # median of 1/4 and 3/4; 2/4

    def row(cfg, tg_ms, cudnn_ratio, cells_ratio):
        return {
            "config": cfg,
            "status": "ok",
            "impls": {"tinygrad_rnn": {"status": "ok", "median_ms": tg_ms}},
            "ratios": {
                "tinygrad_over_cudnn": {"paired": cudnn_ratio, "pooled": cudnn_ratio},
                "tinygrad_over_cells": {"paired": cells_ratio, "pooled": cells_ratio},
            },
        }

    rows = [row("lstm:256:100:512:512", 90.0, 1.5, 0.2), row("gru:32:50:64:128", 5.0, 9.0, 1.2)]
    got = [t["status"] for t in gpu.targets(rows, cpu_ms=1894.0)]
    assert got == ["not met", "met", "met"]  # gru H=128 is slower than the cells; 1894/90 >= 20
    rows[0]["impls"]["tinygrad_rnn"]["median_ms"] = 100.0
    assert gpu.targets(rows, cpu_ms=1894.0)[2]["status"] == "not met"
