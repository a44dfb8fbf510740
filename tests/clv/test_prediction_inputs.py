"""Issue 13, kind 4: every public prediction refuses the histories ``fit`` refuses, with the same message.

The field case is ``tests/clv/field_cases/predictions_impossible_histories.py`` (a copy of
``../shared/field-cases/predictions_impossible_histories.py``): recency > T, recency > 0 without a repeat
purchase, a negative T, and a summary with recency in days and T in weeks. Before the fix the predictions
returned plausible numbers or NaN, and the mixed-up summary's CLV total was 110,734 instead of 71,550.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork.clv import (BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD, ShiftedBetaGeometric,
                         customer_lifetime_value, expected_purchases_matrix, p_alive_matrix)
from segwork.errors import DataError

TRANSACTION = [BetaGeo, ModifiedBetaGeo, ParetoNBD]

# (frequency, recency, T, what the message says) - the field case's three rows, plus a NaN and a fraction
IMPOSSIBLE = [
    (254, 97.43, 97.29, "recency is larger than T"),
    (0, 12.0, 38.86, "no repeat purchase"),
    (2, 10.0, -5.0, "negative"),
    (2, np.nan, 30.0, "missing or infinite"),
    (2.5, 10.0, 30.0, "whole numbers"),
]


@pytest.fixture(scope="module")
def fitted(cdnow):
    models = {M: M().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]) for M in TRANSACTION}
    models[GammaGamma] = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
    return models


def _customers(x, tx, T):
    """The impossible history as customer 'C2' among two valid ones (Series, as rfm_summary gives them)."""
    idx = pd.Index(["C1", "C2", "C3"], name="customer_id")
    return (pd.Series([1.0, x, 0.0], index=idx), pd.Series([5.0, tx, 0.0], index=idx),
            pd.Series([30.0, T, 20.0], index=idx))


def _fit_message(M, x, tx, T):
    with pytest.raises(DataError) as info:
        M().fit(*_customers(x, tx, T))
    return str(info.value)


@pytest.mark.parametrize("M", TRANSACTION)
@pytest.mark.parametrize("x, tx, T, what", IMPOSSIBLE)
def test_every_prediction_refuses_what_fit_refuses_with_the_same_message(fitted, M, x, tx, T, what):
    model = fitted[M]
    expected = _fit_message(M, x, tx, T).split(": ", 1)[1]  # the message after "<Model>.fit: "
    assert what in expected and "'C2'" in expected  # names the customer
    hist = _customers(x, tx, T)
    calls = {
        "p_alive": lambda: model.p_alive(*hist),
        "expected_purchases": lambda: model.expected_purchases(39.0, *hist),
    }
    for method, call in calls.items():
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value) == f"{M.__name__}.{method}: {expected}"
    # scalars too (the field case passes one customer at a time)
    for call in (lambda: model.p_alive(x, tx, T), lambda: model.expected_purchases(39, x, tx, T)):
        with pytest.raises(DataError, match=what):
            call()


@pytest.mark.parametrize("x, tx, T, what", IMPOSSIBLE)
def test_customer_lifetime_value_refuses_the_same_histories(fitted, x, tx, T, what):
    f, r, t = _customers(x, tx, T)
    summary = pd.DataFrame({"frequency": f, "recency": r, "T": t, "monetary_value": [20.0, 30.0, 0.0]})
    for M in TRANSACTION:
        with pytest.raises(DataError, match=f"customer_lifetime_value: .*{what}.*'C2'|customer_lifetime_value: .*'C2'.*"):
            customer_lifetime_value(fitted[M], fitted[GammaGamma], summary)
        with pytest.raises(DataError, match="customer_lifetime_value"):
            customer_lifetime_value(fitted[M], 25.0, summary)


def test_field_case_recency_in_days_with_t_in_weeks(fitted, cdnow):
    """predictions_impossible_histories.py: the whole summary mixed up (recency in days, T in weeks)."""
    mixed = cdnow.assign(recency=cdnow["recency"] * 7)
    with pytest.raises(DataError, match=r"customer_lifetime_value: recency is larger than T for \d+ customer\(s\) "
                                        r"\(e\.g\. customer '\d+'.*same time unit"):
        customer_lifetime_value(fitted[BetaGeo], fitted[GammaGamma], mixed, horizon=12, time_unit="weeks")
    for M in TRANSACTION:
        with pytest.raises(DataError, match="same time unit"):
            fitted[M].p_alive(mixed["frequency"], mixed["recency"], mixed["T"])
    # the right summary still gives a finite total (71,550 of expected revenue, margin 1, is the right value here)
    clv = customer_lifetime_value(fitted[BetaGeo], fitted[GammaGamma], cdnow, horizon=12, time_unit="weeks",
                                  margin=1.0)
    assert np.isfinite(clv).all()
    assert clv.sum() == pytest.approx(71_550, rel=1e-3)


def test_whole_summary_in_days_for_a_model_in_weeks_warns(fitted, cdnow):
    """T and recency both in days: every history is possible, so it is not refused, but it is flagged."""
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    with pytest.warns(RuntimeWarning, match="another time unit"):
        fitted[BetaGeo].p_alive(days["frequency"], days["recency"], days["T"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # valid data in the right unit: no warning
        fitted[BetaGeo].p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        fitted[BetaGeo].p_alive(5, 20.0, 300.0)  # one old customer is fine


@pytest.mark.parametrize("M", TRANSACTION)
def test_horizons_and_new_customers(fitted, M):
    m = fitted[M]
    with pytest.raises(DataError, match="horizon t must be finite and >= 0"):
        m.expected_purchases(-1.0, 1, 5.0, 30.0)
    with pytest.raises(DataError, match=r"expected_purchases_new: the horizon"):
        m.expected_purchases_new([10.0, -2.0])
    with pytest.raises(DataError, match="sample_frequency"):
        m.sample_frequency(np.array([10.0, np.nan]))
    # valid broadcasting still works: one horizon per customer, or one history for several horizons
    out = m.expected_purchases(np.array([1.0, 2.0, 3.0]), 2, 10.0, 30.0)
    assert np.all(np.diff(out) > 0)


def test_matrices_leave_the_impossible_cells_empty(fitted):
    for M in TRANSACTION:
        pa = p_alive_matrix(fitted[M], max_frequency=5, T=39.0, n_recency=5)
        assert pa[0].iloc[1:].isna().all() and pa[0].iloc[0] == pytest.approx(
            fitted[M].p_alive(0, 0.0, 39.0))
        ep = expected_purchases_matrix(fitted[M], 10.0, max_frequency=5, T=39.0, n_recency=5)
        assert ep[0].iloc[1:].isna().all() and np.isfinite(ep.iloc[:, 1:].to_numpy()).all()


def test_gamma_gamma_expected_spend_refuses_what_fit_refuses(fitted):
    gg = fitted[GammaGamma]
    idx = pd.Index(["A", "B"], name="customer_id")
    for x, m, what in [(2.0, -5.0, "negative"), (1.5, 10.0, "whole numbers"), (2.0, np.nan, "missing")]:
        f, v = pd.Series([1.0, x], index=idx), pd.Series([10.0, m], index=idx)
        with pytest.raises(DataError) as fit_info:
            GammaGamma().fit(pd.Series([1.0, 2.0, x], index=["A", "C", "B"]), pd.Series([10.0, 12.0, m],
                                                                                        index=["A", "C", "B"]))
        with pytest.raises(DataError) as info:
            gg.expected_spend(f, v)
        assert what in str(info.value) and "'B'" in str(info.value)
        assert str(info.value).split(": ", 1)[1] == str(fit_info.value).split(": ", 1)[1]


def test_bgbb_predictions_refuse_what_fit_refuses():
    d = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "donations.csv")
    model = BetaGeoBetaBinom().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    idx = pd.Index(["a", "b"])
    for x, tx, n, what in [(3, 7, 6, "cannot exceed n_periods"), (4, 3, 6, "frequency cannot exceed recency"),
                           (0, 2, 6, "recency must be 0"), (1, 1, 0, "n_periods must be >= 1"),
                           (1.5, 2, 6, "whole numbers"), (-1, 0, 6, "negative")]:
        hist = (pd.Series([1.0, x], index=idx), pd.Series([1.0, tx], index=idx), pd.Series([6.0, n], index=idx))
        with pytest.raises(DataError) as fit_info:
            BetaGeoBetaBinom().fit(*hist)
        expected = str(fit_info.value).split(": ", 1)[1]
        assert what in expected and "'b'" in expected
        for method, call in {"p_alive": lambda: model.p_alive(*hist),
                             "expected_purchases": lambda: model.expected_purchases(5, *hist)}.items():
            with pytest.raises(DataError) as info:
                call()
            assert str(info.value) == f"BetaGeoBetaBinom.{method}: {expected}"
    with pytest.raises(DataError, match="horizon"):
        model.expected_purchases(-1, 1, 1, 6)
    with pytest.raises(DataError, match="expected_purchases_new"):
        model.expected_purchases_new(-3)


def test_sbg_predictions_refuse_impossible_periods():
    model = ShiftedBetaGeometric().fit([1000, 869, 743, 653, 593, 551, 517, 491])
    with pytest.raises(DataError, match="survival: the horizon"):
        model.survival(-1)
    for method in ("retention_rate", "churn_probability"):
        with pytest.raises(DataError, match=f"{method}: periods must be >= 1"):
            getattr(model, method)(0)
    with pytest.raises(DataError, match="renewals|horizon"):
        model.discounted_expected_residual_lifetime(0.1, renewals=-2)
    assert model.retention_rate(1) == pytest.approx(1 - model.churn_probability(1))


def test_a_summary_frames_transpose_passed_as_T_is_refused_with_the_column_to_pass(cdnow):
    """``summary.T`` is pandas' transpose of the whole table, not its T column: the error says which to pass."""
    with pytest.raises(DataError, match=r"T must be one-dimensional.*transpose: pass the column, summary\['T'\]"):
        BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow.T)
