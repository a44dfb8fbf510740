"""default_segmentations: every approach the data allow, deterministic; the aligned approach recovers the truth."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import segwork
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.prepare import prepare_table
from segwork.segment import Segmentation, default_segmentations

FAST = ["apriori", "rfm", "value", "relationship"]


@pytest.fixture(scope="module")
def data():
    return make_crm(n_customers=1500, random_state=21)


@pytest.fixture(scope="module")
def table(data):
    return prepare_table(data)


def test_builds_each_approach_on_every_customer(data, table):
    segs = default_segmentations(table, random_state=0, approaches=FAST)
    assert list(segs) == FAST
    ids = set(data.transactions["customer_id"].unique())
    for name, seg in segs.items():
        assert isinstance(seg, Segmentation) and seg.name == name
        assert set(seg.labels.index) == ids
        assert seg.labels.notna().all() and seg.n_segments >= 2
    assert segs["value"].params["value_name"] == "clv"  # predicted CLV when the models fit


def test_approaches_lacking_inputs_are_left_out(data, table):
    transactions_only = dataclasses.replace(data, customers=None, survey=None, truth=None)
    segs = default_segmentations(prepare_table(transactions_only), approaches=FAST + ["needs"])
    assert "apriori" not in segs and "needs" not in segs
    assert {"rfm", "value", "relationship"} <= set(segs)
    with pytest.raises(ValueError, match="unknown approach 'clusters'"):
        default_segmentations(table, approaches=["clusters"])


def test_takes_the_prepared_table_only(data, table):
    with pytest.raises(TypeError, match=r"got Dataset; call table = segwork.prepare_table\(data\) first"):
        default_segmentations(data, approaches=FAST)
    with pytest.raises(DataError, match="no 'frequency' column.*prepare_table"):
        default_segmentations(data.transactions, approaches=FAST)
    # no CLV columns (the models did not fit): the value tiers fall back to revenue
    segs = default_segmentations(table.drop(columns=["p_alive", "clv"]), approaches=["value"])
    assert segs["value"].params["value_name"] == "revenue x 1"


def test_same_seed_same_labels():
    # kmeans and needs draw random numbers (initialisation, resampling): they catch a seed not passed on
    approaches = [*FAST, "kmeans", "needs"]
    a = default_segmentations(prepare_table(make_crm(n_customers=800, random_state=5)), random_state=1, approaches=approaches)
    np.random.seed(12345)  # a different global random state must not matter
    b = default_segmentations(prepare_table(make_crm(n_customers=800, random_state=5)), random_state=1, approaches=approaches)
    assert list(a) == list(b) == approaches
    for name in a:
        pd.testing.assert_series_equal(a[name].labels, b[name].labels)


@pytest.mark.slow
def test_behavioural_clustering_recovers_the_planted_segments_at_20000_customers():
    """The acceptance check of the segmentation issue: the approach aligned with make_crm's generating process
    (behavioural clustering) reaches an adjusted Rand index >= 0.8 against the planted segments."""
    pytest.importorskip("segwork.segment.clustering")
    data = make_crm(n_customers=20_000, random_state=0)
    table = prepare_table(data)
    segs = default_segmentations(table, random_state=0, approaches=["rfm", "value", "relationship", "kmeans"])
    out = segwork.compare(segs, table, truth=data.truth["segment"])
    assert out["ari_truth"].idxmax() == "kmeans"
    assert out.loc["kmeans", "ari_truth"] >= 0.8
    # the other approaches answer other questions: none of them recovers the planted segments
    assert out.drop(index="kmeans")["ari_truth"].max() < 0.5
