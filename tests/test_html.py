"""reports/index.html: one self-contained file whose tables hold stats.json's numbers, and a sentence
browser whose filter works, checked statically and in a real headless Chromium (selenium + Debian's
chromium and chromium-driver; skipped with the reason where they are absent)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from erbench.report import build_report
from erbench.report.html import markdown_to_html

from tests.test_report import FAST, make_runs

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1300,1000"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    out = tmp_path_factory.mktemp("html")
    result = build_report([runs], out, seed=0, **FAST)
    return out, result


class _Cells(HTMLParser):
    """The main table's cells: data-* attributes and the visible text."""

    def __init__(self):
        super().__init__()
        self.cells, self.current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-method" in attrs:
            self.current = {**attrs, "text": ""}

    def handle_endtag(self, tag):
        if tag == "td" and self.current is not None:
            self.cells.append(self.current)
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


def _expected_text(summary: dict, marker: str = "") -> str:
    std = "" if summary["std"] is None else f" ± {summary['std']:.2f}"
    return f"{summary['mean']:.2f}{std}{marker}"


def _markers(result, dataset, setting, method) -> str:
    out = ""
    for table in result["comparisons"].values():
        for c in table["results"]:
            if (c["dataset"], c["setting"], c["method"]) == (dataset, setting, method) and c["marker"]:
                out += c["marker"]
    return out


def test_self_contained(report):
    out, result = report
    page = (out / "index.html").read_text()
    assert "index.html" in result["files"]
    assert "<link" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert not re.search(r"<script[^>]*\bsrc=", page) and "@import" not in page and "url(" not in page
    images = re.findall(r'<img alt="[^"]*" src="([^"]{0,40})', page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)
    for fig in ("per_seed", "errors", "seeds_needed"):
        assert f'id="figure-{fig}"' in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_main_table_equals_stats_json(report):
    out, result = report
    parser = _Cells()
    parser.feed((out / "index.html").read_text())
    summaries = {(s["dataset"], s["setting"], s["method"]): s for s in result["summaries"]}
    assert len(parser.cells) == len(summaries) == 18
    for cell in parser.cells:
        s = summaries[(cell["data-dataset"], cell["data-setting"], cell["data-method"])]
        assert float(cell["data-mean"]) == s["mean"] and int(cell["data-n"]) == s["n"]
        assert cell["text"] == _expected_text(s, _markers(result, s["dataset"], s["setting"], s["method"]))


def test_comparisons_show_interval_effect_size_and_outcome(report):
    """In view: Δ with its t interval, the marker's Holm p, d_z, the outcome; folded below: every test and the
    power verdict (no constant column, no long verdict on every row in view)."""
    out, _ = report
    page = (out / "index.html").read_text()
    section = page[page.index('id="comparisons"'):]
    compact = re.search(r"<table><thead><tr>(.*?)</tr></thead>", section).group(1)
    heads = re.findall(r"<th>(.*?)</th>", compact)
    assert heads == ["Dataset", "Column", "Method", "n", "Δ mean", "95% CI of Δ (t)", "p (marker test, Holm)",
                     "d_z", "Outcome"]
    details = section[section.index('<details class="more">'):]
    for name in ("p (TOST, Holm)", "Decided by", "ASO ε_min", "min p (Wilcoxon)", "Verdict"):
        assert f"<th>{name}</th>" in details, name
    assert "Across datasets" in section and "Dror, Baumer, Bogomolov &amp; Reichart 2017" in section
    assert "folds of each seed are averaged first" in page


def test_markdown_subset():
    got = markdown_to_html(["## Errors of `spert`", "", "| a | b |", "| :-- | --: |", "| `x` | **1** \\| 2 |", "",
                            "- one *two*", "```", "a|b<c", "```"])
    assert got.splitlines() == [
        '<h2 id="errors-of-spert">Errors of <code>spert</code></h2>',
        '<div class="scroll"><table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td class="left"><code>x'
        '</code></td><td class="right"><strong>1</strong> | 2</td></tr></tbody></table></div>',
        "<ul><li>one <em>two</em></li></ul>", "<pre>a|b&lt;c</pre>"]


def test_browser_data_flags_disagreement(report):
    out, _ = report
    page = (out / "index.html").read_text()
    raw = re.search(r'<script type="application/json" id="browser-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(raw)
    conll = data[0]
    assert conll["dataset"] == "conll04" and conll["unit"] == "seed 1"
    assert conll["methods"] == ["spert", "spert_mt", "spert_focal"]
    assert [d["i"] for d in conll["docs"] if d["disagree"]] == [2, 3]  # spert_mt alone predicts those relations
    assert [d["i"] for d in conll["docs"] if d["wrong"]] == [2, 3]
    assert data[1]["dataset"] == "ade" and data[1]["unit"] == "seed 1 fold 0"


def _driver(tmp_path: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver; CI does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROME_FLAGS, f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver_bin))


