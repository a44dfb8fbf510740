"""compare / agreement / crosstab against direct scikit-learn and pandas computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.preprocessing import StandardScaler

import segwork
from segwork.comparison import agreement, compare, comparison_features, crosstab, eta_squared
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.segment import Assessment, ClusterQuality, Segmentation


@pytest.fixture(scope="module")
def small():
    """A small customer table with two groups that differ in spend, and three segmentations of it."""
    rng = np.random.default_rng(1)
    n = 300
    ids = [f"c{i:03d}" for i in range(n)]
    group = np.repeat(["a", "b", "c"], [150, 100, 50])
    revenue = np.where(group == "a", 100.0, np.where(group == "b", 500.0, 2000.0)) * rng.lognormal(0, 0.3, n)
    table = pd.DataFrame({
        "revenue": revenue,
        "mean_amount": revenue / rng.integers(1, 6, n),
        "frequency": rng.integers(0, 10, n).astype(float),
        "purchase_rate": rng.gamma(2.0, 0.3, n),
        "days_since_last": rng.integers(0, 400, n).astype(float),
        "T": rng.integers(400, 700, n).astype(float),
        "cat_x": rng.random(n),
        "clv": revenue * 0.5 + rng.normal(0, 10, n),
    }, index=pd.Index(ids, name="customer_id"))
    truth = pd.Series(group, index=ids)
    segs = {
        "true-ish": Segmentation(truth.where(rng.random(n) > 0.1, "a"), name="t", method="almost the truth"),
        "random": Segmentation(pd.Series(rng.choice(["x", "y"], n), index=ids), name="r", method="coin"),
        "by spend": Segmentation(pd.Series(np.where(revenue > 300, "high", "low"), index=ids), name="s", method="cut"),
    }
    return table, truth, segs


def _direct_features(table):
    cols = {c: np.log1p(table[c]) for c in ("revenue", "mean_amount", "frequency", "purchase_rate")}
    cols["days_since_last"], cols["T"], cols["cat_x"] = table["days_since_last"], table["T"], table["cat_x"]
    return StandardScaler().fit_transform(pd.DataFrame(cols))


def test_metrics_equal_direct_computations(small):
    table, truth, segs = small
    out = compare(segs, table, truth=truth)
    assert list(out.index) == list(segs) and out.index.name == "segmentation"
    X = _direct_features(table)
    for name, seg in segs.items():
        lab = seg.labels.astype(str)
        row = out.loc[name]
        p = lab.value_counts(normalize=True)
        assert row["n_segments"] == p.size
        assert row["smallest_share"] == pytest.approx(p.min())
        assert row["entropy"] == pytest.approx(scipy_entropy(p) / np.log(p.size))
        assert row["silhouette"] == pytest.approx(silhouette_score(X, lab), abs=1e-9)
        assert row["ari_truth"] == pytest.approx(adjusted_rand_score(truth, lab))
        assert row["nmi_truth"] == pytest.approx(normalized_mutual_info_score(truth, lab))
        for col in ("clv", "revenue", "purchase_rate"):  # eta squared from an explicit one-way ANOVA
            y = table[col]
            between = sum(len(g) * (g.mean() - y.mean()) ** 2 for _, g in y.groupby(lab))
            assert row[f"eta2_{col}"] == pytest.approx(between / ((y - y.mean()) ** 2).sum())
        means = table["clv"].groupby(lab).mean()
        assert row["best_segment"] == means.idxmax() and row["lift_on"] == "clv"
        assert row["best_lift"] == pytest.approx(means.max() / table["clv"].mean())
        assert np.isnan(row["stability"])
    assert out.loc["true-ish", "ari_truth"] > 0.6 > out.loc["random", "ari_truth"]
    assert out.loc["by spend", "eta2_revenue"] > out.loc["random", "eta2_revenue"]


def test_sampled_silhouette_is_seeded(small):
    table, _, segs = small
    a = compare(segs, table, sample=120, random_state=3)["silhouette"]
    b = compare(segs, table, sample=120, random_state=3)["silhouette"]
    c = compare(segs, table, sample=120, random_state=4)["silhouette"]
    pd.testing.assert_series_equal(a, b)
    assert not np.allclose(a, c)


def test_stability_comes_from_the_assessment_and_partial_labels(small):
    table, truth, segs = small
    lab = segs["by spend"].labels.iloc[:200]
    assessment = Assessment(k=3, chosen_by="given", selection=None, quality=ClusterQuality(), stability=0.93)
    part = Segmentation(lab, name="part", method="first 200", assessment=assessment)
    out = compare({"part": part}, table, truth=truth.iloc[50:])
    assert out.loc["part", "stability"] == 0.93
    assert out.loc["part", "customers"] == 200
    both = lab.index[50:]
    assert out.loc["part", "ari_truth"] == pytest.approx(adjusted_rand_score(truth[both], lab[both].astype(str)))


def test_agreement_and_crosstab(small):
    _, _, segs = small
    ari = agreement(segs)
    nmi = agreement(list(segs.values()), metric="nmi")
    assert np.allclose(np.diag(ari), 1) and np.allclose(ari, ari.T)
    a, b = segs["true-ish"].labels.astype(str), segs["by spend"].labels.astype(str)
    assert ari.loc["true-ish", "by spend"] == pytest.approx(adjusted_rand_score(a, b))
    assert nmi.loc["t", "s"] == pytest.approx(normalized_mutual_info_score(a, b))
    tab = crosstab(segs["true-ish"], segs["by spend"])
    direct = pd.crosstab(a, b)
    assert tab.to_numpy().sum() == len(a)
    assert (tab.loc["c", "high"], tab.loc["a", "low"]) == (direct.loc["c", "high"], direct.loc["a", "low"])
    rows = crosstab(segs["true-ish"], segs["by spend"], normalize="index")
    assert np.allclose(rows.sum(axis=1), 1)
    with pytest.raises(ValueError, match="'ari' or 'nmi'"):
        agreement(segs, metric="jaccard")


def test_eta_squared_edge_cases():
    assert np.isnan(eta_squared([1.0, 1.0, 1.0], ["a", "b", "c"]))  # constant values: undefined
    assert eta_squared([1.0, 2.0, 3.0, 4.0], ["a", "a", "b", "b"]) == pytest.approx(0.8)
    assert eta_squared([1.0, 2.0, 3.0], ["a", "b", "c"]) == pytest.approx(1.0)


def test_errors(small):
    table, _, segs = small
    with pytest.raises(ValueError, match="no segmentations"):
        compare({}, table)
    with pytest.raises(TypeError, match="not a Segmentation"):
        compare({"x": segs["random"].labels}, table)
    elsewhere = Segmentation(pd.Series(["a", "b"], index=["zz1", "zz2"]), name="z", method="m")
    with pytest.raises(DataError, match="labels none of the customers"):
        compare({"z": elsewhere}, table)
    with pytest.raises(TypeError, match="truth must be a Series"):
        compare(segs, table, truth=list("abc"))
    with pytest.raises(TypeError, match="prepared customer table"):
        compare(segs, "data.csv")
    with pytest.raises(DataError, match="no customer in common"):
        crosstab(segs["random"], elsewhere)
    with pytest.raises(DataError, match="behaviour columns"):
        comparison_features(pd.DataFrame({"x": [1, 2]}))


def test_compare_takes_the_prepared_table_and_refuses_a_dataset():
    from segwork.segment import rfm_segmentation

    data = make_crm(n_customers=800, random_state=2)
    table = segwork.prepare_table(data)
    seg = rfm_segmentation(table)
    out = segwork.compare({"rfm": seg}, table, truth=data.truth["segment"])
    assert out.loc["rfm", "lift_on"] == "clv"  # the prepared table's CLV is used
    assert out.loc["rfm", "customers"] == 800
    assert 0 <= out.loc["rfm", "eta2_clv"] <= 1 and -1 <= out.loc["rfm", "ari_truth"] <= 1
    # compare fits no model: a data set is refused with the call that prepares it
    with pytest.raises(TypeError, match=r"got Dataset; call table = segwork.prepare_table\(data\) first"):
        segwork.compare({"rfm": seg}, data)
