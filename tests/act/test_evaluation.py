"""Lift, gains, precision at k and AUC; the figures of issue 9 on make_crm(20000, random_state=0)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act.evaluation import (evaluate_scores, gains_curve, lift_at, oracle_propensity, precision_at_k,
                                    segment_response)
from segwork.errors import DataError


def test_small_example_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 0])
    s = np.arange(10, 0, -1.0)  # customer 0 best
    assert precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert lift_at(y, s, 0.2) == pytest.approx((1 / 2) / 0.3)
    g = gains_curve(y, s, n_points=10)
    assert g["gain"].iloc[-1] == 1.0 and g["lift"].iloc[-1] == pytest.approx(1.0)
    assert g["gain"].iloc[2] == pytest.approx(2 / 3)
    assert g["perfect_gain"].iloc[2] == 1.0 and g["perfect_lift"].iloc[0] == pytest.approx(1 / 0.3)
    assert np.allclose(g["random_gain"], np.arange(1, 11) / 10)


def test_evaluate_scores_references():
    rng = np.random.default_rng(0)
    idx = pd.Index([f"c{i}" for i in range(1000)])
    y = pd.Series(rng.random(1000) < 0.2, index=idx)
    perfect = y.astype(float)
    noise = pd.Series(rng.random(1000), index=idx)
    seg = pd.Series(np.where(y & (rng.random(1000) < 0.5), "hot", "cold"), index=idx)
    out = evaluate_scores(y, {"perfect_score": perfect, "noise": noise}, segments=seg)
    base = y.mean()
    assert out.loc["perfect_score", "lift"] == pytest.approx(1 / base)
    assert out.loc["perfect_score", "auc"] == 1.0
    assert out.loc["perfect", "lift"] == pytest.approx(out["perfect_lift"].iloc[0])
    assert abs(out.loc["noise", "auc"] - 0.5) < 0.07
    assert out.loc["random", "lift"] == 1.0
    hot = y[seg == "hot"].mean() / base
    assert out.loc["segment: hot", "lift"] == pytest.approx(hot)
    sr = segment_response(y, seg)
    assert sr.loc["hot", "n_customers"] == (seg == "hot").sum()


def test_bad_input():
    with pytest.raises(DataError, match="no buyers|nobody"):
        lift_at(np.zeros(5), np.arange(5.0))
    with pytest.raises(DataError, match="0/1"):
        lift_at(np.array([0, 2]), np.array([1.0, 2.0]))
    with pytest.raises(DataError, match="k="):
        precision_at_k(np.array([0, 1]), np.array([1.0, 2.0]), 5)
    y = pd.Series([True, False], index=["a", "b"])
    with pytest.raises(DataError, match="customer 'b'"):
        evaluate_scores(y, {"s": pd.Series([1.0], index=["a"])})
    with pytest.raises(DataError, match="no customers"):
        evaluate_scores(y.iloc[:0], {})
    with pytest.raises(DataError, match="truth"):
        oracle_propensity(pd.DataFrame({"x": [1]}), "2024-01-01")


@pytest.mark.slow
def test_issue_figures_on_make_crm():
    """Issue 9's figures, recomputed from the raw transactions and truth of make_crm(20000, random_state=0).

    Base rate and oracle are counted here directly from dates and truth (not
    with the module's helpers); the issue measured: base 0.373 (perfect lift
    2.68), oracle 2.41 / AUC 0.895, BG/NBD 2.17 / AUC 0.817.
    """
    from sklearn.metrics import roc_auc_score

    from segwork.act.propensity import clv_propensity
    from segwork.datasets import make_crm

    ds = make_crm(20000, random_state=0)
    tx = ds.transactions
    day = tx["date"].dt.normalize()
    cut, end = pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-31")
    known = pd.Index(sorted(set(tx.loc[day <= cut, "customer_id"].astype(str))))
    bought = set(tx.loc[(day > cut) & (day <= end), "customer_id"].astype(str))
    y = pd.Series(known.isin(list(bought)), index=known)
    base = y.mean()
    assert base == pytest.approx(0.373, abs=0.001)
    truth = ds.truth.copy()
    truth.index = truth.index.astype(str)
    truth = truth.reindex(known)
    alive = truth["dropout_date"].isna() | (truth["dropout_date"] > cut)
    oracle_raw = alive * (1 - np.exp(-truth["purchase_rate"] * 30 / 7))
    k = int(np.ceil(0.1 * len(y)))
    top = oracle_raw.sort_values(ascending=False, kind="stable").index[:k]
    oracle_lift = y[top].mean() / base

    oracle = oracle_propensity(ds.truth, cut, 30)
    bg = clv_propensity(tx, cut, 30, transaction_model="bgnbd")["p_buy"]
    out = evaluate_scores(y, {"oracle": oracle.reindex(known), "bgnbd": bg})
    assert out.loc["oracle", "lift"] == pytest.approx(oracle_lift, rel=1e-9)
    assert out.loc["oracle", "lift"] == pytest.approx(2.41, abs=0.01)
    assert out.loc["oracle", "auc"] == pytest.approx(roc_auc_score(y, oracle_raw), rel=1e-9)
    assert out.loc["oracle", "auc"] == pytest.approx(0.895, abs=0.002)
    assert out.loc["bgnbd", "lift"] == pytest.approx(2.17, abs=0.01)
    assert out.loc["bgnbd", "auc"] == pytest.approx(0.817, abs=0.002)
    assert out.loc["perfect", "lift"] == pytest.approx(1 / base) and 1 / base == pytest.approx(2.68, abs=0.01)
