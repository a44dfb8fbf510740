"""Notebook 04 (behavioural clustering) through papermill on small parameters; checks on its metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pm = pytest.importorskip("papermill")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_clustering_segmentation.ipynb"


def run(tmp_path: Path, **parameters) -> dict:
    out = tmp_path / "out"
    pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "04.out.ipynb"), parameters={"output_dir": str(out), **parameters},
                        kernel_name="python3", cwd=str(NOTEBOOK.parent), progress_bar=False)
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_04_on_synthetic(tmp_path):
    m = run(tmp_path, n_customers=2000, seed=1, k_max=7, n_resamples=2)
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
def test_04_on_transactions_only(tmp_path):
    m = run(tmp_path, dataset="cdnow_sample", k_max=5, n_resamples=2)
    assert "skipped" not in m and "ari_truth" not in m
    assert m["n_customers"] == 2357
    assert [r["method"] for r in m["methods"]] == ["kmeans", "gmm", "hdbscan"]  # no categories: no k-prototypes
    assert m["features"] == ["frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue"]
