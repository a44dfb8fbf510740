"""Why customers leave: the defection model, fitted once, and the future covariate paths of its what-ifs.

The model is the Pareto/NBD with time-varying covariates of Bachmann,
Meierer & Näf (2021, *Marketing Science* 40(4);
:class:`segwork.clv.TimeVaryingParetoNBD`): while alive a customer buys at
rate ``lambda_i exp(b' x_i(t))`` and leaves at rate ``mu_i exp(g' x_i(t))``
(``lambda_i``, ``mu_i`` gamma across customers). Every driver acts on both
processes, so the fit itself says on which side a driver works: ``exp(g_k)``
multiplies the dropout rate, ``exp(b_k)`` the purchase rate, while the driver
is 1 (a level of a category against its reference level, the first in sorted
order; an event while it is on; a number per unit).

Static drivers (profile columns: contract, acquisition channel, region) enter
as covariates constant over time, columns of the same weekly long table as
the events (open complaints, marketing contacts): one 0/1 column per level
but the reference (the first in sorted order), named ``column[level]`` as
``OneHotEncoder(drop="first")`` names them in :mod:`segwork.clv.covariates`. With only static drivers
the model *is* the static-covariate Pareto/NBD (Fader & Hardie 2007;
:mod:`segwork.clv.covariates`), so one model serves data with a profile only
and data with events. Putting the static drivers in the long table lets a
what-if change them from now on (a contract signed today) while the past that
the customer's history reflects stays as it was.

* :func:`fit_defection`: the long table (events + profile), the model, the
  spend model (:class:`segwork.clv.GammaGamma`), in one :class:`DefectionFit`;
* :class:`FuturePaths`: the status-quo and what-if future covariate paths and
  the CLV under each, used for the whole base by
  :func:`segwork.act.drivers.drivers_table` and per customer by
  :mod:`segwork.act.retention`.

CLV here is margin, not revenue: ``margin x expected spend per purchase x
DECT``, with DECT the model's discounted expected purchases over the horizon
(continuous discounting at the rate equivalent to ``discount_rate`` per
month: ``delta = log(1 + d)`` per month, so a purchase one month ahead is
worth ``1 / (1 + d)``; :func:`segwork.clv.customer_lifetime_value` discounts
whole months at their end instead, a difference well below 1 % at 1 % a
month).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..clv.margin import DEFAULT_MARGIN
from .._checks import check_number, require_columns
from ..clv.pareto_nbd_dynamic import TimeVaryingParetoNBD
from ..clv.predict import fit_spend
from ..clv.value import DAYS_PER_MONTH, MAX_HORIZON_MONTHS
from ..errors import DataError
from ..features.rfm import TIME_UNITS, rfm_summary

__all__ = ["DefectionFit", "FuturePaths", "fit_defection", "DEFAULT_STATIC_DRIVERS", "DEFAULT_TIME_VARYING_DRIVERS"]

#: The profile columns :func:`fit_defection` uses as static drivers by default (those of make_crm's defection world).
DEFAULT_STATIC_DRIVERS = ("contract", "acquisition_channel", "region")
#: The columns of the weekly long table it uses as time-varying drivers by default.
DEFAULT_TIME_VARYING_DRIVERS = ("open_complaint", "marketing_contact")

_WEEK = int(TIME_UNITS["weeks"])  # days per period of the long table
_WEEKS_PER_MONTH = DAYS_PER_MONTH / _WEEK


@dataclass(frozen=True)
class DefectionFit:
    """The fitted defection model and everything its what-ifs need (:func:`fit_defection`).

    ``model``: the :class:`segwork.clv.TimeVaryingParetoNBD` (time in weeks;
    every driver on both processes); ``transactions`` (``customer_id``,
    ``date``) and ``covariates`` (the weekly long table: ``customer_id``,
    ``period_start`` and one float column per driver of :attr:`columns`:
    ``column[level]`` 0/1 for a static level, constant over a customer's
    weeks, then the time-varying columns) as fitted; ``observation_end``;
    ``static`` and ``time_varying``: the profile columns and the long-table
    columns used; ``levels``: static column -> its levels in sorted order
    (the first is the reference); ``spend``: expected spend per purchase of
    each customer (index customer_id, the data's currency) and
    ``spend_basis`` saying where it comes from; ``currency``.
    """

    model: TimeVaryingParetoNBD
    transactions: pd.DataFrame
    covariates: pd.DataFrame
    observation_end: pd.Timestamp
    static: tuple
    time_varying: tuple
    levels: dict
    spend: pd.Series
    spend_basis: str
    currency: str

    @property
    def columns(self) -> list:
        """The driver columns of the long table (the design columns: the model's coefficient names without the
        process), static levels first."""
        return [f"{col}[{lev}]" for col in self.static for lev in self.levels[col][1:]] + list(self.time_varying)

    @property
    def drivers(self) -> pd.DataFrame:
        """One row per design column (the model's coefficient names without the process): ``driver``
        (``"contract[none]"``, ``"open_complaint"``), ``column``, ``level`` (None for a number), ``reference``
        (the reference level, 0 for a number) and ``kind`` (``"static"`` / ``"time-varying"``)."""
        rows = []
        for col in self.static:
            levels = self.levels[col]
            rows += [(f"{col}[{lev}]", col, lev, levels[0], "static") for lev in levels[1:]]
        rows += [(col, col, None, 0.0, "time-varying") for col in self.time_varying]
        return pd.DataFrame(rows, columns=["driver", "column", "level", "reference", "kind"])

    def refit(self, fixed: dict) -> TimeVaryingParetoNBD:
        """The same model refitted on the same data with the coefficients in ``fixed`` held (e.g.
        ``{"dropout:open_complaint": 0.0}``: the restricted fit of a likelihood-ratio test)."""
        m = self.model
        return TimeVaryingParetoNBD(penalizer=m.penalizer, n_nodes=m.n_nodes).fit(
            self.transactions, self.covariates, observation_end=self.observation_end,
            purchase_covariates=self.columns, dropout_covariates=self.columns, fixed=fixed)


def _profile_column(where, customers, col, ids):
    """The static driver ``col`` per customer of ``ids`` (DataError for a missing customer or value)."""
    prof = customers.set_index("customer_id") if "customer_id" in customers.columns else customers
    prof = prof[~prof.index.duplicated()]
    prof.index = prof.index.astype(str)
    values = prof[col].reindex(ids)
    if values.isna().any():
        who = values.index[values.isna().to_numpy()][0]
        why = "has no profile row" if who not in prof.index else f"has no {col!r}"
        raise DataError(f"{where}: customer {who!r} {why} ({int(values.isna().sum())} customer(s) in all); the static "
                        f"driver {col!r} needs a value for every customer with transactions: fill it (e.g. a level "
                        "'unknown') or drop those customers")
    return values.astype(str)


def _weekly_grid(transactions, end):
    """Rows customer x week from the week of the first purchase through the week containing ``end`` (the grid
    starts on the day of the first purchase in the data)."""
    first = transactions.groupby("customer_id", observed=True)["date"].min().dt.normalize()
    first = first[first <= end]
    origin = first.min()
    k0 = ((first - origin).dt.days // _WEEK).to_numpy(dtype=np.int64)
    kE = (end - origin).days // _WEEK
    counts = kE - k0 + 1
    ids = np.repeat(first.index.astype(str).to_numpy(dtype=object), counts)
    cust = np.repeat(np.arange(len(k0)), counts)
    k = k0[cust] + np.arange(len(cust)) - np.r_[0, np.cumsum(counts)][cust]
    return pd.DataFrame({"customer_id": ids, "period_start": origin + pd.to_timedelta(_WEEK * k, unit="D")})


def fit_defection(data, *, customers: pd.DataFrame | None = None, dynamic_covariates: pd.DataFrame | None = None,
                  static=DEFAULT_STATIC_DRIVERS, time_varying=DEFAULT_TIME_VARYING_DRIVERS, observation_end=None,
                  spend=None, penalizer: float = 0.0) -> DefectionFit:
    """Fit the time-varying Pareto/NBD with every driver on both processes, and the spend model.

    Parameters
    ----------
    data: a :class:`segwork.datasets.Dataset` (its ``transactions``,
        ``customers``, ``dynamic_covariates``, ``observation_end`` and
        ``currency``), or canonical transactions (``customer_id``, ``date``,
        ``amount``) with ``customers`` / ``dynamic_covariates`` given here.
    customers: the profile (``customer_id`` column or index), for the static
        drivers; overrides the data set's.
    dynamic_covariates: the weekly long table (``customer_id``,
        ``period_start``, the time-varying columns; one row per customer and
        week from the week of the first purchase through the one containing
        ``observation_end``, as :mod:`segwork.clv.dynamic_covariates` checks).
        Without it (profile-only data) the weekly grid is built from the
        transactions (starting on the first purchase day of the data).
    static: profile columns used as static drivers, categorical (text,
        category or bool): one 0/1 column ``column[level]`` per level but the
        first in sorted order, the reference. A numeric profile column is
        refused (a what-if needs a reference level to set it to).
    time_varying: columns of the long table used as time-varying drivers.
    observation_end: last day observed (default: the data set's, else the last transaction day).
    spend: None (default): a Gamma-Gamma fitted on the repeat buyers
        (:func:`segwork.clv.fit_spend`, with its fallbacks, which warn); a
        fitted :class:`segwork.clv.GammaGamma` (e.g. the one
        :func:`segwork.prepare.prepare` fitted: not fitted again); or a
        number: every customer's expected spend per purchase.
    penalizer: L2 penalty of the model (0 = maximum likelihood).

    Returns
    -------
    :class:`DefectionFit`.

    Raises
    ------
    DataError: no driver named (CDNOW: no profile and no events: nothing to
        explain a defection with); a named column missing from the profile or
        the long table (naming it); a numeric static driver or one with a
        single level; a customer without a profile value; every
        check of the model's fit (gaps, overlaps, a missing period, a constant
        or collinear driver); an infinite expected spend (Gamma-Gamma q <= 1:
        pass ``spend=`` a number).
    ConvergenceError: the model's fit does not converge.
    """
    where = "fit_defection"
    dataset = None if isinstance(data, pd.DataFrame) else data
    tx = data if dataset is None else getattr(dataset, "transactions", None)
    require_columns(tx, ("customer_id", "date") if spend is not None else ("customer_id", "date", "amount"), where,
                    "use canonical transactions (segwork.io.read_transactions)", what="transactions")
    customers = customers if customers is not None else getattr(dataset, "customers", None)
    dynamic = dynamic_covariates if dynamic_covariates is not None else getattr(dataset, "dynamic_covariates", None)
    static, time_varying = tuple(static or ()), tuple(time_varying or ())
    if not static and not time_varying:
        raise DataError(f"{where}: no drivers named (static=() and time_varying=()); defection drivers need a "
                        "customer profile (static) or events per week (time_varying): data with neither (e.g. "
                        "CDNOW) can say who is leaving (P(alive)) but not why")
    if static:
        if customers is None:
            raise DataError(f"{where}: static drivers {list(static)} need a customer profile; the data has none: "
                            "pass customers= or static=()")
        require_columns(customers, static, where, "name profile columns, or pass static=()", what="customer profile")
    if time_varying:
        if dynamic is None:
            raise DataError(f"{where}: time-varying drivers {list(time_varying)} need the weekly long table; the data "
                            "has none: pass dynamic_covariates= or time_varying=()")
        require_columns(dynamic, ("customer_id", "period_start", *time_varying), where,
                        "name columns of the weekly long table, or pass time_varying=()", what="long table")
    end = observation_end if observation_end is not None else getattr(dataset, "observation_end", None)
    end = pd.Timestamp(end if end is not None else tx["date"].max()).normalize()
    tx = tx[["customer_id", "date", *(["amount"] if "amount" in tx.columns else [])]]
    if time_varying:
        table = dynamic[["customer_id", "period_start", *time_varying]].copy()
        table["customer_id"] = table["customer_id"].astype(str)
    else:
        table = _weekly_grid(tx.assign(customer_id=tx["customer_id"].astype(str)), end)
    levels = {}
    for col in static:
        if pd.api.types.is_numeric_dtype(customers[col]) and not pd.api.types.is_bool_dtype(customers[col]):
            raise DataError(f"{where}: static driver {col!r} is numeric; give it as a category (a level per "
                            "customer): a numeric profile driver has no reference level to set it to")
        values = _profile_column(where, customers, col, pd.Index(tx["customer_id"].astype(str).unique()))
        levels[col] = tuple(sorted(values.unique()))
        if len(levels[col]) < 2:
            raise DataError(f"{where}: static driver {col!r} has one level ({levels[col][0]!r}) for every customer; "
                            "its effect cannot be told apart from the baseline: drop it from static")
        codes = pd.Series(pd.Categorical(values, categories=levels[col]).codes, index=values.index)
        row_codes = codes.reindex(table["customer_id"]).to_numpy()  # NaN: a customer without transactions (unused)
        for j, lev in enumerate(levels[col][1:], start=1):
            table[f"{col}[{lev}]"] = (row_codes == j).astype(np.float64)
    columns = [f"{col}[{lev}]" for col in static for lev in levels[col][1:]] + list(time_varying)
    model = TimeVaryingParetoNBD(penalizer=penalizer).fit(tx, table, observation_end=end,
                                                          purchase_covariates=columns, dropout_covariates=columns)
    ids = model.p_alive().index
    spend_series, basis = _spend(where, tx, end, spend, ids)
    return DefectionFit(model=model, transactions=tx, covariates=table, observation_end=end, static=static,
                        time_varying=time_varying, levels=levels, spend=spend_series, spend_basis=basis,
                        currency=str(getattr(dataset, "currency", "the data's currency")))


def _spend(where, tx, end, spend, ids):
    if spend is not None and not hasattr(spend, "expected_spend"):
        value = check_number(where, "spend", spend, low=0, unit="the data's currency per purchase")
        return pd.Series(value, index=ids, name="spend"), f"a constant {value:g} per purchase (given)"
    summary = rfm_summary(tx, observation_end=end, time_unit="days")
    if spend is not None:  # a fitted spend model: its expected spend of these customers
        model, fallback = spend, None
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result = fit_spend(summary)
        for w in caught:  # said again, once, from here
            warnings.warn(f"{where}: {w.message}", UserWarning, stacklevel=3)
        model, fallback = result.model, (result.fallbacks[0].detail if result.fallbacks else None)
    if model is None:
        raise DataError(f"{where}: no spend model ({fallback}); pass spend= a number per purchase")
    summary = summary.reindex(ids)
    if isinstance(model, float):
        return pd.Series(model, index=ids, name="spend"), f"a constant {model:g} per purchase ({fallback})"
    value = pd.Series(np.asarray(model.expected_spend(summary["frequency"], summary["monetary_value"]), dtype=float),
                      index=ids, name="spend")
    if not np.isfinite(value).all():
        raise DataError(f"{where}: the Gamma-Gamma spend model has q = {model.params_['q']:.3g} <= 1 (an infinite "
                        "population mean spend): the expected spend of customers without a repeat purchase is "
                        "undefined; pass spend= a number per purchase (e.g. the median amount)")
    return value, "Gamma-Gamma expected spend per purchase (Fader, Hardie & Lee 2005)"


class FuturePaths:
    """Future covariate paths of every fitted customer over a horizon, and the CLV under each.

    The **status quo** (the path the CLV "as is" assumes): static drivers keep
    their level; a time-varying driver keeps its value in the week containing
    ``observation_end`` for ``carry_weeks`` weeks (that week included), then
    takes the customer's mean over their earlier weeks (over the weeks before
    the episode in progress when its value is not 0; the mean over all
    customer-weeks for a customer with no earlier week). ``carry_weeks``
    defaults, per driver, to the mean length of the completed episodes (runs
    of one non-zero value that ended before the customer's last week) in the
    long table, rounded, at least 1: for a memoryless (geometric) episode this
    is also the expected remaining duration. Two approximations, stated: the
    later weeks get the mean value, so the multiplier is ``m^p`` rather than
    the mean ``1 - p + p m`` of a 0/1 driver that is on in a share ``p`` of
    the weeks; and episodes still open at the end are left out of the mean
    length (it is slightly short for long episodes).

    ``carry_weeks`` and ``means`` (driver -> the mean over all customer-weeks)
    can be given: paths for a few customers (the service's customers given by
    history, a fit made with :meth:`TimeVaryingParetoNBD.with_data`) then
    follow the assumptions of the data set's fit, not of their own few weeks.

    What-ifs (:meth:`clv`): ``remove={"contract[none]": "horizon"}`` sets that
    level to the reference level for the whole horizon, ``{"open_complaint":
    "horizon"}`` the driver to 0 for the whole horizon; ``"episode"`` (for a
    time-varying driver) only ends the episode in progress now (a complaint
    resolved today; later weeks keep the status quo's mean).
    """

    def __init__(self, fit: DefectionFit, horizon: int = 12, carry_weeks: dict | None = None,
                 means: dict | None = None):
        where = "FuturePaths"
        check_number(where, "horizon", horizon, low=1, high=MAX_HORIZON_MONTHS, integer=True, unit="months")
        self.fit = fit
        self.horizon = int(horizon)
        self.weeks = self.horizon * _WEEKS_PER_MONTH
        cov = fit.covariates
        ids = fit.model.p_alive().index
        self.customers = ids
        origin = cov["period_start"].min()
        self._origin = origin
        kE = (fit.observation_end - origin).days // _WEEK
        k = ((cov["period_start"] - origin).dt.days // _WEEK).to_numpy()
        hist = cov[k <= kE]
        code = ids.get_indexer(hist["customer_id"].astype(str))
        keep = code >= 0
        hist, code = hist[keep], code[keep]
        order = np.lexsort(((hist["period_start"] - origin).dt.days.to_numpy(), code))
        hist, code = hist.iloc[order], code[order]
        n = len(ids)
        counts = np.bincount(code, minlength=n)
        offsets = np.r_[0, np.cumsum(counts)]
        last = offsets[1:] - 1
        self.m = int(np.ceil(self.weeks)) + 2  # periods from the one containing observation_end (extra rows are ignored)
        self.j = np.arange(self.m)
        static = [c for c in fit.columns if c not in fit.time_varying]
        self.current = {c: hist[c].to_numpy(dtype=float)[last] for c in static}  # constant over the horizon
        self.tail, self.carry = {}, {}
        for name, given in (("carry_weeks", carry_weeks), ("means", means)):
            unknown = sorted(set(given or {}) - set(fit.time_varying))
            if unknown:
                raise DataError(f"{where}: {name} names {unknown}, which are not time-varying drivers of the fit "
                                f"({list(fit.time_varying)})")
        for c in fit.time_varying:
            v = hist[c].to_numpy(dtype=float)
            change = np.r_[True, (v[1:] != v[:-1]) | (code[1:] != code[:-1])]
            run = np.cumsum(change) - 1
            run_len = np.bincount(run)
            run_val, run_start = v[change], np.flatnonzero(change)
            open_run = np.zeros(len(run_len), bool)
            open_run[run[last]] = True
            done = ~open_run & (run_val != 0)
            default = max(1, int(np.rint(run_len[done].mean()))) if done.any() else 1
            self.carry[c] = int(check_number(where, f"carry_weeks[{c!r}]", (carry_weeks or {}).get(c, default),
                                             low=0, high=10_000, integer=True, unit="weeks"))
            cur = v[last]
            csum = np.r_[0.0, np.cumsum(v)]
            # earlier weeks: before the episode in progress when it is not 0, else all of them
            stop = np.where(cur != 0, run_start[run[last]], offsets[1:])
            n_before = stop - offsets[:-1]
            mean_before = (csum[stop] - csum[offsets[:-1]]) / np.maximum(n_before, 1)
            self.current[c] = cur
            overall = (means or {}).get(c, float(v.mean()) if len(v) else 0.0)
            self.tail[c] = np.where(n_before > 0, mean_before, float(overall))
        self._dect = {}
        self._ids = np.repeat(ids.to_numpy(dtype=object), self.m)
        self._starts = origin + pd.to_timedelta(_WEEK * np.tile(kE + self.j, n), unit="D")

    @classmethod
    def for_fit(cls, where: str, fit: DefectionFit, horizon: int | None, paths: "FuturePaths | None"):
        """``paths`` checked against ``fit`` and ``horizon`` (months; None: the paths' own), or new paths (12
        months by default); DataError when the given paths belong to another fit or horizon."""
        if paths is None:
            return cls(fit, 12 if horizon is None else horizon)
        if paths.fit is not fit:
            raise DataError(f"{where}: paths= was made for another defection fit; pass FuturePaths(fit, ...) of "
                            "this one")
        if horizon is not None and horizon != paths.horizon:
            raise DataError(f"{where}: horizon={horizon!r} months but the paths given cover {paths.horizon}; pass "
                            "one of them, or paths made with this horizon")
        return paths

    def path(self, column: str) -> np.ndarray:
        """The status-quo values ``(n_customers, m)`` of a driver column (m weeks from the one containing
        observation_end)."""
        c = column
        if c not in self.carry:  # a static level: constant
            return np.repeat(self.current[c][:, None], self.m, axis=1)
        return np.where(self.j[None, :] < self.carry[c], self.current[c][:, None], self.tail[c][:, None])

    def frame(self, remove: dict | None = None) -> pd.DataFrame:
        """The future long table (every customer, ``m`` weeks from the one containing observation_end) with the
        drivers of ``remove`` (driver -> ``"horizon"`` / ``"episode"``) removed; see the class docs."""
        remove = dict(remove or {})
        columns = self.fit.columns
        unknown = [d for d in remove if d not in columns]
        if unknown:
            raise DataError(f"FuturePaths: unknown driver(s) {unknown}; the fit's drivers are {columns}")
        out = {"customer_id": self._ids, "period_start": self._starts}
        for c in columns:
            how = remove.get(c)
            if how == "horizon":  # a level set to the reference, or a number to 0
                out[c] = np.zeros(len(self._ids))
            elif how == "episode" and c in self.carry:
                out[c] = np.where(self.j[None, :] < self.carry[c], 0.0, self.path(c)).reshape(-1)
            elif how is None:
                out[c] = self.path(c).reshape(-1)
            else:
                raise DataError(f"FuturePaths: remove[{c!r}]={how!r}; use 'horizon' (static or time-varying) or "
                                "'episode' (time-varying)")
        return pd.DataFrame(out)

    def clv(self, remove: dict | None = None, *, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN) -> pd.Series:
        """Each customer's CLV (margin, the data's currency) over the horizon on the path with ``remove``: ``margin x
        spend x DECT`` (module docs), index customer_id. DataError for a bad rate or margin. The discounted
        purchases of each path are kept, so asking again (another margin, the same path) costs nothing."""
        check_number("FuturePaths.clv", "discount_rate", discount_rate, low=0, high=1, unit="per month")
        check_number("FuturePaths.clv", "margin", margin, low=0, unit="share of revenue")
        key = (tuple(sorted((remove or {}).items())), float(discount_rate))
        if key not in self._dect:
            delta = np.log1p(discount_rate) / _WEEKS_PER_MONTH  # continuous, per week
            self._dect[key] = self.fit.model.discounted_expected_purchases(self.weeks, delta,
                                                                           covariates=self.frame(remove))
        dect = self._dect[key]
        return (margin * self.fit.spend.reindex(dect.index) * dect).rename("clv")
