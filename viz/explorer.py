"""The interactive BPTT explorer: one self-contained HTML page for the notes' question

    "Which weights (including copies of the same weight) are used in one backpropagation through time
    gradient descent step when computing ∂C/∂w^(x)? Use the slider to unfold the network given an
    input sequence."

A slider sets the input sequence length T (1–8), a switch makes the output a sequence (one output per
step) and a choice of parameter picks ∂C/∂w^(x), ∂C/∂w^(a) or ∂C/∂w^(o). Every one of the 8 × 2 × 3
settings is unfolded and drawn ahead of time with the project's own export (``tg.graph.to_dot`` with
``copies=True`` and the gradient path highlighted, rendered to SVG by Graphviz) and the copies that the
gradient uses are counted by ``tg.graph.gradient_path``; the page embeds all of it (no server, no network)
and its script only swaps what is shown.

    python -m viz.explorer [--out viz/explorer.html]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tinygrad_rnn as tg
from tinygrad_rnn.graph import step_of

from .notes_models import vanilla_rnn

T_MAX = 8
WEIGHTS = ("w^(x)", "w^(a)", "w^(o)")
KEYS = {"w^(x)": "wx", "w^(a)": "wa", "w^(o)": "wo"}
DEFAULT_OUT = Path(__file__).resolve().parent / "explorer.html"
QUESTION = (
    "Which weights (including copies of the same weight) are used in one backpropagation through "
    "time gradient descent step when computing ∂C/∂w^(x)? Use the slider to unfold the network given "
    "an input sequence."
)

USED_FILL = "#fb6a4a"  # a weight copy that the gradient uses
TARGET_FILL = "#cb181d"  # ... and it is a copy of the weight being differentiated


def key(T: int, per_step: bool, weight: str) -> str:
    """The data key of one setting, as the page's script builds it: '3-1-wx'."""
    return f"{T}-{int(per_step)}-{KEYS[weight]}"


def _html_name(name: str) -> str:
    """w^(x) -> w<sup>(x)</sup> (the notes' notation)."""
    m = re.fullmatch(r"(\w)\^\((\w)\)", name)
    return f"{m.group(1)}<sup>({m.group(2)})</sup>" if m else html.escape(name)


def _steps(labels: list) -> str:
    nums = [s[2:] for s in labels]
    return "t = " + ", ".join(nums) if nums else "—"


# ----------------------------------------------------------------------------------------------------
# DOT → SVG
# ----------------------------------------------------------------------------------------------------

_NODE_LINE = re.compile(r'^(\s*)(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')


def _restyle(dot: str, g: tg.graph.Graph, path: tg.graph.GradientPath) -> str:
    """Make the exported DOT read like the notes' unfolded network: inputs named x_t / y_t / a_0, the loss
    named C, weight copies labelled by step and filled red where the gradient uses them, no shape labels
    on the edges, a tighter layout. Every node and edge stays as the export drew it."""
    labels: dict = {}
    attrs: dict = {}
    inc = g.incoming()
    for n in g.nodes.values():
        if n.kind == "param":
            step = step_of(n.scope) or ""
            labels[n.id] = f"{n.name}\\ncopy at {step}" if step else n.name
            classes = f"copy {KEYS.get(n.name, 'bias')}"
            if step in path.copies.get(n.name, []):
                fill = TARGET_FILL if n.name == path.weight else USED_FILL
                attrs[n.id] = (f'fillcolor="{fill}" fontcolor="white" class="{classes} used"', "#fdd49e")
            else:
                attrs[n.id] = (f'class="{classes} unused"', None)
        elif n.kind == "output":
            labels[n.id] = "C"
        elif n.kind == "const":
            for e in g.edges:
                if e.src != n.id:
                    continue
                op = g.nodes[e.dst]
                t = (step_of(op.scope) or "t=?")[2:]
                others = {g.nodes[o.src].name for o in inc[op.id] if o.src != n.id}
                if op.op == "MatMul" and "w^(x)" in others:
                    labels[n.id] = f"x_{t}"
                elif op.op == "MatMul" and "w^(a)" in others:
                    labels[n.id] = "a_0 = 0"
                elif op.op == "Sub":
                    labels[n.id] = f"y_{t}"
    out = []
    for line in dot.splitlines():
        if " -> " in line:  # edges: drop the tensor-shape labels (every edge has one; they crowd the drawing)
            line = re.sub(r'label="[^"]*" ?', "", line).replace(" []", "")
        elif line.lstrip().startswith("graph ["):
            line = line.replace("newrank=true", "newrank=true ranksep=0.28 nodesep=0.14", 1)
        else:
            m = _NODE_LINE.match(line)
            if m and m.group(2) in labels:
                indent, nid, _, rest = m.groups()
                extra, old_fill = attrs.get(nid, ("", None))
                if old_fill:
                    rest = rest.replace(f'fillcolor="{old_fill}"', "")
                rest = re.sub(r"\s+", " ", rest + " " + extra).rstrip()
                line = f'{indent}{nid} [label="{labels[nid]}"{rest}];'
        out.append(line)
    return "\n".join(out) + "\n"


