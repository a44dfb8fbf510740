"""Drivers of defection for the whole base: multipliers with intervals, likelihood-ratio tests, the CLV at stake.

:func:`drivers_table` reads the fitted defection model
(:func:`segwork.act.defection.fit_defection`) as one table: per driver level
and process (dropout, purchase) the multiplier with its 95 % confidence
interval, the likelihood-ratio test of "no effect" (:func:`restricted_statistics`)
and the expected CLV the base loses to the driver (the what-if of
:class:`segwork.act.defection.FuturePaths` with the driver at its reference
level from now on). :func:`planted_coverage` compares the table with the
planted effects of ``make_crm(..., defection=True)``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..clv.margin import DEFAULT_MARGIN
from .._checks import check_number, require_columns
from ..errors import ConvergenceError, DataError
from .defection import DefectionFit, FuturePaths

__all__ = ["PlantedCoverage", "drivers_table", "planted_coverage", "restricted_statistics", "TESTS", "PROCESSES",
           "DRIVERS_COLUMNS"]

#: The two processes a driver can act on, in the order of the tables.
PROCESSES = ("dropout", "purchase")
#: The columns of :func:`drivers_table` (the names metrics.json and outside checks use).
DRIVERS_COLUMNS = ("driver", "process", "kind", "coef", "se", "multiplier", "lower_95", "upper_95", "lr_statistic",
                   "p_value", "clv_at_stake")
#: The tests :func:`drivers_table` can run -> how its ``attrs["test"]`` names them.
TESTS = {"lr": "likelihood ratio (chi-square, 1 df; restricted maxima warm-started from the full fit)",
         "lr-refit": "likelihood ratio (chi-square, 1 df; one refit with fixed={name: 0} per coefficient)",
         "wald": "Wald (chi-square, 1 df)"}


def drivers_table(fit: DefectionFit, *, test: str = "lr", horizon: int | None = None, discount_rate: float = 0.01,
                  margin: float = DEFAULT_MARGIN, paths: FuturePaths | None = None) -> pd.DataFrame:
    """The drivers of dropout and of the purchase rate for the whole base, with the CLV at stake.

    One row per driver level x process (:data:`PROCESSES`), columns
    :data:`DRIVERS_COLUMNS`:

    * ``driver`` (``"contract[none]"``, ``"open_complaint"``), ``process``, ``kind`` (static / time-varying);
    * ``coef`` and ``se`` (observed information), ``multiplier = exp(coef)``
      (the factor on the dropout rate or on the purchase rate while the
      driver is 1: a level against the reference, an event while on),
      ``lower_95`` / ``upper_95``: its Wald 95 % **confidence** interval
      (``exp(coef -+ 1.96 se)``, from :meth:`TimeVaryingParetoNBD.summary`);
    * ``lr_statistic``, ``p_value``: the likelihood-ratio test of "this
      coefficient is 0" (Wilks): ``LR = 2 (LL_full - LL_restricted)`` against
      chi-square with 1 degree of freedom, ``LL_restricted`` the maximum with
      that one coefficient held at 0 and every other parameter free.
      ``test="lr"`` (default): each restricted maximum by Newton steps on
      the model's own likelihood, warm-started from the full fit
      (:func:`restricted_statistics`; the 22 rows of
      ``make_crm(20000, random_state=0, defection=True)`` took 52 s on a
      shared 2-core machine, the fit itself 50-90 s). ``test="lr-refit"``:
      the same maxima by ``TimeVaryingParetoNBD.fit(..., fixed={name: 0.0})``,
      each a whole fit from the plain Pareto/NBD with its standard errors
      (43-87 s per row there: the 22 rows take 15-30 minutes, too slow for a
      notebook); the two agree to the optimiser's tolerance (tested at 1,000
      customers; 1.51870 both for ``dropout:region[east]`` at 20,000). ``test="wald"``: ``(coef / se)^2``
      against the same chi-square, no refit (the quadratic approximation of
      the LR statistic). The time taken is in ``attrs["test_seconds"]``;
    * ``clv_at_stake``: the expected CLV the base loses to the driver,
      ``sum_i CLV_i(driver at its reference level / 0 from now on) - CLV_i(as
      is)`` over ``horizon`` months, as margin (``margin`` x revenue), in the
      data's currency (:class:`FuturePaths`: the status quo and the what-if
      differ only in this driver's future path; each customer's past is as
      observed). A change of the customer's covariate moves both processes,
      so the figure is the driver's, the same on its two rows: **do not add
      the rows**. Positive: the base would be worth more without the driver.

    ``attrs``: ``test``, ``test_seconds``, ``fit_seconds`` (the full fit),
    ``clv_seconds``, ``horizon_months``, ``discount_rate`` (per month),
    ``margin``, ``currency``, ``clv_total`` (the base's CLV as is),
    ``carry_weeks`` and ``status_quo`` (the path assumption in words).

    ``horizon`` (months; default: the ``paths``' horizon, else 12),
    ``discount_rate`` (per month), ``margin`` (profit share of revenue):
    the CLV's settings. ``paths``: the :class:`FuturePaths` of this fit to
    use (and keep, with its what-ifs, for :func:`segwork.act.customer_reasons`).

    Raises DataError for an unknown ``test``, a bad horizon, rate or margin,
    or ``paths`` of another fit or horizon; ConvergenceError when a
    restricted fit does not converge.
    """
    where = "drivers_table"
    if test not in TESTS:
        raise DataError(f"{where}: test={test!r} is not known; use one of {', '.join(map(repr, TESTS))} (see "
                        "the docstring)")
    check_number(where, "margin", margin, low=0, unit="share of revenue")
    model = fit.model
    summ = model.summary()
    drivers = fit.drivers
    rows = []
    for d in drivers.itertuples():
        for proc in PROCESSES:
            s = summ.loc[f"{proc}:{d.driver}"]
            rows.append({"driver": d.driver, "process": proc, "kind": d.kind, "coef": s["coef"], "se": s["se"],
                         "multiplier": s["multiplier"], "lower_95": s["lower_95"], "upper_95": s["upper_95"]})
    out = pd.DataFrame(rows)
    t0 = time.perf_counter()
    if test in ("lr", "lr-refit"):
        labels = [f"{r.process}:{r.driver}" for r in out.itertuples()]
        if test == "lr":
            raw = restricted_statistics(fit, labels)
        else:
            raw = np.array([2.0 * (model.log_likelihood_ - fit.refit({lab: 0.0}).log_likelihood_) for lab in labels])
        out["lr_statistic"] = np.maximum(raw, 0.0)  # a restricted fit never beats the full one beyond the optimiser
        min_raw = float(raw.min()) if len(raw) else 0.0
    else:
        out["lr_statistic"] = (out["coef"] / out["se"]) ** 2
        min_raw = float("nan")
    out["p_value"] = stats.chi2.sf(out["lr_statistic"].to_numpy(dtype=float), df=1)
    test_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    paths = FuturePaths.for_fit(where, fit, horizon, paths)
    base = paths.clv(discount_rate=discount_rate, margin=margin)
    stake = {d: float((paths.clv({d: "horizon"}, discount_rate=discount_rate, margin=margin) - base).sum())
             for d in drivers["driver"]}
    out["clv_at_stake"] = out["driver"].map(stake)
    out = out[list(DRIVERS_COLUMNS)]
    out.attrs = {"test": TESTS[test], "test_seconds": test_seconds, "lr_min_raw_statistic": min_raw,
                 "fit_seconds": float(model.fit_seconds_), "clv_seconds": time.perf_counter() - t0,
                 "horizon_months": paths.horizon, "discount_rate": discount_rate, "margin": margin,
                 "currency": fit.currency, "clv_total": float(base.sum()), "carry_weeks": dict(paths.carry),
                 "status_quo": "static drivers keep their level; a time-varying driver keeps its current value for "
                               "carry_weeks, then the customer's earlier mean"}
    return out


def restricted_statistics(fit: DefectionFit, labels) -> np.ndarray:
    """Likelihood-ratio statistics ``2 (LL_full - LL_restricted)``, one per coefficient name of ``labels``
    (``"dropout:open_complaint"``), each restricted maximum (that coefficient held at 0, every other
    parameter free) warm-started from the full fit by
    :meth:`segwork.clv.TimeVaryingParetoNBD.restricted_log_likelihood` (Newton steps on the model's own
    likelihood, its quadrature and penalizer; no standard errors).

    Returns the statistics (float array, raw: tiny negative values are the optimiser's tolerance). Raises
    DataError for an unknown name and ConvergenceError when a restricted maximum is not reached (largest
    gradient of the mean log-likelihood above 1e-4).
    """
    model = fit.model
    out = []
    for lab in labels:
        try:
            restricted = model.restricted_log_likelihood({lab: 0.0})
        except ConvergenceError as err:
            raise ConvergenceError(f"restricted_statistics: {err}; use test='wald', or test='lr-refit' to see the "
                                   "fit's own message") from err
        out.append(2.0 * (model.log_likelihood_ - restricted))
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class PlantedCoverage:
    """The drivers table against the planted effects (:func:`planted_coverage`).

    ``rows``: one row per planted driver x process: ``driver``, ``process``,
    ``planted`` (multiplier), ``multiplier``, ``lower_95``, ``upper_95``,
    ``covered`` (planted inside the interval), ``significant`` (``p_value <
    alpha``), ``planted_effect`` (planted != 1). ``sides``: one row per
    driver: ``planted_sides`` and ``found_sides`` (``"dropout"``,
    ``"purchase"``, ``"both"``, ``"none"``) and ``side_found`` (they agree).
    ``covered_share``: share of the planted multipliers inside their interval
    (``planted_multipliers_covered``); ``sides_found_share``: share of the
    drivers with a planted effect whose side is found exactly;
    ``null_drivers_clean``: share of the drivers without a planted effect
    with no significant row.
    """

    rows: pd.DataFrame
    sides: pd.DataFrame
    covered_share: float
    sides_found_share: float
    null_drivers_clean: float


def planted_coverage(table: pd.DataFrame, planted: pd.DataFrame, *, alpha: float = 0.05) -> PlantedCoverage:
    """Compare a :func:`drivers_table` with ``Dataset.planted_effects`` (synthetic data).

    A multiplier is covered when ``lower_95 <= planted <= upper_95``; a side
    is found when the processes with ``p_value < alpha`` are exactly those
    where the planted multiplier differs from 1 (see :class:`PlantedCoverage`).

    Raises DataError for a missing column, or a planted driver x process the
    table does not have (naming it: the model was fitted without that driver).
    """
    where = "planted_coverage"
    require_columns(table, ("driver", "process", "multiplier", "lower_95", "upper_95", "p_value"), where,
                    "use segwork.act.drivers_table", what="drivers table")
    require_columns(planted, ("driver", "process", "multiplier"), where, "use Dataset.planted_effects",
                    what="planted effects")
    check_number(where, "alpha", alpha, low=0, high=1, low_open=True)
    est = table.set_index(["driver", "process"])
    keys = pd.MultiIndex.from_frame(planted[["driver", "process"]])
    missing = keys.difference(est.index)
    if len(missing):
        raise DataError(f"{where}: the drivers table has no row for planted {missing[0][0]!r} ({missing[0][1]}); "
                        f"fit the model with every planted driver (drivers: {sorted(set(table['driver']))})")
    rows = planted[["driver", "process"]].copy()
    rows["planted"] = planted["multiplier"].to_numpy(dtype=float)
    for c in ("multiplier", "lower_95", "upper_95", "p_value"):
        rows[c] = est[c].reindex(keys).to_numpy(dtype=float)
    rows["covered"] = (rows["lower_95"] <= rows["planted"]) & (rows["planted"] <= rows["upper_95"])
    rows["significant"] = rows["p_value"] < alpha
    rows["planted_effect"] = rows["planted"] != 1.0

    def sides(flags, procs):
        on = [p for f, p in zip(flags, procs) if f]
        return "both" if len(on) == 2 else (on[0] if on else "none")

    groups = rows.groupby("driver", sort=False)
    side = pd.DataFrame({
        "planted_sides": groups.apply(lambda g: sides(g["planted_effect"], g["process"]), include_groups=False),
        "found_sides": groups.apply(lambda g: sides(g["significant"], g["process"]), include_groups=False)})
    side["side_found"] = side["planted_sides"] == side["found_sides"]
    effect = side["planted_sides"] != "none"
    return PlantedCoverage(
        rows=rows.reset_index(drop=True), sides=side, covered_share=float(rows["covered"].mean()),
        sides_found_share=float(side.loc[effect, "side_found"].mean()) if effect.any() else float("nan"),
        null_drivers_clean=float(side.loc[~effect, "side_found"].mean()) if (~effect).any() else float("nan"))
