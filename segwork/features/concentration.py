"""How concentrated a per-customer value is: the concentration (Lorenz) curve read from the top.

:func:`concentration_curve` gives, for each share of the best customers, the
share of the total value they bring ("the top 20 % bring 62 % of the value");
:func:`top_share` reads one point of it. They take any value per customer
(revenue, margin, predicted CLV) and are used by the data overview
(:mod:`segwork.explore`), the CLV notebook and the value segmentation.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["concentration_curve", "top_share"]


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

    Raises
    ------
    DataError: no values, a value that is not finite, a total <= 0, or a
        customer share outside 0..1.
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
    """Share of the total value (0..1) brought by the best ``share`` of customers (e.g. the top 20 %).

    ``values`` is one value per customer; the best ``round(share * n)``
    customers are counted, as in :func:`concentration_curve`. For the share
    of *revenue* from a transaction table use :func:`segwork.explore.top_share`.
    """
    return float(concentration_curve(values, [share])["value_share"].iloc[0])
