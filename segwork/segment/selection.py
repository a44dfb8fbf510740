"""How many segments, and how stable are they?

* :func:`select_k` fits a segmenter for every candidate number of segments
  ``k`` and scores each fit with the internal validity criteria of
  scikit-learn: silhouette (higher is better; computed on a seeded sample of
  customers for speed), Calinski-Harabasz (higher is better), Davies-Bouldin
  (lower is better) and, for mixtures, BIC (lower is better).
* :func:`choose_k` picks the ``k`` with the best mean rank over those
  criteria (ties: the smaller ``k``): no single criterion decides.
* :func:`stability` refits the segmenter on bootstrap resamples and measures
  how well each refit reproduces the original segments (adjusted Rand index:
  1 = the same partition, about 0 = no better than chance, negative = worse).
  Segments that vanish when the data are resampled should not drive offers.

All three accept the same ``X`` as the segmenters (a DataFrame of features
or a numeric array) and any segmenter of :mod:`segwork.segment.clustering`.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from ..errors import DataError

__all__ = ["select_k", "choose_k", "stability", "cluster_quality", "CRITERIA"]

def cluster_quality(Z, labels, silhouette_sample: int | None = 3000, random_state: int = 0) -> dict:
    """Internal validity of a partition of the points ``Z`` (the space the clusters live in).

    Returns ``silhouette`` (on a seeded sample of at most ``silhouette_sample``
    points; ``None``/0 uses every point), ``calinski_harabasz`` and
    ``davies_bouldin``. Noise points (label -1, HDBSCAN) are left out. All
    three are NaN unless there are at least 2 clusters and more points than
    clusters.
    """
    labels = np.asarray(labels)
    keep = labels != -1
    Zk, lk = np.asarray(Z)[keep], labels[keep]
    out = {"silhouette": float("nan"), "calinski_harabasz": float("nan"), "davies_bouldin": float("nan")}
    found = len(set(lk.tolist()))
    if found < 2 or len(lk) <= found:
        return out
    sample = min(silhouette_sample, len(lk)) if silhouette_sample else None
    out["silhouette"] = float(silhouette_score(Zk, lk, sample_size=sample, random_state=random_state))
    out["calinski_harabasz"] = float(calinski_harabasz_score(Zk, lk))
    out["davies_bouldin"] = float(davies_bouldin_score(Zk, lk))
    return out


#: Selection criteria and whether higher values are better.
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False, "bic": False}


def _take(X, rows):
    return X.iloc[rows] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[rows]


def _default_estimator(random_state):
    from .clustering import KMeansSegmenter

    return KMeansSegmenter(random_state=random_state)


def select_k(
    X,
    estimator=None,
    k_range=range(2, 9),
    *,
    random_state: int = 0,
    silhouette_sample: int | None = 3000,
    max_fit_samples: int | None = 50_000,
) -> pd.DataFrame:
    """Internal validity of a segmenter for each number of segments.

    Parameters
    ----------
    X: the features (DataFrame or numeric array), one row per customer.
    estimator: an unfitted segmenter with ``n_clusters`` (default:
        :class:`~segwork.segment.clustering.KMeansSegmenter`); it is cloned
        for every ``k`` with ``random_state`` set.
    k_range: candidate numbers of segments (integers >= 2, below the number
        of rows).
    random_state: seed of the fits and the samples.
    silhouette_sample: customers the silhouette is computed on (a seeded
        sample; None = all, which costs O(n^2)).
    max_fit_samples: above this many rows the fits run on a seeded sample.

    Returns
    -------
    DataFrame indexed by ``k`` with ``silhouette``, ``calinski_harabasz``,
    ``davies_bouldin``, ``bic`` (NaN unless the segmenter has ``bic``),
    ``inertia`` (k-means only), ``n_found`` (clusters that received
    customers) and ``mean_rank`` (see :func:`choose_k`). The metrics are
    computed in the segmenter's preprocessed space (``preprocess``).
    """
    estimator = _default_estimator(random_state) if estimator is None else estimator
    if "n_clusters" not in estimator.get_params():
        raise DataError(f"select_k: {type(estimator).__name__} has no n_clusters (it finds the number of "
                        "segments itself); use a k-based method such as KMeansSegmenter")
    ks = sorted({int(k) for k in k_range})
    n = len(X)
    if not ks or ks[0] < 2:
        raise DataError(f"select_k: k_range={list(k_range)} must hold integers >= 2")
    if ks[-1] >= n:
        raise DataError(f"select_k: {n} customers are too few for k up to {ks[-1]}; "
                        f"pass more customers or k below {n}")
    rng = np.random.default_rng(random_state)
    if max_fit_samples and n > max_fit_samples:
        X = _take(X, np.sort(rng.choice(n, max_fit_samples, replace=False)))
        n = max_fit_samples
    sil_size = min(silhouette_sample, n) if silhouette_sample else None
    rows = []
    for k in ks:
        est = clone(estimator).set_params(n_clusters=k, random_state=random_state)
        est.fit(X)
        labels = np.asarray(est.labels_)
        found = len(set(labels.tolist()) - {-1})
        row = {"k": k, "silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan,
               "bic": np.nan, "inertia": float(getattr(est.model_, "inertia_", np.nan)), "n_found": found}
        if 2 <= found < n:
            row.update(cluster_quality(est.preprocess(X), labels, sil_size, random_state))
        if hasattr(est, "bic"):
            row["bic"] = est.bic(X)
        rows.append(row)
    scores = pd.DataFrame(rows).set_index("k")
    scores["mean_rank"] = _mean_rank(scores, None)
    return scores


def _mean_rank(scores: pd.DataFrame, criteria) -> pd.Series:
    criteria = [c for c in (criteria or CRITERIA) if c in scores.columns and scores[c].notna().any()]
    if not criteria:
        raise DataError("choose_k: the scores hold no criterion values "
                        f"({', '.join(CRITERIA)}); every fit found fewer than 2 clusters")
    ranks = pd.DataFrame({c: scores[c].rank(ascending=not CRITERIA[c], method="min", na_option="bottom")
                          for c in criteria})
    return ranks.mean(axis=1)


def choose_k(scores: pd.DataFrame, criteria=None) -> int:
    """The ``k`` with the best (lowest) mean rank over the criteria; ties go to the smaller ``k``.

    ``criteria``: a subset of :data:`CRITERIA` (default: every criterion
    with values in ``scores``).
    """
    rank = _mean_rank(scores, criteria)
    best = rank.min()
    return int(min(k for k, r in rank.items() if r == best))


def stability(
    X,
    estimator=None,
    n_resamples: int = 10,
    *,
    max_samples: int | None = None,
    random_state: int = 0,
    return_scores: bool = False,
):
    """Mean adjusted Rand index between the segments and their bootstrap refits.

    The segmenter is fitted on the customers (reference partition), then
    refitted ``n_resamples`` times on bootstrap resamples (drawn with
    replacement, each fit with its own seed); each refit assigns every
    customer and is compared with the reference by the adjusted Rand index.

    Parameters
    ----------
    X: the features (DataFrame or numeric array).
    estimator: an unfitted segmenter (default: k-means with 5 clusters).
    n_resamples: number of bootstrap resamples (>= 1).
    max_samples: above this many rows, a seeded sample of this size is used.
    random_state: seed of the sample, the resamples and the fits.
    return_scores: also return the adjusted Rand of each resample.

    Returns
    -------
    The mean adjusted Rand index in [-1, 1] (1 = perfectly stable), and with
    ``return_scores`` the array of per-resample values. Resamples whose fit
    fails (e.g. a column constant in the resample) count as NaN and are left
    out of the mean, with a warning.
    """
    estimator = _default_estimator(random_state) if estimator is None else estimator
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise DataError(f"stability: n_resamples={n_resamples!r} must be a positive integer")
    rng = np.random.default_rng(random_state)
    n = len(X)
    if max_samples and n > max_samples:
        X = _take(X, np.sort(rng.choice(n, max_samples, replace=False)))
        n = max_samples
    seeds = rng.integers(0, np.iinfo(np.int32).max, size=int(n_resamples) + 1)
    reference = clone(estimator).set_params(random_state=int(seeds[0])).fit(X)
    ref_labels = np.asarray(reference.labels_)
    scores = np.full(int(n_resamples), np.nan)
    for b in range(int(n_resamples)):
        rows = rng.integers(0, n, size=n)
        est = clone(estimator).set_params(random_state=int(seeds[b + 1]))
        try:
            est.fit(_take(X, rows))
        except DataError as exc:
            warnings.warn(f"stability: resample {b} could not be fitted ({exc}); left out", UserWarning,
                          stacklevel=2)
            continue
        scores[b] = adjusted_rand_score(ref_labels, est.predict(X))
    mean = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
    return (mean, scores) if return_scores else mean
