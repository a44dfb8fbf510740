"""How well a propensity score picks buyers: gains, lift, precision at k, AUC, against random and perfect.

For an outcome ``y`` (bought in the period, 0/1) and a score, customers are
ranked by score, best first. With base rate ``b`` (share of buyers):

* the **gains** curve is the share of all buyers found among the top share
  ``q`` of the ranking (random selection: ``q``);
* the **lift** at ``q`` is the buyer rate among the top ``q`` divided by
  ``b`` (random: 1; a perfect score: ``1 / b`` while ``q <= b``, then
  ``1 / q``);
* **top-decile lift** is the lift at ``q = 0.1``; **precision at k** the
  buyer rate among the top ``k``;
* **AUC** (:func:`sklearn.metrics.roc_auc_score`): the chance that a random
  buyer scores above a random non-buyer (random: 0.5, perfect: 1).

Because the perfect lift is ``1 / b``, a lift means little without the base
rate beside it: over a long window most customers buy and every lift is near
1 (issue 9). "Contacting a whole segment" is scored the same way: its lift is
the segment's buyer rate over ``b``.

Sources: Berry & Linoff, *Data Mining Techniques* (3rd ed., 2011), ch. 5
(lift and cumulative gains charts); Fawcett (2006), "An introduction to ROC
analysis", Pattern Recognition Letters 27 (AUC).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._checks import renamed_keywords
from ..errors import DataError

__all__ = ["gains_curve", "lift_at", "precision_at_k", "evaluate_scores", "segment_response", "oracle_propensity"]


def _aligned(y, score, where: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(y, pd.Series) and isinstance(score, pd.Series):
        missing = score.index.difference(y.index)
        if len(missing):
            raise DataError(f"{where}: customer {missing[0]!r} has a score but no outcome")
        y = y.reindex(score.index)
    yy = np.asarray(y, dtype=float)
    ss = np.asarray(score, dtype=float)
    if yy.shape != ss.shape or yy.ndim != 1:
        raise DataError(f"{where}: outcome and score must be 1-d of the same length, got {yy.shape} and {ss.shape}")
    if len(yy) == 0:
        raise DataError(f"{where}: no customers to evaluate")
    if not np.isin(yy, (0.0, 1.0)).all():
        raise DataError(f"{where}: the outcome must be 0/1 (bought or not); found {yy[~np.isin(yy, (0, 1))][0]!r}")
    if not np.isfinite(ss).all():
        raise DataError(f"{where}: the score has missing or infinite values")
    if yy.sum() == 0:
        raise DataError(f"{where}: nobody bought in the period (base rate 0); lift is undefined")
    return yy, ss


def _order(score: np.ndarray) -> np.ndarray:
    # best first; ties keep the input order (deterministic)
    return np.argsort(-score, kind="stable")


def gains_curve(y, score, n_points: int = 100) -> pd.DataFrame:
    """Cumulative gains and lift of a score, with random and perfect selection beside it.

    Parameters
    ----------
    y: 0/1 outcome per customer (array or Series; a Series is aligned to a
        Series ``score`` by index).
    score: higher = more likely to buy.
    n_points: number of contact shares, evenly from 1/n_points to 1.

    Returns
    -------
    DataFrame with ``share_contacted`` (0..1], ``n_contacted``, ``gain``
    (share of all buyers found), ``lift``, ``random_gain`` (= share),
    ``perfect_gain`` (= min(1, share / base rate)), ``perfect_lift`` and
    ``base_rate``.

    Raises
    ------
    DataError: shapes differ, outcome not 0/1, score not finite, no buyers.
    """
    yy, ss = _aligned(y, score, "gains_curve")
    n = len(yy)
    base = yy.mean()
    hits = np.cumsum(yy[_order(ss)])
    shares = np.arange(1, n_points + 1) / n_points
    k = np.maximum(np.ceil(shares * n).astype(int), 1)
    found = hits[k - 1]
    gain = found / hits[-1]
    rate = found / k
    perfect_found = np.minimum(k, hits[-1])
    return pd.DataFrame({"share_contacted": shares, "n_contacted": k, "gain": gain, "lift": rate / base,
                         "random_gain": k / n, "perfect_gain": perfect_found / hits[-1],
                         "perfect_lift": perfect_found / k / base, "base_rate": base})


def precision_at_k(y, score, k: int) -> float:
    """Share of buyers among the ``k`` best-scored customers (ties: input order).

    Raises DataError for k outside 1..n or bad inputs.
    """
    yy, ss = _aligned(y, score, "precision_at_k")
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= len(yy):
        raise DataError(f"precision_at_k: k={k!r} must be a whole number between 1 and {len(yy)}")
    return float(yy[_order(ss)[:int(k)]].mean())


def lift_at(y, score, share: float = 0.1) -> float:
    """Lift among the top ``share`` of customers (0.1 = top-decile lift): their buyer rate / base rate.

    The top ``ceil(share * n)`` customers are counted. Raises DataError for a
    share outside (0, 1] or bad inputs.
    """
    if not 0 < share <= 1:
        raise DataError(f"lift_at: share={share!r} must lie in (0, 1]")
    yy, ss = _aligned(y, score, "lift_at")
    k = max(int(np.ceil(share * len(yy))), 1)
    return float(yy[_order(ss)[:k]].mean() / yy.mean())


def segment_response(y: pd.Series, segments: pd.Series) -> pd.DataFrame:
    """"Contact the whole segment": each segment's size, buyer rate and lift over the base rate.

    Parameters
    ----------
    y: boolean/0-1 outcome indexed by customer_id.
    segments: segment label per customer_id (customers without a label are
        left out of the segments but count in the base rate).

    Returns
    -------
    DataFrame indexed by segment (best rate first) with ``n_customers``,
    ``share_contacted``, ``response_rate`` (= precision of contacting it),
    ``lift`` and ``base_rate``.
    """
    if not isinstance(y, pd.Series) or not isinstance(segments, pd.Series):
        raise DataError("segment_response: y and segments must be Series indexed by customer_id")
    yy = y.astype(float)
    if len(yy) == 0 or yy.sum() == 0:
        raise DataError("segment_response: no customers or no buyers in the period")
    base = yy.mean()
    seg = segments.astype(str).reindex(yy.index)
    grouped = yy.groupby(seg, observed=True)
    out = pd.DataFrame({"n_customers": grouped.size(), "response_rate": grouped.mean()})
    out["share_contacted"] = out["n_customers"] / len(yy)
    out["lift"] = out["response_rate"] / base
    out["base_rate"] = base
    out.index.name = "segment"
    return out.sort_values("response_rate", ascending=False)[["n_customers", "share_contacted", "response_rate",
                                                             "lift", "base_rate"]]


def evaluate_scores(y: pd.Series, scores: Mapping[str, pd.Series], *, share: float = 0.1,
                    segments: pd.Series | None = None) -> pd.DataFrame:
    """Compare propensity scores on one outcome: top-decile lift, precision at k, AUC, with the references.

    Parameters
    ----------
    y: outcome (bool / 0-1) indexed by customer_id -- the holdout no model saw.
    scores: name -> score Series indexed by customer_id (each must cover
        every customer of ``y``).
    share: the top share for lift and precision (0.1 = top decile; k =
        ceil(share * n)).
    segments: optional labels; adds the best segment contacted whole
        ("segment: <name>", its lift is its rate / base rate and its share
        is its size, not ``share``).

    Returns
    -------
    DataFrame indexed by name: the scores, ``random`` (lift 1, AUC 0.5) and
    ``perfect`` (lift min(1/base, 1/share), AUC 1), with ``lift``,
    ``precision_at_k``, ``auc``, ``share_contacted``, ``base_rate`` and
    ``perfect_lift`` (= 1 / base rate, the ceiling of any lift).

    Raises
    ------
    DataError: a score misses customers, bad outcome, no buyers.
    """
    from sklearn.metrics import roc_auc_score

    if not isinstance(y, pd.Series):
        raise DataError("evaluate_scores: y must be a Series indexed by customer_id")
    yy = y.astype(float)
    if len(yy) == 0 or yy.sum() == 0:
        raise DataError("evaluate_scores: no customers or no buyers in the period; lift is undefined")
    base = float(yy.mean())
    k = max(int(np.ceil(share * len(yy))), 1)
    rows = {}
    for name, s in scores.items():
        if not isinstance(s, pd.Series):
            raise DataError(f"evaluate_scores: score {name!r} must be a Series indexed by customer_id")
        missing = yy.index.difference(s.index)
        if len(missing):
            raise DataError(f"evaluate_scores: score {name!r} has no value for customer {missing[0]!r}")
        s = s.reindex(yy.index)
        p = precision_at_k(yy, s, k)
        auc = float(roc_auc_score(yy.to_numpy(), s.to_numpy())) if 0 < yy.sum() < len(yy) else float("nan")
        rows[name] = {"lift": p / base, "precision_at_k": p, "auc": auc, "share_contacted": k / len(yy)}
    rows["random"] = {"lift": 1.0, "precision_at_k": base, "auc": 0.5, "share_contacted": k / len(yy)}
    top = min(1.0, yy.sum() / k)
    rows["perfect"] = {"lift": top / base, "precision_at_k": top, "auc": 1.0, "share_contacted": k / len(yy)}
    if segments is not None:
        seg = segment_response(y, segments)
        best = seg.index[0]
        rows[f"segment: {best}"] = {"lift": float(seg.loc[best, "lift"]),
                                    "precision_at_k": float(seg.loc[best, "response_rate"]),
                                    "auc": float("nan"), "share_contacted": float(seg.loc[best, "share_contacted"])}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["base_rate"] = base
    out["perfect_lift"] = 1.0 / base
    out.index.name = "score"
    return out


@renamed_keywords(cutoff="observation_end")
def oracle_propensity(truth: pd.DataFrame, observation_end, horizon_days: int = 30) -> pd.Series:
    """The oracle score on synthetic data: true P(buy) from each customer's true rate and true state at ``observation_end``.

    ``p = alive * (1 - exp(-purchase_rate * horizon_days / 7))``,
    with ``alive`` = no ``dropout_date`` or one after ``observation_end``,
    ``purchase_rate`` per week (the Poisson purchase process of
    :func:`segwork.datasets.make_crm`; purchases after ``observation_end`` are not
    read), for the period (observation_end, observation_end + horizon_days]. No model fitted on the observed data can be expected to beat it by
    much.

    Parameters
    ----------
    truth: ``make_crm(...).truth`` (``purchase_rate`` per week,
        ``dropout_date``), indexed by customer_id.
    observation_end: the day the histories end (old name ``cutoff``, deprecated until segwork 0.3);
    horizon_days: the period in days.

    Returns a float Series ``p_buy`` indexed like ``truth``.

    Raises DataError when ``truth`` lacks those columns (real data has no
    oracle).
    """
    needed = {"purchase_rate", "dropout_date"}
    if not isinstance(truth, pd.DataFrame) or not needed <= set(truth.columns):
        raise DataError("oracle_propensity: needs the synthetic truth table with 'purchase_rate' and "
                        "'dropout_date' (make_crm(...).truth); real data has no oracle")
    ts = pd.Timestamp(observation_end).normalize()
    alive = truth["dropout_date"].isna() | (truth["dropout_date"] > ts)
    p = alive.to_numpy() * -np.expm1(-truth["purchase_rate"].to_numpy(dtype=float) * horizon_days / 7.0)
    out = pd.Series(p, index=truth.index.astype(str), name="p_buy")
    out.index.name = "customer_id"
    return out
