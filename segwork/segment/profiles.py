"""Segment profiles with uncertainty: each segment's mean value, purchase rate and P(alive) with a 95 % interval.

A small segment's mean is not exact: its customers are a sample of those the
segment stands for, and a handful of heavy buyers can move it. :func:`profiles`
gives each mean with a *confidence interval for the segment's mean* (not a
prediction interval for one customer): Student's t interval by default
(``mean +- t_{n-1, 0.975} * s / sqrt(n)``), or scipy's bias-corrected and
accelerated bootstrap (Efron 1987) for skewed columns in small segments. The
intervals cover the sampling of customers only: the per-customer CLV and
P(alive) are model estimates whose own parameter uncertainty is not added.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .base import Segmentation, as_labels

__all__ = ["profiles", "PROFILE_COLUMNS"]

#: The default profile columns: CLV (the data's currency), purchase rate (purchases per 30 days), P(alive) (0..1).
PROFILE_COLUMNS = ("clv", "purchase_rate", "p_alive")

_METHODS = ("t", "bootstrap")


def _interval(values: np.ndarray, level: float, method: str, n_resamples: int, rng) -> tuple[float, float]:
    n = values.size
    if n < 2:
        return float("nan"), float("nan")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    if method == "t":
        half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
        m = values.mean()
        return float(m - half), float(m + half)
    res = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=n_resamples, method="BCa",
                          random_state=rng, vectorized=True)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def profiles(segmentation, table: pd.DataFrame, *, columns=PROFILE_COLUMNS, level: float = 0.95,
             method: str = "t", n_resamples: int = 2000, random_state=0) -> pd.DataFrame:
    """Each segment's mean of ``columns`` with a confidence interval for that mean.

    Parameters
    ----------
    segmentation: a :class:`Segmentation` (its segment order is kept) or a
        Series of segment names indexed by customer_id.
    table: the prepared customer table (:func:`segwork.prepare_table`),
        indexed by customer_id, with ``columns``.
    columns: numeric columns to profile (default :data:`PROFILE_COLUMNS`:
        ``clv`` in the data's currency, ``purchase_rate`` per 30 days,
        ``p_alive`` 0..1); columns missing from the table are left out.
    level: the interval's confidence level (0 < level < 1; 0.95 = 95 %).
    method: ``"t"`` (Student's t interval, the default: exact for normal
        data, by the central limit theorem close for large segments) or
        ``"bootstrap"`` (scipy.stats.bootstrap, BCa, ``n_resamples`` resamples
        drawn with ``random_state``: better for skewed columns in small segments).

    Returns
    -------
    DataFrame indexed by ``segment`` (the segmentation's order) with
    ``customers`` (int) and, per column ``c``, ``c`` (mean), ``c_lower`` and
    ``c_upper`` (the interval's ends, same unit; NaN for a segment with fewer
    than 2 customers with a value). ``attrs``: ``level``, ``method``,
    ``interval`` ("confidence interval for the segment mean").

    Raises
    ------
    DataError: none of ``columns`` is in the table; a level outside (0, 1);
        an unknown method; the segmentation and table share no customer.
    """
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise DataError(f"profiles: level={level!r} must be a confidence level between 0 and 1 (0.95 = 95 %)")
    if method not in _METHODS:
        raise DataError(f"profiles: method={method!r} is not known; use 't' or 'bootstrap'")
    cols = [c for c in columns if c in table.columns]
    if not cols:
        raise DataError(f"profiles: the table has none of the columns {', '.join(columns)}; prepare it with "
                        "segwork.prepare_table (clv and p_alive come from the CLV models)")
    labels = as_labels(segmentation)
    labels.index = labels.index.astype(str)
    frame = table[cols].copy()
    frame.index = frame.index.astype(str)
    common = labels.index.intersection(frame.index)
    if len(common) == 0:
        raise DataError("profiles: the segmentation and the table have no customer in common (ids compared as text)")
    order = ([str(s) for s in segmentation.segments] if isinstance(segmentation, Segmentation)
             else list(labels.value_counts().index))
    labels = labels.loc[common]
    frame = frame.loc[common].apply(pd.to_numeric, errors="coerce")
    rng = np.random.default_rng(random_state)
    rows = []
    for seg in order:
        inside = frame[(labels == seg).to_numpy()]
        row = {"segment": seg, "customers": int(len(inside))}
        for c in cols:
            v = inside[c].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[c] = float(v.mean()) if v.size else float("nan")
            row[f"{c}_lower"], row[f"{c}_upper"] = _interval(v, float(level), method, n_resamples, rng)
        rows.append(row)
    out = pd.DataFrame(rows).set_index("segment")
    out.attrs.update(level=float(level), method="Student's t" if method == "t" else "bootstrap (BCa)",
                     interval="confidence interval for the segment mean")
    return out
