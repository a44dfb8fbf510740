"""Behavioural segmentation: recovery of planted segments, names, description, predict, errors, determinism."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import customer_table
from segwork.segment.base import Segmentation
from segwork.segment.clustering import (
    UNCLUSTERED,
    UNSEEN_FALLBACK,
    behavioural_segmentation,
    compare_methods,
    default_features,
)
from segwork.segment.naming import AVERAGE_NAME, name_segments


@pytest.fixture(scope="module")
def crm_size():
    return 2500, 3  # customers, seed: the `data` and `table` fixtures (tests/conftest.py) are made at this size


@pytest.fixture(scope="module")
def kmeans(table):
    return behavioural_segmentation(table, n_resamples=3)


def test_default_features_are_behaviour_and_mixes(table):
    f = default_features(table)
    assert f[:5] == ["frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue"]
    assert {c for c in f[5:]} == {c for c in table.columns if c.startswith(("cat_", "ch_"))}
    kp = default_features(table, "kprototypes")
    assert "customer_type" in kp and "region" in kp and "has_survey" not in kp and "signup_date" not in kp


def test_kmeans_recovers_planted_segments_at_2500(kmeans, data):
    truth = data.truth["segment"].reindex(kmeans.labels.index)
    assert kmeans.assessment.k == 5  # chosen by the criteria over 2..8
    assert adjusted_rand_score(truth, kmeans.labels) > 0.85
    sel = kmeans.selection
    assert list(sel.index) == list(range(2, 9)) and sel.loc[5, "mean_rank"] == sel["mean_rank"].min()
    assert 0.9 < kmeans.stability <= 1.0
    assert len(kmeans.assessment.stability_scores) == 3
    assert kmeans.quality.silhouette == kmeans.assessment.quality.silhouette > 0


def test_names_read_the_centroids_in_original_units(kmeans, data):
    desc = kmeans.description
    assert list(desc.index) == kmeans.segments and desc["customers"].sum() == len(kmeans.labels)
    assert desc["share"].sum() == pytest.approx(1.0)
    # each planted segment's dominant category and channel appear in the name of the segment holding most of it
    truth = data.truth["segment"].reindex(kmeans.labels.index)
    for spec in data.segments:
        name = kmeans.labels[truth == spec.name].value_counts().idxmax()
        assert spec.category in name and spec.channel in name, (spec.name, name)
        # centroids are in original units: the share of that category is a share, spend is money
        assert desc.loc[name, f"cat_{spec.category}"] > 0.5
    big = kmeans.labels[truth == "tech enthusiasts"].value_counts().idxmax()
    small = kmeans.labels[truth == "bargain hunters"].value_counts().idxmax()
    assert "high spend" in big and "low spend" in small
    assert desc.loc[big, "mean_amount"] > 150 > 40 > desc.loc[small, "mean_amount"]
    # the geometric-type centre of mean_amount lies within the segment's range in original units
    members = kmeans.labels == big
    data_table = customer_table(data.transactions, data.customers)
    assert data_table.loc[members[members].index, "mean_amount"].between(
        desc.loc[big, "mean_amount"] / 3, desc.loc[big, "mean_amount"] * 3).mean() > 0.8


def test_profile_and_order(kmeans, table):
    assert list(kmeans.profile.index) == kmeans.segments
    assert kmeans.profile["customers"].tolist() == kmeans.sizes.tolist()
    assert kmeans.sizes.is_monotonic_decreasing


def test_predict_new_customers_matches_labels(kmeans, table):
    sample = table.sample(200, random_state=1)
    assigned = kmeans.predict(sample)
    assert (assigned == kmeans.labels.loc[sample.index].astype(object)).all()


def test_predict_on_new_data_set(kmeans):
    other = make_crm(n_customers=600, random_state=11)
    new = customer_table(other.transactions, other.customers, other.survey)
    assigned = kmeans.predict(new)
    assert set(assigned) <= set(kmeans.segments)
    truth = other.truth["segment"].reindex(new.index)
    assert adjusted_rand_score(truth, assigned) > 0.8


def test_unseen_category_goes_to_named_fallback_and_is_counted(table):
    seg = behavioural_segmentation(table, method="kprototypes", k=5, n_resamples=0)
    new = table.head(20).copy()
    new["region"] = new["region"].astype(object)
    new.loc[new.index[:3], "region"] = "atlantis"
    with pytest.warns(UserWarning, match=r"3 customer\(s\).*region='atlantis': 3.*Rebuild"):
        out = seg.predict(new)
    assert (out.iloc[:3] == UNSEEN_FALLBACK).all() and (out.iloc[3:] != UNSEEN_FALLBACK).all()
    mask, counts = seg.segmenter.unseen_categories(new[seg.features])
    assert counts == {("region", "atlantis"): 3} and mask[:3].all() and not mask[3:].any()
    assert seg.fallback == UNSEEN_FALLBACK


def test_save_and_load_round_trip(kmeans, table, tmp_path):
    path = kmeans.save(tmp_path / "seg.pkl")
    back = Segmentation.load(path)
    assert back.labels.equals(kmeans.labels)
    pd.testing.assert_frame_equal(back.description, kmeans.description)
    assert (back.predict(table.head(50)) == kmeans.predict(table.head(50))).all()


def test_same_seed_same_segmentation(table):
    a = behavioural_segmentation(table, k=4, random_state=7, n_resamples=2)
    b = behavioural_segmentation(table, k=4, random_state=7, n_resamples=2)
    assert a.labels.equals(b.labels)
    pd.testing.assert_frame_equal(a.description, b.description)
    assert a.assessment.stability_scores == b.assessment.stability_scores


def test_hdbscan_noise_is_named_unclustered(table):
    seg = behavioural_segmentation(table, method="hdbscan", n_resamples=0)
    assert seg.params["n_unclustered"] == int((seg.labels == UNCLUSTERED).sum()) > 0
    assert UNCLUSTERED in seg.description.index
    assert seg.assessment.k >= 2


def test_gmm_selection_includes_bic(table):
    seg = behavioural_segmentation(table, method="gmm", k_range=range(3, 7), n_resamples=0)
    sel = seg.selection
    assert sel["bic"].notna().all() and "bic" in seg.assessment.chosen_by


def test_compare_methods_table(table, data):
    res, segs = compare_methods(table, methods=("kmeans", "hdbscan"), k=5, truth=data.truth["segment"],
                                n_resamples=0)
    assert list(res.index) == ["kmeans", "hdbscan"] and set(segs) == {"kmeans", "hdbscan"}
    direct = adjusted_rand_score(data.truth["segment"].reindex(segs["kmeans"].labels.index).astype(str),
                                 segs["kmeans"].labels.astype(str))
    assert res.loc["kmeans", "ari_truth"] == pytest.approx(direct)
    assert res.loc["hdbscan", "unclustered_share"] > 0


def test_transactions_only_table_clusters_without_mixes():
    cd = make_crm(n_customers=800, random_state=2)
    tx = cd.transactions.drop(columns=["category", "channel"])
    t = customer_table(tx)
    seg = behavioural_segmentation(t, k=3, n_resamples=0)
    assert seg.params["features"] == ["frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue"]
    res, _ = compare_methods(t, methods=("kmeans", "kprototypes"), k=3, n_resamples=0)
    assert list(res.index) == ["kmeans"]  # no categorical column: k-prototypes would be k-means


# ----------------------------------------------------------------------------- errors


def test_errors_name_column_value_and_fix(table):
    with pytest.raises(DataError, match=r"feature column 'spend' is not in the table.*fix the name"):
        behavioural_segmentation(table, features=["frequency", "spend"])
    with pytest.raises(DataError, match=r"3 customers but k=5 segments"):
        behavioural_segmentation(table.head(3), k=5)
    with pytest.raises(DataError, match=r"4 customers but at least 5 are needed"):
        behavioural_segmentation(table.head(4), k_range=range(4, 9))
    with pytest.raises(DataError, match=r"'flat' is constant"):
        behavioural_segmentation(table.assign(flat=1.0), features=["frequency", "flat"], k=3)
    with pytest.raises(DataError, match=r"'nothing' is missing for every customer"):
        behavioural_segmentation(table.assign(nothing=np.nan), features=["frequency", "nothing"], k=3)
    with pytest.raises(DataError, match=r"method='dbscan'.*kmeans, gmm, kprototypes, hdbscan"):
        behavioural_segmentation(table, method="dbscan")
    with pytest.raises(DataError, match=r"k=1 must be an integer >= 2"):
        behavioural_segmentation(table, k=1)
    with pytest.raises(DataError, match=r"none of the default behaviour columns"):
        behavioural_segmentation(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))


def test_default_features_leave_out_constant_columns(table):
    t = table.assign(ch_web=0.0)  # e.g. a shop without web sales
    seg = behavioural_segmentation(t, k=3, n_resamples=0)
    assert "ch_web" not in seg.params["features"]


def test_predict_without_a_feature_says_which(kmeans, table):
    with pytest.raises(DataError, match=r"lack column\(s\) \['revenue'\]"):
        kmeans.predict(table.drop(columns=["revenue"]).head())


# ----------------------------------------------------------------------------- naming


def test_naming_words_and_order():
    z = pd.DataFrame({"mean_amount": [1.8, -0.9, 0.0], "frequency": [0.7, 1.0, 0.1],
                      "cat_electronics": [2.0, -0.3, 0.0], "ch_web": [1.2, 0.8, 0.1],
                      "days_since_last": [-0.2, -0.6, 0.2]}, index=[0, 1, 2])
    names = name_segments(z)
    assert names[0] == "very high spend, frequent, electronics, web"
    assert names[1] == "low spend, frequent, recent, web"
    assert names[2] == AVERAGE_NAME


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 10_000))
def test_names_are_unique_and_deterministic(n_clusters, n_features, seed):
    rng = np.random.default_rng(seed)
    cols = ["mean_amount", "frequency", "cat_home", "ch_app", "days_since_last", "custom score"][:n_features]
    # coarse values make ties and identical rows likely
    z = pd.DataFrame(rng.choice([-2.0, -0.6, 0.0, 0.6, 2.0], size=(n_clusters, n_features)), columns=cols)
    a = name_segments(z, reserved=(UNCLUSTERED,))
    b = name_segments(z.copy(), reserved=(UNCLUSTERED,))
    assert a.equals(b)
    assert a.is_unique and UNCLUSTERED not in set(a)
    assert all(isinstance(v, str) and v for v in a)


@pytest.mark.slow
def test_acceptance_default_kmeans_recovers_planted_segments_at_20000():
    data = make_crm(20_000, random_state=0)
    t = customer_table(data.transactions, data.customers, data.survey)
    seg = behavioural_segmentation(t)
    truth = data.truth["segment"].reindex(seg.labels.index)
    assert seg.assessment.k == 5
    assert adjusted_rand_score(truth, seg.labels) >= 0.8
