"""segwork.act.lapse: the observed-lapse interval table, its censoring rule, Cox fits on planted hazards, errors.

Warnings are errors in this module: statsmodels' and scikit-survival's warnings must end up in ``LapseCheck.notes``
or a ``ConvergenceError``, never on the console.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segwork.act.lapse import ENTRY_DELAY, LapseCheck, lapse_check, lapse_intervals
from segwork.errors import ConvergenceError, DataError

pytestmark = pytest.mark.filterwarnings("error")

END = "2024-03-31"  # observation_end; with a 2-week threshold (14 days) the last day a gap can start is 2024-03-17


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made histories (threshold 2 weeks = 14 days, E = 2024-03-31, E - tau = 2024-03-17)."""
    b_days = ["2024-01-05", "2024-01-05"] + [str((pd.Timestamp("2024-01-05") + pd.Timedelta(days=10 * k)).date())
                                           for k in range(1, 9)]  # every 10 days through 2024-03-25
    rows = [("A", d) for d in ("2024-01-01", "2024-01-10", "2024-02-01")]  # gap 22 days after 01-10: lapse at 01-10
    rows += [("B", d) for d in b_days]  # never a gap over 14 days: censored at 03-17
    rows += [("C", "2024-03-10"),  # one purchase, 21 days before E: lapse on the first day
             ("D", "2024-03-20"),  # first purchase after E - tau: not followed
             ("E", "2024-03-01"), ("E", "2024-03-16"),  # gap 15 days > 14: lapse at 03-01 (ended after E - tau)
             ("F", "2024-03-17"),  # one purchase on E - tau: 14 days seen without purchase: lapse
             ("G", "2024-03-18"),  # one day too late: not followed
             ("H", "2024-01-01"), ("H", "2024-01-15"), ("H", "2024-02-20")]  # gap of exactly 14: no lapse; then 36
    tx = pd.DataFrame(rows, columns=["customer_id", "date"])
    tx["date"] = pd.to_datetime(tx["date"])
    static = pd.DataFrame({"plan": ["basic", "plus", "basic", "plus", "plus", "basic", "plus", "basic"],
                           "age": [30, 40, 50, 60, 20, 30, 40, 35.0]},
                          index=pd.Index(list("ABCDEFGH"), name="customer_id"))
    return tx, static


def _weekly(tx: pd.DataFrame, grid_start="2024-01-01") -> pd.DataFrame:
    """A weekly table (7-day periods from grid_start) from each customer's first-purchase week through E's week."""
    start = pd.Timestamp(grid_start)
    weeks = pd.date_range(start, END, freq="7D")
    first = tx.groupby("customer_id")["date"].min()
    rows = [(c, w) for c, f in first.items() for w in weeks if w + pd.Timedelta(days=7) > f]
    return pd.DataFrame(rows, columns=["customer_id", "period_start"]).assign(complaint=0.0)


def test_interval_table_by_hand_static():
    tx, static = _tiny()
    got = lapse_intervals(tx, observation_end=END, threshold_weeks=2, static_covariates=static)
    # stop = (day of the lapse or of E - tau, counted from the first purchase day) + 1 day, in weeks
    expected = pd.DataFrame({
        "customer_id": ["A", "B", "C", "E", "F", "H"],
        "start": 0.0,
        "stop": [10 / 7, 73 / 7, 1 / 7, 1 / 7, 1 / 7, 15 / 7],  # B: 2024-01-05 -> 2024-03-17 is 72 days
        "event": [1, 0, 1, 1, 1, 1],
        "age": [30, 40, 50, 20, 30, 35.0],
        "plan[plus]": [0, 1, 0, 1, 0, 0.0],  # reference level: "basic", the first in sorted order
    })
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False, atol=1e-12, rtol=0)


