"""The compiled loops are cached on disk: a second process loads them instead of compiling again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from device_helpers import child_pythonpath
from kernel_sets import KERNEL_SETS

REPO = Path(__file__).resolve().parents[2]

STEP = """
import json, time, numpy as np
t0 = time.perf_counter()
import tinygrad_rnn as tg
from tinygrad_rnn.kernels import numba_loops
layer = tg.nn.GRU(3, 4)
x = tg.tensor(np.ones((5, 2, 3), np.float32), requires_grad=True)
out, _ = layer(x)
out.sum().backward()
loops = (numba_loops.gru_forward.kernel, numba_loops.gru_backward.kernel)
print(json.dumps({"hits": sum(sum(f.stats.cache_hits.values()) for f in loops),
                  "misses": sum(sum(f.stats.cache_misses.values()) for f in loops),
                  "seconds": time.perf_counter() - t0}))
"""


@pytest.mark.skipif("numba" not in KERNEL_SETS, reason="numba is not installed")
def test_second_process_loads_the_compiled_loops_from_the_cache(tmp_path):
    env = dict(os.environ, PYTHONPATH=child_pythonpath(REPO), NUMBA_CACHE_DIR=str(tmp_path))
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", STEP], env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
    first, second = runs
    assert first["misses"] >= 2 and first["hits"] == 0  # compiled: forward and backward
    assert second["hits"] >= 2 and second["misses"] == 0  # loaded from tmp_path
    assert any(p.suffix == ".nbc" for p in tmp_path.rglob("*"))


WARM = """
import json, numpy as np, tinygrad_rnn as tg
from tinygrad_rnn.kernels import numba_loops
tg.kernels.warm_up(("lstm",), "float32")
n = sum(len(getattr(numba_loops, f).kernel.overloads) for f in ("lstm_forward", "lstm_backward"))
layer = tg.nn.LSTM(3, 4)
x = tg.tensor(np.ones((5, 2, 3), np.float32), requires_grad=True)
out, _ = layer(x)
(out * out).sum().backward()
m = sum(len(getattr(numba_loops, f).kernel.overloads) for f in ("lstm_forward", "lstm_backward"))
print(json.dumps({"after_warm_up": n, "after_a_step": m}))
"""


@pytest.mark.skipif("numba" not in KERNEL_SETS, reason="numba is not installed")
def test_warm_up_loads_what_a_training_step_then_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=child_pythonpath(REPO), NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", WARM], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["after_warm_up"] >= 2 and got["after_a_step"] == got["after_warm_up"]  # nothing new to compile
