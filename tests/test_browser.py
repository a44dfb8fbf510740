"""A real headless Chromium opens a generated report and checks every page of it.

The reports are made once per session: the whole report (every notebook, ``segwork report`` on 2,000
synthetic customers, about 1.5 minutes) and ``--only 10_defection`` on 3,000 customers of the planted
defection world (the ``defection_report`` fixture of conftest.py). On EVERY page of the whole report
(the index and each notebook page) the check fails on: a table cut off without a scroll bar (its width
against its box's, and the box's overflow style), a Python repr (``PosixPath(``, ``array(``, ``{'``,
``[0.``, ``dtype:``), a local path (``/tmp/``, ``/home/``, ``/work/``, ``/root/``), a ``NaN``/``nan``/``None``
cell, a figure (image, SVG or Plotly chart) without a caption (a ``figcaption``, or the next text on the
page starting with "Figure"), and the size budget of the report. Chromium (Debian packages ``chromium`` and
``chromium-driver``) is driven through selenium with the system chromedriver;
nothing is downloaded. Checked on the index pages and on the notebook pages: the
title, no broken images (every ``<img>`` loaded with a natural width), no
error output or traceback, tables present, the index's link leads to the
notebook page. Screenshots are saved beside the report (and copied to
``$SEGWORK_SCREENSHOTS`` when set). Without Chromium the tests are skipped.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception): ")

if not CHROMIUM or not CHROMEDRIVER:
    pytest.skip("headless Chromium not installed: apt-get install chromium chromium-driver (.ci/run does this "
                "when it runs as root)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


#: Customers of the whole report the browser checks (every notebook runs on them once per session).
N_CUSTOMERS = 2000


@pytest.fixture(scope="session")
def report(tmp_path_factory, segwork_report) -> Path:
    """The whole report (every notebook) on N_CUSTOMERS synthetic customers; the run folder.

    ``SEGWORK_BROWSER_RUN=<run folder>`` checks that finished run instead (when iterating on page fixes)."""
    if os.environ.get("SEGWORK_BROWSER_RUN"):
        return Path(os.environ["SEGWORK_BROWSER_RUN"]).resolve()
    return segwork_report(tmp_path_factory.mktemp("browser-report"), "-p", "n_customers", str(N_CUSTOMERS),
                          "--jobs", "2")


def pages(run: Path) -> list[Path]:
    """Every HTML page of a run folder: the index first, then the notebook pages."""
    return [run / "index.html", *sorted(p for p in run.glob("*.html") if p.name != "index.html")]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:  # noqa: BLE001 - a broken browser install is an environment problem, said clearly
        pytest.fail(f"Chromium ({CHROMIUM}) with {CHROMEDRIVER} did not start: {type(exc).__name__}: {exc}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver, path: Path) -> Path:
    """A full-page screenshot (the window grows to the page, up to 8000 px)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(int(height), 8000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1600)
    target = os.environ.get("SEGWORK_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def check_renders(driver, url: str, title: str) -> str:
    """Load ``url`` and check what every page must satisfy; returns the page's visible text."""
    driver.get(url)
    assert title in driver.title
    broken = driver.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 60))")
    assert broken == [], f"images that did not load: {broken}"
    text = driver.find_element(By.TAG_NAME, "body").text
    assert not ERROR_TEXT.search(text), f"error text on the page: {ERROR_TEXT.search(text).group(0)}"
    stderr = driver.find_elements(By.CSS_SELECTOR, '[data-mime-type="application/vnd.jupyter.stderr"]')
    assert not stderr, "raw stderr/error output is shown"
    assert driver.find_elements(By.TAG_NAME, "table"), "no table on the page"
    return text


def test_index_page_renders_and_links_the_notebook(browser, report):
    text = check_renders(browser, (report / "index.html").as_uri(), "segwork report")
    assert "The data at a glance" in text and "Notebooks" in text
    assert f"{N_CUSTOMERS:,}" in text  # customers of this run
    shot = screenshot(browser, report / "screenshot-index.png")
    assert shot.stat().st_size > 10_000
    link = browser.find_element(By.LINK_TEXT, "Data overview: customers and transactions")
    link.click()
    assert browser.current_url.endswith("01_data_overview.html")