def test_interval_table_by_hand_time_varying_split_and_collapsed():
    tx, static = _tiny()
    dyn = _weekly(tx)
    on = ((dyn["customer_id"] == "A") & (dyn["period_start"] >= "2024-01-08")) | (
        (dyn["customer_id"] == "B") & (dyn["period_start"] == "2024-01-15"))
    dyn.loc[on, "complaint"] = 1.0
    dyn = pd.concat([dyn, pd.DataFrame({"customer_id": ["Z"], "period_start": [pd.Timestamp("2024-01-01")],
                                        "complaint": [1.0]})])  # not a customer of the transactions: unused
    got = lapse_intervals(tx, observation_end=END, threshold_weeks=2, static_covariates=static[["plan"]],
                          dynamic_covariates=dyn).reset_index(drop=True)
    # days on each customer's clock; periods are 7 days from 2024-01-01 (a Monday)
    # A: first purchase 01-01 (day 0), lapse day 9 -> stop 10; the complaint from the week of 01-08 (day 7)
    # B: first purchase 01-05 (Friday), the period of 01-01 covers days -4..2 (stop 3); complaint in the
    #    period of 01-15 (days 10..16 -> (10, 17]); censored at 73; the quiet weeks around it are collapsed
    # C, E, F: one day each, inside one period; H: three quiet periods (0, 7], (7, 14], (14, 15] collapsed
    expected = pd.DataFrame({
        "customer_id": ["A", "A", "B", "B", "B", "C", "E", "F", "H"],
        "start": np.array([0, 7, 0, 10, 17, 0, 0, 0, 0]) / 7,
        "stop": np.array([7, 10, 10, 17, 73, 1, 1, 1, 15]) / 7,
        "event": [0, 1, 0, 0, 0, 1, 1, 1, 1],
        "plan[plus]": [0, 0, 1, 1, 1, 0, 1, 0, 0.0],
        "complaint": [0, 1, 0, 1, 0, 0, 0, 0, 0.0],
    })
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-12, rtol=0)


def test_censoring_rule_boundaries():
    tx, static = _tiny()
    got = lapse_intervals(tx, observation_end=END, threshold_weeks=2, static_covariates=static).set_index("customer_id")
    assert "D" not in got.index and "G" not in got.index  # first purchase after E - tau: a lapse could not be seen
    assert got.loc["F", "event"] == 1  # the gap starts on E - tau and its 14 days are all observed
    assert got.loc["E", "event"] == 1  # a gap of 15 days ended by a purchase after E - tau still counts
    assert got.loc["H", "stop"] == pytest.approx(15 / 7)  # a gap of exactly tau is no lapse; the next one is
    assert got.loc["B", "event"] == 0 and got.loc["B", "stop"] == pytest.approx(73 / 7)  # censored at E - tau
    # one week later the same steady buyer is followed one week longer
    later = lapse_intervals(tx, observation_end="2024-04-07", threshold_weeks=2,
                            static_covariates=static).set_index("customer_id")
    assert later.loc["B", "stop"] == pytest.approx(80 / 7) and later.loc["B", "event"] == 0
    assert "G" in later.index  # now 20 days seen after its only purchase: a lapse
    # transactions after observation_end are not used: the same table with them cut off
    cut = lapse_intervals(tx[tx["date"] <= END], observation_end=END, threshold_weeks=2, static_covariates=static)
    pd.testing.assert_frame_equal(cut, lapse_intervals(tx, observation_end=END, threshold_weeks=2,
                                                       static_covariates=static))