def _round_attr(m: re.Match) -> str:
    """Coordinates to whole points (0.2 mm at print size; the page is smaller for it)."""
    return f' {m.group(1)}="' + re.sub(r"-?\d+\.\d+", lambda n: f"{round(float(n.group())):d}", m.group(2)) + '"'


def _clean_svg(svg: str) -> str:
    """Graphviz's SVG, trimmed for inlining: no XML prolog, DOCTYPE, comments, <title> tooltips (node ids),
    element ids or per-text font family (the page's CSS sets it), coordinates to whole points."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r"<title>.*?</title>\n?", "", svg, flags=re.S)
    svg = re.sub(r' id="(?:node|edge|clust)\d+"', "", svg).replace(' font-family="Helvetica,sans-Serif"', "")
    if "xlink:" not in svg.replace("xmlns:xlink", ""):
        svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    svg = re.sub(r' (points|d|x|y|cx|cy|rx|ry|viewBox|transform)="([^"]*)"', _round_attr, svg)
    return svg.strip() + "\n"


def _svg(dot: str) -> str:
    return _clean_svg(tg.graph.render(dot, format="svg").pipe(format="svg").decode("utf-8"))


# ----------------------------------------------------------------------------------------------------
# Text: the counts and why
# ----------------------------------------------------------------------------------------------------


def _copies_html(weight: str, counts: dict) -> str:
    """'∂C/∂w^(x) uses 3 copies of w^(x), 2 of w^(a) and 1 of w^(o).' with each count in a tagged span."""
    order = [weight] + [w for w in WEIGHTS if w != weight]
    parts = []
    for w in order:
        n = counts[w]
        if not n:
            continue
        num = f'<b class="count" data-weight="{KEYS[w]}">{n}</b>'
        noun = ("copy" if n == 1 else "copies") + " of " if not parts else "of "
        parts.append(f"{num} {noun}{_html_name(w)}")
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    none = [w for w in order if not counts[w]]
    if none:
        text += "; none of " + " or ".join(_html_name(w) for w in none)
    return f"∂C/∂{_html_name(weight)} uses {text}."


def _explanation_html(T: int, per_step: bool, weight: str) -> str:
    wx, wa, wo = (_html_name(w) for w in WEIGHTS)
    w = _html_name(weight)
    if per_step:
        model = (
            f"one output o<sub>t</sub> = {wo}·a<sub>t</sub> + b<sup>(o)</sup> at every step and "
            "C = Σ<sub>t</sub> C<sub>t</sub>"
        )
        head = "Σ<sub>t=1</sub><sup>T</sup> Σ<sub>s=1</sub><sup>t</sup> ∂C<sub>t</sub>/∂o<sub>t</sub> · "
        head += "∂o<sub>t</sub>/∂a<sub>t</sub> · ∂a<sub>t</sub>/∂a<sub>t−1</sub> ⋯ ∂a<sub>s+1</sub>/∂a<sub>s</sub>"
        wo_use = f"each ∂o<sub>t</sub>/∂a<sub>t</sub> contains the copy of {wo} at step t (T = {T} copies)"
    else:
        model = f"one output o = {wo}·a<sub>T</sub> + b<sup>(o)</sup> at the end"
        head = (
            "Σ<sub>s=1</sub><sup>T</sup> ∂C/∂o · ∂o/∂a<sub>T</sub> · ∂a<sub>T</sub>/∂a<sub>T−1</sub> ⋯ "
            "∂a<sub>s+1</sub>/∂a<sub>s</sub>"
        )
        wo_use = f"∂o/∂a<sub>T</sub> contains the one copy of {wo}, at t = T"
    intro = (
        f"Unfolded over T = {T} step{'s' if T > 1 else ''}, a<sub>t</sub> = g({wx}·x<sub>t</sub> + "
        f"{wa}·a<sub>t−1</sub> + b<sup>(a)</sup>) with g = tanh and a<sub>0</sub> = 0, and {model}. "
    )
    if weight == "w^(o)":
        if per_step:
            formula = (
                f"∂C/∂{wo} = Σ<sub>t=1</sub><sup>T</sup> ∂C<sub>t</sub>/∂o<sub>t</sub> · "
                "∂o<sub>t</sub>/∂" + wo + " = Σ<sub>t</sub> ∂C<sub>t</sub>/∂o<sub>t</sub> · a<sub>t</sub>"
            )
            why = f"One term per output, each with the copy of {wo} at its own step (T = {T} copies). "
        else:
            formula = f"∂C/∂{wo} = ∂C/∂o · ∂o/∂{wo} = ∂C/∂o · a<sub>T</sub>"
            why = f"Only the one copy of {wo}, at t = T, is used. "
        why += (
            f"The gradient never goes back through the recurrence ({wo} multiplies the activations, which "
            f"do not depend on it), so no copy of {wx} or {wa} is used."
        )
    else:
        formula = f"∂C/∂{w} = {head} · ∂a<sub>s</sub>/∂{w}"
        direct = "x<sub>s</sub>" if weight == "w^(x)" else "a<sub>s−1</sub>"
        why = (
            f"Every copy of {w} (one per step, T = {T}) is differentiated directly: "
            f"∂a<sub>s</sub>/∂{w} = g′(…) {direct}. "
        )
        if weight == "w^(x)":
            why += (
                f"Each Jacobian ∂a<sub>s+1</sub>/∂a<sub>s</sub> = g′(…) {wa} contains the copy of {wa} at "
                f"step s + 1, so T − 1 = {T - 1} cop{'y' if T - 1 == 1 else 'ies'} of {wa} "
                f"{'is' if T - 1 == 1 else 'are'} used; the copy at t = 1 multiplies a<sub>0</sub> = 0, "
                f"which does not depend on {wx}. "
            )
        else:
            why += (
                f"The copies at steps 2…T also appear in the Jacobians ∂a<sub>s+1</sub>/∂a<sub>s</sub> = "
                f"g′(…) {wa}. {wx} multiplies only the inputs x<sub>t</sub>, which do not depend on {wa}, "
                f"so no copy of it is used. "
            )
        why += wo_use[0].upper() + wo_use[1:] + "."
    return (
        f'<p>{intro}</p><p class="formula">{formula}</p><p>{why} The biases b<sup>(a)</sup>, '
        "b<sup>(o)</sup> are only added, never multiplied, so they are in no factor of the gradient.</p>"
    )


def _table_html(path_copies: dict, weight: str) -> str:
    rows = []
    for w in WEIGHTS:
        steps = path_copies.get(w, [])
        cls = ' class="target"' if w == weight else ""
        rows.append(
            f'<tr{cls} data-weight="{KEYS[w]}"><th>{_html_name(w)}</th><td class="n">{len(steps)}</td>'
            f"<td>{_steps(steps)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>weight</th><th>copies used</th><th>at steps</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


# ----------------------------------------------------------------------------------------------------
# The data and the page
# ----------------------------------------------------------------------------------------------------


def settings() -> list:
    """Every (T, per_step, weight) the page offers, in a fixed order."""
    return [(T, per_step, w) for per_step in (False, True) for T in range(1, T_MAX + 1) for w in WEIGHTS]


def build_data(workers: int = 8) -> dict:
    """{key: entry} for every setting; each entry holds the SVG, the copies (from gradient_path) and the text."""
    entries, dots = {}, []
    for T, per_step, weight in settings():
        loss, params = vanilla_rnn(T, output_per_step=per_step)
        g = tg.graph.graph(loss, params=params, copies=True)
        path = tg.graph.gradient_path(g, weight)
        dot = tg.graph.to_dot(loss, params=params, highlight=weight, copies=True, legend=False)
        dots.append(_restyle(dot, g, path))
        counts = {w: path.count(w) for w in WEIGHTS}
        entries[key(T, per_step, weight)] = {
            "T": T,
            "per_step": per_step,
            "weight": weight,
            "copies": {w: list(path.copies.get(w, [])) for w in WEIGHTS},
            "counts": counts,
            "summary": path.summary(),
            "copies_html": _copies_html(weight, counts),
            "table_html": _table_html(path.copies, weight),
            "explanation_html": _explanation_html(T, per_step, weight),
        }
    with ThreadPoolExecutor(max_workers=workers) as pool:  # `dot` runs as a subprocess: render in parallel
        svgs = list(pool.map(_svg, dots))
    for entry, svg in zip(entries.values(), svgs):
        entry["svg"] = svg
    return entries


def _json_for_script(obj: object) -> str:
    """JSON that is safe inside <script>: no '</' (which would end the element)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")


