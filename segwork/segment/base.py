"""The shared result of every segmentation approach: :class:`Segmentation`.

A segmentation is not an array of integers: it carries the segment of each
customer by *name*, the segment sizes, a profile table per segment, a
description of how it was made (rules, or centroids in original units) and the
fitted segmenter, so that :meth:`Segmentation.predict` places customers that
were not seen when it was built.
"""
from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .._atomic import atomic_write_bytes
from .._checks import require_columns
from ..errors import DataError

if TYPE_CHECKING:
    from .selection import Assessment

__all__ = ["Segmentation", "Segmenter", "segment_profile", "nps", "code_names", "as_labels", "crosstab"]

_FORMAT = "segwork.Segmentation/2"


class Segmenter(Protocol):
    """A fitted segmenter: ``predict(X)`` gives a segment name (rule-based) or an integer code (clustering) per row."""

    def predict(self, X): ...


def code_names(codes, names: Mapping[int, str]) -> np.ndarray:
    """Segment names of integer segment codes (codes missing from ``names`` -> ``"cluster <code>"``)."""
    codes = np.asarray(codes, dtype=int)
    out = np.empty(codes.shape[0], dtype=object)
    for code in np.unique(codes):
        out[codes == code] = names.get(int(code), f"cluster {int(code)}")
    return out


def nps(recommend: pd.Series) -> float:
    """Net Promoter Score from 0-10 answers: % promoters (9-10) - % detractors (0-6); NaN without answers."""
    answered = recommend.dropna()
    if answered.empty:
        return float("nan")
    return float(100.0 * ((answered >= 9).mean() - (answered <= 6).mean()))


def segment_profile(
    labels: pd.Series,
    table: pd.DataFrame,
    *,
    value_column: str = "revenue",
    order: list[str] | None = None,
    n_attributes: int = 2,
) -> pd.DataFrame:
    """A profile table: one row per segment, describing who is in it.

    Parameters
    ----------
    labels: segment name per customer (indexed by customer_id).
    table: the customer table (see :func:`segwork.features.customer_table`),
        optionally with a ``clv`` column.
    value_column: the money column whose share each segment holds.
    order: segment order of the rows (default: by size).
    n_attributes: how many leading profile attributes to list per segment.

    Returns
    -------
    DataFrame indexed by ``segment`` with ``customers``, ``share`` (of
    customers), ``revenue_share`` (share of ``value_column``), mean
    ``frequency``, ``days_since_last``, ``monetary_value``, ``revenue``, mean
    ``clv`` and ``p_alive`` (when present; ``attrs["p_alive_model"]`` names
    the model from the table's ``attrs``, and with the BG/NBD, which gives
    one-time buyers P(alive) = 1 by construction, the mean is over repeat
    buyers only), ``leading_attributes`` (categorical profile values
    most over-represented in the segment, with their lift) and, where a
    survey exists, ``satisfaction`` (mean) and ``nps``.
    """
    table = table.reindex(labels.index)
    seg = labels.astype(str)
    groups = table.groupby(seg, sort=False)
    out = pd.DataFrame({"customers": groups.size()})
    out["share"] = out["customers"] / out["customers"].sum()
    if value_column in table.columns:
        total = table[value_column].sum()
        out["revenue_share"] = groups[value_column].sum() / total if total else np.nan
    for col in ("frequency", "days_since_last", "monetary_value", "revenue", "clv"):
        if col in table.columns:
            out[col] = groups[col].mean()
    if "p_alive" in table.columns:
        model = table.attrs.get("p_alive_model", "model not stated")
        p_alive = pd.to_numeric(table["p_alive"], errors="coerce")
        if str(model).startswith("BG/NBD") and "frequency" in table.columns:
            # BG/NBD: every one-time buyer has P(alive) = 1 by construction; averaging it in says nothing
            p_alive = p_alive.where(table["frequency"] > 0)
            model = f"{model}, repeat buyers only (one-time buyers have P(alive) = 1 by construction)"
        out["p_alive"] = p_alive.groupby(seg, sort=False).mean()
        out.attrs["p_alive_model"] = model
    out["leading_attributes"] = _leading_attributes(seg, table, n_attributes)
    if "satisfaction" in table.columns:
        out["satisfaction"] = groups["satisfaction"].mean()
    if "recommend" in table.columns:
        out["nps"] = groups["recommend"].apply(nps)
    if order is None:
        order = list(out.sort_values("customers", ascending=False).index)
    out = out.reindex([o for o in order if o in out.index])
    out.index.name = "segment"
    return out


