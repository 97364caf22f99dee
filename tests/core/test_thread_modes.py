"""Grad mode, anomaly mode, drawing scopes and the fused-layer default belong to the thread that sets them.

Threads are stepped through fixed interleavings with events (not sleeps), so each case tests the
interleaving it names on every run.
"""

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.modes import MODES

TIMEOUT = 30


def _run_threads(*targets):
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors = []

    def wrap(f):
        def run():
            try:
                f()
            except BaseException as e:  # noqa: BLE001  (reported to the test below)
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a test thread hung"
    if errors:
        raise errors[0]


def _records() -> bool:
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    return (x * 2.0).requires_grad


def _scopes_on_tape(y):
    scopes, stack = set(), [y._fn]
    while stack:
        fn = stack.pop()
        scopes.add(fn.scope)
        stack.extend(p._fn for p in fn.parents if p._fn is not None)
    return scopes


# ---- grad mode ------------------------------------------------------------------------------------------
def test_no_grad_in_another_thread_does_not_stop_recording():
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def validator():
        with tg.no_grad():
            entered.set()
            seen["val_records"] = _records()
            assert done.wait(TIMEOUT)
        seen["val_after"] = tg.is_grad_enabled()

    def trainer():
        assert entered.wait(TIMEOUT)
        seen["train_enabled"] = tg.is_grad_enabled()
        seen["train_records"] = _records()
        done.set()

    _run_threads(validator, trainer)
    assert seen == {"val_records": False, "val_after": True, "train_enabled": True, "train_records": True}


def test_out_of_order_exits_across_threads_leave_grad_on():
    # A enters, B enters, A exits, B exits: with one process-wide flag B restored "off" for good
    steps = [threading.Event() for _ in range(4)]

    def a():
        with tg.no_grad():
            steps[0].set()
            assert steps[1].wait(TIMEOUT)
        steps[2].set()

    def b():
        assert steps[0].wait(TIMEOUT)
        with tg.no_grad():
            steps[1].set()
            assert steps[2].wait(TIMEOUT)
        steps[3].set()

    _run_threads(a, b)
    assert tg.is_grad_enabled() and _records()
    got = {}
    _run_threads(lambda: got.update(fresh=tg.is_grad_enabled()))
    assert got["fresh"] is True


def test_one_instance_shared_by_threads():
    ng = tg.no_grad()
    inside, release = threading.Barrier(2, timeout=TIMEOUT), threading.Event()
    seen = []

    def worker(last):
        with ng:
            inside.wait()
            seen.append(tg.is_grad_enabled())
            if last:
                release.set()
            assert release.wait(TIMEOUT)
        seen.append(tg.is_grad_enabled())

    _run_threads(lambda: worker(False), lambda: worker(True))
    assert sorted(seen) == [False, False, True, True]
    assert tg.is_grad_enabled()


def test_decorated_function_called_from_threads():
    @tg.no_grad()
    def infer(x):
        return (x * 3.0).requires_grad

    x = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    out = []
    _run_threads(*[lambda: out.append((infer(x), _records())) for _ in range(4)])
    assert out == [(False, True)] * 4
    assert _records()


@pytest.mark.parametrize("parent", ["no_grad", "anomaly", "scope", "unfused", "all"])
def test_new_thread_starts_from_defaults(parent):
    import contextlib

    ctx = {
        "no_grad": [tg.no_grad()],
        "anomaly": [tg.detect_anomaly()],
        "scope": [tg.scope("parent")],
        "unfused": [nn.use_fused(False)],
        "all": [tg.no_grad(), tg.detect_anomaly(), tg.scope("parent"), nn.use_fused(False)],
    }[parent]
    got = {}
    with contextlib.ExitStack() as stack:
        for c in ctx:
            stack.enter_context(c)

        def child():
            got.update(grad=MODES.grad_enabled, anomaly=MODES.anomaly, scope=MODES.scope, fused=MODES.fused)
            got["checks"] = MODES.checks

        _run_threads(child)
    assert got == {"grad": True, "anomaly": False, "scope": (), "fused": True, "checks": bool(MODES.debug)}


