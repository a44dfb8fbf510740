"""Compare segmentations of the same customers: size balance, validity, stability, business separation.

A segmentation is useful when its segments are big enough to act on, differ
in how customers buy and in what they are worth, and do not change when the
data are resampled. :func:`compare` puts every approach on one table:

==================  ===========================================================
column              meaning
==================  ===========================================================
method              how the segmentation was made
customers           customers labelled (and found in the data)
n_segments          segments with at least one customer
smallest_share      share of customers in the smallest non-empty segment
entropy             size balance: Shannon entropy of the shares / log(n_segments)
                    (1 = equal sizes; NaN with a single segment)
silhouette          mean silhouette on a common standardised feature space
                    (see :func:`comparison_features`), on a seeded sample
stability           the segmentation's ``stability`` (bootstrap adjusted Rand,
                    measured by the clustering approaches), else NaN
eta2_<v>            share of the variance of ``v`` lying between segments
                    (eta squared = between sum of squares / total), for
                    ``clv`` (when the data have it), ``revenue``, ``purchase_rate``
best_segment        the segment with the highest mean value (CLV when
                    available, else revenue)
best_lift           its mean value / the overall mean value
lift_on             the value used for the lift (``clv`` or ``revenue``)
ari_truth           adjusted Rand index against ``truth`` (only with ``truth``)
nmi_truth           normalised mutual information against ``truth``
==================  ===========================================================

``table`` is the prepared customer table, ``segwork.prepare_table(data)``
(:mod:`segwork.prepare`), the same table the segmentations were built on; its
``clv`` column, when present, is used. :func:`compare` fits no model: given a
data set instead of the table it says to call :func:`segwork.prepare_table`
first.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, pairwise_distances, silhouette_score
from sklearn.preprocessing import StandardScaler

from ._checks import renamed_keywords
from .errors import DataError
from .segment.base import Segmentation, as_labels, crosstab

__all__ = ["compare", "agreement", "crosstab", "comparison_features", "eta_squared", "size_entropy"]

#: Behaviour columns of the common feature space, and whether they are logged (skewed money / counts).
_FEATURES = (
    ("revenue", True),
    ("mean_amount", True),
    ("frequency", True),
    ("purchase_rate", True),
    ("days_since_last", False),
    ("T", False),
)


def _as_dict(segmentations) -> dict[str, Segmentation]:
    if isinstance(segmentations, Segmentation):
        segmentations = [segmentations]
    if isinstance(segmentations, Mapping):
        items = dict(segmentations)
    elif isinstance(segmentations, Sequence) and not isinstance(segmentations, str):
        items = {s.name: s for s in segmentations}
    else:
        raise TypeError("compare: give a dict name -> Segmentation or a list of Segmentation objects")
    if not items:
        raise ValueError("compare: no segmentations given")
    for name, seg in items.items():
        if not isinstance(seg, Segmentation):
            raise TypeError(f"compare: {name!r} is a {type(seg).__name__}, not a Segmentation")
    return items


def _table(table) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    raise TypeError(f"compare: give the prepared customer table, got {type(table).__name__}; "
                    "call table = segwork.prepare_table(data) first and pass the table")


def comparison_features(table: pd.DataFrame) -> pd.DataFrame:
    """The common feature space on which every segmentation is judged (standardised).

    Columns: log(1 + x) of ``revenue``, ``mean_amount``, ``frequency`` and
    ``purchase_rate``; ``days_since_last`` and tenure ``T`` (days); the
    category and channel mix (``cat_*``, ``ch_*``) when present. Each column
    is standardised to mean 0 and variance 1; constant columns are left out.
    """
    cols = {}
    for col, log in _FEATURES:
        if col in table.columns:
            x = pd.to_numeric(table[col], errors="coerce").astype(float)
            cols[col] = np.log1p(x.clip(lower=0)) if log else x
    for col in table.columns:
        if str(col).startswith(("cat_", "ch_")):
            cols[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    if not cols:
        raise DataError("comparison_features: the table has none of the behaviour columns "
                        f"({', '.join(c for c, _ in _FEATURES)}); build it with segwork.features.customer_table")
    frame = pd.DataFrame(cols, index=table.index).fillna(0.0)
    frame = frame.loc[:, frame.std(ddof=0) > 0]
    if frame.shape[1] == 0:
        raise DataError("comparison_features: every behaviour column is constant; nothing to compare on")
    return pd.DataFrame(StandardScaler().fit_transform(frame), index=frame.index, columns=frame.columns)


def eta_squared(values: pd.Series | np.ndarray, labels: pd.Series | np.ndarray) -> float:
    """Share of the variance of ``values`` between the groups of ``labels`` (0..1; NaN if constant)."""
    y = np.asarray(values, dtype=float)
    g = pd.factorize(np.asarray(labels, dtype=object))[0]
    ok = np.isfinite(y)
    y, g = y[ok], g[ok]
    total = ((y - y.mean()) ** 2).sum()
    if y.size == 0 or total == 0:
        return float("nan")
    sums = np.bincount(g, weights=y)
    counts = np.bincount(g)
    means = sums[counts > 0] / counts[counts > 0]
    between = (counts[counts > 0] * (means - y.mean()) ** 2).sum()
    return float(between / total)


def size_entropy(labels: pd.Series | np.ndarray) -> float:
    """Normalised Shannon entropy of the segment shares: 1 = all segments the same size (NaN if one segment)."""
    counts = pd.Series(np.asarray(labels, dtype=object)).value_counts().to_numpy(dtype=float)
    counts = counts[counts > 0]
    if counts.size < 2:
        return float("nan")
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(counts.size))


@renamed_keywords(seed="random_state")
def compare(
    segmentations: Mapping[str, Segmentation] | Sequence[Segmentation],
    table: pd.DataFrame,
    truth: pd.Series | None = None,
    *,
    sample: int = 5000,
    random_state: int = 0,
) -> pd.DataFrame:
    """One row per segmentation with size balance, validity, stability and business separation.

    Parameters
    ----------
    segmentations: dict name -> :class:`Segmentation` (or a list; names from ``.name``).
    table: the prepared customer table indexed by ``customer_id``
        (``segwork.prepare_table(data)``, see the module docs), the one the
        segmentations were built on::

            table = segwork.prepare_table(data)
            segs = segwork.default_segmentations(table, random_state=0)
            segwork.compare(segs, table, truth=data.truth["segment"])
    truth: optional true segment per customer (Series indexed by customer_id);
        adds ``ari_truth`` and ``nmi_truth``.
    sample: customers of the table drawn (without replacement, ``random_state``) for
        the silhouette; each segmentation is scored on those it labels.
    random_state: seed of that sample (old name ``seed``, deprecated: it still works with a
        FutureWarning until segwork 0.3).

    Returns
    -------
    DataFrame indexed by ``segmentation`` (the dict keys) with the columns
    listed in the module docs. Metrics use the customers both labelled and in
    the table.

    Raises
    ------
    TypeError: ``table`` is not a DataFrame (e.g. a Dataset: call
        ``segwork.prepare_table(data)`` first), a segmentation is not a
        :class:`Segmentation`, or ``truth`` is not a Series.
    ValueError: no segmentations given.
    DataError: the table lacks the behaviour columns, or a segmentation (or
        ``truth``) labels none of the table's customers.
    """
    segs = _as_dict(segmentations)
    table = _table(table)
    features = comparison_features(table)
    value_col = "clv" if "clv" in table.columns and table["clv"].notna().any() else "revenue"
    separation = [c for c in ("clv", "revenue", "purchase_rate") if c in table.columns]
    if truth is not None:
        if not isinstance(truth, pd.Series):
            raise TypeError("compare: truth must be a Series of true segment labels indexed by customer_id")
    # One seeded sample of customers and their distances, shared by every segmentation.
    rng = np.random.default_rng(random_state)
    pos = np.arange(len(table)) if len(table) <= sample else np.sort(rng.choice(len(table), size=sample, replace=False))
    sample_ids = table.index[pos]
    distances = pairwise_distances(features.to_numpy()[pos])
    rows = []
    for name, seg in segs.items():
        labels = seg.labels.astype(str)
        common = labels.index.intersection(table.index)
        if len(common) == 0:
            raise DataError(f"compare: segmentation {name!r} labels none of the customers of the data "
                            f"(e.g. label {labels.index[0]!r}, data {table.index[0]!r})")
        lab = labels.loc[common]
        shares = lab.value_counts(normalize=True)
        row = {
            "segmentation": name,
            "method": seg.method,
            "customers": len(common),
            "n_segments": int(shares.size),
            "smallest_share": float(shares.min()),
            "entropy": size_entropy(lab),
        }
        y = lab.reindex(sample_ids)
        inside = y.notna().to_numpy()
        y = y.to_numpy()[inside]
        dist = distances if inside.all() else distances[np.ix_(inside, inside)]
        n_lab = len(set(y))
        row["silhouette"] = (float(silhouette_score(dist, y, metric="precomputed"))
                             if 2 <= n_lab <= inside.sum() - 1 else float("nan"))
        row["stability"] = float("nan") if seg.stability is None else float(seg.stability)
        sub = table.loc[common]
        for col in separation:
            row[f"eta2_{col}"] = eta_squared(sub[col], lab)
        means = sub[value_col].groupby(lab.to_numpy()).mean()
        overall = sub[value_col].mean()
        row["best_segment"] = str(means.idxmax())
        row["best_lift"] = float(means.max() / overall) if overall > 0 else float("nan")
        row["lift_on"] = value_col
        if truth is not None:
            both = common.intersection(truth.index)
            if len(both) == 0:
                raise DataError(f"compare: truth labels none of the customers of segmentation {name!r}")
            t = pd.factorize(truth.loc[both].astype(str).to_numpy())[0]
            p = pd.factorize(lab.loc[both].to_numpy())[0]
            row["ari_truth"] = float(adjusted_rand_score(t, p))
            row["nmi_truth"] = float(normalized_mutual_info_score(t, p))
        rows.append(row)
    return pd.DataFrame(rows).set_index("segmentation")


def agreement(segmentations: Mapping[str, Segmentation] | Sequence[Segmentation], metric: str = "ari") -> pd.DataFrame:
    """Pairwise agreement between segmentations on their common customers.

    ``metric``: ``"ari"`` (adjusted Rand index: 1 = the same partition, about
    0 = no more agreement than chance) or ``"nmi"`` (normalised mutual
    information, 0..1). Returns a square DataFrame indexed and columned by
    the segmentation names.
    """
    funcs = {"ari": adjusted_rand_score, "nmi": normalized_mutual_info_score}
    if metric not in funcs:
        raise ValueError(f"agreement: metric={metric!r}; use 'ari' or 'nmi'")
    segs = _as_dict(segmentations)
    names = list(segs)
    out = pd.DataFrame(np.nan, index=pd.Index(names, name="segmentation"), columns=names)
    labels = {n: as_labels(s) for n, s in segs.items()}
    same_customers = all(labels[n].index.equals(labels[names[0]].index) for n in names)
    # integer codes once per segmentation: the metrics are much faster on ints than on strings
    codes = {n: pd.factorize(labels[n].to_numpy())[0] for n in names} if same_customers else None
    for i, a in enumerate(names):
        for b in names[i:]:
            if same_customers:
                v = funcs[metric](codes[a], codes[b])
            else:
                common = labels[a].index.intersection(labels[b].index)
                v = (funcs[metric](pd.factorize(labels[a].loc[common].to_numpy())[0],
                                   pd.factorize(labels[b].loc[common].to_numpy())[0]) if len(common) else np.nan)
            out.loc[a, b] = out.loc[b, a] = float(v)
    return out
