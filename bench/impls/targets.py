"""The performance targets of the compiled-kernels work (issue 19), evaluated on one run's results.

Each target gives one row: what it asks, what was measured (the worst case, and how many configs
meet it), and met / not met / not measured. "Not measured" means a number the target needs is
missing (an anchor absent, a config not in the run): the target is neither claimed nor failed.

Speed ratios against torch_fused use the interleaved A/B's ratio of medians where it ran for the
config (drift-free: both stepped in turn, see ``interleave.py``), else the main table's ratio paired
by round; the row says which. Against JAX only the paired ratio exists (JAX is not interleaved).
"""

from __future__ import annotations

from typing import Any

from .common import BATCH1_CONFIG
from .interleave import pair

MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"
# run-to-run spread of the same code's ratio to numpy_ref on this machine (README, "Run to run")
NUMPY_KERNELS_SLACK = 1.10


def _fmt(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


class _Run:
    def __init__(self, res: dict) -> None:
        self.res = res
        self.rows = {(r.get("impl"), r.get("config")): r for r in res.get("results", [])}
        self.configs = res.get("configs", [])
        self.inter = {r.get("config"): r for r in res.get("interleaved") or [] if r.get("status") == "ok"}

    def title(self, key: str) -> str:
        return next((c.get("title") or key for c in self.configs if c.get("key") == key), key)

    def speed(self, key: str, base: str) -> tuple[float | None, str]:
        """tinygrad_rnn ÷ base on one config, and where the number comes from."""
        v = pair(self.inter.get(key) or {}, "tinygrad_rnn", base)
        if v is not None:
            return v, "interleaved"
        row = self.rows.get(("tinygrad_rnn", key)) or {}
        v = row.get(f"ratio_to_{base}")
        return (v, "paired") if v is not None else (None, "")


def _worst(vals: dict[str, float | None]) -> tuple[str | None, dict[str, float]]:
    """The config with the largest measured value (None when nothing was measured), and the measured."""
    got = {k: v for k, v in vals.items() if v is not None}
    return (max(got, key=lambda k: got[k]) if got else None), got


def _verdict(vals: dict[str, float | None], ok: Any, n_all: int) -> str:
    got = [v for v in vals.values() if v is not None]
    if not got:
        return NOT_MEASURED
    if not all(ok(v) for v in got):
        return NOT_MET
    return MET if len(got) == n_all else NOT_MEASURED


def _row(run: _Run, target: str, vals: dict[str, float | None], ok: Any, n_all: int, how: tuple, source: str) -> dict:
    """A per-config target's row: ``how`` = (format of a value, what meeting it reads as, text when
    nothing was measured); the worst config is named, and how many of ``vals`` meet it."""
    fmt, meets, empty = how
    worst, got = _worst(vals)
    measured = empty
    if worst is not None:
        measured = (
            f"worst {fmt(got[worst])} ({run.title(worst)}); "
            f"{sum(bool(ok(v)) for v in got.values())} of {len(vals)} configs {meets}"
        )
    return {
        "target": target,
        "measured": measured,
        "status": _verdict(vals, ok, n_all),
        "source": source,
        "values": vals,
    }


def _ratio_row(run: _Run, target: str, keys: list[str], base: str, limit: float, strict: bool = False) -> dict:
    vals, srcs = {}, set()
    for k in keys:
        v, src = run.speed(k, base)
        vals[k] = v
        if src:
            srcs.add(src)

    def ok(v: float) -> bool:
        return v < limit if strict else v <= limit

    how = (_fmt, f"{'<' if strict else '≤'} {limit:g}", "—")
    return _row(run, target, vals, ok, len(keys), how, " and ".join(sorted(srcs)) or "—")


def evaluate(res: dict) -> list[dict]:
    """The target rows for one run's results dict (``rnn_bptt.run_suite``'s)."""
    run = _Run(res)
    keys = [c["key"] for c in run.configs]
    lstm = [c["key"] for c in run.configs if c.get("cell") == "lstm"]
    gru_rnn = [c["key"] for c in run.configs if c.get("cell") in ("gru", "rnn-tanh")]
    out = [
        _ratio_row(run, "tinygrad_rnn ≤ 1.0× torch_fused on every config", keys, "torch_fused", 1.0),
        _ratio_row(run, "stretch: ≤ 0.7× torch_fused on the LSTM configs", lstm, "torch_fused", 0.7),
        _ratio_row(run, "faster than jax_scan on every config", keys, "jax_scan", 1.0, strict=True),
        _ratio_row(run, "GRU and RNN ≥ 2× ahead of torch_fused (≤ 0.5×)", gru_rnn, "torch_fused", 0.5),
        _batch1(run),
        _memory(run, keys),
        _linear(res),
        _numpy_kernels(run, keys, res.get("baseline")),
    ]
    return out


def _batch1(run: _Run) -> dict:
    key = BATCH1_CONFIG.key
    row = run.rows.get(("tinygrad_rnn", key)) or {}
    med = row.get("median_ms")
    us = None if med is None else med * 1e3 / BATCH1_CONFIG.T
    return {
        "target": f"batch 1: ≤ 2 µs per time step, forward + backward, H = 32 ({BATCH1_CONFIG.title})",
        "measured": "—" if us is None else f"{us:.2f} µs per time step (median step {med:.3f} ms / T)",
        "status": NOT_MEASURED if us is None else (MET if us <= 2.0 else NOT_MET),
        "source": "main table median",
        "values": {key: us},
    }


def _memory(run: _Run, keys: list[str]) -> dict:
    """tinygrad_rnn's ``peak_mb`` minus torch_fused's per config (both from the pre-warmed rounds:
    the model and its step, not the libraries' code, which RSS Δ includes)."""
    vals: dict[str, float | None] = {}
    for k in keys:
        a = (run.rows.get(("tinygrad_rnn", k)) or {}).get("peak_mb")
        b = (run.rows.get(("torch_fused", k)) or {}).get("peak_mb")
        vals[k] = None if a is None or b is None else a - b  # page-granular: a difference, not a ratio
    how = (
        lambda v: f"{v:+.1f} MB vs torch_fused",
        "≤ torch_fused",
        "— (needs torch_fused and rounds ≥ 2: peak MB comes from the pre-warmed rounds)",
    )
    target, source = (
        "peak memory ≤ torch_fused on every config",
        "peak RSS of the timed steps above the RSS before the build",
    )
    return _row(run, target, vals, lambda v: v <= 0, len(keys), how, source)


def _linear(res: dict) -> dict:
    s = (res.get("scaling_summary") or {}).get("tinygrad_rnn") or {}
    steps = s.get("steps") or []
    per10 = [st["time_factor"] * 10.0 / st["T_factor"] for st in steps if st.get("T_factor")]
    worst = max(per10) if per10 else None
    parts = "; ".join(f"T {st['T_from']:,}→{st['T_to']:,}: {st['time_factor']:.1f}×" for st in steps)
    return {
        "target": "time linear in T: ≤ 11× per 10× T (tinygrad_rnn, lstm B=16 I=H=64)",
        "measured": "—" if worst is None else f"{parts} (worst {worst:.1f}× per 10× T)",
        "status": NOT_MEASURED if worst is None else (MET if worst <= 11.0 else NOT_MET),
        "source": "scaling study",
        "values": {"worst_per_10x": worst},
    }


def _numpy_kernels(run: _Run, keys: list[str], base: dict | None) -> dict:
    target = (
        f"NumPy kernels no slower than before: tinygrad_numpy_kernels ÷ numpy_ref ≤ {NUMPY_KERNELS_SLACK:g}× "
        "the baseline run's ratio, every config"
    )
    if not base:
        return {"target": target, "measured": "no baseline file", "status": NOT_MEASURED, "source": "—", "values": {}}
    vals: dict[str, float | None] = {}
    srcs = set()
    for k in keys:
        now_i = pair(run.inter.get(k) or {}, "tinygrad_numpy_kernels", "numpy_ref")
        then_i = (base.get("interleaved") or {}).get(k)
        if now_i is not None and then_i is not None:
            vals[k], src = now_i / then_i, "interleaved"
        else:
            now_p = (run.rows.get(("tinygrad_numpy_kernels", k)) or {}).get("ratio_to_numpy_ref")
            then_p = (base.get("paired") or {}).get(k)
            vals[k], src = (now_p / then_p, "paired") if now_p and then_p else (None, "")
        if src:
            srcs.add(src)
    got: dict[str, float | None] = {k: v for k, v in vals.items() if v is not None}
    how = (
        lambda v: f"{v:.3f}× the baseline's ratio",
        f"within {NUMPY_KERNELS_SLACK:g}×",
        "no config in common with the baseline",
    )
    source = f"{' and '.join(sorted(srcs)) or '—'}; baseline {base.get('source')} of {base.get('started_utc')}"
    row = _row(run, target, got, lambda v: v <= NUMPY_KERNELS_SLACK, len(got), how, source)
    if got and len(got) < len(keys):
        row["measured"] += f" ({len(keys) - len(got)} more configs are new since the baseline: not compared)"
    row["values"] = vals
    return row
