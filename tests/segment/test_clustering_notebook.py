"""Notebook 04 (behavioural clustering) through papermill on small parameters; checks on its metrics.json."""
from __future__ import annotations

import pytest

NAME = "04_clustering_segmentation"


@pytest.mark.slow
def test_04_on_synthetic(run_notebook):
    m = run_notebook(NAME, n_customers=2000, random_state=1, k_max=7, n_resamples=2)
    assert m["n_customers"] == 2000
    assert m["chosen_k"] == 5 and [r["k"] for r in m["k_selection"]] == list(range(2, 8))
    assert set(m["ari_truth"]) == {"kmeans", "gmm", "kprototypes", "hdbscan"}
    assert m["ari_truth"]["kmeans"] > 0.8 and m["ari_truth"]["kprototypes"] > 0.8
    assert 0.3 < m["silhouette"] < 1 and 0.8 < m["stability"] <= 1
    assert sum(r["customers"] for r in m["segments"]) == 2000
    assert all(0 <= v <= 1 or v is None for v in m["stability_by_method"].values())
    names = [r["segment"] for r in m["centroids"]]
    assert len(set(names)) == len(names) == 5


@pytest.mark.slow
def test_04_on_transactions_only(run_notebook):
    m = run_notebook(NAME, dataset="cdnow_sample", k_max=5, n_resamples=2)
    assert "skipped" not in m and "ari_truth" not in m
    assert m["n_customers"] == 2357
    assert [r["method"] for r in m["methods"]] == ["kmeans", "gmm", "hdbscan"]  # no categories: no k-prototypes
    assert all("seconds" not in r for r in m["methods"])  # wall time is not saved: metrics stay reproducible
    assert m["features"] == ["frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue"]
