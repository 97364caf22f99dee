"""The BPTT suite's results as Markdown (the generated section of bench/README.md): the header with
the machine, BLAS kernel and recurrent kernels in use, the targets, one table per config, the
interleaved A/B, first-call latency, linear scaling and per-op overhead."""

from __future__ import annotations

from typing import Any

from .interleave import pair

ROW_ORDER = (
    "numpy_ref",
    "tinygrad_rnn",
    "tinygrad_numpy_kernels",
    "tinygrad_composed",
    "torch_fused",
    "torch_cells",
    "jax_scan",
    "dezero",
)


def _f(v: Any, fmt: str = ".2f", none: str = "—") -> str:
    return none if v is None else format(v, fmt)


def machine_line(res: dict) -> str:
    m = res.get("env", {}).get("machine", {})
    return (
        f"{m.get('cpu_model', '?')}, {m.get('logical_cores', '?')} logical cores"
        f" ({m.get('physical_cores') or '?'} physical, {m.get('usable_cores', '?')} usable),"
        f" {m.get('memory_gb', '?')} GB RAM; {m.get('platform', '?')}, Python {m.get('python', '?')}"
    )


def blas_line(res: dict) -> str:
    """NumPy's BLAS as threadpoolctl sees it in a worker (the kernel actually chosen at run time) and
    the variables that force OpenBLAS's kernel choice."""
    env = res.get("env", {})
    v = env.get("versions", {})
    pools = v.get("threadpools")
    if isinstance(pools, list):
        blas = [p for p in pools if p.get("user_api") == "blas"] or pools
        kern = "; ".join(
            f"{p.get('internal_api')} {p.get('version')}, `{p.get('architecture')}` kernel, "
            f"{p.get('num_threads')} threads"
            for p in blas
        )
    else:
        kern = str(pools or "threadpoolctl not run")
    te = env.get("thread_env", {})
    forced = ", ".join(f"{k}={te.get(k) or 'unset'}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    return f"BLAS kernel in use (threadpoolctl): {kern}; {forced}"


def kernels_line(res: dict) -> str:
    """Which recurrent kernels each tinygrad_rnn row ran on (``tinygrad_rnn.info()`` in its workers)."""
    v = res.get("env", {}).get("versions", {})
    seen: dict[str, str] = {}
    for r in res.get("results", []):
        ki = r.get("kernel_info")
        if r.get("impl") in ("tinygrad_rnn", "tinygrad_numpy_kernels") and ki and r["impl"] not in seen:
            seen[r["impl"]] = f"{ki.get('kernels', '?')} (backend {ki.get('backend', '?')})"
    if not seen:
        info = v.get("tinygrad_rnn_info")
        seen["tinygrad_rnn"] = (
            f"{info.get('kernels', '?')} (backend {info.get('backend', '?')})"
            if info
            else "not reported (no tinygrad_rnn.info())"
        )
    parts = "; ".join(f"`{k}`: {t}" for k, t in seen.items())
    return f"Recurrent kernels: {parts}; numba {v.get('numba') or 'not installed'}"


def _header(res: dict) -> list[str]:
    v = res.get("env", {}).get("versions", {})
    kind = "quick smoke run (few steps: not a measurement)" if res["quick"] else "full run"
    blas = v.get("numpy_blas")
    blas_txt = f"{blas.get('name')} {blas.get('version')}" if isinstance(blas, dict) else str(blas)
    td = v.get("torch_detail", {})
    g = res.get("gemm_peak", {})
    s = res["settings"]
    L = [f"### {res['started_utc']} — {kind}", ""]
    L.append(f"- Machine: {machine_line(res)}; load average at end {_f((res.get('load_average_at_end') or [None])[0])}")
    L.append(f"- {blas_line(res)}")
    L.append(f"- {kernels_line(res)}")
    L.append(
        f"- numpy {v.get('numpy', '?')} ({blas_txt}); {v.get('torch', 'torch ?')}"
        + (f" (BLAS {td.get('blas')}, {td.get('cpu_capability')})" if td else "")
        + f"; {v.get('jax', 'jax ?')}; tinygrad_rnn {v.get('tinygrad_rnn', '?')}"
    )
    L.append(
        f"- float32 GEMM peak: {_f(g.get('gflops'), '.1f')} GFLOP/s (best NumPy {g.get('n')}³ sgemm; "
        f"{_f(g.get('start', {}).get('gflops'), '.1f')} at the start of the run, "
        f"{_f(g.get('end', {}).get('gflops'), '.1f')} after the timings)"
    )
    L.append(
        f"- {s['rounds']} round(s), rotated order; per round and pair: >= {s['warmup']} warm-up steps "
        f"(and >= {s.get('warmup_seconds', 0):g} s of them) + at least {s['repeats']} timed steps, more "
        f"(up to {s.get('max_timed', 200)}) until {s.get('timed_seconds', 0):g} s of them "
        f"(fewer past {s['budget_s']:.0f} s); median and min over all timed steps"
    )
    if res.get("absent"):
        L.append(
            "- Absent (not installed or not importable): " + "; ".join(f"{k} ({r})" for k, r in res["absent"].items())
        )
    return L


def _targets(res: dict) -> list[str]:
    rows = res.get("targets") or []
    if not rows:
        return []
    L = ["", "#### Targets", "", "| target | measured | | from |", "|---|---|---|---|"]
    for t in rows:
        mark = {"met": "**met**", "not met": "**not met**"}.get(t["status"], t["status"])
        L.append(f"| {t['target']} | {t['measured']} | {mark} | {t.get('source', '')} |")
    base = res.get("baseline")
    if base:
        L += [
            "",
            f"Baseline of the NumPy-kernels row: `{base.get('path')}` ({base.get('started_utc')}, "
            f"its `{base.get('source')}` row).",
        ]
    return L


def _config_table(res: dict, c: dict) -> list[str]:
    lens = c.get("lengths")
    extra = (
        f"; lengths in [{min(lens)}, {max(lens)}], {sum(lens):,} valid positions of {c['T'] * c['batch']:,}"
        if lens
        else ""
    )
    L = [
        "",
        f"#### {c.get('title', c['key'])} (`{c['key']}`; {c['gemm_gflop_per_step']:.3f} GFLOP of GEMM per step{extra})",
        "",
    ]
    L.append(
        "| implementation | check | median ms | min ms | × NumPy ref | × torch fused | GFLOP/s | % of peak "
        "| peak MB | RSS Δ MB | traced MB | first step ms |"
    )
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    rows = [r for r in res["results"] if r["config"] == c["key"] and r["status"] != "absent"]
    rows.sort(key=lambda r: ROW_ORDER.index(r["impl"]) if r["impl"] in ROW_ORDER else len(ROW_ORDER))
    for r in rows:
        name = f"`{r['impl']}`"
        if r["status"] == "n/a":
            L.append(f"| {name} | n/a ({r.get('reason')}) |" + " |" * 10)
            continue
        if r.get("median_ms") is None:
            L.append(f"| {name} | {r['status'].upper()}: {r.get('reason')} |" + " |" * 10)
            continue
        chk = {True: "ok", False: "**FAILED**", None: "not run"}[r.get("check_passed")]
        warn = " ⚠" if r.get("flagged") else ""
        pct = None if r.get("frac_of_peak") is None else 100 * r["frac_of_peak"]
        first = (r.get("first_step_ms") or [None])[0]
        L.append(
            f"| {name} | {chk} | {_f(r['median_ms'])}{warn} | {_f(r['min_ms'])} "
            f"| {_f(r.get('ratio_to_numpy_ref'))} | {_f(r.get('ratio_to_torch_fused'))} "
            f"| {_f(r.get('gflops'), '.1f')} | {_f(pct, '.1f')} | {_f(r.get('peak_mb'), '.1f')} "
            f"| {_f(r.get('rss_delta_mb'), '.1f')} | {_f(r.get('traced_peak_mb'), '.1f')} | {_f(first, '.1f')} |"
        )
    return L


def _interleaved(res: dict) -> list[str]:
    inter = [r for r in res.get("interleaved") or [] if r.get("status") == "ok"]
    if not inter:
        return []
    names = [n for n in ROW_ORDER if any(n in r["median_ms"] for r in inter)]
    L = [
        "",
        "#### Interleaved A/B: separate processes stepped in turn "
        f"({res['settings'].get('interleaved_seconds', 0):g} s per config)",
        "",
        "Each cycle steps every participant once, order rotated per cycle; the others are "
        + ("stopped (SIGSTOP) meanwhile" if res["settings"].get("interleaved_stop", True) else "left running")
        + ". Medians of the per-step times, and ratios of those medians:",
        "",
        "| config | cycles | "
        + " | ".join(f"`{n}` ms" for n in names)
        + " | rnn ÷ torch fused | rnn ÷ NumPy ref | NumPy kernels ÷ NumPy ref |",
        "|---|--:|" + "--:|" * len(names) + "--:|--:|--:|",
    ]
    for r in inter:
        meds = " | ".join(_f(r["median_ms"].get(n)) for n in names)
        L.append(
            f"| {r['config']} | {r['steps']} | {meds} | {_f(pair(r, 'tinygrad_rnn', 'torch_fused'), '.3f')} "
            f"| {_f(pair(r, 'tinygrad_rnn', 'numpy_ref'), '.3f')} "
            f"| {_f(pair(r, 'tinygrad_numpy_kernels', 'numpy_ref'), '.3f')} |"
        )
    return L


def _cache_txt(phase: dict) -> str:
    nc = phase.get("numba_cache") or {}
    what = f" ({nc['cache_misses']} compiled)" if nc.get("cache_misses") else ""
    what = what or (f" ({nc['cache_hits']} loaded)" if nc.get("cache_hits") else "")
    return _f(phase.get("first_step_ms"), ".1f") + what


def _first_call(res: dict) -> list[str]:
    by = {(r["impl"], r["config"]): r for r in res.get("results", [])}
    cold = {r["config"]: r for r in res.get("cold_start") or []}
    keys = [c["key"] for c in res["configs"] if ("tinygrad_rnn", c["key"]) in by or c["key"] in cold]
    if not keys:
        return []
    L = [
        "",
        "#### First call: the first training step in a fresh process (ms)",
        "",
        "tinygrad_rnn in a process with a numba cache of its own (a new `NUMBA_CACHE_DIR`), first empty "
        "(every kernel compiled), then holding what that process wrote (every kernel loaded from disk); "
        "in round 1 of the main table, with numba's default cache as it was (warm = loaded, cold = "
        "compiled); its steady-state step; the other implementations' first steps in round 1.",
        "",
        "| config | rnn, empty cache | rnn, warm cache | rnn, round 1 | rnn steady median "
        "| NumPy kernels | torch fused | jax |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def first(name: str, key: str) -> str:
        fs = (by.get((name, key)) or {}).get("first_step_ms") or []
        return _f(fs[0] if fs else None, ".1f")

    for k in keys:
        tg = by.get(("tinygrad_rnn", k)) or {}
        warm = tg.get("numba_cache_warm") or [None]
        r1 = first("tinygrad_rnn", k) + {True: " (warm)", False: " (cold)"}.get(warm[0], "")
        c = cold.get(k) or {}
        L.append(
            f"| {k} | {_cache_txt(c.get('empty') or {})} | {_cache_txt(c.get('warm') or {})} | {r1} "
            f"| {_f(tg.get('median_ms'))} | {first('tinygrad_numpy_kernels', k)} | {first('torch_fused', k)} "
            f"| {first('jax_scan', k)} |"
        )
    return L


def _scaling(res: dict) -> list[str]:
    if not res.get("scaling"):
        return []
    L = ["", "#### Linear scaling in T (lstm, B=16, I=H=64)", ""]
    L.append("| implementation | T | median ms | ms per time step | RSS Δ MB | traced MB | traced KB per time step |")
    L.append("|---|--:|--:|--:|--:|--:|--:|")
    for r in sorted(res["scaling"], key=lambda r: (str(r.get("impl")), r["T"])):
        if r.get("median_ms") is None:
            L.append(f"| `{r.get('impl')}` | {r['T']} | {r.get('status')}: {r.get('reason')} | | | | |")
            continue
        L.append(
            f"| `{r['impl']}` | {r['T']:,} | {_f(r['median_ms'], '.1f')} | {_f(r['ms_per_time_step'], '.3f')} "
            f"| {_f(r.get('rss_delta_mb'), '.1f')} | {_f(r.get('traced_peak_mb'), '.1f')} "
            f"| {_f(r.get('traced_kb_per_time_step'), '.1f')} |"
        )
    lin = res.get("scaling_summary") or {}
    if lin:
        L += ["", "Growth per step of T (time × / traced memory ×; 10× T should cost ≤ 11× both):", ""]
        for k, x in lin.items():
            parts = [
                f"T {st['T_from']:,}→{st['T_to']:,}: {_f(st['time_factor'], '.1f')}× / "
                f"{_f(st.get('traced_factor'), '.1f')}×"
                for st in x.get("steps", [])
            ]
            L.append(
                f"- `{k}`: "
                + "; ".join(parts)
                + f" (ms per time step, largest ÷ smallest T: {_f(x.get('time_ratio'))})"
            )
    return L


def _overhead(res: dict) -> list[str]:
    ovh = res.get("overhead")
    if not ovh:
        return []
    if not ovh.get("rows"):
        return ["", f"Per-op overhead: {ovh.get('status')}: {ovh.get('reason')}"]
    L = [
        "",
        f"#### Per-op overhead (bench/overhead.py: forward+backward on 2x2 float32, µs per op, "
        f"median of {ovh['repeats']} chains of {ovh['ops_per_run']} ops)",
        "",
    ]
    has_t = any("torch_us" in r for r in ovh["rows"])
    L.append("| op | tinygrad_rnn µs |" + (" torch µs | × torch |" if has_t else ""))
    L.append("|---|--:|" + ("--:|--:|" if has_t else ""))
    for r in ovh["rows"]:
        line = f"| {r['op']} | {r['tinygrad_us']:.2f} |"
        if has_t:
            ratio = r["tinygrad_us"] / r["torch_us"] if r.get("torch_us") else None
            line += f" {_f(r.get('torch_us'))} | {_f(ratio)} |"
        L.append(line)
    return L


def render_markdown(res: dict) -> str:
    """The results as Markdown: header, targets, one table per config, interleaved A/B, first
    call, scaling, overhead."""
    L = _header(res)
    L += _targets(res)
    L += [
        "",
        "× columns are time ratios within this run (> 1 = slower than the reference / PyTorch fused), "
        "paired by round: the median over rounds of (median in round k / the base's median in round k), "
        "which cancels most of the machine's drift between rounds (the JSON also has the pooled ratio). "
        "GFLOP/s counts only the GEMMs of forward + backward (`impls/common.py:gemm_flops`). "
        "peak MB: peak RSS of the timed steps above the RSS before the model was built; RSS Δ: growth of "
        "the worker's peak RSS over building + stepping (first-call compilation included); traced: "
        "tracemalloc peak of build + one step (NumPy-based implementations only). first step: the "
        "first training step of round 1's fresh process. n/a: the implementation does not run that config.",
    ]
    for c in res["configs"]:
        L += _config_table(res, c)
    L += _interleaved(res)
    L += _first_call(res)
    L += _scaling(res)
    L += _overhead(res)
    return "\n".join(L) + "\n"
