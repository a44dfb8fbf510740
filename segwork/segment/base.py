"""The shared result of every segmentation approach: :class:`Segmentation`.

A segmentation is not an array of integers: it carries the segment of each
customer by *name*, the segment sizes, a profile table per segment, a
description of how it was made (rules, or centroids in original units) and a
way to assign customers that were not seen when it was built.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .._atomic import atomic_write_bytes
from ..errors import DataError

__all__ = ["Segmentation", "Assigner", "segment_profile", "nps"]

_FORMAT = "segwork.Segmentation/1"


class Assigner(Protocol):
    """Anything that maps a customer table to segment names (a Series indexed like the table)."""

    def assign(self, table: pd.DataFrame) -> pd.Series: ...


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
    ``clv`` (when present), ``leading_attributes`` (categorical profile values
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
    for col in ("frequency", "days_since_last", "monetary_value", "revenue", "clv", "p_alive"):
        if col in table.columns:
            out[col] = groups[col].mean()
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
    """Customers grouped into named segments, with a profile and a way to assign new customers.

    Parameters
    ----------
    labels: Series indexed by ``customer_id`` with the segment *name* of each customer.
    name: a short name for the segmentation (e.g. ``"rfm"``).
    method: how it was made, in a few words (e.g. ``"RFM quintile scores + segment map"``).
    description: rules (DataFrame or text) or centroids in original units.
    assigner: an object with ``assign(table) -> Series`` for unseen customers.
    profile: the profile table (see :func:`segment_profile`); computed from
        ``table`` when not given.
    table: the customer table the segmentation was built on (used for the
        profile only; not stored).
    order: the segment order (default: by size).
    params: the settings used (shown in reports).
    fallback: the name given to customers no segment fits (for ``assign``).

    Attributes
    ----------
    labels, name, method, description, profile, params, segments, sizes, shares.
    """

    def __init__(
        self,
        labels: pd.Series,
        *,
        name: str,
        method: str,
        description: Any = None,
        assigner: Assigner | None = None,
        profile: pd.DataFrame | None = None,
        table: pd.DataFrame | None = None,
        order: list[str] | None = None,
        params: dict | None = None,
        fallback: str | None = None,
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
        self.labels = pd.Series(pd.Categorical(names, categories=order), index=labels.index.astype(str),
                                name="segment")
        self.labels.index.name = "customer_id"
        self.name = name
        self.method = method
        self.description = description
        self.assigner = assigner
        self.params = dict(params or {})
        self.fallback = fallback
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

    def crosstab(self, other: "Segmentation", normalize: bool | str = False) -> pd.DataFrame:
        """Customers in each pair of segments of this and another segmentation (common customers).

        Same as :func:`segwork.comparison.crosstab` ``(self, other, normalize)``.
        """
        from ..comparison import crosstab

        return crosstab(self, other, normalize=normalize)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {v:,}" for k, v in self.sizes.items())
        return f"<Segmentation {self.name!r} ({self.method}); {self.n_segments} segments: {sizes}>"

    # ------------------------------------------------------------------ new customers
    def assign(self, new_customers: pd.DataFrame) -> pd.Series:
        """Segment names for customers not seen when this segmentation was built.

        ``new_customers`` is a customer table with the columns the approach
        uses (see the approach's docs). Returns a Series indexed like it.
        """
        if self.assigner is None:
            raise DataError(f"Segmentation {self.name!r} cannot assign new customers: it was built without an assigner")
        out = self.assigner.assign(new_customers)
        return pd.Series(np.asarray(out, dtype=object), index=new_customers.index, name="segment")

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
