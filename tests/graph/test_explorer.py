"""The interactive BPTT explorer (viz/explorer.py): the page it builds and the page in a real browser.

The copies embedded for every setting must equal the hand-derived answer to the notes' question for the
vanilla RNN unfolded over T steps (a_0 = 0, so w^(a)'s copy at t = 1 multiplies a constant):

* one output at the end:  ∂C/∂w^(x): w^(x) × T, w^(a) × (T − 1), w^(o) × 1;  ∂C/∂w^(a): w^(a) × T, w^(o) × 1;
  ∂C/∂w^(o): w^(o) × 1 (at t = T);
* an output per step:     the same, except that w^(o) is used at every step (× T).
"""

import json
import re
import shutil
import struct
from pathlib import Path

import pytest

pytest.importorskip("graphviz")
if shutil.which("dot") is None:  # the page is rendered by Graphviz
    pytest.skip("the Graphviz `dot` program is not installed", allow_module_level=True)

from viz import explorer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SVG_BLOCK = re.compile(r'<script type="image/svg\+xml" class="svg-data" data-key="([^"]+)">\n(.*?)</script>', re.S)


def _expected(T: int, per_step: bool, weight: str) -> dict:
    """The hand-derived copies: weight -> the steps whose copy the gradient uses."""
    every = [f"t={t}" for t in range(1, T + 1)]
    wo = every if per_step else [f"t={T}"]
    return {
        "w^(x)": {"w^(x)": every, "w^(a)": every[1:], "w^(o)": wo},
        "w^(a)": {"w^(x)": [], "w^(a)": every, "w^(o)": wo},
        "w^(o)": {"w^(x)": [], "w^(a)": [], "w^(o)": wo},
    }[weight]


