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
or a numeric array) and any segmenter of :mod:`segwork.segment.estimators`
(or :class:`~segwork.segment.needs.NeedsSegmenter`).

:func:`fit_and_assess` is the one "choose k, fit, assess" pipeline of the
clustering approaches (behavioural and needs-based): it chooses ``k`` (or
takes it), fits the segmenter, and returns it with an :class:`Assessment`
(selection table, :class:`ClusterQuality`, bootstrap stability).
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

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
from .estimators import KMeansSegmenter

__all__ = ["select_k", "choose_k", "stability", "cluster_quality", "fit_and_assess", "ClusterQuality", "Assessment",
           "CRITERIA"]


@dataclass(frozen=True)
class ClusterQuality:
    """Internal validity of a partition (see :func:`cluster_quality`); NaN when undefined."""

    silhouette: float = float("nan")
    calinski_harabasz: float = float("nan")
    davies_bouldin: float = float("nan")


@dataclass(frozen=True)
class Assessment:
    """What every clustering result has: how ``k`` was chosen, and how good and stable the fit is.

    Attributes
    ----------
    k: number of segments found (clusters with customers; noise not counted).
    chosen_by: how ``k`` was chosen ("given", "mean rank of ...", "density (HDBSCAN)").
    selection: the :func:`select_k` table (indexed by ``k``), or None when ``k`` was not selected.
    quality: silhouette, Calinski-Harabasz, Davies-Bouldin of the final fit.
    stability: mean adjusted Rand index over bootstrap refits (NaN when not measured).
    stability_scores: the adjusted Rand index of each resample (empty when not measured).
    """

    k: int
    chosen_by: str
    selection: pd.DataFrame | None
    quality: ClusterQuality
    stability: float = float("nan")
    stability_scores: tuple[float, ...] = ()


def cluster_quality(Z, labels, silhouette_sample: int | None = 3000, random_state: int = 0) -> ClusterQuality:
    """Internal validity of a partition of the points ``Z`` (the space the clusters live in).

    Returns a :class:`ClusterQuality`: ``silhouette`` (on a seeded sample of
    at most ``silhouette_sample`` points; ``None``/0 uses every point),
    ``calinski_harabasz`` and ``davies_bouldin``. Noise points (label -1,
    HDBSCAN) are left out. All three are NaN unless there are at least 2
    clusters and more points than clusters.
    """
    labels = np.asarray(labels)
    keep = labels != -1
    Zk, lk = np.asarray(Z)[keep], labels[keep]
    found = len(set(lk.tolist()))
    if found < 2 or len(lk) <= found:
        return ClusterQuality()
    sample = min(silhouette_sample, len(lk)) if silhouette_sample else None
    return ClusterQuality(
        silhouette=float(silhouette_score(Zk, lk, sample_size=sample, random_state=random_state)),
        calinski_harabasz=float(calinski_harabasz_score(Zk, lk)),
        davies_bouldin=float(davies_bouldin_score(Zk, lk)),
    )


#: Selection criteria and whether higher values are better.
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False, "bic": False}


def _take(X, rows):
    return X.iloc[rows] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[rows]


def _default_estimator(random_state):
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
        :class:`~segwork.segment.estimators.KMeansSegmenter`); it is cloned
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
            row.update(asdict(cluster_quality(est.preprocess(X), labels, sil_size, random_state)))
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


def fit_and_assess(
    X,
    estimator,
    k: int | None = None,
    k_range=range(2, 9),
    *,
    who: str,
    rows: str = "customers",
    more: str = "pass more customers",
    criteria=None,
    random_state: int = 0,
    n_resamples: int = 5,
    stability_sample: int | None = 3000,
    silhouette_sample: int | None = 3000,
    selection_sample: int | None = 50_000,
):
    """Choose ``k``, fit, assess: the one pipeline of the clustering approaches.

    Parameters
    ----------
    X: the features (DataFrame or numeric array), one row per customer.
    estimator: an unfitted segmenter; with ``n_clusters`` unless it finds the
        number of segments itself (HDBSCAN: ``k`` is then ignored).
    k: number of segments; None selects it over ``k_range`` with
        :func:`select_k` and :func:`choose_k` (``criteria``).
    who: the calling function, named first in error messages; ``rows``: what
        a row is ("customers", "respondents"); ``more``: how to get more rows.
    random_state: seed of every random step.
    n_resamples: bootstrap resamples of :func:`stability` (0 skips it).
    stability_sample, silhouette_sample, selection_sample: seeded row samples
        bounding the cost of stability, silhouette and selection.

    Returns
    -------
    ``(fitted estimator, Assessment, notes)``: ``notes`` lists what was
    ignored (e.g. ``k`` for HDBSCAN).

    Raises
    ------
    DataError
        ``k_range`` or ``k`` is not integers >= 2, or there are too few rows.
    """
    n = len(X)
    notes: list[str] = []
    selection = None
    if "n_clusters" not in estimator.get_params():
        if k is not None:
            notes.append(f"k={k} ignored: HDBSCAN finds the number of segments itself")
        chosen_by = "density (HDBSCAN)"
    elif k is None:
        ks = sorted({int(x) for x in k_range})
        if not ks or ks[0] < 2:
            raise DataError(f"{who}: k_range={list(k_range)} must hold integers >= 2")
        if n <= ks[0]:
            raise DataError(f"{who}: {n} {rows} but at least {ks[0] + 1} are needed to choose among "
                            f"k={ks[0]}..{ks[-1]} segments; {more} or pass k")
        ks = [x for x in ks if x < n]
        selection = select_k(X, estimator, ks, random_state=random_state, silhouette_sample=silhouette_sample,
                             max_fit_samples=selection_sample)
        k = choose_k(selection, criteria=criteria)
        chosen_by = "mean rank of " + ", ".join(c for c in (criteria or CRITERIA)
                                                if c in selection.columns and selection[c].notna().any())
    else:
        if int(k) != k or k < 2:
            raise DataError(f"{who}: k={k!r} must be an integer >= 2")
        k = int(k)
        if n < k:
            raise DataError(f"{who}: {n} {rows} but k={k} segments; {more} or pass a smaller k")
        chosen_by = "given"
    if "n_clusters" in estimator.get_params():
        estimator.set_params(n_clusters=k)
    estimator.fit(X)
    labels = np.asarray(estimator.labels_)
    quality = cluster_quality(estimator.preprocess(X), labels, silhouette_sample, random_state)
    stab, scores = float("nan"), ()
    if n_resamples and n_resamples > 0:
        stab, values = stability(X, clone(estimator), n_resamples=n_resamples, max_samples=stability_sample,
                                 random_state=random_state, return_scores=True)
        scores = tuple(float(v) for v in values)
    found = int(len(set(labels.tolist()) - {-1}))
    return estimator, Assessment(found, chosen_by, selection, quality, stab, scores), notes