def test_two_threads_training_two_models_match_sequential_runs():
    def make(seed):
        tg.manual_seed(seed)
        model = nn.LSTM(3, 8)
        head = nn.Linear(8, 1)
        rng = np.random.default_rng(seed)
        data = [
            (tg.Tensor(rng.standard_normal((5, 4, 3)).astype(np.float32)), rng.standard_normal((4, 1)))
            for _ in range(6)
        ]
        return model, head, data

    def train(model, head, data, out, evaluator=None):
        params = list(model.parameters()) + list(head.parameters())
        opt = optim.Adam(params, lr=1e-2)
        for x, y in data:
            opt.zero_grad()
            h, _ = model(x)
            loss = ((head(h[-1]) - tg.Tensor(y.astype(np.float32))) ** 2).mean()
            assert loss.requires_grad
            loss.backward()
            assert all(p.grad is not None for p in params)
            opt.step()
            out.append(float(loss.item()))
            if evaluator is not None:
                evaluator()

    def evaluate(model, x):
        with tg.no_grad():
            model(x)

    seq = [[], []]
    for i in (0, 1):
        train(*make(i), seq[i])
    models = [make(0), make(1)]
    par = [[], []]
    _run_threads(
        lambda: train(*models[0], par[0], evaluator=lambda: evaluate(models[1][0], models[1][2][0][0])),
        lambda: train(*models[1], par[1], evaluator=lambda: evaluate(models[0][0], models[0][2][0][0])),
    )
    assert par == seq


# ---- out-of-order exits in one thread -------------------------------------------------------------------
def test_two_no_grad_blocks_exited_out_of_order():
    a, b = tg.no_grad(), tg.no_grad()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert not tg.is_grad_enabled()  # b is still active
    b.__exit__(None, None, None)
    assert tg.is_grad_enabled()


def test_generators_closed_in_reverse_order():
    def gen():
        with tg.no_grad():
            yield tg.is_grad_enabled()

    g1, g2 = gen(), gen()
    assert next(g1) is False and next(g2) is False
    g1.close()
    assert not tg.is_grad_enabled()
    g2.close()
    assert tg.is_grad_enabled()


def test_enable_grad_inside_no_grad_out_of_order():
    outer, inner = tg.no_grad(), tg.enable_grad()
    outer.__enter__()
    inner.__enter__()
    assert tg.is_grad_enabled()
    outer.__exit__(None, None, None)
    assert tg.is_grad_enabled()
    inner.__exit__(None, None, None)
    assert tg.is_grad_enabled()


def test_scopes_exited_out_of_order_drop_only_their_label():
    a, b, c = tg.scope("a"), tg.scope("b"), tg.scope("c")
    for s in (a, b, c):
        s.__enter__()
    assert MODES.scope == ("a", "b", "c")
    b.__exit__(None, None, None)
    assert MODES.scope == ("a", "c")
    a.__exit__(None, None, None)
    assert MODES.scope == ("c",)
    c.__exit__(None, None, None)
    assert MODES.scope == ()


def test_exit_without_enter_changes_nothing():
    tg.no_grad().__exit__(None, None, None)
    tg.scope("x").__exit__(None, None, None)
    assert tg.is_grad_enabled() and MODES.scope == ()


def test_nested_reentry_of_one_instance():
    ng = tg.no_grad()
    with ng:
        with ng:
            assert not tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


SWITCHES = {
    "no_grad": lambda i: tg.no_grad(),
    "enable_grad": lambda i: tg.enable_grad(),
    "anomaly": lambda i: tg.detect_anomaly(),
    "scope": lambda i: tg.scope(f"s{i}"),
    "fused_off": lambda i: nn.use_fused(False),
    "fused_on": lambda i: nn.use_fused(True),
}


def _expected(active):
    """The modes as the switches still active (in enter order) make them from the defaults."""
    want = {"grad_enabled": True, "anomaly": False, "scope": (), "fused": MODES.fused}
    for kind, i in active:
        if kind in ("no_grad", "enable_grad"):
            want["grad_enabled"] = kind == "enable_grad"
        elif kind == "anomaly":
            want["anomaly"] = True
        elif kind == "scope":
            want["scope"] = want["scope"] + (f"s{i}",)
        else:
            want["fused"] = kind == "fused_on"
    return want


