"""``latest`` names only full reports (per data set); ``<output>/index.html`` lists every run; longest first."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from segwork.report import history, runfolder
from segwork.report.execute import NotebookTask
from segwork.report.schedule import longest_first


def test_pointer_rules():
    full = dict(complete=True, at_defaults=True)
    assert history.pointer_names("synthetic", **full, default_dataset=True) == ["latest-synthetic", "latest"]
    assert history.pointer_names("cdnow", **full, default_dataset=False) == ["latest-cdnow"]
    assert history.pointer_names("synthetic", complete=False, at_defaults=True, default_dataset=True) == []
    assert history.pointer_names("synthetic", complete=True, at_defaults=False, default_dataset=True) == []


def _fake_run(out: Path, name: str, created: str, status: str = "ok", **extra) -> Path:
    run = out / name
    run.mkdir(parents=True)
    notebooks = extra.pop("notebooks", [{"name": "01_a", "status": "ok", "seconds": 3.0}])
    runfolder.write_record(run, {"run_id": name, "status": status, "created": created, "seconds": 12.5,
                                 "dataset": "synthetic", "dataset_label": "synthetic CRM data <b>",
                                 "overrides": {}, "notebooks": notebooks, "complete": True, **extra})
    if status == "ok":
        (run / "index.html").write_text("<html></html>")
    return run


def test_history_lists_every_run_newest_first_with_pointers_and_escapes(tmp_path):
    old = _fake_run(tmp_path, "20250101-100000-synthetic", "2025-01-01T10:00:00+00:00")
    quick = _fake_run(tmp_path, "20250102-100000-synthetic", "2025-01-02T10:00:00+00:00",
                      overrides={"n_customers": 2000}, complete=False)
    failed = _fake_run(tmp_path, "20250103-100000-synthetic-failed", "2025-01-03T10:00:00+00:00",
                       status="failed", error="notebook 02 failed")
    (failed / "FAILED").write_text("notebook 02 failed\n")
    (tmp_path / "not-a-run").mkdir()
    runfolder.point_latest(tmp_path, old)
    runfolder.point_latest(tmp_path, old, "latest-synthetic")
    assert [e.path for e in history.list_runs(tmp_path)] == [old, quick, failed]
    assert history.newest_run(tmp_path) == failed
    assert history.pointers(tmp_path) == {old.name: ["latest", "latest-synthetic"]}

    page = history.write_history(tmp_path).read_text()
    assert page.index(failed.name) < page.index(quick.name) < page.index(old.name)
    assert f'<a href="{old.name}/index.html">' in page and f'href="{failed.name}/FAILED"' in page
    assert "n_customers = 2000" in page and "notebook defaults" in page and "notebook 02 failed" in page
    assert "&lt;b&gt;" in page and "<b>" not in page  # labels are escaped
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "written atomically, nothing left over"


def test_notebook_seconds_come_from_the_newest_run_that_ran_each_notebook(tmp_path):
    _fake_run(tmp_path, "r1", "2025-01-01T10:00:00", notebooks=[{"name": "01_a", "status": "ok", "seconds": 5.0},
                                                                  {"name": "02_b", "status": "ok", "seconds": 9.0}])
    _fake_run(tmp_path, "r2", "2025-01-02T10:00:00", notebooks=[{"name": "01_a", "status": "ok", "seconds": 7.0},
                                                                  {"name": "02_b", "status": "failed", "seconds": 1.0}])
    assert history.notebook_seconds(tmp_path) == {"01_a": 7.0, "02_b": 9.0}


def _task(tmp_path, i, name, cost=None):
    source = tmp_path / f"{name}.ipynb"
    meta = {"segwork": {"cost_seconds": cost}} if cost is not None else {}
    source.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return NotebookTask(index=i, name=name, source=source, run_dir=tmp_path, parameters={"output_dir": "."},
                        cwd=tmp_path)


def test_longest_first_uses_history_then_declared_cost_then_the_median(tmp_path):
    out = tmp_path / "out"
    _fake_run(out, "r1", "2025-01-01T10:00:00", notebooks=[{"name": "02_b", "status": "ok", "seconds": 50.0}])
    tasks = [_task(tmp_path, 0, "01_a", cost=10), _task(tmp_path, 1, "02_b", cost=1),
             _task(tmp_path, 2, "03_c", cost=100), _task(tmp_path, 3, "04_d")]
    order = [t.name for t in longest_first(tasks, out)]
    # 03_c declares 100 s; 02_b ran 50 s here (its declared 1 s is ignored); 04_d unknown: the median (50 s)
    assert order == ["03_c", "02_b", "04_d", "01_a"]
    assert [t.name for t in longest_first(tasks[:2], tmp_path / "empty")] == ["01_a", "02_b"]


@pytest.mark.slow
def test_only_full_reports_move_the_pointers_per_data_set(tiny_notebooks, tmp_path, run_cli):
    out = tmp_path / "reports"
    base = ("report", "--notebooks", str(tiny_notebooks), "--output", str(out), "--no-progress")
    full = run_cli(*base, "--dataset", "synthetic")  # the notebooks' default data set, named: still a full report
    assert full.returncode == 0, full.stderr
    first = history.newest_run(out)
    assert runfolder.resolve_latest(out) == first.resolve()
    assert runfolder.resolve_latest(out, "latest-synthetic") == first.resolve()

    for extra in (("--only", "01"), ("-p", "n_customers", "20")):  # quick looks: listed, no pointer moves
        quick = run_cli(*base, *extra)
        assert quick.returncode == 0, quick.stderr
        assert "not a full report" in quick.stdout and history.newest_run(out) != first
        assert runfolder.resolve_latest(out) == first.resolve()
        assert runfolder.resolve_latest(out, "latest-synthetic") == first.resolve()

    other = run_cli(*base, "--dataset", "cdnow_sample")  # a full report on another data set: its own pointer
    assert other.returncode == 0, other.stderr
    assert runfolder.resolve_latest(out, "latest-cdnow_sample") == history.newest_run(out).resolve()
    assert runfolder.resolve_latest(out) == first.resolve()

    page = (out / "index.html").read_text()
    assert len(history.list_runs(out)) == 4 and page.count("<tr><td>") == 4
    assert "n_customers = 20" in page and "01" in page


def test_parallel_kernels_share_the_cores_unless_the_user_set_threads(monkeypatch):
    import os

    from segwork.report.schedule import THREAD_VARIABLES, thread_limits

    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    for name in THREAD_VARIABLES[:2]:
        monkeypatch.delenv(name, raising=False)
    cores = len(os.sched_getaffinity(0))
    with thread_limits(2):
        assert os.environ["OMP_NUM_THREADS"] == str(max(1, cores // 2))
        assert os.environ["MKL_NUM_THREADS"] == "7"  # the user's choice stays
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "7"