def _simulate(n: int, seed: int, *, hr_group=2.0, hr_score=1.5, hr_moved=2.5, rate=3.0, mu0=0.01, weeks=104):
    """Steady Poisson buyers (``rate`` per week) who stop buying at an exponential dropout time.

    Dropout hazard per week: ``mu0 * hr_group**[group == "treated"] * hr_score**score * hr_moved**moved(t)``,
    where ``score ~ N(0, 1)`` and ``moved`` switches on at a random whole week for half the customers and stays on.
    Customers are acquired on a random day of the first half year; the window is ``weeks`` weeks.
    Returns transactions, static covariates, the weekly time-varying table and observation_end.
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp("2023-01-02")
    ids = np.array([f"C{i:05d}" for i in range(n)])
    acq = rng.integers(0, 26 * 7, n) / 7.0  # weeks
    group = rng.random(n) < 0.5
    score = rng.standard_normal(n)
    switch = np.where(rng.random(n) < 0.5, rng.integers(1, weeks, n), weeks + 1).astype(float)
    h0 = mu0 * hr_group ** group * hr_score ** score
    e = rng.exponential(1.0, n)
    before = h0 * np.maximum(switch - acq, 0.0)  # cumulative hazard up to the switch
    death = np.where(e <= before, acq + e / h0, np.maximum(switch, acq) + (e - before) / (h0 * hr_moved))
    stop = np.minimum(death, weeks)
    k = rng.poisson(rate * (stop - acq))
    who = np.repeat(np.arange(n), k)
    times = np.r_[acq, acq[who] + rng.random(k.sum()) * (stop - acq)[who]]
    tx = pd.DataFrame({"customer_id": np.r_[ids, ids[who]],
                       "date": origin + pd.to_timedelta(np.floor(times * 7), unit="D")})
    static = pd.DataFrame({"group": np.where(group, "treated", "control"), "score": score},
                          index=pd.Index(ids, name="customer_id"))
    i, w = np.nonzero(np.arange(weeks)[None, :] >= np.floor(acq)[:, None])
    dyn = pd.DataFrame({"customer_id": ids[i], "period_start": origin + pd.to_timedelta(w * 7, unit="D"),
                        "moved": (w >= switch[i]).astype(float)})
    return tx, static, dyn, origin + pd.Timedelta(days=weeks * 7 - 1)


def _covers(row: pd.Series, planted: float) -> bool:
    """``planted`` inside the Wald interval at 99.9 % (z = 3.29), widened from the reported 95 % one on the log scale.

    One draw lands outside a 95 % interval one time in twenty (over 40 replications of these simulations the
    95 % intervals covered 92.5-95 %), so a single fixed-seed draw is checked at 99.9 %.
    """
    centre = np.log(row["hazard_ratio"])
    se = (np.log(row["upper_95"]) - np.log(row["lower_95"])) / (2 * 1.959964)
    return abs(np.log(planted) - centre) <= 3.290527 * se


def test_planted_static_hazard_ratios_recovered_with_cox_ph():
    # buying 3 times a week, a 4-week gap while alive has probability exp(-12): the lapse is the dropout,
    # dated at the last purchase (on average 1/3 week early), so the hazard ratios are the planted ones
    tx, static, _, end = _simulate(3000, seed=0, hr_moved=1.0)  # no time-varying effect: nothing left out
    result = lapse_check(tx, observation_end=end, threshold_weeks=4, static_covariates=static)
    assert result.model == "PHReg" and result.notes == ()
    hr = result.hazard_ratios
    assert list(hr.columns) == ["hazard_ratio", "lower_95", "upper_95", "p_value"]
    for driver, planted in (("group[treated]", 2.0), ("score", 1.5)):
        assert _covers(hr.loc[driver], planted), (driver, hr.loc[driver])
    assert result.n_customers == 3000 and 0 < result.n_lapsed < result.n_customers
    assert 0.5 < result.concordance < 1.0
    assert list(result.ph_test.columns) == ["driver", "test_statistic", "p_value"]
    assert set(result.ph_test["driver"]) == {"group[treated]", "score"}
    assert (result.ph_test["p_value"] > 0.001).all()  # the planted hazards are proportional


def test_planted_time_varying_hazard_ratio_recovered_with_cox_time_varying():
    tx, static, dyn, end = _simulate(3000, seed=1)
    result = lapse_check(tx, observation_end=end, threshold_weeks=4, static_covariates=static,
                         dynamic_covariates=dyn)
    assert result.model == "PHReg counting process" and result.notes == ()
    hr = result.hazard_ratios
    for driver, planted in (("group[treated]", 2.0), ("score", 1.5), ("moved", 2.5)):
        assert _covers(hr.loc[driver], planted), (driver, hr.loc[driver])
    assert result.n_intervals < result.n_periods  # weeks with the same covariates were collapsed
    assert set(result.ph_test["driver"]) == {"group[treated]", "score", "moved"}  # time-varying drivers too
    assert (result.ph_test["p_value"] > 0.001).all()  # the planted hazards are proportional
    assert 0.5 < result.concordance < 1.0


def _phreg(frame: pd.DataFrame, delay: float) -> np.ndarray:
    """The coefficients of statsmodels' PHReg (Efron ties) on an interval table entered ``delay`` weeks late."""
    from statsmodels.duration.hazard_regression import PHReg

    covs = ["score", "group[treated]", "moved"]
    return PHReg(frame["stop"].to_numpy(), frame[covs].to_numpy(float), status=frame["event"].to_numpy(float),
                 entry=frame["start"].to_numpy() + delay, ties="efron").fit().params