CSS = """
:root { --red: #cb181d; --ink: #1d1d1f; --muted: #6e6e73; --line: #d9d9de; --card: #ffffff; --bg: #f5f5f7;
        --accent: #54278f; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, "DejaVu Sans", sans-serif; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 22px; margin: 0 0 6px; }
blockquote { margin: 0 0 14px; padding: 8px 14px; border-left: 4px solid var(--accent); background: #efeaf7;
             border-radius: 0 8px 8px 0; color: #3a2a55; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 18px;
        margin-bottom: 14px; }
.controls { display: flex; flex-wrap: wrap; gap: 12px 34px; align-items: center; }
.control { display: flex; align-items: center; gap: 10px; }
.control .name { font-weight: 600; }
#T { width: 220px; accent-color: var(--accent); }
#T-value { display: inline-block; min-width: 2ch; font-weight: 700; font-size: 18px; color: var(--accent); }
.switch { appearance: none; -webkit-appearance: none; margin: 0; width: 42px; height: 24px; border-radius: 12px;
          background: #c7c7cc; position: relative; cursor: pointer; transition: background .15s; flex: none; }
.switch::before { content: ""; position: absolute; top: 3px; left: 3px; width: 18px; height: 18px;
                  border-radius: 50%; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.3);
                  transition: left .15s; }
.switch:checked { background: var(--accent); }
.switch:checked::before { left: 21px; }
.switch:focus-visible, .seg input:focus-visible + span { outline: 2px solid #0a84ff; outline-offset: 2px; }
.seg { display: inline-flex; border: 1px solid var(--accent); border-radius: 8px; overflow: hidden; }
.seg label { position: relative; cursor: pointer; }
.seg input { position: absolute; opacity: 0; width: 1px; height: 1px; margin: 0; pointer-events: none; }
.seg span { display: block; padding: 3px 14px; color: var(--accent); }
.seg label + label span { border-left: 1px solid var(--accent); }
.seg input:checked + span { background: var(--accent); color: #fff; }
.result { display: grid; grid-template-columns: minmax(0, 1.6fr) minmax(260px, 1fr); gap: 4px 28px; }
#copies { font-size: 19px; margin: 12px 0 0; padding-top: 10px; border-top: 1px solid #eee; }
#copies .count { color: var(--red); font-size: 22px; }
#explanation p { margin: 6px 0; }
#explanation .formula { font-family: "Cambria Math", "STIX Two Math", "DejaVu Serif", serif; font-size: 16px;
                        background: #fafafa; border: 1px solid #eee; border-radius: 6px; padding: 6px 10px;
                        overflow-x: auto; white-space: nowrap; }
table { border-collapse: collapse; width: 100%; margin-bottom: 10px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; }
td.n { font-weight: 700; font-variant-numeric: tabular-nums; }
tr.target th { color: var(--red); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 12.5px; color: #3a3a3c; }
.legend > div { display: flex; align-items: center; gap: 6px; }
.sw { display: inline-block; width: 26px; height: 14px; border-radius: 4px; flex: none; }
.sw.target { background: #cb181d; border: 2.5px solid #e31a1c; }
.sw.used { background: #fb6a4a; border: 1px solid #d94801; }
.sw.param { background: #fdd49e; border: 1px solid #d94801; }
.sw.path { background: #eeeeee; border: 2.5px solid #e31a1c; border-radius: 8px; }
.sw.input { background: #f7f7f7; border: 1px dotted #969696; }
.sw.edge, .sw.rec { height: 0; border-radius: 0; border-top: 3px solid #e31a1c; }
.sw.rec { border-top-color: #08519c; }
.graph-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px;
              margin-bottom: 8px; }
.graph-head label.fit { cursor: pointer; white-space: nowrap; color: var(--muted); font-size: 13px; }
.caption { margin: 6px 0 0; color: var(--muted); font-size: 12.5px; }
#graph { overflow: auto; max-height: 70vh; border: 1px solid #eee; border-radius: 8px; background: #fff; }
#graph svg { display: block; }
#graph svg text { font-family: Helvetica, Arial, "DejaVu Sans", sans-serif; }
#graph.fit svg { max-width: 100%; height: auto; margin: 0 auto; }
footer { max-width: 1280px; margin: 0 auto 24px; padding: 0 20px; color: var(--muted); font-size: 12px; }
@media (max-width: 820px) { .result { grid-template-columns: 1fr; } }
"""