def _data(text: str) -> dict:
    return json.loads(
        re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', text, re.S).group(1)
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer") / "explorer.html"
    assert explorer.main(["--out", str(out)]) == 0
    return out


def test_page_embeds_every_setting_offline(page):
    text = page.read_text(encoding="utf-8")
    keys = {explorer.key(T, s, w) for T in range(1, 9) for s in (False, True) for w in explorer.WEIGHTS}
    assert len(keys) == 48
    svgs = dict(SVG_BLOCK.findall(text))
    assert len(SVG_BLOCK.findall(text)) == 48 and set(svgs) == keys
    assert all(s.startswith("<svg ") and s.rstrip().endswith("</svg>") for s in svgs.values())
    assert set(_data(text)) == keys
    # self-contained: the only URLs are the SVG namespace; no external script, style, image or font
    assert set(re.findall(r"https?://[^\s\"'<>)]*", text)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert not re.search(r"<(?:link|img|iframe)\b|<script[^>]+\bsrc=|@import|url\(", text)
    for tag in ('id="T"', 'type="range"', 'id="per-step"', 'id="param"', 'id="graph"', 'id="copies"'):
        assert tag in text
    assert page.stat().st_size < 2_500_000


@pytest.mark.parametrize("per_step", [False, True], ids=["one-output", "output-per-step"])
def test_copies_match_the_hand_derived_answer(page, per_step):
    text = page.read_text(encoding="utf-8")
    data, svgs = _data(text), dict(SVG_BLOCK.findall(text))
    for T in range(1, 9):
        for weight in explorer.WEIGHTS:
            k = explorer.key(T, per_step, weight)
            entry, want = data[k], _expected(T, per_step, weight)
            assert entry["copies"] == want, k
            assert entry["counts"] == {w: len(v) for w, v in want.items()}, k
            # the sentence shows the same numbers, the weight being differentiated first
            shown = dict(re.findall(r'<b class="count" data-weight="(\w+)">(\d+)</b>', entry["copies_html"]))
            assert shown == {explorer.KEYS[w]: str(len(v)) for w, v in want.items() if v}, k
            assert entry["copies_html"].index(explorer.KEYS[weight]) < entry["copies_html"].index("</b>")
            # the drawing: one cluster per step, and exactly the used copies filled red
            svg = svgs[k]
            assert svg.count('class="cluster"') == T, k
            used = re.findall(r'class="node copy (\w+) used"', svg)
            assert sorted(used) == sorted(explorer.KEYS[w] for w, v in want.items() for _ in v), k
            unused = re.findall(r'class="node copy (\w+) unused"', svg)
            # every step has copies of w^(x), w^(a), b^(a); the output steps also w^(o) and b^(o)
            n_out = T if per_step else 1
            assert len(used) + len(unused) == 3 * T + 2 * n_out, k


def test_build_is_deterministic_and_the_committed_page_is_current(page, tmp_path):
    again = tmp_path / "again.html"
    assert explorer.main(["--out", str(again)]) == 0
    assert again.read_bytes() == page.read_bytes()
    committed = ROOT / "viz" / "explorer.html"
    assert committed.exists(), "run `make explorer` to generate viz/explorer.html"
    # the text and counts do not depend on the Graphviz version (the layout may): they must be current
    assert _data(committed.read_text(encoding="utf-8")) == _data(page.read_text(encoding="utf-8")), (
        "viz/explorer.html is stale: run `make explorer`"
    )


# ---------------------------------------------------------------------------------------------------------
# In a real browser: the system Chromium driven by Selenium
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver  # noqa: PLC0415  (the `dev` extra)
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def test_explorer_in_headless_chromium(page, browser, tmp_path):
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    d = browser
    d.get(page.as_uri())

    def state():
        return d.execute_script("""
            var g = document.getElementById('graph'), counts = {};
            document.querySelectorAll('#copies b.count').forEach(function (b) { counts[b.dataset.weight] = +b.textContent; });
            return {clusters: g.querySelectorAll('svg g.cluster').length, nodes: g.querySelectorAll('svg g.node').length,
                    used: g.querySelectorAll('svg g.node.used').length, svg: g.innerHTML.length, key: g.dataset.key,
                    T: document.getElementById('T-value').textContent, copies: document.getElementById('copies').textContent,
                    counts: counts};""")

    s0 = state()
    assert s0["key"] == "3-0-wx" and s0["clusters"] == 3 and s0["T"] == "3"
    assert s0["counts"] == {"wx": 3, "wa": 2, "wo": 1} and s0["used"] == 6
    assert s0["copies"].startswith("∂C/∂w(x) uses 3 copies of w(x), 2 of w(a) and 1 of w(o)")

    # moving the slider (as a script would: set the value, fire 'input') unfolds more steps
    slider = d.find_element(By.ID, "T")
    d.execute_script("arguments[0].value = 6; arguments[0].dispatchEvent(new Event('input'));", slider)
    s6 = state()
    assert s6["clusters"] == 6 and s6["T"] == "6" and s6["nodes"] > s0["nodes"] and s6["svg"] != s0["svg"]
    assert s6["counts"] == {"wx": 6, "wa": 5, "wo": 1} and s6["used"] == 12

    # ... and with the keyboard, as a user would
    slider.send_keys(Keys.ARROW_LEFT)
    s5 = state()
    assert s5["clusters"] == 5 and s5["counts"] == {"wx": 5, "wa": 4, "wo": 1}

    # the switch: an output per step uses every copy of w^(o)
    d.find_element(By.ID, "per-step").click()
    sw = state()
    assert d.find_element(By.ID, "per-step").is_selected()
    assert sw["key"] == "5-1-wx" and sw["copies"] != s5["copies"]
    assert sw["counts"] == {"wx": 5, "wa": 4, "wo": 5} and sw["used"] == 14 and sw["clusters"] == 5

    # the parameter: ∂C/∂w^(a) uses every copy of w^(a), every w^(o), no w^(x)
    d.find_element(By.CSS_SELECTOR, "#param label:nth-child(2)").click()
    assert d.find_element(By.ID, "param-wa").is_selected()
    sa = state()
    assert sa["key"] == "5-1-wa" and sa["counts"] == {"wa": 5, "wo": 5} and sa["used"] == 10
    assert "none of w(x)" in sa["copies"]
    table = {
        r.get_attribute("data-weight"): r.find_element(By.CSS_SELECTOR, "td.n").text
        for r in d.find_elements(By.CSS_SELECTOR, "#copies-table tr[data-weight]")
    }
    assert table == {"wx": "0", "wa": "5", "wo": "5"}

    # nothing was fetched and nothing went wrong
    assert d.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

    shot = tmp_path / "explorer.png"
    assert d.save_screenshot(str(shot))
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 1000 and height >= 600
    assert len(png) > 30_000  # a drawn page, not a blank one