def test_collapsing_does_not_change_the_fit_and_intervals_enter_after_their_start():
    tx, static, dyn, end = _simulate(400, seed=2)
    table = lapse_intervals(tx, observation_end=end, threshold_weeks=4, static_covariates=static,
                            dynamic_covariates=dyn)
    # the same table split back at every period boundary (7-day periods from `origin`), in whole days
    pieces = []
    origin = pd.Timestamp("2023-01-02")
    first = tx.groupby("customer_id")["date"].min()
    for row in table.to_dict("records"):
        lo, hi = round(row["start"] * 7), round(row["stop"] * 7)
        shift = (first[row["customer_id"]] - origin).days % 7  # clock day d starts a period when (d + shift) % 7 == 0
        edges = [lo] + [d for d in range(lo + 1, hi) if (d + shift) % 7 == 0] + [hi]
        for a, b in zip(edges[:-1], edges[1:]):
            pieces.append({**row, "start": a / 7, "stop": b / 7, "event": int(row["event"] and b == hi)})
    split = pd.DataFrame(pieces)
    assert len(split) > len(table)
    # lapse_check's fit: each interval (start, stop] enters the risk set half a day after its start
    np.testing.assert_allclose(_phreg(table, ENTRY_DELAY), _phreg(split, ENTRY_DELAY), atol=1e-6, rtol=0)
    # statsmodels counts a row at risk at a failure time equal to its entry: entering at `start` would count a
    # customer twice at every lapse on a period boundary, so the two tables would give different fits
    assert np.abs(_phreg(table, 0.0) - _phreg(split, 0.0)).max() > 1e-3  # measured: 5.3e-3


def test_separation_raises_convergence_error_with_the_fix():
    tx, static = _tiny()
    iv = lapse_intervals(tx, observation_end=END, threshold_weeks=2, static_covariates=static)
    lapser = iv.set_index("customer_id")["event"].astype(float).reindex(static.index, fill_value=0.0)
    kw = dict(observation_end=END, threshold_weeks=2, static_covariates=lapser.to_frame("lapser"))
    with pytest.raises(ConvergenceError, match="did not converge.*ConvergenceWarning.*'lapser' ran to.*separation"
                                               ".*penalizer=0.1"):
        lapse_check(tx, **kw)  # the driver decides who lapses: no finite estimate
    result = lapse_check(tx, penalizer=0.1, **kw)  # the suggested ridge penalty gives one
    assert result.notes == () and 1.0 < result.hazard_ratios.loc["lapser", "hazard_ratio"] < np.inf


def test_other_warnings_become_notes_not_walls(monkeypatch):
    from statsmodels.duration.hazard_regression import PHReg

    fit = PHReg.fit

    def noisy_fit(self, *args, **kwargs):
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(PHReg, "fit", noisy_fit)
    tx, static = _tiny()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = lapse_check(tx, observation_end=END, threshold_weeks=2, static_covariates=static[["age"]])
    assert result.notes == ("PHReg: RuntimeWarning: overflow encountered in exp",)  # once, with its class


def test_collinear_drivers_raise_convergence_error_with_the_fix():
    tx, static, dyn, end = _simulate(300, seed=3)
    dyn["copy"] = (static["group"] == "treated").astype(float).reindex(dyn["customer_id"]).to_numpy()
    with pytest.raises(ConvergenceError, match=r"singular.*drivers 'group\[treated\]', 'copy' are collinear.*"
                                               "penalizer=0.1"):
        lapse_check(tx, observation_end=end, threshold_weeks=4, static_covariates=static, dynamic_covariates=dyn)
    # the suggested ridge penalty makes the fit possible (the two copies share the effect)
    result = lapse_check(tx, observation_end=end, threshold_weeks=4, static_covariates=static,
                         dynamic_covariates=dyn, penalizer=0.1)
    assert result.hazard_ratios.loc["copy", "hazard_ratio"] == pytest.approx(
        result.hazard_ratios.loc["group[treated]", "hazard_ratio"], rel=1e-6)
    with pytest.raises(ConvergenceError, match=r"driver\(s\) 'zero' never change \(constant\)"):
        lapse_check(tx, observation_end=end, threshold_weeks=4, static_covariates=static,
                    dynamic_covariates=dyn.drop(columns="copy").assign(zero=0.0))