def _leading_attributes(seg: pd.Series, table: pd.DataFrame, n: int) -> pd.Series:
    cats = [c for c in table.columns
            if (isinstance(table[c].dtype, pd.CategoricalDtype) or table[c].dtype == object
                or pd.api.types.is_string_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
            and c != "has_survey" and 1 < table[c].nunique(dropna=True) <= 20]
    result = {}
    for name in seg.unique():
        inside = seg == name
        scored = []
        for col in cats:
            values = table[col].astype("object")
            overall = values.value_counts(normalize=True, dropna=True)
            mine = values[inside].value_counts(normalize=True, dropna=True)
            for value, share in mine.items():
                if share >= 0.2 and overall.get(value, 0) > 0:
                    scored.append((share / overall[value], share, col, value))
        scored.sort(key=lambda s: (-s[0], -s[1], s[2], str(s[3])))
        result[name] = "; ".join(f"{col}={value} ({share:.0%}, x{lift:.1f})"
                                 for lift, share, col, value in scored[:n])
    return pd.Series(result)


class Segmentation:
    """Customers grouped into named segments, with a profile and the fitted segmenter that places new customers.

    Parameters
    ----------
    labels: Series indexed by ``customer_id`` with the segment *name* of each customer.
    name: a short name for the segmentation (e.g. ``"rfm"``).
    method: how it was made, in a few words (e.g. ``"RFM quintile scores + segment map"``).
    description: rules (DataFrame or text) or centroids in original units.
    segmenter: the fitted segmenter (``predict``), used by :meth:`predict` for unseen customers.
    features: the columns of a customer table the segmenter reads (None: the whole table).
    segment_names: code -> segment name, when the segmenter predicts integer
        codes (the clustering estimators; -1 = not placed, e.g. HDBSCAN noise).
        None when it predicts names itself.
    unplaced_model: a fitted model predicting segment names from the columns
        ``unplaced_model.feature_names_in_`` for the customers the segmenter
        does not place (code -1; e.g. needs: customers without survey answers).
    profile: the profile table (see :func:`segment_profile`); computed from
        ``table`` when not given.
    table: the customer table the segmentation was built on (used for the
        profile only; not stored).
    order: the segment order (default: by size).
    params: the approach-specific settings and details (shown in reports).
    fallback: the name :meth:`predict` gives customers no segment fits
        (e.g. a category never seen when it was built).
    assessment: for clustering approaches, how ``k`` was chosen and the
        quality and stability of the fit (:class:`~segwork.segment.selection.Assessment`).

    Attributes
    ----------
    labels, name, method, description, segmenter, features, segment_names,
    unplaced_model, profile, params, fallback, assessment; views segments,
    sizes, shares, n_segments; ``selection``, ``quality``, ``stability``
    (from ``assessment``; None without one).
    """

    def __init__(
        self,
        labels: pd.Series,
        *,
        name: str,
        method: str,
        description: Any = None,
        segmenter: Segmenter | None = None,
        features: list[str] | None = None,
        segment_names: Mapping[int, str] | None = None,
        unplaced_model: Any = None,
        profile: pd.DataFrame | None = None,
        table: pd.DataFrame | None = None,
        order: list[str] | None = None,
        params: dict | None = None,
        fallback: str | None = None,
        assessment: Assessment | None = None,
    ) -> None:
        if not isinstance(labels, pd.Series):
            raise TypeError("Segmentation: labels must be a pandas Series indexed by customer_id")
        if labels.isna().any():
            missing = labels.index[labels.isna()][0]
            raise DataError(f"Segmentation {name!r}: customer {missing!r} has no segment; "
                            "give unmatched customers a named remainder segment")
        names = labels.astype(str)
        if order is None:
            order = list(names.value_counts().index)
        else:
            order = [str(o) for o in order]
            unknown = sorted(set(names) - set(order))
            if unknown:
                raise DataError(f"Segmentation {name!r}: label {unknown[0]!r} is not in the segment order {order}")
        self.labels = pd.Series(pd.Categorical(names, categories=order), index=labels.index, name="segment")
        self.labels.index.name = "customer_id"
        self.name = name
        self.method = method
        self.description = description
        self.segmenter = segmenter
        self.features = None if features is None else list(features)
        self.segment_names = None if segment_names is None else dict(segment_names)
        self.unplaced_model = unplaced_model
        self.params = dict(params or {})
        self.fallback = fallback
        self.assessment = assessment
        if profile is None and table is not None:
            profile = segment_profile(self.labels, table, order=order)
        self.profile = profile

    # ------------------------------------------------------------------ views
    @property
    def segments(self) -> list[str]:
        """Segment names, in order."""
        return list(self.labels.cat.categories)

    @property
    def n_segments(self) -> int:
        """Number of segments with at least one customer."""
        return int((self.sizes > 0).sum())

    @property
    def sizes(self) -> pd.Series:
        """Customers per segment, in segment order."""
        return self.labels.value_counts(sort=False).reindex(self.segments).fillna(0).astype(int)

    @property
    def shares(self) -> pd.Series:
        """Share of customers per segment."""
        return self.sizes / self.sizes.sum()

    @property
    def selection(self) -> pd.DataFrame | None:
        """The k-selection table (scores per ``k``) of a clustering approach; None otherwise."""
        return None if self.assessment is None else self.assessment.selection

    @property
    def quality(self):
        """Silhouette, Calinski-Harabasz, Davies-Bouldin of a clustering approach (``ClusterQuality``); None otherwise."""
        return None if self.assessment is None else self.assessment.quality

    @property
    def stability(self) -> float | None:
        """Bootstrap stability (mean adjusted Rand) of a clustering approach (NaN if not measured); None otherwise."""
        return None if self.assessment is None else self.assessment.stability

    def crosstab(self, other: "Segmentation", normalize: bool | str = False) -> pd.DataFrame:
        """Customers in each pair of segments of this and another segmentation (see :func:`crosstab`)."""
        return crosstab(self, other, normalize=normalize)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {v:,}" for k, v in self.sizes.items())
        return f"<Segmentation {self.name!r} ({self.method}); {self.n_segments} segments: {sizes}>"

    # ------------------------------------------------------------------ new customers
    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Segment names for customers (e.g. not seen when this segmentation was built).

        ``table`` is a customer table with the columns the approach uses
        (``features`` when set; see the approach's docs). The fitted
        segmenter predicts names, or integer codes named by
        ``segment_names``; customers with a category the segmenter never saw
        go to ``fallback`` (with a warning), customers it does not place
        (code -1) to ``unplaced_model`` when there is one.

        Returns a Series of segment names (object dtype) indexed like ``table``.

        Raises
        ------
        DataError
            The segmentation has no segmenter, or ``table`` lacks a column it needs.
        """
        if self.segmenter is None:
            raise DataError(f"Segmentation {self.name!r} cannot predict new customers: it was built without "
                            "a segmenter (pass segmenter= to Segmentation)")
        where = f"Segmentation {self.name!r} predict"
        X = table
        if self.features is not None:
            require_columns(table, self.features, where, "pass a customer table with the columns the segmentation "
                            "was built on (NaN where unknown)", what="new customers")
            X = table[self.features]
        if self.segment_names is None:  # the segmenter names the segments itself
            return pd.Series(np.asarray(self.segmenter.predict(X), dtype=object), index=table.index, name="segment")
        out = np.full(len(table), self.fallback, dtype=object)
        if len(table) == 0:
            return pd.Series(out, index=table.index, name="segment")
        place = np.ones(len(table), dtype=bool)
        if hasattr(self.segmenter, "unseen_categories"):
            unseen, counts = self.segmenter.unseen_categories(X)
            if counts:
                detail = ", ".join(f"{c}={v!r}: {n}" for (c, v), n in counts.items())
                warnings.warn(f"{where}: {int(unseen.sum())} customer(s) have categories not seen when the "
                              f"segmentation was built ({detail}); they go to {self.fallback!r}. "
                              "Rebuild the segmentation with these customers to give them a segment.",
                              UserWarning, stacklevel=2)
            place = ~unseen
        if place.any():
            codes = np.asarray(self.segmenter.predict(X.loc[place]), dtype=int)
            out[place] = code_names(codes, self.segment_names)
            lost = np.flatnonzero(place)[codes == -1]
            if lost.size and self.unplaced_model is not None:
                cols = list(self.unplaced_model.feature_names_in_)
                require_columns(table, cols, where, "customers the segmenter does not place are predicted from "
                                "these columns; build the table with customer_table", what="new customers")
                out[lost] = self.unplaced_model.predict(table.iloc[lost][cols])
        return pd.Series(out, index=table.index, name="segment")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to ``path`` (pickle; written atomically). Load only files you trust."""
        payload = {"format": _FORMAT, "state": self.__dict__}
        return atomic_write_bytes(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: str | Path) -> "Segmentation":
        """Load a segmentation saved with :meth:`save`."""
        path = Path(path)
        try:
            payload = pickle.loads(path.read_bytes())
        except FileNotFoundError:
            raise DataError(f"{path}: no such segmentation file") from None
        except Exception as exc:
            raise DataError(f"{path}: not a segwork segmentation file ({type(exc).__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise DataError(f"{path}: not a segwork segmentation file (format {payload.get('format') if isinstance(payload, dict) else None!r})")
        obj = cls.__new__(cls)
        obj.__dict__.update(payload["state"])
        return obj


def as_labels(x) -> pd.Series:
    """Segment names per customer of a :class:`Segmentation` or a Series of labels (as strings, named)."""
    if isinstance(x, Segmentation):
        return x.labels.astype(str).rename(x.name)
    if isinstance(x, pd.Series):
        return x.astype(str)
    raise DataError(f"expected a Segmentation or a Series of labels, got {type(x).__name__}")


def crosstab(a, b, normalize: bool | str = False) -> pd.DataFrame:
    """Customers in each pair of segments of two segmentations (or label Series), on their common customers.

    ``normalize``: ``False`` (counts), ``"index"`` (each row sums to 1: where
    the customers of a segment of ``a`` go in ``b``), ``"columns"`` or ``"all"``.
    Segmentation inputs keep their segment order.
    """
    la, lb = as_labels(a), as_labels(b)
    common = la.index.intersection(lb.index)
    if len(common) == 0:
        raise DataError("crosstab: the two segmentations have no customer in common")
    ra = la.loc[common].rename(la.name or "a")
    rb = lb.loc[common].rename(lb.name or "b")
    if la.name == lb.name:
        ra, rb = ra.rename(f"{la.name} (a)"), rb.rename(f"{lb.name} (b)")
    tab = pd.crosstab(ra, rb, normalize=normalize)
    # keep the segment order of Segmentation inputs
    if isinstance(a, Segmentation):
        tab = tab.reindex([s for s in a.segments if s in tab.index])
    if isinstance(b, Segmentation):
        tab = tab.reindex(columns=[s for s in b.segments if s in tab.columns])
    return tab
