"""Whole report runs through the command line: run folders, HTML, metrics, index, latest, failures, --jobs."""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from segwork.datasets import load_cdnow, make_crm
from segwork.report.history import newest_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NB01 = ROOT / "notebooks" / "01_data_overview.ipynb"


#: Save metrics with the standard library only: tiny notebooks need not import segwork (fast kernels).
SAVE = "import json, pathlib\npathlib.Path(output_dir, 'metrics.json').write_text(json.dumps({}))"


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- notebook 01, end to end


@pytest.fixture(scope="module")
def report01(tmp_path_factory):
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.run([sys.executable, "-m", "segwork.cli", "report", "--only", "01_data_overview",
                           "-p", "n_customers", "2000", "--output", str(out), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1
    return out, runs[0], proc


def test_run_folder_history_and_no_latest_for_a_quick_look(report01):
    out, run, proc = report01
    assert re.fullmatch(r"\d{8}-\d{6}-synthetic", run.name)
    # a quick look (--only 01, n_customers 2000) is listed in out/index.html and moves no pointer
    assert not (out / "latest").exists() and not list(out.glob("latest-*"))
    assert "not a full report" in proc.stdout
    assert f'href="{run.name}/index.html"' in (out / "index.html").read_text()
    assert re.search(r"\[1/1\] 01_data_overview: ok in \d+\.\d s", proc.stdout)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "ok" and record["notebooks"][0]["status"] == "ok"
    assert record["notebooks"][0]["seconds"] > 0 and record["seconds"] >= record["notebooks"][0]["seconds"]
    assert record["notebooks"][0]["parameters"] == {"n_customers": 2000}


def test_executed_notebook_has_outputs_and_injected_parameters(report01):
    _out, run, _proc = report01
    nb = nbformat.read(str(run / "01_data_overview.ipynb"), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "n_customers = 2000" in injected[0].source
    assert f'output_dir = "{run / "01_data_overview"}"' in injected[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_html_has_no_code_and_all_figures(report01):
    _out, run, _proc = report01
    html = (run / "01_data_overview.html").read_text()
    assert "<title>Data overview: customers and transactions</title>" in html
    source = nbformat.read(str(NB01), as_version=4)
    for cell in source.cells:
        if cell.cell_type == "code" and "tags" not in cell.metadata:
            first = cell.source.splitlines()[0]
            assert first not in html, f"code shown in the HTML: {first}"
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', html)
    assert len(images) == 6  # one per figure, embedded
    assert "Traceback" not in html
    figures = sorted((run / "01_data_overview" / "figures").iterdir())
    assert [f.name for f in figures] == [f"fig-{i:02d}.png" for i in range(1, 7)]


def test_metrics_match_the_data_computed_independently(report01):
    _out, run, _proc = report01
    metrics = json.loads((run / "01_data_overview" / "metrics.json").read_text())
    tx = make_crm(n_customers=2000, random_state=0).transactions
    assert metrics["n_customers"] == tx["customer_id"].nunique() == 2000
    assert metrics["n_transactions"] == len(tx)
    assert metrics["revenue"] == pytest.approx(tx["amount"].sum())
    assert (metrics["first_date"], metrics["last_date"]) == (str(tx["date"].min().date()),
                                                             str(tx["date"].max().date()))
    totals = np.sort(tx.groupby("customer_id")["amount"].sum().to_numpy())[::-1]
    assert metrics["top20_revenue_share"] == pytest.approx(totals[: math.ceil(0.2 * totals.size)].sum() / totals.sum())
    days = tx["date"].dt.normalize()
    gaps = (tx.assign(day=days).drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
            .groupby("customer_id")["day"].diff().dropna().dt.days)
    assert metrics["median_interpurchase_days"] == pytest.approx(float(gaps.median()))
    assert metrics["cleaning"]["rows_read"] == len(tx)


def test_index_links_the_page_and_shows_the_numbers(report01):
    _out, run, _proc = report01
    html = (run / "index.html").read_text()
    assert 'href="01_data_overview.html"' in html
    assert "synthetic CRM data (2,000 customers, random_state 0)" in html
    assert "2,000" in html and "revenue from the top 20 % of customers" in html
    assert "Not available in this run: its notebook is not part of this run" in html  # 05, 06, 09 not run


# --------------------------------------------------------------------------- failures and parallel runs


def test_a_failing_notebook_names_the_cell_and_keeps_the_last_good_run(tmp_path, make_nb, run_cli):
    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_ok.ipynb", 'output_dir = "."', SAVE.format("{'ok': 1}"))
    out = tmp_path / "reports"
    good = run_cli("report", "--notebooks", str(nbs), "--output", str(out), "--no-progress")
    assert good.returncode == 0, good.stderr
    good_run = (out / "latest").resolve()
    before = tree_digest(good_run)

    make_nb(nbs / "02_fail.ipynb", 'output_dir = "."', "x = 1", "\nraise ValueError('planted failure')")
    make_nb(nbs / "03_after.ipynb", 'output_dir = "."', "print('never')")
    source = nbformat.read(str(nbs / "02_fail.ipynb"), as_version=4)
    failing_cell = next(i for i, c in enumerate(source.cells) if "planted failure" in c.source) + 1

    bad = run_cli("report", "--notebooks", str(nbs), "--output", str(out), "--no-progress")
    assert bad.returncode != 0
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in bad.stderr, bad.stderr
    message = lines[0]
    assert message.startswith(f"error: notebook 02_fail.ipynb failed in cell {failing_cell} ")
    assert "raise ValueError('planted failure')" in message and "ValueError: planted failure" in message
    assert f"latest still points at {good_run.name}" in message

    assert (out / "latest").resolve() == good_run, "latest must keep pointing at the last good run"
    assert tree_digest(good_run) == before, "the earlier run must be untouched"
    failed = [p for p in out.iterdir() if p.name.endswith("-failed")]
    assert len(failed) == 1
    assert "planted failure" in (failed[0] / "FAILED").read_text()
    record = json.loads((failed[0] / "run.json").read_text())
    assert record["status"] == "failed"
    assert [n["status"] for n in record["notebooks"]] == ["ok", "failed", "not run"]
    assert (failed[0] / "02_fail.ipynb").exists(), "the executed notebook shows where it broke"
    assert not (failed[0] / "03_after.ipynb").exists()


def test_messages_name_the_output_folder_and_count_quick_looks_as_good_runs(tmp_path, make_nb, run_cli):
    """`--output out/reports` is named as given (not `reports/`); after a successful quick look, a failed run
    names it as the last good run instead of saying there is none."""
    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_ok.ipynb", 'value = 1\noutput_dir = "."', SAVE.format("{'ok': 1}"))
    make_nb(nbs / "02_fail.ipynb", 'value = 1\noutput_dir = "."', "raise ValueError('planted failure')")
    look = run_cli("report", "--notebooks", str(nbs), "--output", "out/reports", "--only", "01", "--no-progress",
                   cwd=tmp_path)
    assert look.returncode == 0, look.stderr
    assert "out/reports/latest and out/reports/latest-default stay" in look.stdout
    assert "out/reports/index.html" in look.stdout
    good = newest_run(tmp_path / "out" / "reports")
    bad = run_cli("report", "--notebooks", str(nbs), "--output", "out/reports", "-p", "value", "2", "--no-progress",
                  cwd=tmp_path)
    assert bad.returncode == 1 and "planted failure" in bad.stderr
    assert f"the last good run is out/reports/{good.name}" in bad.stderr
    assert "no earlier good run" not in bad.stderr and "a quick look moves no pointer" in bad.stderr
    # a full report with no good run before it: both pointers it would have moved are named as unset
    other = run_cli("report", "--notebooks", str(nbs), "--output", "out/other", "--no-progress", cwd=tmp_path)
    assert other.returncode == 1 and "no earlier good run in out/other" in other.stderr
    assert "out/other/latest is not set" in other.stderr


def test_parallel_jobs_keep_notebook_order(tmp_path, make_nb, run_cli):
    nbs = tmp_path / "nbs"
    save = SAVE.replace("json.dumps({})", "json.dumps({'value': value})")
    make_nb(nbs / "01_a.ipynb", 'value = 1\noutput_dir = "."', "import time\ntime.sleep(1)", save)
    make_nb(nbs / "02_b.ipynb", 'value = 2\noutput_dir = "."', save)
    make_nb(nbs / "03_c.ipynb", 'value = 10\noutput_dir = "."', save)
    out = tmp_path / "reports"
    proc = run_cli("report", "--notebooks", str(nbs), "--output", str(out), "--jobs", "2", "-p", "value", "5",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    run = newest_run(out)  # -p value 5 is not a full report: no pointer moves
    values = [json.loads((run / n / "metrics.json").read_text())["value"] for n in ("01_a", "02_b", "03_c")]
    assert values == [5, 5, 5]
    record = json.loads((run / "run.json").read_text())
    assert [n["name"] for n in record["notebooks"]] == ["01_a", "02_b", "03_c"]
    html = (run / "index.html").read_text()
    assert html.index("01_a.html") < html.index("02_b.html") < html.index("03_c.html")
    # progress lines count by start order and by what has ended, not by the notebook's number
    started = [line for line in proc.stdout.splitlines() if " started (" in line]
    assert [line.split(" started ")[1] for line in started] == ["(1 of 3)", "(2 of 3)", "(3 of 3)"]
    ended = [line for line in proc.stdout.splitlines() if ": ok in " in line]
    assert [line.rsplit("(", 1)[1] for line in ended] == ["1 of 3 done)", "2 of 3 done)", "3 of 3 done)"]
    assert not any(line.startswith("[") for line in proc.stdout.splitlines())


def test_report_error_carries_notebook_cell_and_error_as_fields(tmp_path, make_nb):
    from segwork.errors import ReportError
    from segwork.report import run_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_ok.ipynb", 'output_dir = "."', "x = 1")
    make_nb(nbs / "02_fail.ipynb", 'output_dir = "."', "x = 1", "raise KeyError('no such column: spend')")
    source = nbformat.read(str(nbs / "02_fail.ipynb"), as_version=4)
    failing_cell = next(i for i, c in enumerate(source.cells) if "no such column" in c.source) + 1
    with pytest.raises(ReportError) as info:
        run_report(notebooks_dir=nbs, output=tmp_path / "out", progress=False, echo=None)
    err = info.value
    assert (err.notebook, err.cell, err.ename) == ("02_fail", failing_cell, "KeyError")
    assert "no such column: spend" in err.evalue
    assert "\n" not in str(err) and str(err).startswith(f"notebook 02_fail.ipynb failed in cell {failing_cell} ")
    record = json.loads(next((tmp_path / "out").glob("*-failed/run.json")).read_text())
    assert record["notebooks"][1]["ename"] == "KeyError" and record["notebooks"][1]["cell"] == failing_cell


def test_notebook_01_on_cdnow_sample(tmp_path):
    import papermill

    papermill.execute_notebook(str(NB01), str(tmp_path / "out.ipynb"),
                               parameters={"dataset": "cdnow_sample", "output_dir": str(tmp_path)},
                               kernel_name="python3", cwd=str(NB01.parent), progress_bar=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    raw = load_cdnow("sample")
    assert metrics["n_customers"] == raw["customer_id"].nunique() == 2357
    assert metrics["n_transactions"] == len(raw) == 6919
    assert metrics["revenue"] == pytest.approx(raw["amount"].sum())
    assert (metrics["first_date"], metrics["last_date"]) == ("1997-01-01", "1998-06-30")
    assert metrics["currency"] == "USD"
    # the default rules flag CDNOW's zero-amount records; the analysis keeps the data as published
    assert metrics["cleaning"]["rules"]["non_positive_amount"] == int((raw["amount"] <= 0).sum())
