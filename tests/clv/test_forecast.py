"""Per-period forecasts (segwork.clv.forecast): they add up to the horizon forecast, are >= 0, match the
mean of purchases simulated from known parameters, and the incremental tracking matches counts from the raw
transactions."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.clv import (BetaGeo, BetaGeoBetaBinom, GGomNBD, ModifiedBetaGeo, ParetoNBD,  # noqa: E402
                         aggregate_purchases_by_period, cumulative_repeat_transactions,
                         expected_purchases_by_period, incremental_repeat_transactions)
from segwork.errors import DataError  # noqa: E402
from segwork.plots.clv import plot_incremental_transactions  # noqa: E402

# published CDNOW estimates (weeks) as fixed parameters: no fit needed for the identities
FIXED = [
    (BetaGeo, dict(r=0.243, alpha=4.414, a=0.793, b=2.426)),
    (ModifiedBetaGeo, dict(r=0.525, alpha=6.183, a=0.891, b=1.614)),
    (ParetoNBD, dict(r=0.553, alpha=10.578, s=0.606, beta=11.669)),
    (GGomNBD, dict(r=0.55, alpha=10.6, b=0.05, s=0.6, beta=2.0)),
]


def _model(M, params):
    m = M()
    m.params_ = dict(params)
    return m


@pytest.mark.parametrize("M, params", FIXED, ids=[M.__name__ for M, _ in FIXED])
def test_periods_add_up_to_the_horizon_and_are_not_negative(M, params, cdnow):
    m = _model(M, params)
    sub = cdnow.iloc[::10]  # 236 customers, every kind of history
    f, r, T = sub["frequency"], sub["recency"], sub["T"]
    months = expected_purchases_by_period(m, f, r, T, 12, period_length=52 / 12)
    assert months.shape == (len(sub), 12) and months.index.equals(sub.index)
    assert months.columns.name == "period_end" and months.columns[-1] == pytest.approx(52.0)
    assert (months.to_numpy() >= 0).all()
    horizon = np.asarray(m.expected_purchases(52.0, f, r, T), dtype=float)
    np.testing.assert_allclose(months.sum(axis=1).to_numpy(), horizon, rtol=0, atol=1e-9)
    # any list of period ends: the same cumulative values at the common ends
    uneven = expected_purchases_by_period(m, f, r, T, [1.0, 52 / 12, 26.0, 52.0])
    np.testing.assert_allclose(uneven.iloc[:, :2].sum(axis=1), months.iloc[:, 0], atol=1e-9)
    np.testing.assert_allclose(uneven.sum(axis=1), horizon, atol=1e-9)
    total = aggregate_purchases_by_period(m, f, r, T, 12, period_length=52 / 12)
    np.testing.assert_allclose(total["expected_purchases"].to_numpy(), months.sum(axis=0).to_numpy(), rtol=1e-12)
    assert total["cumulative"].iloc[-1] == pytest.approx(horizon.sum(), rel=1e-12)
    assert (total["period_start"].to_numpy()[1:] == total.index.to_numpy()[:-1]).all()


def test_bgbb_in_opportunities():
    m = _model(BetaGeoBetaBinom, dict(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783))
    x, tx, n = np.array([0, 2, 5, 6]), np.array([0, 4, 6, 6]), np.full(4, 6)
    per = expected_purchases_by_period(m, x, tx, n, 5)
    assert (per.to_numpy() >= 0).all()
    np.testing.assert_allclose(per.sum(axis=1), m.expected_purchases(5, x, tx, n), atol=1e-9)


def _simulate_bg_nbd(params, n, T_range, ends, seed):
    """Purchase times of a BG/NBD population over calibration and a future horizon, event by event."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(*T_range, n), 1)
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    x, tx, future = np.zeros(n), np.zeros(n), np.zeros((n, len(ends)))
    for i in range(n):
        horizon = T[i] + ends[-1]
        times = np.sort(rng.uniform(0, horizon, rng.poisson(lam[i] * horizon)))
        times = times[:rng.geometric(p[i])]  # leaves right after that repeat purchase (FHL 2005)
        cal = times[times <= T[i]]
        x[i], tx[i] = len(cal), cal[-1] if len(cal) else 0.0
        future[i] = np.histogram(times - T[i], bins=np.r_[0.0, ends])[0]
    return x, tx, T, future


def test_aggregate_forecast_matches_purchases_simulated_from_known_parameters():
    params = dict(r=0.8, alpha=5.0, a=0.6, b=2.5)
    ends = np.arange(1.0, 9.0) * 4.0  # eight 4-week periods
    x, tx, T, future = _simulate_bg_nbd(params, 4000, (10.0, 40.0), ends, seed=7)
    m = _model(BetaGeo, params)
    per = expected_purchases_by_period(m, x, tx, T, ends).to_numpy()
    # the sum over customers of the conditional expectations has the simulated total as its mean;
    # the sampling error per period from the customers' own deviations
    dev = future - per
    z = dev.sum(axis=0) / (np.sqrt(len(x)) * dev.std(axis=0))
    assert (np.abs(z) < 3.5).all(), z
    z_all = dev.sum() / (np.sqrt(len(x)) * dev.sum(axis=1).std())
    assert abs(z_all) < 3, z_all
    agg = aggregate_purchases_by_period(m, x, tx, T, ends)
    np.testing.assert_allclose(agg["expected_purchases"], per.sum(axis=0), rtol=1e-12)


