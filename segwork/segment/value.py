"""Value-based segmentation: tiers of customers by economic value, and the concentration curve.

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
:func:`concentration_curve` gives, for each share of the best customers, the
share of the total value they bring ("the top 20 % bring 62 % of the value"):
the Lorenz curve read from the top. A straight diagonal means every customer
is worth the same; the more the curve bows up, the more value is concentrated.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import check_fitted, require_columns
from ..errors import DataError
from .base import Segmentation

__all__ = [
    "ValueTiers",
    "value_segmentation",
    "concentration_curve",
    "top_share",
    "predict_clv",
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


def value_segmentation(
    table: pd.DataFrame,
    value: str | pd.Series = "revenue",
    *,
    tiers=DEFAULT_TIERS,
    margin: float = 1.0,
    negative: str = NEGATIVE_TIER,
    name: str = "value",
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

    Returns
    -------
    :class:`Segmentation` named ``name``; ``description`` is the tier table
    (configured share, customers, lowest value); ``params["value"]`` the
    per-customer value used. ``predict`` needs the same value column (or one called ``value``).
    """
    column = value if isinstance(value, str) else (str(value.name) if value.name is not None else None)
    raw = _value_series(table, value)
    fitted = ValueTiers(tiers, negative, column=column, margin=float(margin)).fit(raw)
    values = raw * float(margin)
    table = table.copy()
    table["value"] = values
    order = list(fitted.counts_.index)
    what = f"{value} x {margin:g}" if isinstance(value, str) else (value.name or "value")
    return Segmentation(
        fitted.labels_, name=name, method=f"value tiers by {what}",
        description=fitted.describe(), segmenter=fitted,
        table=table, order=order,
        params={"value": values, "value_name": str(what), "tiers": fitted.tiers_, "margin": float(margin)},
    )


def concentration_curve(values: pd.Series | np.ndarray, points: Sequence[float] | int = 101) -> pd.DataFrame:
    """Share of the total value brought by the best customers, per share of customers.

    Parameters
    ----------
    values: value per customer (any money unit; negative values allowed as
        long as the total is positive).
    points: the customer shares (0..1) to report, or a number of evenly
        spaced points from 0 to 1.

    Returns
    -------
    DataFrame with ``customer_share`` (the best x of customers, by value) and
    ``value_share`` (their share of the total value); ``customers`` is the
    number of customers counted (``round(customer_share * n)``).
    """
    x = np.sort(np.asarray(values, dtype=float))[::-1]
    if x.size == 0:
        raise DataError("concentration_curve: no values")
    if not np.isfinite(x).all():
        raise DataError("concentration_curve: values must be finite numbers")
    total = x.sum()
    if total <= 0:
        raise DataError(f"concentration_curve: the total value is {total:g}; a share of it needs a positive total")
    q = np.linspace(0.0, 1.0, int(points)) if np.isscalar(points) else np.asarray(points, dtype=float)
    if ((q < 0) | (q > 1)).any():
        raise DataError("concentration_curve: customer shares must lie between 0 and 1")
    cum = np.concatenate([[0.0], np.cumsum(x)])
    k = np.round(q * x.size).astype(int)
    return pd.DataFrame({"customer_share": q, "customers": k, "value_share": cum[k] / total})


def top_share(values: pd.Series | np.ndarray, share: float = 0.2) -> float:
    """Share of the total value brought by the best ``share`` of customers (e.g. the top 20 %)."""
    return float(concentration_curve(values, [share])["value_share"].iloc[0])


def bg_nbd_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The BG/NBD inputs of a customer table: ``frequency`` and ``recency``, ``T`` converted from days to weeks.

    The customer table measures ``recency`` and ``T`` in days; the BG/NBD
    fits of this package (:func:`predict_clv`, the relationship typer) work
    in weeks (``segwork.features.TIME_UNITS["weeks"]`` days each). Returns a
    float DataFrame indexed like ``table``.
    """
    from ..features import TIME_UNITS

    week = TIME_UNITS["weeks"]
    return pd.DataFrame({
        "frequency": table["frequency"].to_numpy(dtype=float),
        "recency": table["recency"].to_numpy(dtype=float) / week,
        "T": table["T"].to_numpy(dtype=float) / week,
    }, index=table.index)


def predict_clv(
    table: pd.DataFrame,
    *,
    horizon: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> pd.DataFrame:
    """P(alive) and predicted CLV per customer of a customer table (BG/NBD + Gamma-Gamma).

    Fits :class:`segwork.clv.BetaGeo` on the table's ``frequency``,
    ``recency`` and ``T`` (converted from days to weeks) and
    :class:`segwork.clv.GammaGamma` on the repeat buyers' ``monetary_value``,
    then :func:`segwork.clv.customer_lifetime_value`.

    Parameters
    ----------
    table: customer table (see :func:`segwork.features.customer_table`).
    horizon: months ahead; discount_rate: per month; margin: profit share of revenue.

    Returns
    -------
    DataFrame indexed like ``table`` with ``p_alive`` (0..1) and ``clv``
    (discounted expected margin over ``horizon`` months, the data's currency).

    Raises
    ------
    DataError / ConvergenceError from the models (e.g. no repeat buyers);
    DataError when fewer than 2 repeat buyers have a positive spend and the
    table has no ``mean_amount`` to stand in for the spend model.
    """
    from ..clv import BetaGeo, GammaGamma, customer_lifetime_value

    require_columns(table, ("frequency", "recency", "T", "monetary_value"), "predict_clv",
                    "build the table with segwork.features.customer_table", what="customer table")
    summary = bg_nbd_inputs(table)
    summary["monetary_value"] = table["monetary_value"].to_numpy(dtype=float)
    bg = BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    p_alive = np.asarray(bg.p_alive(summary["frequency"], summary["recency"], summary["T"]), dtype=float)
    # GammaGamma.fit itself leaves out one-time buyers and repeat buyers whose repeat purchases were worth 0;
    # everyone is predicted from the fitted model.
    repeat = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
    if repeat.sum() >= 2:
        spend = GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    elif "mean_amount" in table.columns:  # no spend model without repeat buyers: the mean transaction amount stands in
        spend = float(table["mean_amount"].mean())
    else:
        raise DataError(f"predict_clv: only {int(repeat.sum())} repeat buyer(s) with a positive monetary_value, "
                        "too few to fit the Gamma-Gamma spend model, and the table has no 'mean_amount' column "
                        "to stand in; build the table with segwork.features.customer_table (it adds mean_amount) "
                        "or use a longer observation period with more repeat buyers")
    clv = customer_lifetime_value(bg, spend, summary, horizon=horizon, time_unit="weeks",
                                  discount_rate=discount_rate, margin=margin)
    return pd.DataFrame({"p_alive": p_alive, "clv": np.asarray(clv, dtype=float)}, index=table.index)
