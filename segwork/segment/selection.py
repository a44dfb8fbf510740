"""How many segments, and how stable are they?

* :func:`select_k` fits a segmenter for every candidate number of segments
  ``k`` and scores each fit with the internal validity criteria of
  scikit-learn: silhouette (higher is better; computed on a seeded sample of
  customers for speed), Calinski-Harabasz (higher is better), Davies-Bouldin
  (lower is better), for mixtures BIC (lower is better), the gap statistic
  (Tibshirani, Walther & Hastie 2001; higher is better) and the prediction
  strength (Tibshirani & Walther 2005) with its excess over the same
  segmenting of data without clusters (Dudoit & Fridlyand 2002), all on
  seeded samples.
* :func:`rank_k` ranks the ``k`` by their mean rank over those criteria and
  returns the table, the chosen ``k``, the runner-up and the ``k`` that tied;
  :func:`choose_k` returns its ``k``. No single criterion decides; a tie goes
  to the larger excess prediction strength, then head-to-head, and only
  then to the smaller ``k``.
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

__all__ = ["select_k", "choose_k", "rank_k", "KRanking", "stability", "cluster_quality", "fit_and_assess",
           "ClusterQuality", "Assessment", "CRITERIA", "DEFAULT_CRITERIA", "TIE_BREAK"]


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


#: Selection criteria and whether higher values are better. Silhouette, Calinski-Harabasz and
#: Davies-Bouldin reward a coarse split of overlapping groups. So does the raw prediction strength:
#: a split into 2 is reproducible even in data without clusters (about 0.8-0.9 on the uniform
#: reference data, against about 0.35-0.4 for 5), which is why Tibshirani & Walther (2005) take the *largest* k
#: above a threshold rather than the highest value. Its excess over the same segmenting of null
#: data (the gap statistic's reference; Dudoit & Fridlyand 2002) removes that baseline; the gap
#: statistic is measured against the same null data.
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False, "bic": False,
            "gap": True, "prediction_strength": True, "prediction_strength_excess": True}

#: Criteria a ranking uses by default: every one of :data:`CRITERIA`. The raw prediction strength
#: (how reproducible the segments are) and its excess over null data (how much more reproducible
#: than structureless data cut into as many pieces) are both ranked; the tie-break uses the excess.
DEFAULT_CRITERIA = tuple(CRITERIA)

#: Breaks ties of the mean rank (after it: head-to-head over the criteria, then the smaller k).
#: Unlike the raw strength, the excess does not favour the smallest k by construction. Its own lean
#: is measured (benchmarks/README.md, k selection): on 4-D data without clusters (uniform and
#: Gaussian, 20 sets each) it averaged -0.20 to -0.25 at k=2, -0.13 to -0.16 at k=3 and -0.06 to
#: +0.01 at k=5..8 (the box reference is easier to cut in two than round data), so without any
#: clusters it leans away from k=2-3; the raw strength was highest at k=2 in 40 of those 40 sets.
TIE_BREAK = "prediction_strength_excess"


def _take(X, rows):
    return X.iloc[rows] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[rows]


#: Gap statistic: number of uniform reference data sets, and the seeded sample of customers it is computed on.
GAP_REFERENCES = 10
GAP_SAMPLE = 2000


def _gap(Z, labels, k, state: dict, random_state: int) -> dict:
    """Gap statistic of one partition of ``Z`` (Tibshirani, Walther & Hastie 2001, JRSS B 63:411).

    ``gap = mean_b log W*_b - log W``: ``W`` is the pooled within-cluster sum
    of squares of the partition on a seeded sample of :data:`GAP_SAMPLE`
    points, ``W*_b`` that of k-means (one start) on :data:`GAP_REFERENCES`
    reference sets drawn uniformly in the box aligned with the sample's
    principal components (their reference (b)); ``gap_se = sd_b(log W*_b)
    * sqrt(1 + 1/B)``. ``state`` keeps the sample and references so every
    ``k`` is compared with the same ones. Higher gap = more structure than
    in data without clusters.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    Z, labels = np.asarray(Z, dtype=float), np.asarray(labels)
    if "rows" not in state:
        rng = np.random.default_rng([int(random_state), 2001])
        n = len(Z)
        rows = np.sort(rng.choice(n, GAP_SAMPLE, replace=False)) if n > GAP_SAMPLE else np.arange(n)
        centred = Z[rows] - Z[rows].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        P = centred @ vt.T
        lo, hi = P.min(axis=0), P.max(axis=0)
        state.update(rows=rows, refs=[rng.uniform(lo, hi, size=P.shape) for _ in range(GAP_REFERENCES)])
    Zs, ls = Z[state["rows"]], labels[state["rows"]]
    Zs, ls = Zs[ls != -1], ls[ls != -1]
    tiny = np.finfo(float).tiny
    w = sum(float(((Zs[ls == c] - Zs[ls == c].mean(axis=0)) ** 2).sum()) for c in np.unique(ls))
    with threadpool_limits(limits=1):
        ref = np.array([np.log(max(KMeans(k, n_init=1, random_state=int(random_state) + b).fit(R).inertia_, tiny))
                        for b, R in enumerate(state["refs"])])
    return {"gap": float(ref.mean() - np.log(max(w, tiny))), "gap_se": float(ref.std() * np.sqrt(1 + 1 / len(ref)))}