JS = """
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  var T = document.getElementById("T"), perStep = document.getElementById("per-step");
  var fit = document.getElementById("fit"), graph = document.getElementById("graph");
  function weight() { return document.querySelector('#param input[name="param"]:checked').value; }
  function currentKey() { return T.value + "-" + (perStep.checked ? 1 : 0) + "-" + weight(); }
  function update() {
    var k = currentKey(), d = DATA[k];
    document.getElementById("T-value").textContent = T.value;
    T.setAttribute("aria-valuetext", "T = " + T.value);
    if (graph.dataset.key !== k) {
      graph.innerHTML = document.querySelector('script.svg-data[data-key="' + k + '"]').textContent;
      graph.dataset.key = k;
    }
    document.getElementById("copies").innerHTML = d.copies_html;
    document.getElementById("copies-table").innerHTML = d.table_html;
    document.getElementById("explanation").innerHTML = d.explanation_html;
  }
  T.addEventListener("input", update);
  T.addEventListener("change", update);
  perStep.addEventListener("change", update);
  Array.prototype.forEach.call(document.querySelectorAll('#param input[name="param"]'), function (r) {
    r.addEventListener("change", update);
  });
  fit.addEventListener("change", function () { graph.classList.toggle("fit", fit.checked); });
  graph.classList.toggle("fit", fit.checked);
  update();
})();
"""