def test_notebook_page_renders_figures_without_code(browser, report):
    text = check_renders(browser, (report / "01_data_overview.html").as_uri(), "Data overview")
    images = browser.execute_script("return Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(images) >= 6 and all(w > 100 and h > 100 for w, h in images), images
    assert not browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea, .jp-InputArea-editor"), \
        "code cells must not be shown"
    assert "Figure 5" in text and "top 20 %" in text
    shot = screenshot(browser, report / "screenshot-01_data_overview.png")
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] > 1600 and pixels[..., :3].std() > 0.05, "the screenshot is blank"


def test_defection_page_and_its_index_section_render(browser, defection_report):
    """Notebook 10 (``segwork report --only 10_defection`` on 3,000 customers of the planted defection world): the
    index's section "Why customers leave" and the page with its three figures, without code or errors."""
    text = check_renders(browser, (defection_report / "index.html").as_uri(), "segwork report")
    assert "Why customers leave" in text and "contract[none]" in text and "planted dropout x" in text
    screenshot(browser, defection_report / "screenshot-index-defection.png")
    text = check_renders(browser, (defection_report / "10_defection.html").as_uri(), "Why customers leave")
    images = browser.execute_script("return Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(images) == 3 and all(w > 100 and h > 100 for w, h in images), images  # forest, cross-check, survey
    assert not browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea, .jp-InputArea-editor"), \
        "code cells must not be shown"
    for words in ("planted multipliers", "Reason agreement", "worth acting on", "still alive",
                  "the stated reason is the model's top reason"):
        assert words in text, words
    shot = screenshot(browser, defection_report / "screenshot-10_defection.png")
    assert shot.stat().st_size > 10_000


# --- every page of the whole report -------------------------------------------------------------------------------

#: What a reader must never see: Python reprs and local paths (in the visible text of a page).
REPR = re.compile(r"PosixPath\(|WindowsPath\(|array\(|\{'|\[0\.|\bdtype: |<\w[\w.]* object at 0x")
LOCAL_PATH = re.compile(r"(?<![\w.])/(tmp|home|work|root)/")
#: A cell that is a missing value as Python prints it.
MISSING = {"nan", "NaN", "NaT", "None", "<NA>", "inf", "-inf"}

#: Every table on the page that is visible (the print-only copies are hidden on screen): is it cut off? A table
#: wider than its box is fine when some box around it scrolls (overflow-x auto/scroll and wider content than box);
#: it is cut off when a box around it hides the overflow or when it runs past the window without a scrolling box.
TABLES_JS = """
const out = [];
const view = document.documentElement.clientWidth;
document.querySelectorAll('table').forEach((t, i) => {
  if (!t.getClientRects().length || t.offsetParent === null) return;
  if (t.closest('.dt-scroll-head, .dt-scroll-foot')) return;  // DataTables' header copy follows its body's scroll
  const r = t.getBoundingClientRect();
  let scrolls = false, hidden = false;
  for (let a = t.parentElement; a && a !== document.body; a = a.parentElement) {
    const ox = getComputedStyle(a).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && a.scrollWidth > a.clientWidth + 1) { scrolls = true; break; }
    if ((ox === 'auto' || ox === 'scroll') && t.scrollWidth <= a.clientWidth + 1) break;
    if ((ox === 'hidden' || ox === 'clip') && a.scrollWidth > a.clientWidth + 1) { hidden = true; break; }
  }
  const past = r.right > view + 1;
  const cells = Array.from(t.querySelectorAll('td, th')).map(c => c.innerText.trim());
  out.push({i: i, width: Math.round(t.scrollWidth), right: Math.round(r.right), view: view, scrolls: scrolls,
            hidden: hidden, past: past, head: (t.querySelector('th') || {}).innerText || '',
            missing: cells.filter(c => %s.includes(c)), dots: cells.filter(c => c === '...' || c === '…').length});
});
return out;
""" % sorted(MISSING)

#: Every visible figure (an image, an SVG chart of a cell output, a Plotly chart) and its caption: a figcaption in
#: the same figure, else the first text after it (a markdown cell or a markdown output) starting with "Figure".
FIGURES_JS = """
const figs = Array.from(document.querySelectorAll(
  '.jp-OutputArea-output img, .jp-RenderedSVG > svg, .jp-OutputArea-output > svg, .plotly-graph-div, main img'))
  .filter(f => f.getClientRects().length && f.getBoundingClientRect().width > 100);
const texts = Array.from(document.querySelectorAll('.jp-MarkdownCell, .jp-RenderedMarkdown, figcaption, p'))
  .filter(t => t.getClientRects().length);
return figs.map(f => {
  const fig = f.closest('figure');
  const own = fig && fig.querySelector('figcaption');
  let caption = own ? own.innerText : null;
  if (!caption) {
    const next = texts.find(t => f.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING
                                 && t.innerText.trim().length > 0);
    caption = next ? next.innerText.trim() : '';
  }
  return {what: f.tagName + (f.className && f.className.baseVal === undefined ? '.' + f.className : ''),
          alt: (f.getAttribute('alt') || '').slice(0, 40), caption: caption.slice(0, 80)};
});
"""
CAPTION = re.compile(r"^\W*(Figure|Fig\.)\s*\d*", re.IGNORECASE)


@pytest.fixture(scope="session")
def page_checks(browser, report) -> dict[str, dict]:
    """Each page of the whole report loaded once: its text, tables, figures, and a full-page screenshot beside it."""
    out = {}
    for page in pages(report):
        browser.get(page.as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(  # interactive tables built by DataTables
            "return document.querySelectorAll('.segwork-datatable').length"
            " === document.querySelectorAll('.segwork-datatable .dt-container').length"))
        out[page.name] = {
            "text": browser.find_element(By.TAG_NAME, "body").text,
            "tables": browser.execute_script(TABLES_JS),
            "figures": browser.execute_script(FIGURES_JS),
            "hrefs": browser.execute_script("return Array.from(document.querySelectorAll('a[href], img[src]'))"
                                            ".map(a => a.getAttribute('href') || a.getAttribute('src').slice(0, 80))"),
        }
        screenshot(browser, report / f"screenshot-{page.stem}.png")
    return out


def test_the_whole_report_has_every_page(report, page_checks):
    names = [p.name for p in pages(report)]
    assert names[0] == "index.html" and len(names) >= 11, names  # the index and the ten notebooks (at least)
    assert all((report / f"screenshot-{Path(n).stem}.png").stat().st_size > 10_000 for n in names)


def test_no_table_is_cut_off(page_checks):
    cut = {name: [t for t in page["tables"] if (t["hidden"] or t["past"]) and not t["scrolls"]]
           for name, page in page_checks.items()}
    cut = {name: tables for name, tables in cut.items() if tables}
    assert not cut, f"tables cut off without a scroll bar: {cut}"
    dots = {name: sum(t["dots"] for t in page["tables"]) for name, page in page_checks.items()}
    assert not any(dots.values()), f"cells cut off with '...': {dots}"


def test_wide_tables_scroll_with_their_header_and_first_column_in_view(browser, report):
    """The index's widest table (and every other wider than its box) scrolls; its header row and first column
    stay where they are while the box scrolls right."""
    browser.get((report / "index.html").as_uri())
    moved = browser.execute_script("""
      const boxes = Array.from(document.querySelectorAll('.segwork-table'))
        .filter(b => b.scrollWidth > b.clientWidth + 1);
      return boxes.map(b => {
        const first = b.querySelector('tbody tr > :first-child'), head = b.querySelector('thead th:last-child');
        const x0 = first.getBoundingClientRect().left;
        b.scrollLeft = b.scrollWidth;
        return {scrolled: b.scrollLeft > 0, first_moved: Math.abs(first.getBoundingClientRect().left - x0),
                sticky: getComputedStyle(head).position};
      });""")
    for box in moved:
        assert box["scrolled"] and box["first_moved"] < 1 and box["sticky"] == "sticky", moved


def test_no_python_repr_or_local_path_on_any_page(page_checks):
    for name, page in page_checks.items():
        text = page["text"]
        found = REPR.search(text)
        assert not found, f"{name}: a Python repr: ...{text[max(0, found.start() - 60):found.end() + 40]}..."
        assert not LOCAL_PATH.search(text), f"{name}: a local path: {LOCAL_PATH.search(text).group(0)}"
        local = [h for h in page["hrefs"] if h.startswith(("file:", "/"))]
        assert not local, f"{name}: links to local files: {local[:3]}"


def test_no_missing_value_cell_on_any_page(page_checks):
    cells = {name: sorted({c for t in page["tables"] for c in t["missing"]}) for name, page in page_checks.items()}
    assert not any(cells.values()), f"NaN/None cells: {({k: v for k, v in cells.items() if v})}"


def test_every_figure_has_a_caption(page_checks):
    missing = {name: [f for f in page["figures"] if not CAPTION.match(f["caption"])]
               for name, page in page_checks.items()}
    missing = {name: figs for name, figs in missing.items() if figs}
    assert not missing, f"figures without a caption (a 'Figure N.' text after them or a figcaption): {missing}"


def test_customer_lists_are_interactive_with_a_csv_download(browser, report):
    """The customer-level lists (05 scores, 08 targets and triggers, 10 retention list) are DataTables tables with
    a search box and a CSV button, built offline (no request leaves the page)."""
    for page, n_tables in (("05_clv_models.html", 1), ("08_campaigns.html", 2)):
        browser.get((report / page).as_uri())
        WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.dataTable")) >= n_tables)
        assert len(browser.find_elements(By.CSS_SELECTOR, ".dt-search input, .dataTables_filter input")) >= n_tables
        buttons = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "button.dt-button, .dt-buttons button")]
        assert buttons.count("Download CSV") >= n_tables, buttons
        remote = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)"
                                        ".filter(n => n.startsWith('http'))")
        assert remote == [], remote


