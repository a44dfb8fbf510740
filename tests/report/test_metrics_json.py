"""metrics.json: numpy / pandas values become plain JSON, nothing is lost."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from segwork.report import load_metrics, save_metrics, to_jsonable


def test_frames_keep_a_meaningful_index_even_a_named_range():
    by_k = pd.DataFrame({"silhouette": [0.3, 0.4]}).set_index(pd.RangeIndex(2, 4, name="k"))
    assert to_jsonable(by_k) == [{"k": 2, "silhouette": 0.3}, {"k": 3, "silhouette": 0.4}]
    plain = pd.DataFrame({"a": [1]})
    assert to_jsonable(plain) == [{"a": 1}]
    labelled = pd.DataFrame({"a": [1]}, index=pd.Index(["x"], name="segment"))
    assert to_jsonable(labelled) == [{"segment": "x", "a": 1}]


def test_scalars_arrays_and_non_finite(tmp_path):
    metrics = {"n": np.int64(3), "ari": np.float32(0.5), "bad": float("nan"), "arr": np.arange(2),
               "s": pd.Series({"a": 1.5}), "when": pd.Timestamp("2024-01-01")}
    path = save_metrics(metrics, tmp_path)
    assert json.loads(path.read_text()) == load_metrics(tmp_path)
    assert load_metrics(tmp_path) == {"n": 3, "ari": 0.5, "bad": None, "arr": [0, 1], "s": {"a": 1.5},
                                      "when": "2024-01-01 00:00:00"}


def test_typed_results_are_saved_as_their_fields():
    """segwork's dataclass results (e.g. act.HitRate) go into metrics.json as a dict of their fields."""
    from segwork.act import HitRate
    from segwork.report import to_jsonable

    assert to_jsonable({"rules": HitRate(hit_rate=0.25, n_customers=np.int64(8), coverage=float("nan"), k=3)}) == \
        {"rules": {"hit_rate": 0.25, "n_customers": 8, "coverage": None, "k": 3}}
