"""segwork.segment.migration: transition matrices and the value that moved, against planted moves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.prepare import prepare
from segwork.segment import default_segmentations
from segwork.segment.migration import LEFT_DATA, NEW_CUSTOMERS, dataset_at, migrate, migration


def planted(n=3000, seed=0):
    """Labels at two ends with known moves: the truth table of (from, to) and each customer's values."""
    rng = np.random.default_rng(seed)
    segs = np.array(["A", "B", "C"])
    ids = [f"c{i}" for i in range(n)]
    before = segs[rng.integers(0, 3, n)]
    # planted transition probabilities (rows: from A, B, C)
    P = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.0, 0.3, 0.7]])
    after = np.array([rng.choice(segs, p=P[np.searchsorted(segs, b)]) for b in before])
    vb = rng.gamma(2.0, 50.0, n)
    va = rng.gamma(2.0, 50.0, n)
    return (pd.Series(before, index=ids), pd.Series(after, index=ids), pd.Series(vb, index=ids),
            pd.Series(va, index=ids), P)


def test_counts_equal_the_planted_moves_cell_by_cell():
    before, after, vb, va, _ = planted()
    m = migration(before, after, value_before=vb, value_after=va)
    truth = pd.crosstab(before, after)
    for a in "ABC":
        for b in "ABC":
            cell = int(((before == a) & (after == b)).sum())
            assert m.counts.loc[a, b] == cell == truth.loc[a, b]
            assert m.value_before.loc[a, b] == pytest.approx(vb[(before == a) & (after == b)].sum(), rel=1e-12)
            assert m.value_after.loc[a, b] == pytest.approx(va[(before == a) & (after == b)].sum(), rel=1e-12)
    assert m.counts.to_numpy().sum() == len(before)
    assert NEW_CUSTOMERS not in m.counts.index and LEFT_DATA not in m.counts.columns


def test_row_shares_estimate_the_planted_transition_probabilities():
    before, after, _, _, P = planted(n=6000, seed=1)
    m = migration(before, after)
    np.testing.assert_allclose(m.shares.sum(axis=1), 1.0)
    n = m.counts.sum(axis=1).to_numpy()[:, None]
    se = np.sqrt(P * (1 - P) / n)  # binomial standard error of each share
    assert np.all(np.abs(m.shares.loc[list("ABC"), list("ABC")].to_numpy() - P) <= 4 * se + 1e-12)


def test_summary_adds_up_and_values_are_conserved():
    before, after, vb, va, _ = planted()
    m = migration(before, after, value_before=vb, value_after=va)
    s = m.summary
    assert (s["before"] == before.value_counts().reindex(s.index)).all()
    assert (s["after"] == after.value_counts().reindex(s.index)).all()
    assert (s["stayed"] + s["moved_out"] == s["before"]).all()
    assert s["moved_out"].sum() == s["moved_in"].sum() == m.moved == int((before != after).sum())
    assert m.stayed_share == pytest.approx(float((before == after).mean()))
    assert s["value_before"].sum() == pytest.approx(vb.sum()) and s["value_after"].sum() == pytest.approx(va.sum())
    for seg in "ABC":
        out = (before == seg) & (after != seg)
        into = (after == seg) & (before != seg)
        assert s.loc[seg, "value_out"] == pytest.approx(vb[out].sum())
        assert s.loc[seg, "value_in"] == pytest.approx(va[into].sum())
    assert m.flows["customers"].sum() == len(before)


