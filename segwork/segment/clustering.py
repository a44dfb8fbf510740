"""Behavioural clustering: customers grouped by how they buy.

:func:`behavioural_segmentation` turns one of the clustering estimators of
:mod:`segwork.segment.estimators` (k-means, Gaussian mixture, k-prototypes,
HDBSCAN; preprocessing in :mod:`segwork.segment.preprocess`) into a named
:class:`~segwork.segment.base.Segmentation`: it chooses the number of
segments, fits and assesses the fit with
:func:`segwork.segment.selection.fit_and_assess` (the same pipeline as the
needs-based approach), names each segment from its centre in original units
(:func:`segment_centres`, :mod:`segwork.segment.naming`), and keeps the fitted
estimator so that :meth:`Segmentation.predict` places new customers.
:func:`compare_methods` builds it with several methods and tabulates their
assessments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .base import Segmentation, code_names
from .estimators import METHODS, make_segmenter
from .naming import name_segments
from .preprocess import (BEHAVIOUR_FEATURES, category_values, default_features, is_numeric, signed_expm1,
                         signed_log1p, single_thread_below)
from .selection import fit_and_assess

__all__ = ["UNCLUSTERED", "UNSEEN_FALLBACK", "behavioural_segmentation", "segment_centres", "compare_methods"]

#: Segment name of HDBSCAN's noise points (customers in no dense group).
UNCLUSTERED = "unclustered"

#: Segment name given by :meth:`Segmentation.predict` to customers with a category value never
#: seen when the segmentation was built.
UNSEEN_FALLBACK = "unassigned (unseen category)"


# --------------------------------------------------------------------------- centres


def segment_centres(estimator, X: pd.DataFrame, labels) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Centre of each cluster of a fitted clustering estimator in original units, and its z-scores (for naming).

    ``X``: the rows the centres are computed from (a DataFrame of the fitted
    columns, usually the fitted rows); ``labels``: their clusters (-1 = noise).
    Returns ``(centres, z)``, both indexed by cluster.

    Numeric: the mean per cluster in the modelling scale (log1p for log
    columns, so a geometric-type mean), back-transformed to original units;
    z = (cluster mean - overall mean) / overall standard deviation, both in
    the modelling scale. Categorical: the most common value and its share;
    z per value ``column=value`` = (share in cluster - overall share) /
    sqrt(overall share * (1 - overall share)).
    """
    numeric, log_columns = estimator.numeric_columns_, estimator.log_columns_
    categorical = estimator.categorical_columns_
    frame = X.set_axis([str(c) for c in X.columns], axis=1)
    frame = pd.DataFrame({**{c: frame[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric},
                          **{c: category_values(frame[c]).to_numpy() for c in categorical}},
                         index=frame.index, columns=estimator.columns_)
    labels = pd.Series(np.asarray(labels), index=frame.index)
    clusters = sorted(labels.unique())
    centres = pd.DataFrame(index=pd.Index(clusters, name="cluster"))
    zs = {}
    for col in numeric:
        v = frame[col].astype(float)
        if col in log_columns:
            v = pd.Series(signed_log1p(v), index=frame.index)
        means = v.groupby(labels).mean().reindex(clusters)
        sd = v.std(ddof=0)
        zs[col] = (means - v.mean()) / sd if sd > 0 else means * 0.0
        centres[col] = signed_expm1(means.to_numpy()) if col in log_columns else means.to_numpy()
    for col in categorical:
        v = frame[col].fillna("missing")
        overall = v.value_counts(normalize=True)
        share = pd.crosstab(labels, v, normalize="index").reindex(index=clusters, fill_value=0.0)
        top = share.idxmax(axis=1)
        centres[col] = [f"{top[c]} ({share.loc[c, top[c]]:.0%})" for c in clusters]
        for value in sorted(overall.index, key=str):
            p = overall[value]
            if 0 < p < 1:
                zs[f"{col}={value}"] = (share[value] - p) / np.sqrt(p * (1 - p))
    z = pd.DataFrame(zs, index=pd.Index(clusters, name="cluster"))
    return centres, z



def _resolve_features(table: pd.DataFrame, method: str, features) -> tuple[list[str], list[str]]:
    """(features to use, default columns left out because constant / missing)."""
    if features is None:
        chosen = default_features(table, method)
        wanted = [c for c in BEHAVIOUR_FEATURES if c in table.columns]
        dropped = [c for c in wanted if c not in chosen]
        if not chosen:
            raise DataError("behavioural_segmentation: the table has none of the default behaviour columns "
                            f"({', '.join(BEHAVIOUR_FEATURES)}, cat_*, ch_*) with varying values; "
                            "build it with segwork.features.customer_table or pass features=[...]")
        return chosen, dropped
    if isinstance(features, str):
        features = [features]
    features = list(features)
    unknown = [f for f in features if f not in table.columns]
    if unknown:
        raise DataError(f"behavioural_segmentation: feature column {unknown[0]!r} is not in the table "
                        f"(columns: {', '.join(map(str, table.columns))}); fix the name or drop it")
    if not features:
        raise DataError("behavioural_segmentation: features=[] is empty; pass column names or None for the defaults")
    return features, []



# --------------------------------------------------------------------------- the segmentation


def behavioural_segmentation(
    table: pd.DataFrame,
    method: str = "kmeans",
    k: int | None = None,
    k_range=range(2, 9),
    features=None,
    random_state: int = 0,
    *,
    n_resamples: int = 5,
    stability_sample: int = 3000,
    silhouette_sample: int = 3000,
    selection_sample: int = 50_000,
    **params,
) -> Segmentation:
    """Cluster customers by behaviour and name the clusters.

    Parameters
    ----------
    table: customer table (see :func:`segwork.features.customer_table`),
        indexed by customer_id.
    method: ``"kmeans"`` (default), ``"gmm"``, ``"kprototypes"`` or ``"hdbscan"``.
    k: number of segments; None selects it over ``k_range`` by the mean rank
        of silhouette, Calinski-Harabasz, Davies-Bouldin (and BIC for
        ``"gmm"``), see :func:`segwork.segment.selection.select_k`. Ignored by
        HDBSCAN, which finds the number itself.
    k_range: the candidate numbers of segments (integers >= 2).
    features: columns to cluster on (default :func:`default_features`).
    random_state: seed of every random step (clustering, samples, bootstrap).
    n_resamples: bootstrap resamples for the stability (0 skips it).
    stability_sample, silhouette_sample, selection_sample: seeded row samples
        bounding the cost of stability, silhouette and selection at scale.
    params: passed to the segmenter (e.g. ``covariance_type="diag"``).

    Returns
    -------
    Segmentation named ``"behavioural_<method>"``. ``description`` is the
    centroid table in original units (one row per segment: customers, share,
    then each feature's centre; money in the data's currency, time in days,
    shares in [0, 1], categorical columns as "mode (share)"). ``assessment``
    (also ``selection``, ``quality``, ``stability``): ``k``, how it was
    chosen, the selection table, silhouette, Calinski-Harabasz,
    Davies-Bouldin, stability (mean adjusted Rand over bootstrap resamples).
    ``params`` hold the method, the algorithm that ran, the features, the
    log-transformed columns and the centres' z-scores (``centroids_z``).
    ``segmenter`` is the fitted estimator: ``predict(new_customers)`` names
    their segments (:data:`UNSEEN_FALLBACK` for unseen categories).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError("behavioural_segmentation: table must be a pandas DataFrame indexed by customer_id "
                        "(see segwork.features.customer_table)")
    with single_thread_below(len(table)):
        return _behavioural_segmentation(table, method, k, k_range, features, random_state, n_resamples,
                                         stability_sample, silhouette_sample, selection_sample, params)


def _behavioural_segmentation(table, method, k, k_range, features, random_state, n_resamples,
                              stability_sample, silhouette_sample, selection_sample, params) -> Segmentation:
    if method not in METHODS:
        raise DataError(f"behavioural_segmentation: method={method!r}; use one of {', '.join(METHODS)}")
    features, dropped = _resolve_features(table, method, features)
    X = table[features]
    n = len(X)
    notes = []
    if dropped:
        notes.append(f"left out default column(s) {', '.join(dropped)}: constant or missing")
    estimator, assessment, more_notes = fit_and_assess(
        X, make_segmenter(method, random_state=random_state, **params), k, k_range,
        who="behavioural_segmentation", random_state=random_state, n_resamples=n_resamples,
        stability_sample=stability_sample, silhouette_sample=silhouette_sample, selection_sample=selection_sample)
    notes += more_notes
    labels = estimator.labels_

    # Names from centres (noise has its own name).
    centres, z_all = segment_centres(estimator, X, labels)
    z = z_all.drop(index=-1, errors="ignore")
    names = name_segments(z, reserved=(UNCLUSTERED, UNSEEN_FALLBACK)).to_dict() if len(z) else {}
    segment_names = {-1: UNCLUSTERED, **names}
    label_names = pd.Series(code_names(labels, segment_names), index=table.index)

    # Description: centres in original units, named, in segment order.
    sizes = pd.Series(labels).value_counts()
    centres.insert(0, "share", [sizes.get(c, 0) / n for c in centres.index])
    centres.insert(0, "customers", [int(sizes.get(c, 0)) for c in centres.index])
    centres.index = code_names(centres.index, segment_names)
    centres.index.name = "segment"
    centres = centres.sort_values("customers", ascending=False, kind="stable")

    run = {
        "method": method,
        "algorithm": estimator.algorithm_,
        "k_range": [int(x) for x in k_range] if k_range is not None else None,
        "features": list(features),
        "log_columns": list(estimator.log_columns_),
        "categorical_columns": list(estimator.categorical_columns_),
        "random_state": random_state,
        "centroids_z": z.rename(index=names),
        "notes": notes,
    }
    if method == "hdbscan":
        run["n_unclustered"] = int((labels == -1).sum())
        run["min_cluster_size"] = int(estimator.model_.min_cluster_size_)
    if method == "kprototypes" and estimator.algorithm_ == "kprototypes":
        run["gamma"] = float(estimator.model_.gamma_)
    title = {"kmeans": "k-means", "gmm": "Gaussian mixture", "kprototypes": "k-prototypes",
             "hdbscan": "HDBSCAN"}[method]
    return Segmentation(
        label_names,
        name=f"behavioural_{method}",
        method=f"behavioural clustering ({title}) on {', '.join(features[:6])}{' ...' if len(features) > 6 else ''}",
        description=centres,
        segmenter=estimator,
        features=features,
        segment_names=segment_names,
        table=table,
        order=list(centres.index),
        params=run,
        fallback=UNSEEN_FALLBACK,
        assessment=assessment,
    )


def compare_methods(
    table: pd.DataFrame,
    methods=METHODS,
    *,
    k: int | None = None,
    k_range=range(2, 9),
    truth: pd.Series | None = None,
    features=None,
    random_state: int = 0,
    **options,
) -> tuple[pd.DataFrame, dict[str, Segmentation]]:
    """Build :func:`behavioural_segmentation` with several methods and tabulate their assessments.

    A thin table over each segmentation's ``assessment`` (the internal
    validity each method reaches in its own preprocessed space, from
    :func:`segwork.segment.selection.fit_and_assess`). To judge approaches on
    one common feature space, and non-clustering ones too, use
    :func:`segwork.comparison.compare` on the returned segmentations.

    ``k`` (None: each method selects its own) and ``options`` (e.g.
    ``n_resamples``) are passed to every method. k-prototypes is left out
    when the features hold no categorical column (it would be k-means).

    Returns ``(table, segmentations)``: the table has one row per method
    (index ``method``) with ``k``, ``silhouette``, ``calinski_harabasz``,
    ``davies_bouldin``, ``stability``, ``smallest_share``, ``unclustered_share``,
    ``seconds`` (wall time of the build: varies run to run, keep it out of saved
    results) and, when ``truth`` (true segment
    per customer) is given, ``ari_truth`` (adjusted Rand on the customers in
    both).
    """
    import time

    from sklearn.metrics import adjusted_rand_score

    rows, segs = [], {}
    for method in methods:
        feats = features if features is not None else default_features(table, method)
        if method == "kprototypes" and not any(not is_numeric(table[c]) for c in feats):
            continue
        start = time.perf_counter()
        seg = behavioural_segmentation(table, method=method, k=k, k_range=k_range, features=features,
                                       random_state=random_state, **options)
        seconds = time.perf_counter() - start
        a = seg.assessment
        row = {"method": method, "k": a.k, "silhouette": a.quality.silhouette,
               "calinski_harabasz": a.quality.calinski_harabasz, "davies_bouldin": a.quality.davies_bouldin,
               "stability": a.stability, "smallest_share": float(seg.shares[seg.shares > 0].min()),
               "unclustered_share": float((seg.labels == UNCLUSTERED).mean()), "seconds": seconds}
        if truth is not None:
            common = seg.labels.index.intersection(truth.index)
            row["ari_truth"] = float(adjusted_rand_score(truth.loc[common].astype(str),
                                                         seg.labels.loc[common].astype(str)))
        rows.append(row)
        segs[method] = seg
    return pd.DataFrame(rows).set_index("method"), segs
