"""The clustering segmenters are scikit-learn estimators: the full check suite, and their own contract."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from segwork.errors import DataError, NotFittedError
from segwork.segment.estimators import (
    MINIBATCH_THRESHOLD,
    GaussianMixtureSegmenter,
    HDBSCANSegmenter,
    KMeansSegmenter,
    KPrototypesSegmenter,
)
from segwork.segment.needs import NeedsSegmenter

ESTIMATORS = [KMeansSegmenter(3), GaussianMixtureSegmenter(3), KPrototypesSegmenter(3), HDBSCANSegmenter(),
              NeedsSegmenter(3)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def mixed_frame(n=300, seed=0):
    """Three groups (50 / 35 / 15 %) that differ in a skewed money column, a count, a share and a category."""
    rng = np.random.default_rng(seed)
    g = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    return pd.DataFrame({
        "spend": rng.lognormal(np.log([20.0, 100.0, 500.0])[g], 0.2),
        "visits": rng.poisson(np.array([2.0, 8.0, 30.0])[g]).astype(float),
        "share_web": np.clip(np.array([0.1, 0.5, 0.9])[g] + rng.normal(0, 0.05, n), 0, 1),
        "region": np.array(["north", "south", "east"], dtype=object)[np.where(rng.random(n) < 0.9, g, (g + 1) % 3)],
    }), g


@pytest.mark.parametrize("cls", [KMeansSegmenter, GaussianMixtureSegmenter, KPrototypesSegmenter, HDBSCANSegmenter])
def test_not_fitted_error_says_what_to_call(cls):
    with pytest.raises(NotFittedError, match=r"call fit\(X\)"):
        cls().predict(np.zeros((3, 2)))


@pytest.mark.parametrize("cls", [KMeansSegmenter, GaussianMixtureSegmenter, KPrototypesSegmenter, HDBSCANSegmenter])
def test_same_seed_same_labels_and_fit_predict_equals_labels(cls):
    X, _ = mixed_frame()
    est = cls() if cls is HDBSCANSegmenter else cls(3)
    a = clone(est).fit(X)
    b = clone(est).fit(X)
    assert (a.labels_ == b.labels_).all()
    assert (clone(est).fit_predict(X) == a.labels_).all()
    assert (a.predict(X) == a.labels_).all()


def test_pipeline_preprocessing_log_scale_onehot():
    X, _ = mixed_frame()
    est = KMeansSegmenter(3).fit(X)
    # auto: skewed non-negative non-share columns are logged; the share is not
    assert est.log_columns_ == ["spend", "visits"]
    assert est.categorical_columns_ == ["region"]
    prep = est.pipeline_.named_steps["preprocess"]
    assert type(prep).__name__ == "ColumnTransformer"
    Z = est.preprocess(X)
    # the same numbers computed by hand
    logged = np.log1p(X[["spend", "visits"]].to_numpy())
    expected_log = (logged - logged.mean(axis=0)) / logged.std(axis=0)
    share = X["share_web"].to_numpy()
    expected_share = (share - share.mean()) / share.std()
    onehot = pd.get_dummies(X["region"]).reindex(columns=sorted(X["region"].unique())).to_numpy(dtype=float)
    np.testing.assert_allclose(Z, np.column_stack([expected_log, expected_share, onehot]), atol=1e-10)


def test_explicit_log_columns_and_missing_values_are_imputed():
    X, _ = mixed_frame()
    X.loc[X.index[:5], "spend"] = np.nan
    X.loc[X.index[5:8], "region"] = None
    est = KMeansSegmenter(3, log_columns=["spend"]).fit(X)
    assert est.log_columns_ == ["spend"]
    Z = est.preprocess(X)
    assert np.isfinite(Z).all()
    # a missing spend becomes the median before the log
    median = np.log1p(np.nanmedian(X["spend"]))
    col = np.log1p(X["spend"].fillna(np.nanmedian(X["spend"])))
    assert Z[0, 0] == pytest.approx((median - col.mean()) / col.std(ddof=0))
    # a missing region is its own category "missing" (and not an unseen one)
    encoder = est.pipeline_.named_steps["preprocess"].named_transformers_["cat"].named_steps["encode"]
    categories = list(encoder.categories_[0])
    assert "missing" in categories
    assert (Z[5:8, 3 + categories.index("missing")] == 1).all()
    assert not est.unseen_categories(X)[0].any()


def test_kmeans_switches_to_minibatch_above_threshold():
    X, g = mixed_frame(600)
    assert MINIBATCH_THRESHOLD == 20_000_000  # measured: Lloyd is faster up to 10M rows x 8 features
    small = KMeansSegmenter(3, minibatch_threshold=1000).fit(X)
    big = KMeansSegmenter(3, minibatch_threshold=100, batch_size=256).fit(X)
    assert small.algorithm_ == "lloyd" and type(small.model_).__name__ == "KMeans"
    assert big.algorithm_ == "minibatch" and type(big.model_).__name__ == "MiniBatchKMeans"
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(small.labels_, big.labels_) > 0.9


def test_kprototypes_uses_categories_and_predicts_like_kmodes():
    X, g = mixed_frame(400)
    est = KPrototypesSegmenter(3, max_fit_samples=400).fit(X)
    assert est.algorithm_ == "kprototypes"
    step = est.model_
    Z = est.pipeline_[:-1].transform(est._frame(X, reset=False))
    ours = step.predict(Z)
    theirs = step.model_.predict(Z, categorical=[Z.shape[1] - 1])
    assert (ours == np.asarray(theirs)).all()
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(g, est.labels_) > 0.9
    # in preprocess space, squared distances equal the k-prototypes cost
    P = est.preprocess(X)
    assert P.shape[1] == 3 + 3  # 3 numeric + 3 one-hot regions


def test_kprototypes_samples_the_fit_and_assigns_everyone():
    X, g = mixed_frame(600)
    est = KPrototypesSegmenter(3, max_fit_samples=150).fit(X)
    assert est.labels_.shape == (600,)
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(g, est.labels_) > 0.85


def test_hdbscan_noise_and_sampled_fit():
    rng = np.random.default_rng(1)
    blobs = np.vstack([rng.normal(c, 0.3, size=(200, 2)) for c in ((0, 0), (6, 0), (0, 6))])
    far = rng.uniform(-20, 26, size=(15, 2))
    X = pd.DataFrame(np.vstack([blobs, far]), columns=["a", "b"])
    est = HDBSCANSegmenter(log_columns=None, min_cluster_size=20).fit(X)
    assert set(est.labels_) - {-1} == {0, 1, 2}
    assert (est.labels_[-15:] == -1).mean() > 0.5  # isolated points are noise
    sampled = HDBSCANSegmenter(log_columns=None, min_cluster_size=20, max_fit_samples=300).fit(X)
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(est.labels_[:600], sampled.labels_[:600]) > 0.95


@pytest.mark.parametrize("cls", [KMeansSegmenter, GaussianMixtureSegmenter, KPrototypesSegmenter])
def test_fewer_customers_than_segments(cls):
    X, _ = mixed_frame(4)
    with pytest.raises(DataError, match=r"4 sample\(s\).*n_clusters=5"):
        cls(5).fit(X)


def test_constant_missing_infinite_and_date_features_are_named():
    X, _ = mixed_frame(50)
    with pytest.raises(DataError, match=r"'flat' is constant.*drop it"):
        KMeansSegmenter(3).fit(X.assign(flat=7.0))
    with pytest.raises(DataError, match=r"'empty' is missing for every customer"):
        KMeansSegmenter(3).fit(X.assign(empty=np.nan))
    bad = X.copy()
    bad.loc[bad.index[2], "spend"] = np.inf
    with pytest.raises(DataError, match=r"'spend' has infinite values"):
        KMeansSegmenter(3).fit(bad)
    with pytest.raises(DataError, match=r"'since' holds dates"):
        KMeansSegmenter(3).fit(X.assign(since=pd.Timestamp("2024-01-01")))
    with pytest.raises(DataError, match=r"log_columns 'region' is not a numeric feature"):
        KMeansSegmenter(3, log_columns=["region"]).fit(X)


def test_unseen_categories_are_found_and_counted():
    X, _ = mixed_frame(100)
    est = KMeansSegmenter(3).fit(X)
    new = X.head(6).copy()
    new.loc[new.index[:2], "region"] = "atlantis"
    new.loc[new.index[2], "region"] = "mars"
    mask, counts = est.unseen_categories(new)
    assert mask.tolist() == [True, True, True, False, False, False]
    assert counts == {("region", "atlantis"): 2, ("region", "mars"): 1}