#: Size budget of the whole report at N_CUSTOMERS customers (run folder, every file but the screenshots) and of any
#: one HTML page. Measured on the 2,000-customer run (issue 21, 12 notebooks): 26.3 MB in all = executed .ipynb
#: copies 8.7 MB (each a faithful record for JupyterLab: its figures, Plotly bundles and the DataTables library of
#: its customer lists, about 1 MB in each of 05, 08 and 10) + HTML pages 8.0 MB (figures embedded so a page is one
#: file; largest 12_customer_lookup 1.07 MB, its lookup data) + plotly.js 4.8 MB and DataTables 1.0 MB, each once
#: per run folder in assets/ + figures/*.png 2.3 MB (the static figures as files) + the run's data 1.4 MB.
#: Before issue 21's notebooks 11 and 12 and the shared plotly.js the folder was 18 MB; DataTables inline in each
#: page with a customer list made it 28.2 MB, moved to assets/ 26.3 MB. At 20,000 customers (`make
#: report`, measured 2026-12-07): run folder 47 MB, HTML pages 14 MB, the largest page 12_customer_lookup 4.6 MB
#: (its lookup data, about 200 bytes a customer); stated budget there: 50 MB and 5 MB a page. The test holds the
#: 2,000-customer run to the budgets below (size only, never load time), with about 6 % room.
REPORT_BUDGET_MB = 28
PAGE_BUDGET_MB = 2