def test_aggregate_interval(cdnow):
    m = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    out = aggregate_purchases_by_period(m, f, r, T, 4, period_length=13.0, interval=0.9, n_draws=40, random_state=1)
    assert list(out.columns) == ["period_start", "expected_purchases", "cumulative", "lower", "upper",
                                 "cumulative_lower", "cumulative_upper"]
    assert (out["lower"] < out["expected_purchases"]).all() and (out["expected_purchases"] < out["upper"]).all()
    assert (out["cumulative_lower"] < out["cumulative"]).all() and (out["cumulative"] < out["cumulative_upper"]).all()
    assert (np.diff(out["cumulative_upper"]) > 0).all()
    # the whole horizon's interval is the model's own aggregate interval (same draws)
    whole = m.expected_purchases(52.0, f, r, T, interval=0.9, aggregate=True, n_draws=40, random_state=1)
    assert out["cumulative_lower"].iloc[-1] == pytest.approx(whole["lower"], rel=1e-9)
    assert out["cumulative_upper"].iloc[-1] == pytest.approx(whole["upper"], rel=1e-9)


def test_with_covariates_the_rows_are_matched_by_customer_id():
    rng = np.random.default_rng(5)
    n = 600
    group = np.where(rng.random(n) < 0.5, "web", "store")
    lam = rng.gamma(1.0, 1 / np.where(group == "web", 2.0, 6.0))  # web customers buy 3 times as often
    T = rng.uniform(20, 40, n)
    end = np.minimum(T, rng.exponential(30, n))
    x = rng.poisson(lam * end)
    tx = np.where(x > 0, end * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    ids = pd.Index([f"C{i}" for i in range(n)], name="customer_id")
    f, r, TT = (pd.Series(v, index=ids) for v in (x, tx, T))
    z = pd.DataFrame({"channel": group}, index=ids)
    m = BetaGeo().fit(f, r, TT, covariates=z)
    shuffled = z.sample(frac=1.0, random_state=1)  # the covariates in another order
    per = expected_purchases_by_period(m, f, r, TT, 6, period_length=4.0, covariates=shuffled)
    whole = m.expected_purchases(24.0, f, r, TT, covariates=z)
    np.testing.assert_allclose(per.sum(axis=1), whole, atol=1e-9)
    total = aggregate_purchases_by_period(m, f, r, TT, 6, period_length=4.0, covariates=shuffled, interval=0.8,
                                          n_draws=5)
    assert total["cumulative"].iloc[-1] == pytest.approx(whole.sum(), rel=1e-12)
    assert (total["lower"] <= total["expected_purchases"]).all() and (total["expected_purchases"] <= total["upper"]).all()


@pytest.mark.parametrize("periods, match", [(0, "whole number >= 1"), (2.5, "whole number"),
                                            ([4.0, 2.0], "increasing"), ([0.0, 1.0], "> 0"), ([], "increasing")])
def test_bad_periods(periods, match):
    m = _model(BetaGeo, FIXED[0][1])
    with pytest.raises(DataError, match=match):
        expected_purchases_by_period(m, [1], [2.0], [5.0], periods)
    with pytest.raises(DataError, match="period_length"):
        expected_purchases_by_period(m, [1], [2.0], [5.0], 3, period_length=-1)


def test_a_history_the_model_refuses_names_the_customer():
    m = _model(BetaGeo, FIXED[0][1])
    ids = pd.Index(["A", "B", "C"], name="customer_id")
    f, r, T = (pd.Series(v, index=ids) for v in ([1, 2, 0], [3.0, 9.0, 0.0], [10.0, 8.0, 5.0]))
    with pytest.raises(DataError, match="recency is larger than T.*customer 'B'"):
        expected_purchases_by_period(m, f, r, T, 4)


def test_incremental_tracking_counts_the_raw_transactions(cdnow_tx):
    m = _model(BetaGeo, FIXED[0][1])
    kw = dict(calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="weeks")
    inc = incremental_repeat_transactions(cdnow_tx, m, **kw)
    cum = cumulative_repeat_transactions(cdnow_tx, m, **kw)
    assert inc["actual"].sum() == cum["actual"].iloc[-1]
    assert inc["predicted"].sum() == pytest.approx(cum["predicted"].iloc[-1], rel=1e-12)
    assert (inc["predicted"] >= 0).all() and (inc["length"] <= 1 + 1e-12).all()
    # actual counts per week, independently: repeat purchase days (a customer's later days) by week since
    # the cohort's first purchase
    days = cdnow_tx.assign(day=cdnow_tx["date"].dt.normalize())[["customer_id", "day"]].drop_duplicates()
    days = days[days["day"] <= "1998-06-30"]
    repeat = days[days["day"] > days.groupby("customer_id")["day"].transform("min")]
    week = np.ceil((repeat["day"] - days["day"].min()).dt.days / 7).astype(int)
    expected = week.value_counts().reindex(np.arange(1, len(inc) + 1), fill_value=0).to_numpy()
    np.testing.assert_array_equal(inc["actual"].to_numpy(), expected)
    assert set(inc["period"]) == {"calibration", "holdout"}
    assert inc.loc[inc["period"] == "calibration", "date"].max() <= pd.Timestamp("1997-09-30")
    ax = plot_incremental_transactions(inc)
    assert len(ax.get_lines()) >= 2 and "per period" in ax.get_ylabel()
    plt.close(ax.figure)
