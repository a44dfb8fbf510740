"""Survival cross-check on observed lapse: Cox models of "no purchase for longer than a threshold".

Issue 20, Methods 3. The buy-till-you-die models (Pareto/NBD with covariates, its time-varying form) estimate what
drives a *latent* dropout; this module asks the same question of something a CRM can see, the **observed lapse**
(the rule and its start/stop/event table: :mod:`segwork.act.lapse_table`), with maintained libraries: statsmodels'
Cox model ``PHReg`` (Cox 1972) and scikit-survival's concordance index. (lifelines, used before, declares
``pandas<3``: installing it would downgrade segwork's pandas.)

How this differs from the latent dropout of the BTYD models: a dropout is never seen, the model infers it from the
purchase pattern; a lapse is a rule on the observed gaps. A lapse is seen late (``tau`` after the last purchase, so a
customer who left after ``E - tau`` is censored) and dated at the last purchase, not at the dropout, which lies
somewhere in the gap; and a slow buyer who is alive may "lapse" (a long gap by chance): on make_crm's planted
defection world (20,000 customers) 30 % of the customers seen to lapse at 26 weeks were alive at the end (47 % at
13 weeks, 15 % at 52). So the Cox hazard of lapse mixes the two BTYD processes: a driver that only *lowers the
purchase rate* lengthens the gaps and *raises* the lapse hazard although it does not touch dropout, and a driver
that raises purchases lowers it. The alive "lapsers" pull every dropout effect towards 1, most in a customer's first
months, when a long gap is more often a slow buyer's than a leaver's (on that world the lapse hazard ratio of
``contract[none]``, planted dropout x2.0, is 1.30 in the first 13 weeks on book and 1.44 after 39 weeks), so the
proportional-hazards test may reject for a pure dropout driver.
Expect the lapse hazard ratio to follow ``dropout multiplier / purchase multiplier`` in direction, not the dropout
multiplier in size (:meth:`LapseCheck.compare` sets the two side by side). Time-varying drivers enter with their
value in the week of the last purchase before the gap; a driver that acts only after the last purchase (during the
gap) is missed, and one that raises purchases in a week (a marketing contact) makes that week more likely to hold
the last purchase, so it can look like a lapse risk.

The fit. Time-varying drivers: ``PHReg(endog=stop, exog, status=event, entry=start + half a day)``, the counting
process form (each interval ``(start, stop]`` a left-truncated row). statsmodels counts a row as at risk at a
failure time equal to its entry (``PHSurvivalTime`` puts it in ``risk_exit`` by ``np.searchsorted(ufailt, entry)``,
side left), while an interval ``(start, stop]`` is not at risk at ``start``; with whole days every failure time is a
whole day, so entering half a day late gives exactly the risk sets of ``start < t <= stop`` (with ``entry=start``
each customer was counted twice at every failure time on a period boundary: coefficients off by up to 0.08 on
make_crm). Without time-varying drivers, ``PHReg`` on one row per customer (no entry). Ties: **Efron's** method
(``ties="efron"``; statsmodels' default is Breslow's): the lapse days tie heavily (8,689 lapses on 491 days on
make_crm) and Breslow's approximation moved the coefficients by up to 0.008 there; with Efron's the coefficients
agree with lifelines' (0.30.3) ``CoxTimeVaryingFitter`` to 1e-13 and its ``CoxPHFitter`` to 1e-6 (its stopping
tolerance), the standard errors to 1e-9 (measured on make_crm's defection world and the tests' simulations).
Measured on make_crm's planted defection world (20,000 customers, 131,156 intervals, 11 drivers): statsmodels
builds the risk sets and fits in 4.5-4.8 s (6 Newton steps; lifelines' CoxTimeVaryingFitter took 5.7 s), the whole
check in 8-9 s (the table and the concordance about 1 s each; a shared 2-core machine).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import check_number, require_columns
from ..errors import ConvergenceError, DataError
from .lapse_table import DEFAULT_THRESHOLD_WEEKS, lapse_intervals, lapse_table

__all__ = ["DEFAULT_THRESHOLD_WEEKS", "LapseCheck", "lapse_intervals", "lapse_check"]

#: How late an interval enters the risk set, in weeks (half a day; see the module docstring).
ENTRY_DELAY = 0.5 / 7


@dataclass(frozen=True)
class LapseCheck:
    """The result of :func:`lapse_check`.

    Attributes
    ----------
    hazard_ratios: DataFrame indexed by ``driver`` (the design column names, e.g. ``contract[none]``,
        ``open_complaint``), columns ``hazard_ratio`` (exp(coef): the multiplier of the lapse hazard per unit of the
        driver, against the reference level), ``lower_95``, ``upper_95`` (exp of statsmodels' ``conf_int()``: the
        Wald 95 % interval, coef +- 1.96 se, se from the inverse observed information) and ``p_value`` (the Wald
        z-test of "no effect", ``pvalues``).
    concordance: Harrell's C of the lapse model (0.5 = chance, 1 = a perfect ranking of lapse times):
        scikit-survival's ``concordance_index_censored`` on each customer's follow-up time (``stop`` of the last
        interval), event and risk score ``coef . x`` with the covariates of their last interval (at lapse or
        censoring).
    ph_test: DataFrame with columns ``driver``, ``test_statistic``, ``p_value``: the Grambsch & Therneau (1994)
        test of each driver (scaled Schoenfeld residuals against the rank of the event times, chi-square with one
        degree of freedom; see :func:`lapse_check`) on the main fit, time-varying drivers included; a small p-value
        means the driver's hazard ratio changes with time on book.
    n_customers: customers followed (first purchase on or before ``E - tau``); n_lapsed: those seen to lapse.
    threshold: the lapse threshold ``tau`` in weeks.
    model: ``"PHReg counting process"`` (statsmodels' PHReg on the ``(start, stop]`` intervals, with time-varying
        drivers) or ``"PHReg"`` (one row per customer).
    n_intervals, n_periods: rows fitted (after collapsing) and before collapsing identical consecutive periods.
    n_excluded: customers left out (first purchase after ``E - tau``).
    notes: what statsmodels or scikit-survival warned about during the check (other than non-convergence, which
        raises), one line each with the warning class; empty when nothing was said. No fallback is taken.
    fit_seconds: wall time of the main fit.
    """

    hazard_ratios: pd.DataFrame
    concordance: float
    ph_test: pd.DataFrame
    n_customers: int
    n_lapsed: int
    threshold: float
    model: str
    n_intervals: int
    n_periods: int
    n_excluded: int
    notes: tuple[str, ...] = ()
    fit_seconds: float = float("nan")

    def compare(self, drivers: pd.DataFrame) -> pd.DataFrame:
        """Lapse hazard ratios next to the BTYD multipliers of the same drivers.

        Parameters
        ----------
        drivers: DataFrame with columns ``driver``, ``process`` (``"dropout"``/``"purchase"``), ``multiplier``
            (1.0 = no effect), e.g. ``make_crm(..., defection=True).planted_effects`` or the drivers table of a
            BTYD fit; other columns are ignored.

        Returns
        -------
        DataFrame indexed by ``driver`` (the lapse drivers first, then those only in ``drivers``), columns
        ``hazard_ratio``, ``lower_95``, ``upper_95``, ``p_value`` (NaN for a driver not in the lapse model),
        ``dropout_multiplier``, ``purchase_multiplier`` (NaN where ``drivers`` has no row), ``dropout_covered``
        (the dropout multiplier lies inside the lapse interval), ``expected`` and ``found`` (the direction of the
        lapse hazard: ``expected`` is ``"up"`` when the driver raises dropout or lowers purchases, ``"down"`` for
        the reverse, ``"none"``, ``"mixed"`` when the two sides push against each other, ``"unknown"`` when a side
        is missing; ``found`` is ``"up"`` when ``lower_95 > 1``, ``"down"`` when ``upper_95 < 1``, else
        ``"none"``) and ``agrees`` (``expected == found``; missing for ``mixed``/``unknown``).

        Raises
        ------
        DataError
            ``drivers`` lacks a column, has a process other than dropout/purchase, or two rows for one driver
            and process.
        """
        where = "LapseCheck.compare"
        require_columns(drivers, ["driver", "process", "multiplier"], where,
                        "pass a frame with one row per driver and process (e.g. planted_effects)", what="drivers")
        bad = sorted(set(drivers["process"].astype(str)) - {"dropout", "purchase"})
        if bad:
            raise DataError(f"{where}: process must be 'dropout' or 'purchase', got {bad[0]!r}; rename those rows")
        if drivers.duplicated(["driver", "process"]).any():
            row = drivers.loc[drivers.duplicated(["driver", "process"]), ["driver", "process"]].iloc[0]
            raise DataError(f"{where}: drivers has more than one row for driver {row['driver']!r}, process "
                            f"{row['process']!r}; keep one")
        wide = (drivers.assign(process=drivers["process"].astype(str) + "_multiplier")
                .pivot(index="driver", columns="process", values="multiplier")
                .reindex(columns=["dropout_multiplier", "purchase_multiplier"]).astype(float))
        order = list(self.hazard_ratios.index) + [d for d in wide.index if d not in self.hazard_ratios.index]
        out = self.hazard_ratios.reindex(order).join(wide, how="left")
        out.index.name = "driver"
        d, p = out["dropout_multiplier"], out["purchase_multiplier"]
        out["dropout_covered"] = ((out["lower_95"] <= d) & (d <= out["upper_95"])).astype("boolean")
        out.loc[out["lower_95"].isna() | d.isna(), "dropout_covered"] = pd.NA
        eps = 1e-9
        up = (np.log(d) > eps) | (np.log(p) < -eps)
        down = (np.log(d) < -eps) | (np.log(p) > eps)
        expected = np.select([d.isna() | p.isna(), up & down, up, down], ["unknown", "mixed", "up", "down"], "none")
        found = np.select([out["lower_95"] > 1.0, out["upper_95"] < 1.0, out["lower_95"].isna()],
                          ["up", "down", "unknown"], "none")
        out["expected"], out["found"] = expected, found
        agrees = pd.Series(expected == found, index=out.index, dtype="boolean")
        agrees[np.isin(expected, ["mixed", "unknown"]) | (found == "unknown")] = pd.NA
        out["agrees"] = agrees
        return out


def _singular(X: np.ndarray, names: list[str], why: str) -> ConvergenceError:
    """The error for a singular information matrix, naming the constant or collinear drivers (centred design)."""
    Z = X - X.mean(axis=0)
    sd = Z.std(axis=0)
    who = "a driver repeats others or (almost) decides who lapses, so drop it"
    if (sd == 0).any():
        who = f"driver(s) {', '.join(repr(n) for n, v in zip(names, sd) if v == 0)} never change (constant), so drop it"
    else:
        _, s, vt = np.linalg.svd(Z / sd, full_matrices=False)
        if s[-1] <= 1e-6 * s[0]:
            who = (f"drivers {', '.join(repr(n) for n, v in zip(names, vt[-1]) if abs(v) > 0.1)} are collinear "
                   "(one is a combination of the others), so drop one of them")
    return ConvergenceError(f"lapse_check: statsmodels' PHReg failed, the information matrix is singular ({why}): "
                            f"{who}, or pass penalizer=0.1 (a ridge penalty on the coefficients)")


def _fit(frame: pd.DataFrame, names: list[str], time_varying: bool, ridge: float, notes: list[str]):
    """statsmodels' PHReg (Efron ties, Newton's method) with ``0.5 * ridge * |coef|^2`` taken off the log-likelihood."""
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

    class RidgePHReg(PHReg):
        def loglike(self, params):
            return super().loglike(params) - 0.5 * ridge * params @ params

        def score(self, params):
            return super().score(params) - ridge * params

        def hessian(self, params):
            return super().hessian(params) - ridge * np.eye(len(params))

    X = frame[names].to_numpy(np.float64)
    entry = frame["start"].to_numpy(np.float64) + ENTRY_DELAY if time_varying else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = RidgePHReg(frame["stop"].to_numpy(np.float64), X, status=frame["event"].to_numpy(np.float64),
                                entry=entry, ties="efron").fit(method="newton", maxiter=100)
            info = np.linalg.inv(result.cov_params())  # the observed information
        except np.linalg.LinAlgError as exc:
            raise _singular(X, names, str(exc)) from None
    failed = [w for w in caught if issubclass(w.category, (ConvergenceWarning, HessianInversionWarning))]
    if failed:
        j = int(np.argmax(np.abs(result.params)))
        raise ConvergenceError(
            f"lapse_check: statsmodels' PHReg did not converge in 100 Newton steps ({failed[0].category.__name__}); "
            f"the coefficient of {names[j]!r} ran to {result.params[j]:.3g} (hazard ratio "
            f"{np.exp(result.params[j]):.3g}): a driver that (almost) decides who lapses (separation) has no finite "
            "estimate; drop it, or pass penalizer=0.1 (a ridge penalty on the coefficients)")
    eig = np.linalg.eigvalsh(info) if np.isfinite(info).all() else np.array([np.nan])
    if not np.isfinite(result.params).all() or not (eig.min() > 1e-10 * eig.max()):
        raise _singular(X, names, "not positive definite")
    for w in caught:
        note = f"PHReg: {w.category.__name__}: {' '.join(str(w.message).split())}"
        if note not in notes:
            notes.append(note)
    return result


def _ph_test(result, names: list[str]) -> pd.DataFrame:
    """Grambsch & Therneau's (1994) test per driver, rank form (see :func:`lapse_check`)."""
    from scipy.stats import chi2, rankdata

    event = result.model.status == 1
    residuals = result.schoenfeld_residuals[event]
    d = len(residuals)
    cov = np.asarray(result.cov_params())
    scaled = d * residuals @ cov
    g = rankdata(result.model.endog[event])
    g = g - g.mean()
    stat = (g @ scaled) ** 2 / (d * np.diag(cov) * (g @ g))
    return pd.DataFrame({"driver": names, "test_statistic": stat, "p_value": chi2.sf(stat, 1)})