def test_report_size_budget(report):
    sizes = {p.name: p.stat().st_size / 1e6 for p in pages(report)}
    total = sum(f.stat().st_size for f in report.rglob("*") if f.is_file() and not f.name.startswith("screenshot-"))
    assert max(sizes.values()) <= PAGE_BUDGET_MB, sizes
    assert total / 1e6 <= REPORT_BUDGET_MB, f"run folder {total / 1e6:.1f} MB > {REPORT_BUDGET_MB} MB"


def test_customer_lookup_shows_the_typed_customer_and_says_when_an_id_is_unknown(browser, report):
    """Notebook 12's page: type a customer id into the search box and press Enter -> that customer's view, with the
    CLV of the run's prepared table (data/table, at the run's margin, named by value_label) and the segment in every
    segmentation the page's data hold; an id not in the data -> a message saying so and how ids look."""
    import json

    import pandas as pd
    from selenium.webdriver.common.keys import Keys

    from segwork.clv.margin import value_label
    from segwork.report.lookup import decode

    page = report / "12_customer_lookup.html"
    assert page.exists(), f"no customer lookup page in {report}"
    # the run's prepared customer table: data/table, or data/<n>/table when the run read several data sets
    prepared = [report / folder for folder in json.loads((report / "run.json").read_text())["prepared_tables"]]
    assert len(prepared) == 1, prepared
    table = pd.read_parquet(prepared[0] / "table.parquet")
    margin = json.loads((prepared[0] / "clv.json").read_text())["settings"]["margin"]
    browser.get(page.as_uri())
    box = browser.find_element(By.ID, "segwork-lookup-box")
    data = json.loads(browser.execute_script("return document.getElementById('segwork-lookup-data').textContent"))
    assert data["value_label"] == value_label(margin)

    def view_tables() -> dict[str, dict[str, str]]:
        """The view's tables as heading -> {row heading: cell text}, as shown."""
        return browser.execute_script("""
          const out = {};
          document.querySelectorAll('#segwork-lookup-view h4').forEach(h => {
            const t = h.nextElementSibling;
            if (t && t.tagName === 'TABLE') out[h.textContent] = Object.fromEntries(Array.from(t.rows)
              .map(r => [r.cells[0].textContent, r.cells[1].textContent]));
          });
          return out;""")

    one_time = table.index[table["frequency"] == 0][0]
    for cid, how in ((table["clv"].idxmax(), "typed"), (one_time, "set, then Enter")):
        box.clear()
        if how == "typed":
            box.send_keys(cid, Keys.ENTER)
        else:  # the value without an input event: only the Enter key shows the view
            browser.execute_script("arguments[0].value = arguments[1]", box, cid)
            box.send_keys(Keys.END, Keys.ENTER)
        WebDriverWait(browser, 10).until(
            lambda d: d.find_element(By.ID, "segwork-lookup-view").text.startswith(f"Customer {cid}"))
        shown = view_tables()
        clv = float(table.at[cid, "clv"])
        assert shown["RFM and value"][value_label(margin)] == f"{clv:,.2f} {data['currency']}", (cid, shown)
        assert value_label(margin) + " 90 % confidence interval" in shown["RFM and value"], shown["RFM and value"]
        expected = decode(data, cid)["segments"]
        assert set(expected) >= {"rfm", "value", "relationship"}
        assert shown["Segment in every segmentation"] == {k: v or "–" for k, v in expected.items()}, (cid, shown)
        assert shown["Relationship and strategy"]["relationship type"] == expected["relationship"]
        assert "P(alive)" in shown["RFM and value"] and not {"True", "False"} & set(shown["Profile"].values())
        pending = decode(data, cid)["triggers"]
        assert list(shown.get("Pending triggers", {})) == [f"{t['date']} {t['event']}" for t in pending], shown
        if how == "typed":
            screenshot(browser, report / "screenshot-12_customer_lookup-view.png")
    box.clear()
    box.send_keys("NOBODY-42", Keys.ENTER)
    text = browser.find_element(By.ID, "segwork-lookup-view").text
    assert text.startswith(f"No customer NOBODY-42 in this run's data ({len(table):,} customers)"), text
    assert "Check the id" in text and data["ids"][0] in text
    assert not browser.find_elements(By.CSS_SELECTOR, "#segwork-lookup-view h3"), "a view shown for an unknown id"
    cid = str(table.index[0])
    box.clear()
    box.send_keys(f"  {cid.lower()} ", Keys.ENTER)  # trimmed, any case: the id as written in the data
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "segwork-lookup-view").text.startswith(f"Customer {cid}"))
    shown = view_tables()
    assert shown["History"]["days since last purchase"].endswith(" days"), shown["History"]
    assert "." not in shown["History"]["days since last purchase"]  # whole days
    assert "first to last purchase (BTYD recency)" in shown["RFM and value"], shown["RFM and value"]
    assert not any("_" in k for rows in shown.values() for k in rows), shown  # words, not column names