def test_in_headless_chromium(report, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    out, result = report
    driver = _driver(tmp_path)
    try:
        driver.get((out / "index.html").as_uri())
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        logs = driver.get_log("browser")
        assert not [e for e in logs if e["level"] in ("SEVERE", "WARNING")], logs
        assert driver.find_element(By.ID, "js-errors").text == ""
        summaries = {(s["dataset"], s["setting"], s["method"]): s for s in result["summaries"]}
        cells = driver.find_elements(By.CSS_SELECTOR, "#results-table td[data-method]")
        assert len(cells) == len(summaries)
        for cell in cells:
            key = tuple(cell.get_attribute(f"data-{k}") for k in ("dataset", "setting", "method"))
            assert cell.text == _expected_text(summaries[key], _markers(result, *key))

        def shown():
            return [int(e.get_attribute("data-index")) for e in driver.find_elements(By.CSS_SELECTOR, ".sentence")]

        count = driver.find_element(By.ID, "browser-count")
        assert count.text == "4 of 4 sentences" and shown() == [2, 3, 0, 1]  # disagreements first
        driver.find_element(By.ID, "filter-disagree").click()
        assert count.text == "2 of 4 sentences" and shown() == [2, 3]
        assert driver.execute_script("return window.erbenchBrowser.visible()") == 2
        driver.find_element(By.ID, "filter-text").send_keys("bob")
        assert shown() == [3] and count.text == "1 of 4 sentences"
        driver.execute_script("var e = document.getElementById('filter-text'); e.value = '';"
                              "e.dispatchEvent(new Event('input'));")
        driver.find_element(By.ID, "filter-disagree").click()
        assert shown() == [2, 3, 0, 1]
        Select(driver.find_element(By.ID, "browser-dataset")).select_by_index(1)  # ADE, seed 1 fold 0
        assert count.text == "2 of 2 sentences"
        driver.find_element(By.ID, "filter-disagree").click()
        assert shown() == [1]
        text = driver.find_element(By.CSS_SELECTOR, ".sentence").text
        assert "gold" in text and "SpERT.MT" in text and "missed 1 relation" in text
        driver.execute_script("document.getElementById('results').scrollIntoView()")
        shot = tmp_path / "index.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10000
        if os.environ.get("ERBENCH_SCREENSHOT"):  # keep a copy to look at
            shutil.copy(shot, os.environ["ERBENCH_SCREENSHOT"])
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()


def test_tokens_cannot_break_the_page(tmp_path):
    from tests.test_report import CONLL_TYPES, write_run

    docs = [(["</script>", "<!--", "<b>Acme</b>", "&amp;"], [("Org", 2, 3)], [])]
    for seed in (1, 2):
        write_run(tmp_path / "runs", "conll04", "spert", seed, None, (90.0 + seed, 70.0, 69.0), docs, CONLL_TYPES,
                  good=True)
    build_report([tmp_path / "runs"], tmp_path / "out", **FAST)
    page = (tmp_path / "out" / "index.html").read_text()
    assert page.count("</script>") == 2 and "<b>Acme" not in page  # the JSON block and the code block only
    raw = re.search(r'<script type="application/json" id="browser-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(raw)[0]["docs"][0]["tokens"] == ["</script>", "<!--", "<b>Acme</b>", "&amp;"]


def test_at_1300px_tables_fit_and_the_page_stays_short(tmp_path):
    """A one-dataset suite with 300 test sentences fits about four screens at 1300 px (the answer, the main
    table, the comparisons, folded analysis tables, the figures side by side, 10 sentences a page); no
    visible table scrolls sideways; the print stylesheet leaves the browser out and unfolds the rest."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, write_run

    docs = CONLL_DOCS * 75
    for method in ("spert", "spert_mt", "spert_focal"):
        for seed, scores in CONLL[method].items():
            write_run(tmp_path / "runs", "conll04", method, seed, None, scores, docs, CONLL_TYPES,
                      good=method == "spert_mt")
    build_report([tmp_path / "runs"], tmp_path / "out", **FAST)
    driver = _driver(tmp_path)
    try:
        driver.set_window_size(1300, 1000)
        driver.get((tmp_path / "out" / "index.html").as_uri())
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        width = driver.execute_script("return document.documentElement.clientWidth")
        assert 1250 <= width <= 1300
        assert driver.find_element(By.ID, "answer").text.startswith("On CoNLL04, SpERT.MT is 5.0 RE+ points above")
        for table in driver.find_elements(By.CSS_SELECTOR, "table"):
            if table.is_displayed():
                box = driver.execute_script("var p = arguments[0].parentElement; return [p.scrollWidth, p.clientWidth]",
                                            table)
                assert box[0] <= box[1], "a visible table scrolls sideways"
        heights = {driver.execute_script("return arguments[0].getBoundingClientRect().height", r)
                   for r in driver.find_elements(By.CSS_SELECTOR, "#comparisons table tbody tr") if r.is_displayed()}
        assert max(heights) - min(heights) < 2, f"uneven rows: {sorted(heights)}"
        tops = [driver.execute_script("return arguments[0].getBoundingClientRect().top", f)
                for f in driver.find_elements(By.CSS_SELECTOR, ".figures figure")]
        assert len(tops) == 3 and len({round(t) for t in tops}) == 1, f"figures not side by side: {tops}"
        assert len(driver.find_elements(By.CSS_SELECTOR, ".sentence")) == 10
        assert driver.execute_script("return window.erbenchBrowser.pages()") == 30
        height = driver.execute_script("return document.body.scrollHeight")
        assert height <= 4600, f"page is {height} px tall at 1300 px (about four screens is at most 4600 px)"
        driver.find_element(By.ID, "browser-next").click()
        assert driver.execute_script("return window.erbenchBrowser.page()") == 2
        driver.execute_script("window.dispatchEvent(new Event('beforeprint'))")
        assert all(d.get_attribute("open") is not None for d in driver.find_elements(By.CSS_SELECTOR, "details.more"))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        assert not driver.find_element(By.ID, "browser-section").is_displayed()
        assert driver.find_element(By.ID, "results-table").is_displayed()
    finally:
        driver.quit()
