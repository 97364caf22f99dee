"""Importing the library leaves its host process as it found it; ``runtime.tune_process()`` is opt-in."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from device_helpers import child_pythonpath

from tinygrad_rnn import backend

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The subprocesses import the checkout first and keep the rest of this process's path: run on the CuPy
# stand-in (PYTHONPATH=tests/fake_gpu, TINYGRAD_RNN_BACKEND=cupy), they import that backend too, whose
# import must leave the process alone as well.
PYTHONPATH = child_pythonpath(ROOT)

# Runs in a fresh interpreter: records the collector's thresholds and every symbol looked up through
# ctypes (an audit hook sees each dlsym) before and after importing the whole package.
PROBE = textwrap.dedent(
    """
    import gc, json, sys
    syms = []
    sys.addaudithook(lambda ev, args: syms.append(str(args[1])) if ev == "ctypes.dlsym" else None)
    {pre}
    before = gc.get_threshold()
    import tinygrad_rnn as tg
    from tinygrad_rnn import diagnostics, graph, models, nn, optim  # noqa: F401
    from tinygrad_rnn.apps import charlm  # noqa: F401
    import tinygrad_rnn.cli  # noqa: F401
    import tinygrad_rnn.distributed, tinygrad_rnn.nn.parallel, tinygrad_rnn.utils.data.distributed  # noqa: F401
    {extra}
    print(json.dumps({{"before": before, "after": gc.get_threshold(), "mallopt": syms.count("mallopt"),
                      "applied": tg.runtime.applied, "enabled": gc.isenabled(),
                      "mpi": sorted(m for m in sys.modules if m.startswith("mpi4py")), "backend": tg.backend.name}}))
    """
)


def _probe(extra: str = "", pre: str = "", **env: str) -> dict:
    code = PROBE.format(extra=extra, pre=pre)
    full_env = {**os.environ, "PYTHONPATH": PYTHONPATH, **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_changes_no_process_setting():
    r = _probe()
    assert r["backend"] == backend.name  # the subprocess runs this process's backend
    assert r["after"] == r["before"]
    assert r["mallopt"] == 0
    assert r["applied"] == {"malloc": False, "gc": False}
    assert r["enabled"] is True
    assert r["mpi"] == []  # importing mpi4py starts MPI: only init_process_group() may do it


@pytest.mark.parametrize("pre", ["gc.set_threshold(123, 4, 5)", "gc.set_threshold(0)", "gc.disable()"])
def test_import_keeps_the_programs_own_gc_settings(pre):
    r = _probe(pre=pre)
    assert r["after"] == r["before"]
    assert r["enabled"] is (pre != "gc.disable()")


def test_tune_process_applies_both_settings():
    r = _probe(extra="tg.runtime.tune_process()")
    assert r["after"][0] == 10_000 and r["after"][1:] == r["before"][1:]
    if sys.platform.startswith("linux"):
        assert r["mallopt"] == 1  # one symbol lookup, three calls
        assert r["applied"] == {"malloc": True, "gc": True}


def test_tune_process_is_idempotent_and_selective():
    r = _probe(extra="tg.runtime.tune_process(malloc=False); tg.runtime.tune_process(malloc=False)")
    assert r["applied"] == {"malloc": False, "gc": True} and r["mallopt"] == 0


@pytest.mark.parametrize(
    "env, want",
    [
        ({"TINYGRAD_RNN_MALLOC_TUNING": "0"}, {"malloc": False, "gc": True}),
        ({"TINYGRAD_RNN_GC_TUNING": "0"}, {"malloc": sys.platform.startswith("linux"), "gc": False}),
        ({"TINYGRAD_RNN_MALLOC_TUNING": "0", "TINYGRAD_RNN_GC_TUNING": "0"}, {"malloc": False, "gc": False}),
    ],
)
def test_environment_vetoes_each_setting(env, want):
    r = _probe(extra="tg.runtime.tune_process()", **env)
    assert r["applied"] == want
    assert (r["after"] == r["before"]) is (not want["gc"])


def test_tune_process_never_lowers_a_higher_threshold():
    r = _probe(extra="import gc; gc.set_threshold(50_000, 3, 3); tg.runtime.tune_process()")
    assert r["after"] == [50_000, 3, 3]


def test_the_command_tunes_its_own_process():
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    out = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "info", "--json"], capture_output=True, text=True, env=env, check=True
    )
    info = json.loads(out.stdout)
    assert info["gc tuning"].startswith("True, thresholds (10000,")
    if sys.platform.startswith("linux"):
        assert info["malloc tuning"].startswith("True")