def test_compare_sets_hazard_ratios_next_to_btyd_multipliers():
    hr = pd.DataFrame({"hazard_ratio": [1.8, 1.3, 1.0, 2.2], "lower_95": [1.5, 1.1, 0.9, 1.9],
                       "upper_95": [2.1, 1.5, 1.1, 2.5], "p_value": [1e-9, 1e-3, 0.9, 1e-12]},
                      index=pd.Index(["contract[none]", "region[south]", "marketing_contact", "open_complaint"],
                                     name="driver"))
    check = LapseCheck(hazard_ratios=hr, concordance=0.6, ph_test=pd.DataFrame(), n_customers=10, n_lapsed=5,
                       threshold=26.0, model="PHReg", n_intervals=10, n_periods=10, n_excluded=0)
    planted = pd.DataFrame({
        "driver": ["contract[none]", "contract[none]", "region[south]", "region[south]", "marketing_contact",
                   "marketing_contact", "open_complaint", "open_complaint", "acquisition_channel[tv]"],
        "process": ["dropout", "purchase"] * 4 + ["dropout"],
        "multiplier": [2.0, 1.0, 1.0, 1.3, 1.0, 1.5, 4.0, 0.8, 1.3],
    })
    got = check.compare(planted)
    assert list(got.index) == ["contract[none]", "region[south]", "marketing_contact", "open_complaint",
                               "acquisition_channel[tv]"]
    assert got["expected"].tolist() == ["up", "down", "down", "up", "unknown"]
    assert got["found"].tolist() == ["up", "up", "none", "up", "unknown"]
    assert got["agrees"].tolist() == [True, False, False, True, pd.NA]
    assert got["dropout_covered"].tolist() == [True, False, True, False, pd.NA]
    assert got.loc["open_complaint", "purchase_multiplier"] == 0.8
    with pytest.raises(DataError, match="process must be"):
        check.compare(planted.assign(process="churn"))
    with pytest.raises(DataError, match="lack"):
        check.compare(planted.drop(columns="multiplier"))


def test_errors_name_the_problem_and_the_fix():
    tx, static = _tiny()
    kw = dict(observation_end=END, static_covariates=static)
    with pytest.raises(DataError, match=r"lack column\(s\) \['date'\]"):
        lapse_check(tx.drop(columns="date"), threshold_weeks=2, **kw)
    for bad in (0, -1, float("nan")):
        with pytest.raises(DataError, match="threshold_weeks"):
            lapse_intervals(tx, threshold_weeks=bad, **kw)
    with pytest.raises(DataError, match="longer than the observation window.*shorter threshold"):
        lapse_intervals(tx, threshold_weeks=20, **kw)  # the window is 13 weeks
    steady = tx[tx["customer_id"] == "B"]
    with pytest.raises(DataError, match="no customer lapsed.*shorter threshold_weeks.*95 %"):
        lapse_check(steady, observation_end=END, threshold_weeks=2, static_covariates=static)
    with pytest.raises(DataError, match=r"not indexed by customer_id.*set_index\('customer_id'\)"):
        lapse_check(tx, observation_end=END, threshold_weeks=2, static_covariates=static.reset_index())
    with pytest.raises(DataError, match="no row for 1 customer"):
        lapse_check(tx, observation_end=END, threshold_weeks=2, static_covariates=static.drop(index="A"))
    with pytest.raises(DataError, match="no drivers"):
        lapse_check(tx, observation_end=END, threshold_weeks=2)
    dyn = _weekly(tx)
    with pytest.raises(DataError, match=r"lack column\(s\) \['period_start'\]"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=dyn.drop(columns="period_start"), **kw)
    gap = dyn.drop(index=dyn.index[(dyn["customer_id"] == "B") & (dyn["period_start"] == "2024-02-05")])
    with pytest.raises(DataError, match="customer 'B'.*starting 2024-01-29 is followed by one starting 2024-02-12, "
                                        "leaving 7 days"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=gap, **kw)
    twice = pd.concat([dyn, dyn[(dyn["customer_id"] == "A") & (dyn["period_start"] == "2024-01-01")]])
    with pytest.raises(DataError, match="customer 'A'.*starting 2024-01-01 is followed by one starting 2024-01-01, "
                                        "which overlaps it"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=twice, **kw)
    late = dyn.drop(index=dyn.index[(dyn["customer_id"] == "A") & (dyn["period_start"] == "2024-01-01")])
    with pytest.raises(DataError, match="customer 'A' starts after the first purchase"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=late, **kw)
    with pytest.raises(DataError, match="no rows for 1 followed customer"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=dyn[dyn["customer_id"] != "H"], **kw)
    with pytest.raises(DataError, match="'complaint' is missing or not finite for customer"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=dyn.assign(complaint=np.nan), **kw)
    with pytest.raises(DataError, match="'age' is used twice"):
        lapse_check(tx, threshold_weeks=2, dynamic_covariates=dyn.rename(columns={"complaint": "age"}), **kw)
