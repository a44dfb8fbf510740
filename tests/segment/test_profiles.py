"""segwork.segment.profiles: segment means with intervals that cover the true mean at their stated level."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.errors import DataError
from segwork.segment.profiles import profiles


def _segments(rng, sizes, draw):
    ids, labels, values = [], [], []
    for name, n in sizes.items():
        ids += [f"{name}{i}" for i in range(n)]
        labels += [name] * n
        values.append(draw(n))
    table = pd.DataFrame({"clv": np.concatenate(values)}, index=ids)
    return pd.Series(labels, index=ids), table


@pytest.mark.parametrize("method, n_rep", [("t", 800), ("bootstrap", 120)])
def test_intervals_cover_the_true_mean_at_their_level(method, n_rep):
    """Repeated samples of a normal segment: the share of intervals holding the true mean is about 95 %."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(n_rep):
        labels, table = _segments(rng, {"a": 40}, lambda n: rng.normal(10.0, 3.0, n))
        p = profiles(labels, table, columns=["clv"], method=method, n_resamples=500, random_state=rng)
        hits += p.loc["a", "clv_lower"] <= 10.0 <= p.loc["a", "clv_upper"]
    coverage = hits / n_rep
    se = np.sqrt(0.95 * 0.05 / n_rep)
    # t is exact for normal data; BCa on n = 40 undercovers slightly (a known small-sample property)
    assert abs(coverage - 0.95) <= 4 * se + (0.02 if method == "bootstrap" else 0.0)


def test_means_counts_and_widths():
    rng = np.random.default_rng(1)
    labels, table = _segments(rng, {"big": 4000, "small": 25}, lambda n: rng.gamma(2.0, 50.0, n))
    table["p_alive"] = rng.uniform(0, 1, len(table))
    p = profiles(labels, table)
    assert list(p.columns) == ["customers", "clv", "clv_lower", "clv_upper", "p_alive", "p_alive_lower",
                               "p_alive_upper"]  # purchase_rate is not in the table: left out
    assert p.loc["big", "customers"] == 4000 and p.loc["small", "customers"] == 25
    for seg in ("big", "small"):
        assert p.loc[seg, "clv"] == pytest.approx(table.loc[labels == seg, "clv"].mean())
        assert p.loc[seg, "clv_lower"] < p.loc[seg, "clv"] < p.loc[seg, "clv_upper"]
    width = (p["clv_upper"] - p["clv_lower"])
    # the half-width shrinks like 1/sqrt(n): the small segment's interval is several times wider
    assert width["small"] > 5 * width["big"]
    assert p.attrs["interval"] == "confidence interval for the segment mean"


def test_one_customer_segment_has_no_interval_and_errors_say_the_fix():
    labels = pd.Series({"1": "a", "2": "a", "3": "b"})
    table = pd.DataFrame({"clv": [1.0, 3.0, 5.0]}, index=["1", "2", "3"])
    p = profiles(labels, table, columns=["clv"])
    assert np.isnan(p.loc["b", "clv_lower"]) and p.loc["b", "clv"] == 5.0
    with pytest.raises(DataError, match="none of the columns"):
        profiles(labels, table, columns=["revenue"])
    with pytest.raises(DataError, match="level"):
        profiles(labels, table, level=95)
    with pytest.raises(DataError, match="method"):
        profiles(labels, table, method="normal")