#: Prediction strength: random halvings of a seeded sample of at most this many customers.
STRENGTH_SPLITS = 3
STRENGTH_SAMPLE = 2000


def _prediction_strength(X, estimator, k, random_state: int) -> float:
    """Prediction strength of ``k`` segments (Tibshirani & Walther 2005, JCGS 14:511).

    A seeded sample of at most :data:`STRENGTH_SAMPLE` customers is split at
    random into halves A and B, :data:`STRENGTH_SPLITS` times. The segmenter
    is fitted on each half; for every segment of B's own fit, the share of
    its pairs of customers that A's fit also puts together (A's ``predict``)
    is computed, and the weakest segment's share is the strength of the
    split. Returns the mean over splits, in [0, 1]: near 1 when the ``k``
    segments are reproducible from another sample, low when some segment is
    an artefact of one sample. Unlike silhouette and Calinski-Harabasz it
    does not reward a coarse split of overlapping groups for being coarse.
    NaN when a fit fails (e.g. a column constant in one half).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small fits: threads cost more than they save
        return _prediction_strength_1(X, estimator, k, random_state)


def _prediction_strength_1(X, estimator, k, random_state: int) -> float:
    rng = np.random.default_rng([int(random_state), 2005])
    n = len(X)
    rows = np.sort(rng.choice(n, STRENGTH_SAMPLE, replace=False)) if n > STRENGTH_SAMPLE else np.arange(n)
    values = []
    for split in range(STRENGTH_SPLITS):
        perm = rng.permutation(rows)
        half_a, half_b = _take(X, np.sort(perm[: len(perm) // 2])), _take(X, np.sort(perm[len(perm) // 2:]))
        try:
            fit_a = clone(estimator).set_params(n_clusters=k, random_state=int(random_state) + split).fit(half_a)
            fit_b = clone(estimator).set_params(n_clusters=k, random_state=int(random_state) + split).fit(half_b)
        except DataError:
            return float("nan")
        value = _strength(np.asarray(fit_b.labels_), np.asarray(fit_a.predict(half_b)))
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else float("nan")


def _strength(own, predicted) -> float | None:
    """Prediction strength of one split: over the segments of B's own fit (labels ``own``), the
    weakest segment's share of pairs of customers that A's fit (``predicted``) also puts together."""
    shares = []
    for c in set(own.tolist()) - {-1}:
        members = predicted[own == c]
        m = len(members)
        if m >= 2:
            counts = np.unique(members, return_counts=True)[1].astype(float)
            shares.append(float((counts * (counts - 1)).sum() / (m * (m - 1))))
    return min(shares) if shares else None


#: Null reference of the prediction strength: how many of the gap statistic's reference data sets
#: (uniform, no clusters) it is also computed on, and the k-means starts of each fit there.
STRENGTH_NULLS = 5
STRENGTH_NULL_N_INIT = 4


def _null_strength(k, state: dict, random_state: int) -> float:
    """Mean prediction strength of ``k`` clusters on data without clusters (Dudoit & Fridlyand 2002).

    The reference data are the first :data:`STRENGTH_NULLS` of the gap
    statistic's (``state``, filled by :func:`_gap`: uniform in the box of the
    sample's principal components, :data:`GAP_SAMPLE` points each). Each is
    halved at random :data:`STRENGTH_SPLITS` times and clustered by k-means
    (:data:`STRENGTH_NULL_N_INIT` starts, seeded) exactly as
    :func:`_prediction_strength` does with the segmenter. This is the
    strength a ``k`` gets without any structure: high for ``k = 2`` (a box
    is cut in two much the same way from any sample), low for large ``k``.
    The box of the principal components is longer in some directions than
    round data, so on round data without clusters the excess is negative
    at ``k = 2`` (about -0.2, see :data:`TIE_BREAK`). It is
    the reference of Clest (Dudoit & Fridlyand 2002, Genome Biology
    3:research0036), which scores ``k`` by its reproducibility minus the
    reproducibility expected under the null.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    values = []
    with threadpool_limits(limits=1):
        for b, R in enumerate(state["refs"][:STRENGTH_NULLS]):
            rng = np.random.default_rng([int(random_state), 2002, b])
            for split in range(STRENGTH_SPLITS):
                perm = rng.permutation(len(R))
                half_a, half_b = R[np.sort(perm[: len(R) // 2])], R[np.sort(perm[len(R) // 2:])]
                seed = int(random_state) + split
                fit_a = KMeans(k, n_init=STRENGTH_NULL_N_INIT, random_state=seed).fit(half_a)
                fit_b = KMeans(k, n_init=STRENGTH_NULL_N_INIT, random_state=seed).fit(half_b)
                value = _strength(fit_b.labels_, fit_a.predict(half_b))
                if value is not None:
                    values.append(value)
    return float(np.mean(values)) if values else float("nan")


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
    ``gap`` and ``gap_se`` (gap statistic and its standard error, on a
    seeded sample of :data:`GAP_SAMPLE` rows), ``prediction_strength``
    (in [0, 1], :data:`STRENGTH_SPLITS` halvings of a seeded sample of
    :data:`STRENGTH_SAMPLE` rows; NaN if a half cannot be fitted),
    ``prediction_strength_null`` (the same on the gap statistic's
    reference data without clusters, see :func:`_null_strength`) and
    ``prediction_strength_excess`` (the difference; about 0 when the
    segments are no more reproducible than cuts of data without clusters),
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
    gap_state = {}  # the gap statistic's sample rows and reference data sets, shared by every k
    rows = []
    for k in ks:
        est = clone(estimator).set_params(n_clusters=k, random_state=random_state)
        est.fit(X)
        labels = np.asarray(est.labels_)
        found = len(set(labels.tolist()) - {-1})
        row = {"k": k, "silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan,
               "bic": np.nan, "gap": np.nan, "gap_se": np.nan, "prediction_strength": np.nan,
               "prediction_strength_null": np.nan, "prediction_strength_excess": np.nan,
               "inertia": float(getattr(est.model_, "inertia_", np.nan)), "n_found": found}
        if 2 <= found < n:
            Z = est.preprocess(X)
            row.update(asdict(cluster_quality(Z, labels, sil_size, random_state)))
            row.update(_gap(Z, labels, k, gap_state, random_state))
            row["prediction_strength"] = _prediction_strength(X, estimator, k, random_state)
            row["prediction_strength_null"] = _null_strength(k, gap_state, random_state)
            row["prediction_strength_excess"] = row["prediction_strength"] - row["prediction_strength_null"]
        if hasattr(est, "bic"):
            row["bic"] = est.bic(X)
        rows.append(row)
    scores = pd.DataFrame(rows).set_index("k")
    scores["mean_rank"] = _mean_rank(scores, None)
    return scores


def _mean_rank(scores: pd.DataFrame, criteria) -> pd.Series:
    return _ranks(scores, criteria).mean(axis=1)


def _ranks(scores: pd.DataFrame, criteria) -> pd.DataFrame:
    unknown = [c for c in (criteria or ()) if c not in CRITERIA]
    if unknown:
        raise DataError(f"choose_k: unknown criterion {unknown[0]!r}; use some of {', '.join(CRITERIA)}")
    criteria = [c for c in (criteria or DEFAULT_CRITERIA) if c in scores.columns and scores[c].notna().any()]
    if not criteria:
        raise DataError("choose_k: the scores hold no criterion values "
                        f"({', '.join(CRITERIA)}); every fit found fewer than 2 clusters")
    return pd.DataFrame({c: scores[c].rank(ascending=not CRITERIA[c], method="min", na_option="bottom")
                         for c in criteria})


@dataclass(frozen=True)
class KRanking:
    """How :func:`rank_k` chose the number of segments.

    Attributes
    ----------
    k: the chosen number of segments.
    runner_up: the second-best ``k`` (None when only one ``k`` was scored).
    table: DataFrame indexed by ``k`` (best first): each criterion's value,
        its rank (``rank_<criterion>``, 1 = best; NaN values rank last),
        ``mean_rank`` (the combined score, lower is better), ``place`` (1 =
        chosen, 2 = runner-up, ...) and ``decided_by`` (what separated this
        ``k`` from the next one: ``"mean rank"``, the tie-break criterion,
        ``"head-to-head"`` or ``"smaller k"``).
    criteria: the criteria averaged.
    tied: the ``k`` values that shared the best mean rank, in their final order
        (one value = no tie).
    """

    k: int
    runner_up: int | None
    table: pd.DataFrame
    criteria: tuple
    tied: tuple

    def summary(self) -> str:
        """One line for a report: the choice, the runner-up and how close it was."""
        t = self.table
        line = f"k={self.k} (mean rank {t.loc[self.k, 'mean_rank']:.2f} over {', '.join(self.criteria)})"
        if self.runner_up is not None:
            line += f"; runner-up k={self.runner_up} (mean rank {t.loc[self.runner_up, 'mean_rank']:.2f})"
        if len(self.tied) > 1:
            by = t.loc[self.k, "decided_by"]
            line += f"; k={', '.join(map(str, self.tied))} tied on mean rank, decided by {by}"
            if by == TIE_BREAK and self.runner_up is not None:
                line += f" ({t.loc[self.k, TIE_BREAK]:.2f} against {t.loc[self.runner_up, TIE_BREAK]:.2f})"
        return line


def rank_k(scores: pd.DataFrame, criteria=None) -> KRanking:
    """Rank the candidate numbers of segments in ``scores`` (from :func:`select_k`).

    Rule: the best (lowest) mean rank over ``criteria`` (default: the
    criteria of :data:`DEFAULT_CRITERIA` with values in ``scores``).
    Internal validity indices disagree and several of them (silhouette,
    Calinski-Harabasz, Davies-Bouldin) favour few segments when groups
    overlap (Milligan & Cooper 1985, Psychometrika 50:159). The gap statistic
    (Tibshirani, Walther & Hastie 2001, JRSS B 63:411) and the excess
    prediction strength measure structure against data without clusters and
    balance them. The excess is the prediction strength (Tibshirani &
    Walther 2005, JCGS 14:511) minus its value for the same ``k`` on the gap
    statistic's reference data (the null reference of Clest: Dudoit &
    Fridlyand 2002, Genome Biology 3:research0036). The raw prediction
    strength is ranked too, but it does not break ties: even data without
    clusters reproduce a cut in two (strength about 0.9), so "the highest
    strength" favours the smallest ``k`` by construction (Tibshirani &
    Walther's own rule is the largest ``k`` above a threshold of 0.8-0.9,
    which under overlap stops short of the planted groups).

    A tie on the mean rank is reported as a tie (``tied``; the summary
    names the ``k`` and what decided). It goes to the larger
    :data:`TIE_BREAK` value (excess prediction strength: more reproducible
    than structureless data cut into as many pieces; it does not favour the
    smallest ``k`` by construction, and its measured lean on data without
    clusters is stated at :data:`TIE_BREAK`), then to the ``k`` that beats the others on more
    criteria (head-to-head), and only then to the smaller ``k``;
    ``decided_by`` in the table says which.

    Parameters
    ----------
    scores: DataFrame indexed by ``k`` with criterion columns.
    criteria: a subset of :data:`CRITERIA`; unknown names raise DataError.

    Returns
    -------
    :class:`KRanking` with the chosen ``k``, the runner-up and the table.

    Raises
    ------
    DataError: no criterion has a value (every fit found fewer than 2 clusters).
    """
    ranks = _ranks(scores, criteria)
    used = tuple(ranks.columns)
    mean = ranks.mean(axis=1)
    tie = scores[TIE_BREAK] if TIE_BREAK in scores.columns else pd.Series(np.nan, index=scores.index)

    def wins(a, b):  # criteria on which k=a ranks strictly better than k=b, minus the reverse
        return int((ranks.loc[a] < ranks.loc[b]).sum() - (ranks.loc[a] > ranks.loc[b]).sum())

    def key(k):  # ascending sort key: mean rank, then tie-break (higher better, NaN last), then k
        t = tie.get(k, np.nan)
        return (round(float(mean[k]), 12), -float(t) if pd.notna(t) else np.inf)

    order = sorted(scores.index, key=lambda k: (key(k), int(k)))
    # Head-to-head among k's still level after the tie-break (stable, so the smaller k stays first on a draw).
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and key(order[j + 1]) == key(order[i]):
            j += 1
        group = order[i:j + 1]
        if len(group) > 1:
            score = {k: sum(wins(k, other) for other in group if other != k) for k in group}
            order[i:j + 1] = sorted(group, key=lambda k: (-score[k], int(k)))
        i = j + 1

    def decided(a, b):
        if key(a)[0] != key(b)[0]:
            return "mean rank"
        if key(a) != key(b):
            return TIE_BREAK
        return "head-to-head" if wins(a, b) > 0 else "smaller k"

    table = pd.concat([scores.loc[order, list(used)], ranks.loc[order].add_prefix("rank_")], axis=1)
    for shown in ("prediction_strength", "prediction_strength_null", TIE_BREAK):  # what the tie-break is made of
        if shown in scores.columns and shown not in used:
            table[shown] = scores.loc[order, shown]
    table["mean_rank"] = mean.loc[order]
    table["place"] = np.arange(1, len(order) + 1)
    table["decided_by"] = [decided(a, b) for a, b in zip(order[:-1], order[1:])] + [""]
    table.index.name = "k"
    best = float(mean[order[0]])
    tied = tuple(int(k) for k in order if round(float(mean[k]), 12) == round(best, 12))
    return KRanking(k=int(order[0]), runner_up=int(order[1]) if len(order) > 1 else None, table=table,
                    criteria=used, tied=tied)


def choose_k(scores: pd.DataFrame, criteria=None) -> int:
    """The ``k`` chosen by :func:`rank_k` (best mean rank over the criteria; ties by
    the excess prediction strength over null data, then head-to-head, then the smaller ``k``).

    ``criteria``: a subset of :data:`CRITERIA` (default: :data:`DEFAULT_CRITERIA`
    with values in ``scores``). Use :func:`rank_k` for the table and the runner-up.
    """
    return rank_k(scores, criteria).k


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
        ranking = rank_k(selection, criteria=criteria)
        k, chosen_by = ranking.k, ranking.summary()
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