def lapse_check(transactions: pd.DataFrame, *, observation_end, threshold_weeks: float = DEFAULT_THRESHOLD_WEEKS,
                static_covariates: pd.DataFrame | None = None, dynamic_covariates: pd.DataFrame | None = None,
                penalizer: float = 0.0) -> LapseCheck:
    """Cox model of observed lapse on the drivers: hazard ratios, concordance and a proportional-hazards check.

    Builds :func:`lapse_intervals` (same parameters and checks), then fits statsmodels' ``PHReg`` (Efron's ties,
    Newton-Raphson): with ``dynamic_covariates`` on the interval table in counting-process form
    (``entry = start`` + half a day, ``endog = stop``, ``status = event``; why the half day: module docstring),
    else on one row per customer (``endog = stop``). Hazard ratios are ``exp(params)``, with ``exp(conf_int())``
    and the Wald ``pvalues``.

    Proportional-hazards check (Grambsch & Therneau 1994, "Proportional hazards tests and diagnostics based on
    weighted residuals", Biometrika 81(3), 515-526), in the approximate form with each lapse's information taken as
    the average, ``V^-1 / d``, that R's ``cox.zph`` used before survival 3.0 and lifelines'
    ``proportional_hazard_test(time_transform="rank")`` uses: with
    ``s_k`` statsmodels' ``schoenfeld_residuals`` of the fit at the ``d`` lapses (the driver values minus their
    risk-weighted mean over the risk set at that time; statsmodels does not spread tied lapses as Efron's method
    does), ``V`` the coefficients' covariance and ``g_k`` the rank of the lapse time among the lapses (tied times
    share their mean rank; lifelines numbers tied lapses in its sort order), centred: the scaled residuals are
    ``r_k = d * s_k V`` and driver ``j``'s statistic ``(sum_k g_k r_kj)^2 / (d V_jj sum_k g_k^2)``, chi-square with
    one degree of freedom under proportional hazards. Time-varying drivers are tested too.

    Concordance: scikit-survival's ``concordance_index_censored`` (Harrell's C) on the last interval of each
    customer (see :attr:`LapseCheck.concordance`).

    ``penalizer``: a ridge penalty, ``0.5 * penalizer * n * |coef|^2`` taken off the log partial likelihood
    (``n`` = customers followed; with one row per customer this is the objective of statsmodels'
    ``PHReg.fit_regularized(alpha=penalizer, L1_wt=0)``, which gives no standard errors, so the penalty is added to
    the Newton fit and the intervals come from the penalized information). 0 = plain partial likelihood.

    Returns a :class:`LapseCheck`; :meth:`LapseCheck.compare` puts its hazard ratios next to BTYD multipliers.
    Nothing is printed; other warnings of the fit become :attr:`LapseCheck.notes`.

    Raises
    ------
    DataError
        every case of :func:`lapse_intervals` (among them: no customer lapsed, with what to do).
    ConvergenceError
        the information matrix is singular (the message names the collinear drivers, e.g. a time-varying driver
        that repeats a static one) or Newton's method did not converge (statsmodels' ``ConvergenceWarning``: the
        message names the driver whose coefficient runs away, a driver that decides who lapses); both say to drop
        the driver or pass ``penalizer=0.1``.
    """
    from sksurv.metrics import concordance_index_censored

    where = "lapse_check"
    pen = check_number(where, "penalizer", penalizer, low=0.0)
    table = lapse_table(transactions, observation_end=observation_end, threshold_weeks=threshold_weeks,
                        static_covariates=static_covariates, dynamic_covariates=dynamic_covariates, caller=where)
    frame, names = table.frame, [*table.static, *table.dynamic]
    last = frame.drop_duplicates("customer_id", keep="last")
    notes: list[str] = []
    t = time.perf_counter()
    result = _fit(frame, names, bool(table.dynamic), pen * len(last), notes)
    seconds = time.perf_counter() - t
    ci = np.exp(np.asarray(result.conf_int()))
    hr = pd.DataFrame({"hazard_ratio": np.exp(result.params), "lower_95": ci[:, 0], "upper_95": ci[:, 1],
                       "p_value": result.pvalues}, index=pd.Index(names, name="driver"))
    score = last[names].to_numpy(np.float64) @ result.params
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ph_test = _ph_test(result, names)
        concordance = float(concordance_index_censored(last["event"].to_numpy(bool), last["stop"].to_numpy(), score)[0])
    notes += [f"ph_test/concordance: {w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught]
    return LapseCheck(hazard_ratios=hr, concordance=concordance, ph_test=ph_test, n_customers=int(len(last)),
                      n_lapsed=int(last["event"].sum()), threshold=float(threshold_weeks),
                      model="PHReg counting process" if table.dynamic else "PHReg", n_intervals=int(len(frame)),
                      n_periods=table.n_periods, n_excluded=table.n_excluded, notes=tuple(dict.fromkeys(notes)),
                      fit_seconds=float(seconds))