@given(
    kinds=st.lists(st.sampled_from(sorted(SWITCHES)), min_size=1, max_size=8),
    order=st.randoms(use_true_random=False),
)
def test_any_exit_order_gives_the_modes_of_the_switches_still_active(kinds, order):
    base_fused = MODES.fused
    switches = [(k, i, SWITCHES[k](i)) for i, k in enumerate(kinds)]
    exits = list(switches)
    order.shuffle(exits)  # before entering: drawing data may stop the example
    active = [(k, i) for k, i, _ in switches]
    for _, _, s in switches:
        s.__enter__()
    try:
        for k, i, s in exits:
            s.__exit__(None, None, None)
            active.remove((k, i))
            want = _expected(active)
            want["fused"] = want["fused"] if any(a[0].startswith("fused") for a in active) else base_fused
            got = {m: getattr(MODES, m) for m in want}
            assert got == want
        assert MODES.checks == bool(MODES.debug)
    finally:  # a failing example must not leave switches on for the next one
        for _, _, s in switches:
            s.__exit__(None, None, None)


# ---- anomaly mode, scopes and use_fused -----------------------------------------------------------------
def test_anomaly_mode_is_per_thread():
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def checker():
        with tg.detect_anomaly():
            entered.set()
            with pytest.raises(FloatingPointError):
                tg.Tensor(np.array([-1.0], np.float32)).log()
            assert done.wait(TIMEOUT)

    def other():
        assert entered.wait(TIMEOUT)
        y = tg.Tensor(np.array([-1.0], np.float32)).log()  # NaN, but anomaly mode is not on here
        seen["nan"] = bool(np.isnan(y.numpy()).all())
        done.set()

    _run_threads(checker, other)
    assert seen == {"nan": True}


def test_scope_in_one_thread_never_labels_another_threads_nodes():
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def labelled():
        with tg.scope("validation"):
            entered.set()
            x = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
            seen["mine"] = (x * 2.0)._fn.scope
            assert done.wait(TIMEOUT)

    def training():
        assert entered.wait(TIMEOUT)
        with tg.scope("train"):
            x = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
            y = (x * 2.0).tanh().sum()
        seen["theirs"] = _scopes_on_tape(y)
        seen["dot"] = tg.graph.to_dot(y)
        done.set()

    _run_threads(labelled, training)
    assert seen["mine"] == ("validation",)
    assert seen["theirs"] == {("train",)}
    assert "validation" not in seen["dot"] and "train" in seen["dot"]


def test_scopes_in_parallel_threads_build_their_own_nesting():
    barrier = threading.Barrier(3, timeout=TIMEOUT)
    seen = {}

    def worker(name):
        with tg.scope(name):
            barrier.wait()
            with tg.scope("inner"):
                barrier.wait()
                x = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
                seen[name] = (x + 1.0)._fn.scope
                barrier.wait()

    _run_threads(*[lambda n=n: worker(n) for n in ("a", "b", "c")])
    assert seen == {n: (n, "inner") for n in ("a", "b", "c")}


def test_use_fused_is_per_thread():
    entered, done = threading.Event(), threading.Event()
    seen = {}
    layer = nn.LSTM(2, 3)
    x = tg.Tensor(np.ones((4, 1, 2), np.float32), requires_grad=True)

    def composed():
        with nn.use_fused(False):
            entered.set()
            out, _ = layer(x)
            seen["composed"] = type(out._fn).__name__
            assert done.wait(TIMEOUT)

    def fused():
        assert entered.wait(TIMEOUT)
        out, _ = layer(x)
        seen["fused"] = type(out._fn).__name__
        done.set()

    _run_threads(composed, fused)
    assert seen["fused"] == "LSTMSequence"
    assert seen["composed"] != "LSTMSequence"


def test_a_layers_own_fused_argument_wins_over_the_thread_mode():
    x = tg.Tensor(np.ones((3, 1, 2), np.float32), requires_grad=True)
    with nn.use_fused(False):
        out, _ = nn.GRU(2, 3, fused=True)(x)
    assert type(out._fn).__name__ == "GRUSequence"
    out, _ = nn.GRU(2, 3, fused=False)(x)
    assert type(out._fn).__name__ != "GRUSequence"
