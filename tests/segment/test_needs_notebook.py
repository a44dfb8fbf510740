"""Notebook 07 (needs-based segmentation) through papermill on small parameters; checks on its metrics.json."""
from __future__ import annotations

import pytest

NAME = "07_needs_segmentation"


@pytest.mark.slow
def test_07_on_synthetic(run_notebook):
    m = run_notebook(NAME, n_customers=3000, random_state=2, n_resamples=2)
    assert m["n_customers"] == 3000 and m["n_respondents"] == 900  # 30 % answer the survey
    assert m["n_factors"] == 4
    assert sorted(m["factor_names"]) == ["convenience", "innovation", "price sensitivity", "service expectation"]
    assert m["nonrespondents"] == "behaviour" and m["cv_accuracy"] > m["baseline_accuracy"]
    assert m["n_assigned_from_behaviour"] == 2100 and m["n_unknown"] == 0
    cover = {r["segment"]: r for r in m["coverage"]}
    assert sum(r["survey"] for r in cover.values()) == 900
    assert sum(r["behaviour"] for r in cover.values()) == 2100
    assert 0.3 < m["ari_truth_respondents"] < 1
    segs = {r["segment"]: r for r in m["segments"]}
    assert len(segs) == m["chosen_k"] and all(1 <= r["satisfaction"] <= 5 for r in segs.values())


@pytest.mark.slow
def test_07_skips_without_survey(run_notebook):
    m = run_notebook(NAME, dataset="cdnow_sample")
    assert "no needs survey" in m["skipped"]
