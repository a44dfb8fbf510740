"""RFM: quintile scores against direct quantile computations, the segment map, new customers, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.datasets import make_crm
from segwork.errors import DataError, NotFittedError
from segwork.features import customer_table
from segwork.segment import DEFAULT_SEGMENT_MAP, RFMSegmenter, Segmentation, rfm_scores, rfm_segmentation, segment_grid


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=2000, random_state=4)
    return customer_table(data.transactions, data.customers)


def test_scores_equal_pandas_qcut_of_first_ranks():
    # n divisible by 5: the documented bins are exactly pandas' quintiles of the 'first' ranks
    rng = np.random.default_rng(0)
    x = np.round(rng.gamma(1.0, 100.0, size=1000))  # many ties
    direct = pd.qcut(pd.Series(x).rank(method="first"), 5, labels=False).to_numpy() + 1
    assert (rfm_scores(x) == direct).all()
    direct_low = pd.qcut(pd.Series(-x).rank(method="first"), 5, labels=False).to_numpy() + 1
    assert (rfm_scores(x, higher_is_better=False) == direct_low).all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=5, max_size=300), st.booleans())
def test_scores_are_equal_fifths_and_monotone(values, higher):
    x = np.array(values, dtype=float)
    s = rfm_scores(x, higher_is_better=higher)
    counts = np.bincount(s, minlength=6)[1:]
    assert counts.sum() == x.size
    assert counts.max() - counts.min() <= 1  # equal fifths, +-1
    key = x if higher else -x
    for k in range(1, 5):  # a better score never holds a worse value
        assert key[s == k].max() <= key[s == k + 1].min()


def test_edges_match_the_sorted_values(table):
    seg = RFMSegmenter().fit(table)
    n = len(table)
    for letter, col in (("F", "frequency"), ("M", "revenue")):
        xs = np.sort(table[col].to_numpy(dtype=float))
        # edge k = the largest value of score k = the value at sorted position ceil(k n / 5) - 1
        direct = [xs[int(np.ceil(k * n / 5)) - 1] for k in range(1, 5)]
        assert np.allclose(seg.edges_[letter], direct)
    days = np.sort(table["days_since_last"].to_numpy(dtype=float))[::-1]  # most days = score 1
    direct = [days[int(np.ceil(k * n / 5)) - 1] for k in range(1, 5)]
    assert np.allclose(seg.edges_["R"], direct)


def test_recency_fewest_days_score_five(table):
    seg = RFMSegmenter().fit(table)
    r = seg.scores_["R"]
    d = table["days_since_last"]
    assert d[r == 5].max() <= d[r == 4].min()
    assert d[r == 1].min() >= d[r == 2].max()
    assert d.idxmin() in r.index[r == 5]


def test_every_score_combination_has_a_name():
    grid = segment_grid()
    assert grid.shape == (5, 5) and grid.notna().all().all()
    assert set(grid.to_numpy().ravel()) == {"Champions", "Loyal", "Potential loyalist", "New", "Promising",
                                             "Need attention", "About to sleep", "At risk", "Cannot lose them",
                                             "Hibernating", "Lost"}
    # the corners read as the names say
    assert grid.loc[5, 5] == "Champions" and grid.loc[1, 1] == "Lost" and grid.loc[5, 1] == "New"
    assert grid.loc[1, 5] == "Cannot lose them"


def test_labels_follow_the_map_and_fm_rounds_half_up(table):
    seg = rfm_segmentation(table)
    scores = seg.params["scores"]
    assert (scores["FM"] == np.floor((scores["F"] + scores["M"]) / 2 + 0.5)).all()
    grid = segment_grid()
    expected = [grid.loc[r, fm] for r, fm in zip(scores["R"], scores["FM"])]
    assert (seg.labels.astype(str).to_numpy() == np.array(expected)).all()
    assert (scores["RFM"] == scores["R"].astype(str) + scores["F"].astype(str) + scores["M"].astype(str)).all()
    # Champions buy more recently and more often than the Lost
    prof = seg.profile
    assert prof.loc["Champions", "days_since_last"] < prof.loc["Lost", "days_since_last"]
    assert prof.loc["Champions", "frequency"] > prof.loc["Lost", "frequency"]


def test_custom_map_mapping_form_and_gaps():
    t = pd.DataFrame({"days_since_last": np.arange(50.0), "frequency": np.arange(50) % 7,
                      "revenue": np.linspace(1, 99, 50)}, index=[f"c{i}" for i in range(50)])
    two = {(r, fm): ("good" if r + fm >= 6 else "poor") for r in range(1, 6) for fm in range(1, 6)}
    seg = rfm_segmentation(t, two)
    sc = seg.params["scores"]
    assert ((seg.labels.astype(str) == "good") == (sc["R"] + sc["FM"] >= 6)).all()
    gap = [r for r in DEFAULT_SEGMENT_MAP if r["name"] != "Lost"]
    with pytest.raises(DataError, match=r"R=1, FM=1"):
        rfm_segmentation(t, gap)


def test_predict_reproduces_fitted_scores_away_from_ties(table):
    seg = RFMSegmenter().fit(table)
    again = seg.score(table)
    for letter, col in (("R", "days_since_last"), ("F", "frequency"), ("M", "revenue")):
        on_edge = table[col].isin(seg.edges_[letter])
        assert (again.loc[~on_edge, letter] == seg.scores_.loc[~on_edge, letter]).all()
        # on an edge the value gets the lower of the scores it was split across
        assert (again.loc[on_edge, letter] <= seg.scores_.loc[on_edge, letter]).all()


def test_predict_new_customers_with_the_fitted_edges(table):
    seg = rfm_segmentation(table)
    new = pd.DataFrame({"days_since_last": [0.0, 10_000.0, 0.0], "frequency": [1000, 0, 0],
                        "revenue": [1e7, 0.0, 0.0]}, index=["n1", "n2", "n3"])
    sc = seg.segmenter.score(new)
    assert sc.loc["n1", ["R", "F", "M"]].tolist() == [5, 5, 5]
    assert sc.loc["n2", ["R", "F", "M"]].tolist() == [1, 1, 1]
    assert seg.predict(new).tolist() == ["Champions", "Lost", "New"]


def test_errors(table):
    with pytest.raises(DataError, match="fewer than the 5 scores"):
        rfm_segmentation(table.iloc[:4])
    const = table.copy()
    const["frequency"] = 3
    with pytest.raises(DataError, match=r"'frequency' is constant"):
        rfm_segmentation(const)
    miss = table.copy()
    miss["revenue"] = np.nan
    with pytest.raises(DataError, match="all missing"):
        rfm_segmentation(miss)
    miss = table.copy()
    miss.iloc[3, miss.columns.get_loc("revenue")] = np.nan
    with pytest.raises(DataError, match=f"missing for customer '{miss.index[3]}'"):
        rfm_segmentation(miss)
    with pytest.raises(DataError, match=r"'spend' is not in the customer table"):
        rfm_segmentation(table, columns={"monetary": "spend"})
    with pytest.raises(DataError, match="unknown key"):
        rfm_segmentation(table, columns={"money": "revenue"})
    with pytest.raises(NotFittedError):
        RFMSegmenter().predict(table)


def test_deterministic_and_save_load(table, tmp_path):
    a = rfm_segmentation(table)
    data = make_crm(n_customers=2000, random_state=4)
    b = rfm_segmentation(customer_table(data.transactions, data.customers))
    pd.testing.assert_series_equal(a.labels, b.labels)
    back = Segmentation.load(a.save(tmp_path / "rfm.seg"))
    pd.testing.assert_series_equal(back.labels, a.labels)
    pd.testing.assert_series_equal(back.predict(table), a.predict(table))