def test_new_and_departed_customers_get_their_own_row_and_column():
    before = pd.Series({"1": "A", "2": "A", "3": "B", "4": "B"})
    after = pd.Series({"2": "B", "3": "B", "4": "A", "5": "A", "6": "B"})
    m = migration(before, after, value_before=pd.Series({"1": 10.0, "2": 20.0, "3": 30.0, "4": 40.0}),
                  value_after=pd.Series({"2": 1.0, "3": 2.0, "4": 3.0, "5": 4.0, "6": 5.0}))
    expected = pd.DataFrame([[0, 1, 1], [1, 1, 0], [1, 1, 0]], index=["A", "B", NEW_CUSTOMERS],
                            columns=["A", "B", LEFT_DATA])
    pd.testing.assert_frame_equal(m.counts, expected, check_names=False)
    assert m.value_before.loc["A", LEFT_DATA] == 10.0 and m.value_after.loc[NEW_CUSTOMERS].sum() == 9.0
    assert m.counts.to_numpy().sum() == 6  # every customer of either end, once
    assert m.stayed_share == pytest.approx(1 / 3)  # of the 3 customers at both ends, 3 kept B
    assert m.summary.loc["A", "moved_in"] == 2  # customer 4 from B, customer 5 new


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyzw")), min_size=1, max_size=60))
def test_counts_partition_the_customers(pairs):
    ids = [str(i) for i in range(len(pairs))]
    before = pd.Series([p[0] for p in pairs], index=ids)
    after = pd.Series([p[1] for p in pairs], index=ids)
    m = migration(before, after)
    assert m.counts.to_numpy().sum() == len(pairs)
    assert (m.counts.sum(axis=1) == before.value_counts().reindex(m.counts.index)).all()
    assert (m.counts.sum(axis=0) == after.value_counts().reindex(m.counts.columns)).all()
    assert int(np.trace(m.counts.loc[:, [c for c in m.counts.index if c in m.counts.columns]]
                        .reindex(columns=m.counts.index, fill_value=0).to_numpy())) == int((before == after).sum())


def test_errors_name_the_customer_and_the_fix():
    before = pd.Series({"1": "A", "2": "B"})
    with pytest.raises(DataError, match="no customer in common"):
        migration(before, pd.Series({"9": "A"}))
    with pytest.raises(DataError, match="no finite value for customer '2'"):
        migration(before, before, value_before=pd.Series({"1": 1.0, "2": np.nan}))
    with pytest.raises(DataError, match="customer '1'.*twice"):
        migration(pd.Series(["A", "B"], index=["1", "1"]), before)
    with pytest.raises(DataError, match="no segment for customer '2'"):
        migration(pd.Series({"1": "A", "2": None}), before)


def test_migrate_holds_the_definitions_fixed_a_quarter_apart():
    """On make_crm a quarter apart: the segmenters of the earlier end place the later customers."""
    data = make_crm(n_customers=1500, random_state=0)
    t1 = data.observation_end - pd.Timedelta(days=91)
    before = dataset_at(data, t1)
    assert before.transactions["date"].max() <= t1 < data.transactions["date"].max()
    assert before.observation_end == t1 and len(before.transactions) < len(data.transactions)
    early = prepare(before)
    late = prepare(data)
    segs = default_segmentations(early.table, approaches=["rfm", "value", "relationship"],
                                 model=early.clv.transaction_model)
    moves = migrate(segs, late.table, earlier=early.table)
    for name, m in moves.items():
        assert m.counts.to_numpy().sum() == len(late.table.index.union(early.table.index))
        later = segs[name].predict(late.table).astype(str)
        common = early.table.index.intersection(late.table.index)
        assert m.stayed_share == pytest.approx(float((segs[name].labels.astype(str)[common]
                                                      == later[common]).mean()))
        assert m.value_before.to_numpy().sum() == pytest.approx(early.table["clv"].sum())
        assert m.value_after.to_numpy().sum() == pytest.approx(late.table["clv"].sum())
        assert list(m.counts.index[:len(segs[name].segments)]) == [str(s) for s in segs[name].segments]


def test_dataset_at_refuses_dates_outside_the_data():
    data = make_crm(n_customers=200, random_state=0)
    with pytest.raises(DataError, match="after the data's observation end"):
        dataset_at(data, data.observation_end + pd.Timedelta(days=1))
    with pytest.raises(DataError, match="no transaction up to"):
        dataset_at(data, "1990-01-01")
    with pytest.raises(DataError, match="not a date"):
        dataset_at(data, "soon")
