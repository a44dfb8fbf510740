"""Value-based segmentation: tiers of customers by economic value.

Customers of the same value level form a segment that can be treated
distinctly: the few most valuable are served one by one, the long tail at low
cost (CRM.md: "a small share of customers often brings most of the profit").
The value is either *historical* (revenue or margin to date) or *predicted*
(customer lifetime value, CLV: the discounted net profit expected from the
whole future relationship; see :mod:`segwork.clv`).

Tiers
-----
Customers are ranked by value (highest first; equal values in the table's
order) and cut into tiers by share of customers, by default the top 1 %, the
next 19 %, the middle 30 % and the low 50 %. Customers with a *negative*
value (they cost more than they bring) form a tier of their own,
"Negative margin", whenever there are any; the shares then apply to the
others. New customers are placed by the value thresholds found at fit time.

Concentration curve
-------------------
:func:`segwork.features.concentration_curve` gives, for each share of the best customers, the
share of the total value they bring ("the top 20 % bring 62 % of the value"):
the Lorenz curve read from the top. A straight diagonal means every customer
is worth the same; the more the curve bows up, the more value is concentrated.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import check_fitted, require_columns
from ..clv.margin import DEFAULT_MARGIN
from ..clv.record import Fallback
from ..errors import DataError
from ..prepare import clv_record_of
from .base import Segmentation

__all__ = [
    "ValueTiers",
    "value_segmentation",
    "tier_value",
    "DEFAULT_TIERS",
    "NEGATIVE_TIER",
]

#: Default tiers: (name, share of the non-negative customers), best first.
DEFAULT_TIERS: tuple[tuple[str, float], ...] = (
    ("Top 1 %", 0.01),
    ("Next 19 %", 0.19),
    ("Middle 30 %", 0.30),
    ("Low 50 %", 0.50),
)

#: Name of the tier of customers whose value is below zero.
NEGATIVE_TIER = "Negative margin"


def _value_series(table: pd.DataFrame | None, value, what: str = "value") -> pd.Series:
    """The value per customer: a column of ``table`` or a Series indexed by customer_id."""
    if isinstance(value, str):
        if table is None or value not in table.columns:
            cols = ", ".join(map(str, table.columns)) if table is not None else "no table given"
            raise DataError(f"value segmentation: the {what} column {value!r} is not in the customer table "
                            f"(available: {cols})")
        s = table[value]
    elif isinstance(value, pd.Series):
        s = value
        if table is not None:
            missing = table.index.difference(s.index)
            if len(missing):
                raise DataError(f"value segmentation: the {what} Series has no value for {len(missing)} customer(s) "
                                f"of the table, e.g. {missing[0]!r}; give one value per customer")
            s = s.reindex(table.index)
    else:
        raise DataError(f"value segmentation: {what} must be a column name or a Series indexed by customer_id, "
                        f"got {type(value).__name__}")
    out = pd.to_numeric(s, errors="coerce").astype(float)
    if out.isna().all():
        raise DataError(f"value segmentation: the {what} is missing for every customer")
    if out.isna().any():
        bad = out.index[out.isna()][0]
        raise DataError(f"value segmentation: the {what} is missing or not a number for customer {bad!r} "
                        f"({int(out.isna().sum())} customers); fill or drop them first")
    if not np.isfinite(out.to_numpy()).all():
        bad = out.index[~np.isfinite(out.to_numpy())][0]
        raise DataError(f"value segmentation: the {what} of customer {bad!r} is infinite")
    return out


def _check_tiers(tiers) -> list[tuple[str, float]]:
    try:
        tiers = [(str(n), float(s)) for n, s in tiers]
    except (TypeError, ValueError):
        raise DataError("value tiers: give a list of (name, share) pairs, e.g. [('Top 20 %', 0.2), ('Rest', 0.8)]") from None
    if len(tiers) < 2:
        raise DataError("value tiers: give at least two tiers")
    shares = np.array([s for _, s in tiers])
    if (shares <= 0).any():
        bad = tiers[int(np.argmax(shares <= 0))]
        raise DataError(f"value tiers: tier {bad[0]!r} has share {bad[1]}; shares must be positive")
    if abs(shares.sum() - 1.0) > 1e-6:
        raise DataError(f"value tiers: the shares add up to {shares.sum():.4g}; they must add up to 1")
    names = [n for n, _ in tiers]
    if len(set(names)) != len(names) or NEGATIVE_TIER in names:
        raise DataError(f"value tiers: tier names must be unique and differ from {NEGATIVE_TIER!r}: {names}")
    return tiers


def _rank_desc(x: np.ndarray) -> np.ndarray:
    """0-based rank, highest value first, equal values in order of appearance."""
    order = np.argsort(-x, kind="stable")
    rank = np.empty(x.size, dtype=np.int64)
    rank[order] = np.arange(x.size)
    return rank


class ValueTiers(BaseEstimator):
    """Tiers of customers by value (share of customers per tier), plus a negative-margin tier.

    Parameters
    ----------
    tiers: ``(name, share)`` pairs, best first; shares add up to 1
        (default :data:`DEFAULT_TIERS`: top 1 %, next 19 %, middle 30 %, low 50 %).
    negative: the name of the tier of customers with a value below 0.
    column: the value column ``fit`` / ``predict`` read from a customer table
        (None: a column called ``value``).
    margin: multiplies the value (e.g. 0.3 turns revenue into margin).

    ``fit(X)`` and ``predict(X)`` take a customer table (the value is
    ``X[column] * margin``, else ``X["value"] * margin``) or the values
    themselves (a Series indexed by customer_id, or an array), times ``margin``.

    Attributes (after ``fit``)
    --------------------------
    tiers_, thresholds_ (the lowest value of each tier but the last, best
    first, in the value's units), counts_ (customers per tier), labels_.
    """

    def __init__(self, tiers=DEFAULT_TIERS, negative: str = NEGATIVE_TIER, *, column: str | None = None,
                 margin: float = 1.0):
        self.tiers = tiers
        self.negative = negative
        self.column = column
        self.margin = margin

    def _values(self, X) -> pd.Series:
        """The value per row of ``X`` (a customer table, a Series or an array), times ``margin``."""
        if isinstance(X, pd.DataFrame):
            names = [c for c in (self.column, "value") if c]
            col = next((c for c in names if c in X.columns), None)
            if col is None:
                raise DataError("value tiers: the customers need a column "
                                + " or ".join(repr(c) for c in names)
                                + " with the same kind of value the tiers were built on")
            return _value_series(X, col) * self.margin
        if not isinstance(X, pd.Series):
            X = pd.Series(np.asarray(X, dtype=float))
        return _value_series(None, X) * self.margin

    def fit(self, X) -> "ValueTiers":
        """Cut the values of ``X`` (a customer table, or values indexed by customer_id) into tiers."""
        self.tiers_ = _check_tiers(self.tiers)
        values = self._values(X)
        x = values.to_numpy(dtype=float)
        neg = x < 0
        pos = ~neg
        m = int(pos.sum())
        k = len(self.tiers_)
        if m < k:
            raise DataError(f"value tiers: {m} customer(s) with a non-negative value is fewer than the {k} tiers; "
                            "use fewer tiers or more customers")
        if np.ptp(x) == 0:
            raise DataError(f"value tiers: every customer has the same value ({x[0]:g}); tiers cannot rank them")
        cum = np.cumsum([s for _, s in self.tiers_])
        # tier i holds ranks [b[i-1], b[i]): the rounded cumulative shares, at least one customer per tier
        bounds = np.round(cum * m).astype(int)
        bounds = np.clip(bounds, np.arange(1, k + 1), m - np.arange(k - 1, -1, -1))
        bounds = np.maximum.accumulate(bounds)
        bounds[-1] = m
        rank = _rank_desc(x[pos])
        tier_idx = np.searchsorted(bounds, rank, side="right")
        names = np.array([n for n, _ in self.tiers_], dtype=object)
        labels = np.full(x.size, self.negative, dtype=object)
        labels[pos] = names[tier_idx]
        xp = x[pos]
        self.thresholds_ = np.array([xp[tier_idx == i].min() for i in range(k - 1)])
        self.ranges_ = {names[i]: (float(xp[tier_idx == i].min()), float(xp[tier_idx == i].max())) for i in range(k)}
        if neg.any():
            self.ranges_[self.negative] = (float(x[neg].min()), float(x[neg].max()))
        self.labels_ = pd.Series(labels, index=values.index, name="segment")
        order = list(names) + ([self.negative] if neg.any() else [])
        self.counts_ = self.labels_.value_counts().reindex(order).fillna(0).astype(int)
        return self

    def predict(self, X) -> pd.Series:
        """Tier names for (new) customers or values, by the fitted thresholds (negative values -> the negative tier)."""
        check_fitted(self, "thresholds_", "fit(values)")
        if isinstance(X, pd.DataFrame):
            values = self._values(X)
        else:
            values = (X if isinstance(X, pd.Series) else np.asarray(X, dtype=float)) * self.margin
        x = np.asarray(values, dtype=float)
        names = np.array([n for n, _ in self.tiers_], dtype=object)
        # tier i is the first whose threshold the value reaches
        idx = np.searchsorted(-self.thresholds_, -x, side="left")
        out = names[np.minimum(idx, len(names) - 1)]
        out = np.where(x < 0, self.negative, out)
        return pd.Series(out, index=getattr(values, "index", None), name="segment")

    def describe(self) -> pd.DataFrame:
        """One row per tier: configured share (of non-negative customers), customers, share, value range at fit."""
        check_fitted(self, "thresholds_", "fit(values)")
        shares = dict(self.tiers_)
        rows = [{"tier": name, "configured_share": shares.get(name, np.nan), "customers": int(count),
                 "share": count / self.counts_.sum(), "min_value": self.ranges_[name][0],
                 "max_value": self.ranges_[name][1]}
                for name, count in self.counts_.items()]
        return pd.DataFrame(rows).set_index("tier")


def tier_value(table: pd.DataFrame, basis: str = "clv", *,
               margin: float = DEFAULT_MARGIN) -> tuple[pd.Series, Fallback | None]:
    """The value to cut tiers by: predicted CLV when asked for and the table has it, else the margin to date.

    Parameters
    ----------
    table: the prepared customer table (:func:`segwork.prepare_table`).
    basis: ``"clv"`` (predicted, the ``clv`` column, already a margin) or
        ``"historical"`` (``margin * revenue`` to date).
    margin: profit share of revenue for the historical value (default
        :data:`segwork.clv.margin.DEFAULT_MARGIN`).

    Returns
    -------
    ``(value, fallback)``: the value per customer (a Series named ``"clv"``
    or ``"historical margin"``, the data's currency) and, when CLV was asked
    for but the table has no ``clv`` column, the
    :class:`~segwork.clv.record.Fallback` ``"value on revenue"`` saying why
    (from the table's CLV record, ``table.attrs["clv_record"]``); None when
    the value is what was asked for. Pass the fallback to
    :func:`value_segmentation`, which records it. Raises DataError for another
    ``basis`` or a table without ``revenue`` when it is needed.
    """
    if basis not in ("clv", "historical"):
        raise DataError(f"tier_value: basis must be 'clv' (predicted) or 'historical' (margin to date), got {basis!r}")
    if basis == "clv" and "clv" in table.columns:
        return table["clv"].rename("clv"), None
    require_columns(table, ("revenue",), "tier_value", "build the table with segwork.prepare_table",
                    what="customer table")
    value = (float(margin) * table["revenue"]).rename("historical margin")
    if basis == "historical":
        return value, None
    record = clv_record_of(table)
    why = next((f.detail for f in record.fallbacks if "clv" in f.columns and f.kind in ("no clv", "no p_alive")),
               "the table has no clv column")
    return value, Fallback("value on revenue", f"value tiers by the margin to date ({float(margin):g} x revenue), not "
                           f"by predicted CLV: {why}", ("value",))


def value_segmentation(
    table: pd.DataFrame,
    value: str | pd.Series = "revenue",
    *,
    tiers=DEFAULT_TIERS,
    margin: float = 1.0,
    negative: str = NEGATIVE_TIER,
    name: str = "value",
    fallback: Fallback | None = None,
) -> Segmentation:
    """Value tiers of the customers of a customer table.

    Parameters
    ----------
    table: the customer table (see :func:`segwork.features.customer_table`).
    value: a column of ``table`` (default ``"revenue"``: historical revenue
        in the data's currency) or a Series indexed by customer_id, e.g.
        predicted CLV from :func:`segwork.clv.customer_lifetime_value`.
    tiers: ``(name, share)`` pairs, best first, shares adding up to 1.
    margin: multiplies the value (e.g. 0.3 turns revenue into margin).
    negative: name of the tier of customers with a negative value.
    fallback: the :class:`~segwork.clv.record.Fallback` behind ``value``
        when it is not the value that was wanted (e.g. revenue because the
        table has no CLV, from :func:`tier_value`); recorded in the result.

    Returns
    -------
    :class:`Segmentation` named ``name``; ``description`` is the tier table
    (configured share, customers, lowest value); ``params["value"]`` the
    per-customer value used. ``predict`` needs the same value column (or one called ``value``).
    With a ``fallback``: ``params["value_fallback"]`` holds it, ``method``
    ends with "(fallback: ...)" and ``description.attrs["fallback"]`` is its
    sentence, so every page that shows the tiers can say it.
    """
    column = value if isinstance(value, str) else (str(value.name) if value.name is not None else None)
    raw = _value_series(table, value)
    fitted = ValueTiers(tiers, negative, column=column, margin=float(margin)).fit(raw)
    values = raw * float(margin)
    table = table.copy()
    table["value"] = values
    order = list(fitted.counts_.index)
    what = f"{value} x {margin:g}" if isinstance(value, str) else (value.name or "value")
    params = {"value": values, "value_name": str(what), "tiers": fitted.tiers_, "margin": float(margin)}
    description = fitted.describe()
    method = f"value tiers by {what}"
    if fallback is not None:
        params["value_fallback"] = fallback
        description.attrs["fallback"] = fallback.sentence()
        method += f" (fallback: {fallback.detail})"
    return Segmentation(
        fitted.labels_, name=name, method=method,
        description=description, segmenter=fitted,
        table=table, order=order, params=params,
    )
