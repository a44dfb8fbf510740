"""default_segmentations: every approach the data allow, deterministic; the aligned approach recovers the truth."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import segwork
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.segment import Segmentation, default_segmentations, prepare_table

FAST = ["apriori", "rfm", "value", "relationship"]


@pytest.fixture(scope="module")
def data():
    return make_crm(n_customers=1500, seed=21)


def test_builds_each_approach_on_every_customer(data):
    segs = default_segmentations(data, seed=0, approaches=FAST)
    assert list(segs) == FAST
    ids = set(data.transactions["customer_id"].unique())
    for name, seg in segs.items():
        assert isinstance(seg, Segmentation) and seg.name == name
        assert set(seg.labels.index) == ids
        assert seg.labels.notna().all() and seg.n_segments >= 2
    assert segs["value"].params["value_name"] == "clv"  # predicted CLV when the models fit


def test_approaches_lacking_inputs_are_left_out(data):
    transactions_only = dataclasses.replace(data, customers=None, survey=None, truth=None)
    segs = default_segmentations(transactions_only, approaches=FAST + ["needs"])
    assert "apriori" not in segs and "needs" not in segs
    assert {"rfm", "value", "relationship"} <= set(segs)
    with pytest.raises(DataError, match="unknown approach 'clusters'"):
        default_segmentations(data, approaches=["clusters"])


def test_prepare_table_adds_value_columns_and_measures_at_the_window_end(data):
    table = prepare_table(data)
    assert {"p_alive", "clv"} <= set(table.columns)
    last = data.transactions.groupby("customer_id")["date"].max()
    expected = (pd.Timestamp(data.observation_end) - last).dt.days.astype(float)
    assert (table["days_since_last"] == expected.reindex(table.index)).all()
    assert prepare_table(table) is table  # a prepared table is used as it is


def test_same_seed_same_labels():
    # kmeans and needs draw random numbers (initialisation, resampling): they catch a seed not passed on
    approaches = [*FAST, "kmeans", "needs"]
    a = default_segmentations(make_crm(n_customers=800, seed=5), seed=1, approaches=approaches)
    np.random.seed(12345)  # a different global random state must not matter
    b = default_segmentations(make_crm(n_customers=800, seed=5), seed=1, approaches=approaches)
    assert list(a) == list(b) == approaches
    for name in a:
        pd.testing.assert_series_equal(a[name].labels, b[name].labels)


@pytest.mark.slow
def test_behavioural_clustering_recovers_the_planted_segments_at_20000_customers():
    """The acceptance check of the segmentation issue: the approach aligned with make_crm's generating process
    (behavioural clustering) reaches an adjusted Rand index >= 0.8 against the planted segments."""
    pytest.importorskip("segwork.segment.clustering")
    data = make_crm(n_customers=20_000, seed=0)
    table = prepare_table(data)
    segs = default_segmentations(table, seed=0, approaches=["rfm", "value", "relationship", "kmeans"])
    out = segwork.compare(segs, table, truth=data.truth["segment"])
    assert out["ari_truth"].idxmax() == "kmeans"
    assert out.loc["kmeans", "ari_truth"] >= 0.8
    # the other approaches answer other questions: none of them recovers the planted segments
    assert out.drop(index="kmeans")["ari_truth"].max() < 0.5
