"""Model selection over k and bootstrap stability, against direct scikit-learn computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segwork.errors import DataError
from segwork.segment.estimators import GaussianMixtureSegmenter, HDBSCANSegmenter, KMeansSegmenter
from segwork.segment.selection import DEFAULT_CRITERIA, TIE_BREAK, choose_k, rank_k, select_k, stability


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=600, centers=4, cluster_std=0.6, center_box=(-10, 10), random_state=3)
    return pd.DataFrame(X, columns=["a", "b"]), y


def test_select_k_metrics_equal_direct_sklearn(blobs):
    X, _ = blobs
    scores = select_k(X, KMeansSegmenter(log_columns=None), range(2, 6), random_state=0, silhouette_sample=None)
    Z = (X - X.mean()) / X.std(ddof=0)  # the segmenter standardises
    for k in range(2, 6):
        labels = KMeans(k, n_init=4, random_state=0).fit(Z.to_numpy()).labels_
        assert scores.loc[k, "silhouette"] == pytest.approx(silhouette_score(Z, labels), rel=1e-9)
        assert scores.loc[k, "calinski_harabasz"] == pytest.approx(calinski_harabasz_score(Z, labels), rel=1e-9)
        assert scores.loc[k, "davies_bouldin"] == pytest.approx(davies_bouldin_score(Z, labels), rel=1e-9)
    assert scores["bic"].isna().all() and scores["n_found"].tolist() == [2, 3, 4, 5]
    assert choose_k(scores) == 4


def test_silhouette_on_a_seeded_sample(blobs):
    X, _ = blobs
    a = select_k(X, KMeansSegmenter(log_columns=None), [4], random_state=1, silhouette_sample=200)
    b = select_k(X, KMeansSegmenter(log_columns=None), [4], random_state=1, silhouette_sample=200)
    assert a.equals(b)
    full = select_k(X, KMeansSegmenter(log_columns=None), [4], random_state=1, silhouette_sample=None)
    assert a.loc[4, "silhouette"] == pytest.approx(full.loc[4, "silhouette"], abs=0.05)


def test_bic_for_mixtures_equals_sklearn(blobs):
    X, _ = blobs
    scores = select_k(X, GaussianMixtureSegmenter(log_columns=None, covariance_type="full"), [3, 4, 5])
    for k in (3, 4, 5):
        est = GaussianMixtureSegmenter(k, log_columns=None, covariance_type="full").fit(X)
        assert scores.loc[k, "bic"] == pytest.approx(est.pipeline_[-1].bic(est.preprocess(X)))
    assert scores["bic"].idxmin() == 4
    assert choose_k(scores, criteria=["bic"]) == 4


def test_choose_k_mean_rank_and_ties():
    scores = pd.DataFrame({"silhouette": [0.3, 0.5, 0.5], "calinski_harabasz": [10.0, 20.0, 30.0],
                           "davies_bouldin": [1.0, 0.8, 0.9], "bic": np.nan}, index=pd.Index([2, 3, 4], name="k"))
    # ranks: sil (3, 1, 1), ch (3, 2, 1), db (3, 1, 2) -> means 3, 4/3, 4/3: tie -> smaller k
    assert choose_k(scores) == 3
    assert choose_k(scores, criteria=["calinski_harabasz"]) == 4


def test_stability_high_for_separated_blobs_low_for_noise(blobs):
    X, _ = blobs
    high, per = stability(X, KMeansSegmenter(4, log_columns=None), n_resamples=5, random_state=0,
                          return_scores=True)
    assert high > 0.95 and per.shape == (5,)
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.uniform(size=(600, 6)), columns=list("abcdef"))
    low = stability(noise, KMeansSegmenter(6, log_columns=None, n_init=1), n_resamples=5, random_state=0)
    assert -1 <= low < high


def test_stability_is_seeded_and_bounded_for_hdbscan(blobs):
    X, _ = blobs
    a = stability(X, HDBSCANSegmenter(log_columns=None), n_resamples=3, random_state=4)
    b = stability(X, HDBSCANSegmenter(log_columns=None), n_resamples=3, random_state=4)
    assert a == b and -1 <= a <= 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 1000), st.integers(2, 5), st.floats(0.2, 3.0))
def test_stability_in_minus_one_one(seed, k, spread):
    X, _ = make_blobs(n_samples=120, centers=3, cluster_std=spread, random_state=seed)
    s = stability(X, KMeansSegmenter(k, log_columns=None, n_init=1), n_resamples=2, random_state=seed)
    assert -1.0 <= s <= 1.0


def test_stability_subsample_and_direct_ari(blobs):
    X, _ = blobs
    mean, per = stability(X, KMeansSegmenter(4, log_columns=None), n_resamples=2, max_samples=300,
                          random_state=2, return_scores=True)
    # recompute the first resample by hand from the documented seeding
    rng = np.random.default_rng(2)
    rows = np.sort(rng.choice(len(X), 300, replace=False))
    Xs = X.iloc[rows]
    seeds = rng.integers(0, np.iinfo(np.int32).max, size=3)
    ref = KMeansSegmenter(4, log_columns=None, random_state=int(seeds[0])).fit(Xs).labels_
    boot = rng.integers(0, 300, size=300)
    refit = KMeansSegmenter(4, log_columns=None, random_state=int(seeds[1])).fit(Xs.iloc[boot])
    assert per[0] == pytest.approx(adjusted_rand_score(ref, refit.predict(Xs)))
    assert mean == pytest.approx(per.mean())


def test_selection_errors():
    X = pd.DataFrame({"a": np.arange(5.0), "b": np.arange(5.0) ** 2})
    with pytest.raises(DataError, match=r"5 customers are too few for k up to 8"):
        select_k(X, KMeansSegmenter(), range(2, 9))
    with pytest.raises(DataError, match=r"integers >= 2"):
        select_k(X, KMeansSegmenter(), [1, 2])
    with pytest.raises(DataError, match=r"HDBSCANSegmenter has no n_clusters"):
        select_k(X, HDBSCANSegmenter(), [2])
    with pytest.raises(DataError, match=r"n_resamples=0 must be a positive integer"):
        stability(X, KMeansSegmenter(2), n_resamples=0)


# --------------------------------------------------------------------------- choosing k under overlap

def _scores(**columns):
    return pd.DataFrame(columns, index=pd.Index([2, 3, 4, 5], name="k"))


def test_a_tie_goes_to_the_larger_excess_prediction_strength_not_the_smaller_k():
    # silhouette / CH / DB: ranks k2 (1, 1, 3), k3 (3, 3, 4), k4 (4, 4, 2), k5 (2, 2, 1): k2 and k5 tie at 5/3.
    # The raw prediction strength is higher at k=2 (0.95 > 0.80), as a cut in two of any data is
    # reproducible; its excess over null data (0.93 at k=2) is higher at k=5.
    scores = _scores(silhouette=[0.40, 0.30, 0.20, 0.35], calinski_harabasz=[900.0, 700.0, 600.0, 800.0],
                     davies_bouldin=[1.25, 1.3, 1.2, 1.0], prediction_strength=[0.95, 0.60, 0.50, 0.80],
                     prediction_strength_null=[0.93, 0.62, 0.45, 0.40])
    scores["prediction_strength_excess"] = scores["prediction_strength"] - scores["prediction_strength_null"]
    old = ["silhouette", "calinski_harabasz", "davies_bouldin"]
    ranking = rank_k(scores, old)
    assert TIE_BREAK == "prediction_strength_excess"
    assert ranking.tied == (5, 2)  # reported as a tie, in the final order
    assert (ranking.k, ranking.runner_up) == (5, 2) and choose_k(scores, old) == 5
    assert ranking.table.loc[5, "decided_by"] == "prediction_strength_excess"
    assert ranking.table.loc[5, "mean_rank"] == ranking.table.loc[2, "mean_rank"] == pytest.approx(5 / 3)
    assert list(ranking.table["place"]) == [1, 2, 3, 4]
    # The ranks in the table are the criteria ranked by hand (1 = best, DB lower is better).
    assert ranking.table.loc[[2, 3, 4, 5], "rank_davies_bouldin"].tolist() == [3, 4, 2, 1]
    # What the tie-break is made of is in the table, and the summary names the tie, the rule and the values.
    assert {"prediction_strength", "prediction_strength_null", "prediction_strength_excess"} <= set(ranking.table)
    summary = ranking.summary()
    assert "runner-up k=2" in summary and "k=5, 2 tied on mean rank" in summary
    assert "decided by prediction_strength_excess (0.40 against 0.02)" in summary
    # Without a tie-break value: head-to-head (k2 is better than k5 on 2 of 3 criteria).
    h2h = rank_k(scores.drop(columns=["prediction_strength_excess"]), old)
    assert h2h.k == 2 and h2h.table.loc[2, "decided_by"] == "head-to-head"
    # A head-to-head draw (k3, k4: silhouette equal, CH for 4, DB for 3): the smaller k, and the table says so.
    draw = rank_k(pd.DataFrame({"silhouette": [0.3, 0.5, 0.5], "calinski_harabasz": [10.0, 20.0, 30.0],
                                "davies_bouldin": [1.0, 0.8, 0.9]}, index=pd.Index([2, 3, 4], name="k")))
    assert (draw.k, draw.runner_up) == (3, 4) and draw.table.loc[3, "decided_by"] == "smaller k"


@pytest.mark.parametrize("excess_2, excess_5, winner", [(0.02, 0.40, 5), (0.40, 0.02, 2), (0.10, 0.30, 5),
                                                        (0.30, 0.10, 2)])
def test_the_tie_break_has_no_side(excess_2, excess_5, winner):
    """The tie-break looks only at the excess: swapping the values of the tied k swaps the choice, so
    it favours neither the smaller nor the larger k by construction."""
    scores = _scores(silhouette=[0.40, 0.30, 0.20, 0.35], calinski_harabasz=[900.0, 700.0, 600.0, 800.0],
                     davies_bouldin=[1.25, 1.3, 1.2, 1.0], prediction_strength_excess=[excess_2, 0.0, 0.0, excess_5])
    ranking = rank_k(scores, ["silhouette", "calinski_harabasz", "davies_bouldin"])
    assert ranking.k == winner and set(ranking.tied) == {2, 5}
    assert ranking.table.loc[winner, "decided_by"] == "prediction_strength_excess"


def test_the_default_ranking_uses_the_strength_and_its_excess():
    scores = _scores(silhouette=[0.40, 0.30, 0.20, 0.35], calinski_harabasz=[900.0, 700.0, 600.0, 800.0],
                     davies_bouldin=[1.25, 1.3, 1.2, 1.0], gap=[1.0, 1.1, 1.2, 1.3],
                     prediction_strength=[0.99, 0.6, 0.5, 0.4], prediction_strength_excess=[0.0, 0.1, 0.2, 0.3])
    ranking = rank_k(scores)
    assert ranking.criteria == ("silhouette", "calinski_harabasz", "davies_bouldin", "gap", "prediction_strength",
                                "prediction_strength_excess")
    assert ranking.criteria == tuple(c for c in DEFAULT_CRITERIA if c in scores)
    assert {"rank_prediction_strength", "rank_prediction_strength_excess"} <= set(ranking.table)
    assert rank_k(scores, ["prediction_strength"]).k == 2 and rank_k(scores, ["prediction_strength_excess"]).k == 5


def test_rank_k_refuses_an_unknown_criterion():
    with pytest.raises(DataError, match="unknown criterion 'ari'"):
        rank_k(_scores(silhouette=[0.1, 0.2, 0.3, 0.4]), ["ari"])


def test_gap_and_prediction_strength_in_select_k_are_seeded(blobs):
    X, _ = blobs
    a = select_k(X, KMeansSegmenter(log_columns=None), range(2, 7), random_state=5)
    b = select_k(X, KMeansSegmenter(log_columns=None), range(2, 7), random_state=5)
    pd.testing.assert_frame_equal(a, b)
    new = ["gap", "gap_se", "prediction_strength", "prediction_strength_null", "prediction_strength_excess"]
    assert a[new].notna().all().all()
    # Four well-separated blobs: both new criteria peak at the true k.
    assert a["gap"].idxmax() == 4 and a["prediction_strength"].loc[4] > 0.95
    # The excess is the strength minus the strength of the same k on data without clusters.
    assert a["prediction_strength_null"].between(0, 1).all()
    np.testing.assert_allclose(a["prediction_strength_excess"], a["prediction_strength"] - a["prediction_strength_null"])
    assert a["prediction_strength_excess"].idxmax() == 4


@pytest.mark.parametrize("seed", [0, 1])
def test_five_separated_blobs_choose_five_and_chosen_by_says_how(seed):
    from segwork.segment.selection import fit_and_assess

    # Five groups at the corners of a regular simplex (every pair of centres 1 apart), SD 0.1: clearly apart.
    E = np.eye(5) - 0.2
    centres = E @ np.linalg.svd(E)[2][:4].T
    centres /= np.linalg.norm(centres[0] - centres[1])
    X, y = make_blobs(n_samples=500, centers=centres, cluster_std=0.1, random_state=seed)
    est, assessment, _ = fit_and_assess(pd.DataFrame(X, columns=list("abcd")), KMeansSegmenter(log_columns=None),
                                        k_range=range(2, 8), who="test", random_state=seed, n_resamples=0)
    assert assessment.k == 5 and adjusted_rand_score(y, est.labels_) > 0.95
    assert assessment.chosen_by.startswith("k=5 (mean rank")
    assert "prediction_strength_excess" in assessment.chosen_by  # what was ranked is named
    assert "prediction_strength_excess" in assessment.selection and assessment.selection.loc[5, "mean_rank"] == \
        assessment.selection["mean_rank"].min()


def test_overlapping_blobs_true_k_where_the_old_rule_took_fewer():
    """Independent generator: 5 isotropic Gaussian groups, overlapping (k-means at k=5: ARI about 0.95,
    at k=4 about 0.78 against the planted groups). A regression case, kept because silhouette/CH/DB alone
    choose 4 on it; on other seeds of this generator the new rule also stops short of 5 at times (see
    benchmarks/k_selection.py), but it never chose a k with a lower ARI than the old rule there."""
    X, y = make_blobs(n_samples=2000, centers=5, n_features=4, cluster_std=2.0, center_box=(-6, 6), random_state=4)
    X = pd.DataFrame(X, columns=list("abcd"))
    scores = select_k(X, KMeansSegmenter(log_columns=None), range(2, 9), random_state=0)
    ranking = rank_k(scores)
    assert ranking.k == 5
    labels = KMeansSegmenter(ranking.k, log_columns=None).fit(X).labels_
    assert adjusted_rand_score(y, labels) > 0.85
    assert choose_k(scores, ["silhouette", "calinski_harabasz", "davies_bouldin"]) != 5  # what the old rule did


@pytest.mark.parametrize("separation, min_ari", [(1.0, 0.85), (0.5, 0.55)])
def test_make_crm_separations_choose_k_with_high_ari(separation, min_ari):
    from segwork.datasets import make_crm
    from segwork.features import customer_table
    from segwork.segment.preprocess import default_features

    data = make_crm(3000, random_state=1, separation=separation)
    t = customer_table(data.transactions, data.customers, data.survey, observation_end=data.observation_end)
    X = t[default_features(t, "kmeans")]
    scores = select_k(X, KMeansSegmenter(), range(2, 9), random_state=0)
    k = choose_k(scores)
    truth = data.truth["segment"].reindex(t.index).astype(str)
    assert 4 <= k <= 7
    assert adjusted_rand_score(truth, KMeansSegmenter(k).fit(X).labels_) > min_ari