def page(data: dict) -> str:
    """The HTML page for ``data`` (from :func:`build_data`)."""
    radios = "".join(
        f'<label><input type="radio" name="param" value="{KEYS[w]}" id="param-{KEYS[w]}"'
        f'{" checked" if w == "w^(x)" else ""}><span>∂C/∂{_html_name(w)}</span></label>'
        for w in WEIGHTS
    )
    text = {k: {f: v for f, v in e.items() if f != "svg"} for k, e in data.items()}
    svgs = "\n".join(
        f'<script type="image/svg+xml" class="svg-data" data-key="{k}">\n{e["svg"]}</script>' for k, e in data.items()
    )
    question = html.escape(QUESTION).replace("∂C/∂w^(x)", "∂C/∂" + _html_name("w^(x)"))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BPTT explorer: which weight copies does the gradient use?</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Backpropagation through time: which weight copies does the gradient use?</h1>
<blockquote>{question}</blockquote>
</header>
<main>
<section class="card" aria-label="settings">
 <div class="controls">
  <div class="control"><label class="name" for="T">Input sequence length</label>
    <input type="range" id="T" min="1" max="{T_MAX}" step="1" value="3"> <span>T = <span id="T-value">3</span></span></div>
  <div class="control"><input type="checkbox" class="switch" id="per-step" role="switch">
    <label class="name" for="per-step">Output is also a sequence</label></div>
  <div class="control"><span class="name" id="param-label">Gradient</span>
    <div class="seg" id="param" role="radiogroup" aria-labelledby="param-label">{radios}</div></div>
 </div>
 <p id="copies" aria-live="polite"></p>
</section>
<section class="card">
  <div class="graph-head">
    <div class="legend">
      <div><span class="sw target"></span><span>copy of the weight being differentiated</span></div>
      <div><span class="sw used"></span><span>copy of another weight the gradient uses</span></div>
      <div><span class="sw param"></span><span>weight or bias copy not used</span></div>
      <div><span class="sw path"></span><span>on the gradient path (depends on the weight)</span></div>
      <div><span class="sw edge"></span><span>gradient path edge</span></div>
      <div><span class="sw rec"></span><span>recurrent edge a<sub>t−1</sub> → a<sub>t</sub></span></div>
      <div><span class="sw input"></span><span>inputs x<sub>t</sub>, targets y<sub>t</sub>, a<sub>0</sub></span></div>
    </div>
    <label class="fit"><input type="checkbox" id="fit" checked> fit to width</label></div>
  <div id="graph" class="fit" role="img" aria-label="the unfolded network with the gradient path highlighted"></div>
  <p class="caption">The unfolded network, one cluster per time step, drawn by
    <code>tg.graph.to_dot(loss, params=params, highlight=w, copies=True)</code> and Graphviz.</p>
</section>
<section class="card result">
  <div id="explanation"></div>
  <div id="copies-table"></div>
</section>
</main>
<footer>Generated by <code>python -m viz.explorer</code> (tinygrad_rnn {html.escape(tg.__version__)}):
{len(data)} settings pre-rendered with Graphviz; counts from <code>tg.graph.gradient_path</code>.</footer>
<script type="application/json" id="explorer-data">{_json_for_script(text)}</script>
{svgs}
<script>{JS}</script>
</body>
</html>
"""


def write(out: str | Path = DEFAULT_OUT) -> Path:
    """Build every setting and write the page to ``out``; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(build_data()), encoding="utf-8")
    return out


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m viz.explorer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="the HTML file to write (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        out = write(args.out)
    except tg.graph.GraphvizMissing as e:
        print(f"explorer: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(settings())} settings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
