"""A real headless Chromium opens a generated report and checks that it renders.

The reports are made once per session (``segwork report --only 01_data_overview``
on 1,000 synthetic customers; ``--only 10_defection`` on 3,000 customers of the
planted defection world, the ``defection_report`` fixture of conftest.py). Chromium (Debian packages ``chromium`` and
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
import subprocess
import sys
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


@pytest.fixture(scope="session")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-reports")
    proc = subprocess.run(
        [sys.executable, "-m", "segwork.cli", "report", "--only", "01_data_overview", "-p", "n_customers", "1000",
         "--output", str(out), "--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    from segwork.report.history import newest_run

    return newest_run(out)  # a quick look: out/latest names only full reports


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
    assert "1,000" in text  # customers of this run
    shot = screenshot(browser, report / "screenshot-index.png")
    assert shot.stat().st_size > 10_000
    link = browser.find_element(By.LINK_TEXT, "Data overview: customers and transactions")
    link.click()
    assert browser.current_url.endswith("01_data_overview.html")


def test_notebook_page_renders_figures_without_code(browser, report):
    text = check_renders(browser, (report / "01_data_overview.html").as_uri(), "Data overview")
    images = browser.execute_script("return Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(images) == 6 and all(w > 100 and h > 100 for w, h in images), images
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
