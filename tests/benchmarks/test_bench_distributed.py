"""bench/distributed.py's ``--quick`` run (a tiny LSTM language model, K = 1 and 2 ranks under mpiexec, a few
steps) completes and writes a JSON with the step times, the exposed communication with overlap on and off,
the allreduce sweep, the fitted cost model and its predictions."""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests" / "distributed") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "distributed"))

import mpi_run  # noqa: E402


def test_quick_run_writes_json(tmp_path):
    mpi_run.mpiexec()  # skips where MPI cannot start (fails instead under TINYGRAD_RNN_REQUIRE_MPI=1)
    out = tmp_path / "distributed.json"
    cmd = [sys.executable, str(ROOT / "bench" / "distributed.py"), "--quick", "--out", str(out)]
    p = subprocess.run(cmd, env=mpi_run.env(), capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (
        "| 2 | DDP, overlap on |" in p.stdout and "| 2 | DDP, overlap off |" in p.stdout
    )  # the Markdown table was printed
    res = json.loads(out.read_text())
    args = res["meta"]["args"]
    assert args["ranks"] == [1, 2] and args["hidden"] == [32]

    # every rank of every launch reported every timed step, alternating overlap on / off
    for K in (1, 2):
        (launch,) = res["launches"][f"32:{K}"]
        assert launch["world"] == K and len(launch["steps"]) == K
        for rank_steps in launch["steps"]:
            assert len(rank_steps) == 3 * args["steps"]
            assert all(s["step"] > 0 and s["backward"] > 0 and s["wait"] >= 0 for s in rank_steps)
        modes = [("on", "off", "local")[i % 3] for i in range(args["warmup"] + 3 * args["steps"])]
        assert [s["mode"] for s in rank_steps] == modes[args["warmup"] :]
        assert launch["stats"]["steps"] == sum(m != "local" for m in modes)  # no_sync steps reduce nothing
        assert launch["stats"]["bytes"] >= launch["grad_bytes"] * launch["stats"]["steps"]
        assert math.isfinite(launch["final_loss"])
    (k2,) = res["launches"]["32:2"]
    assert {r["bytes"] for r in k2["allreduce"]} == {4096, 65536, k2["grad_bytes"]}
    assert all(r[w] > 0 for r in k2["allreduce"] for w in ("dist", "iallreduce_test", "allreduce"))

    S = res["summary"]["by_hidden"]["32"]
    rows = {(r["K"], r["mode"]): r for r in S["rows"]}
    assert set(rows) == {(1, "ddp"), (1, "local"), (2, "on"), (2, "off"), (2, "local")}
    assert rows[(1, "ddp")]["x_1_rank"] == 1.0
    for r in rows.values():
        assert r["step_ms"] > 0 and r["tokens_per_s"] > 0 and 0 <= r["exposed_ms"] <= r["wait_ms"]
    assert rows[(2, "local")]["wait_ms"] == 0  # no communication at all
    assert rows[(2, "on")]["allreduce_ms"] > 0 and "hidden_vs_allreduce" in rows[(2, "on")]
    assert set(S["ready_s"]) == {p["name"] for p in S["params"]}
    assert [c["K"] for c in S["model_check"]] == [2]
    preds = S["predictions"]
    assert {(p["K"], p["link"], p["latency_us"]) for p in preds} == {
        (K, link, lat) for K in (8, 64) for link in ("10 Gbit/s", "100 Gbit/s") for lat in (5.0, 25.0)
    }
    for p in preds:
        for k in ("eff_no_overlap", "eff_ddp_default", "eff_ddp_best", "eff_uniform_best"):
            assert 0 < p[k] <= 1
        assert p["eff_ddp_best"] >= p["eff_ddp_default"] - 1e-12  # the best cap is at least the default
    assert "alpha_s" in res["summary"]["model"]["fit_dist"]
