"""The runner resolves the data set once into <run>/data/; the plan is immutable; only applying parameters are listed."""
from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from segwork.datasets import load_prepared, make_crm
from segwork.report.runner import _parameter_table, plan_report
from segwork.report.history import newest_run

LOAD = ("from segwork.datasets import load_dataset\nfrom segwork.report import save_metrics\n"
        "d = load_dataset(dataset, n_customers=n_customers, random_state=random_state)\n"
        "save_metrics({'dataset': dataset, 'name': d.name, 'rows': len(d.transactions),\n"
        "              'revenue': float(d.transactions['amount'].sum()), 'truth': d.truth is not None}, output_dir)")
PARAMS = 'dataset = "synthetic"\nn_customers = 100\nrandom_state = 0\noutput_dir = "."'


@pytest.mark.slow
def test_synthetic_data_is_made_once_with_the_runs_parameters_and_every_notebook_loads_it(tmp_path, make_nb,
                                                                                         run_cli):
    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS, LOAD)
    make_nb(nbs / "02_b.ipynb", PARAMS, LOAD)
    res = run_cli("report", "--notebooks", str(nbs), "--output", str(tmp_path / "out"), "--no-progress",
                  "-p", "n_customers", "300", "-p", "random_state", "5")
    assert res.returncode == 0, res.stderr
    run = newest_run(tmp_path / "out")
    expected = make_crm(n_customers=300, random_state=5)
    prepared = load_prepared(run / "data")
    pd.testing.assert_frame_equal(prepared.transactions, expected.transactions, check_exact=True)
    for name in ("01_a", "02_b"):
        m = json.loads((run / name / "metrics.json").read_text())
        assert m["dataset"] == str(run / "data")  # the notebook got the prepared folder
        assert (m["name"], m["rows"], m["truth"]) == (expected.name, len(expected.transactions), True)
        assert m["revenue"] == pytest.approx(expected.transactions["amount"].sum())
    record = json.loads((run / "run.json").read_text())
    assert record["dataset_label"] == "synthetic CRM data (300 customers, random_state 5)"
    assert record["notebooks"][0]["parameters"] == {"n_customers": 300, "random_state": 5}  # what the user set


def test_the_plan_cannot_be_changed_after_it_is_made(tiny_notebooks):
    plan = plan_report(dataset="cdnow_sample", notebooks_dir=tiny_notebooks)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.notebooks = ()
    with pytest.raises(TypeError):
        plan.per_notebook["01_first"]["dataset"] = "elsewhere"
    with pytest.raises(TypeError):
        plan.index["sections"] = []
    assert plan.dataset.dataset == "cdnow_sample" and plan.dataset.label.startswith("CDNOW (1/10 sample")


def test_about_this_run_lists_only_the_parameters_that_applied(tmp_path, make_nb):
    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_data.ipynb", PARAMS, "d = load_dataset(dataset, n_customers=n_customers, random_state=random_state)")
    make_nb(nbs / "02_cluster.ipynb", PARAMS + "\nk = 3\nk_max = None",
            "d = load_dataset(dataset, n_customers=n_customers, random_state=random_state)", "fit(d, k=k, random_state=random_state)")
    rows = {r["name"]: r for r in _parameter_table(plan_report(dataset="cdnow", notebooks_dir=nbs))}
    assert "n_customers" not in rows  # builds synthetic data only
    assert rows["random_state"]["notebooks"] == "02"  # 02 seeds its clustering too
    assert rows["dataset"]["notebooks"] == "all" and rows["k"]["notebooks"] == "02"
    # a None default is one the notebook derives: the table says so instead of a bare "None"
    assert rows["k_max"]["value"].startswith("None (derived in the notebook")
    synthetic = {r["name"]: r for r in _parameter_table(plan_report(dataset="synthetic", notebooks_dir=nbs))}
    assert synthetic["n_customers"]["notebooks"] == synthetic["random_state"]["notebooks"] == "all"


def test_notebooks_on_different_data_get_one_prepared_folder_each(tmp_path, make_nb):
    from segwork.report.runner import _data_folders

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS, "pass")
    make_nb(nbs / "02_b.ipynb", PARAMS.replace("n_customers = 100", "n_customers = 200"), "pass")
    make_nb(nbs / "03_c.ipynb", 'output_dir = "."', "pass")  # no data set at all
    plan = plan_report(notebooks_dir=nbs)
    assert set(plan.sources) == {"01_a", "02_b"}
    assert dict(plan.sources["02_b"].values) == {"n_customers": 200, "random_state": 0}
    folders = _data_folders(plan.sources.values(), tmp_path / "run")
    assert sorted(str(p.relative_to(tmp_path / "run")) for p in folders.values()) == ["data/1", "data/2"]
    same = plan_report(notebooks_dir=nbs, parameters=[("n_customers", "50")])
    assert _data_folders(same.sources.values(), tmp_path / "run") == {same.dataset: tmp_path / "run" / "data"}


@pytest.mark.slow
def test_a_parameter_that_applies_nowhere_is_named_not_dropped_silently(tmp_path, make_nb, run_cli):
    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS, LOAD)
    res = run_cli("report", "--notebooks", str(nbs), "--output", str(tmp_path / "out"), "--no-progress",
                  "--dataset", "cdnow_sample", "-p", "n_customers", "300")
    assert res.returncode == 0, res.stderr
    assert "note: n_customers does not apply to this run" in res.stdout
    assert "note: dataset" not in res.stdout  # what applied is not flagged
