"""The prepared customer table: the one table every segmentation, comparison and action starts from.

:func:`prepare_table` turns a data set (or canonical transactions) into the
customer table of :func:`segwork.features.customer_table` and adds the CLV
columns of :func:`segwork.clv.predict_clv` (``p_alive``, ``clv``). The
segmentation notebooks, :func:`segwork.segment.default_segmentations` and
:func:`segwork.compare` take this table; fitting the CLV models happens here,
once, and nowhere downstream.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import pandas as pd

from .clv.predict import DEFAULT_TRANSACTION_MODEL, TRANSACTION_MODELS, ClvFit, fit_clv
from .errors import ConvergenceError, DataError
from .features import customer_table
from .io import CleaningReport

__all__ = ["prepare_table", "prepare", "Prepared"]

_TABLE_COLUMNS = ("frequency", "recency", "T")
_TRANSACTION_COLUMNS = ("customer_id", "date", "amount")


@dataclass(frozen=True)
class Prepared:
    """The prepared customer table and the CLV fit behind its ``p_alive`` and ``clv`` (see :func:`prepare`).

    ``table``: as :func:`prepare_table` returns it; ``clv``: the
    :class:`segwork.clv.ClvFit` (fitted models and columns), or None when
    the models could not be fitted or the table already had ``clv``;
    ``cleaning_report``: the :class:`segwork.io.CleaningReport` of the
    transactions behind the table (the gate they passed), None for a table given as it is.
    """

    table: pd.DataFrame
    clv: ClvFit | None
    cleaning_report: CleaningReport | None = None


def prepare_table(data, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = 1.0,
                  transaction_model: str = DEFAULT_TRANSACTION_MODEL) -> pd.DataFrame:
    """The customer table of a data set, with ``p_alive`` and ``clv`` when the CLV models fit.

    ``prepare_table(data, ...)`` is ``prepare(data, ...).table``; use
    :func:`prepare` to keep the fitted CLV models too (and fit them once).

    Parameters
    ----------
    data: one of
        * a :class:`segwork.datasets.Dataset` (``make_crm()``,
          ``load_dataset("cdnow")``, ...): its transactions, profile
          (``customers``) and ``survey``, measured at its ``observation_end``;
        * canonical transactions (a DataFrame with ``customer_id``, ``date``,
          ``amount``, as :func:`segwork.io.read_transactions` returns),
          measured at the last transaction date;
        * a customer table (``frequency``, ``recency``, ``T`` ...): the CLV
          columns are added; a table that already has ``clv`` is returned as
          it is (the same object).
    horizon: months of CLV ahead (whole number >= 1).
    discount_rate: per month (0.01 = 1 % a month).
    margin: profit share of revenue (1.0 = CLV in revenue).
    transaction_model: the model behind ``p_alive`` and the expected
        purchases in ``clv``: ``"mbgnbd"`` (default, MBG/NBD: one-time
        buyers can leave, so their P(alive) falls with the time since their
        purchase), ``"paretonbd"``, ``"ggomnbd"`` (GGom/NBD: dropout that
        can speed up or slow down with age), or ``"bgnbd"`` (BG/NBD: every one-time
        buyer has P(alive) = 1 by the model's construction; averages of it
        over groups with one-time buyers overstate who is alive).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (string), one row per customer with
    a purchase up to the observation end: the columns of
    :func:`segwork.features.customer_table` (``frequency`` in repeat purchase
    days; ``recency``, ``T``, ``days_since_last`` in days; ``revenue``,
    ``monetary_value``, ``mean_amount`` in the data's currency; profile and
    survey columns when the data set has them) plus

    * ``p_alive``: probability that the customer is still active (0..1),
      from ``transaction_model``;
    * ``clv``: discounted expected margin over ``horizon`` months, in the
      data's currency (see :func:`segwork.clv.predict_clv`, also for the
      stated fallback when the spend is so heavy-tailed that Gamma-Gamma has
      ``q <= 1``).

    ``table.attrs`` name the model: ``transaction_model`` (the key) and
    ``p_alive_model`` (e.g. ``"MBG/NBD"``; figures and tables label P(alive)
    with it).

    When the transaction model does not converge, it is refitted with a small
    penalizer and a ``UserWarning`` says so (see
    :func:`segwork.clv.fit_transaction_model`). When the models cannot be
    fitted at all (e.g. no repeat buyers, no convergence even penalized) the
    two columns are left out and a ``UserWarning`` says why; everything
    downstream then works on revenue.

    Raises
    ------
    TypeError: ``data`` is neither a Dataset nor a DataFrame.
    DataError (a ValueError, as before): ``horizon`` not a whole number >= 1,
        ``discount_rate`` not a finite rate > -1, ``margin`` not a finite
        number, or an unknown ``transaction_model`` (the same error class as
        the CLV functions' checks of these numbers); a DataFrame that is neither canonical transactions nor a
        customer table, or invalid transactions (from
        :func:`segwork.features.customer_table`).
    """
    return prepare(data, horizon=horizon, discount_rate=discount_rate, margin=margin,
                   transaction_model=transaction_model, _stacklevel=3, _where="prepare_table").table


def prepare(data, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = 1.0,
            transaction_model: str = DEFAULT_TRANSACTION_MODEL, _stacklevel: int = 2,
            _where: str = "prepare") -> Prepared:
    """:func:`prepare_table`, keeping the CLV fit: a :class:`Prepared` (``table``, ``clv``).

    The parameters, the table and the errors are those of
    :func:`prepare_table`. ``clv`` is the :class:`segwork.clv.ClvFit` whose
    columns the table carries, so that the relationship typer and
    ``segwork models build`` reuse the fitted models instead of fitting them
    again.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise DataError(f"{_where}: horizon must be a whole number of months >= 1, got {horizon!r}")
    if not isinstance(discount_rate, numbers.Real) or not math.isfinite(discount_rate) or discount_rate <= -1:
        raise DataError(f"{_where}: discount_rate must be a finite rate per month > -1, got {discount_rate!r}")
    if not isinstance(margin, numbers.Real) or not math.isfinite(margin):
        raise DataError(f"{_where}: margin must be a finite profit share of revenue, got {margin!r}")
    if transaction_model not in TRANSACTION_MODELS:
        raise DataError(f"{_where}: transaction_model={transaction_model!r} is not known; use one of "
                         f"{', '.join(repr(k) for k in TRANSACTION_MODELS)}")
    if isinstance(data, pd.DataFrame):
        if all(c in data.columns for c in _TABLE_COLUMNS):
            table = data
            if "clv" in table.columns:
                return Prepared(table, None)
        elif all(c in data.columns for c in _TRANSACTION_COLUMNS):
            table = customer_table(data)  # cleaned here, as a file would be
        else:
            raise DataError(
                f"{_where}: the DataFrame is neither canonical transactions (columns "
                f"{', '.join(_TRANSACTION_COLUMNS)}) nor a customer table (columns {', '.join(_TABLE_COLUMNS)}); "
                f"it has {', '.join(map(str, data.columns[:10]))}. Read a file with segwork.io.read_transactions")
    elif hasattr(data, "transactions"):
        # a data set read from a file (or prepared) passed the gate when it was read: its report says so and
        # it is not cleaned again; one built in memory (make_crm) is cleaned here
        table = customer_table(data.transactions, getattr(data, "customers", None), getattr(data, "survey", None),
                               observation_end=getattr(data, "observation_end", None),
                               cleaned=getattr(data, "cleaning_report", None) or False)
    else:
        raise TypeError(f"{_where}: give a Dataset (e.g. segwork.datasets.make_crm()), canonical transactions "
                        f"or a customer table, got {type(data).__name__}")
    # the report is a field of the result, not an attribute of the table (attrs are written into Parquet as JSON)
    report = table.attrs.get("cleaning_report")
    if report is not None:
        table = table.copy(deep=False)
        table.attrs = {k: v for k, v in table.attrs.items() if k != "cleaning_report"}
    try:
        fit = fit_clv(table, horizon=horizon, discount_rate=discount_rate, margin=margin,
                      transaction_model=transaction_model)
    except (DataError, ConvergenceError) as exc:
        warnings.warn(f"{_where}: no CLV columns ({exc})", UserWarning, stacklevel=_stacklevel)
        return Prepared(table, None, report)
    value = fit.values
    out = table.drop(columns=[c for c in value.columns if c in table.columns]).join(value)
    out.attrs.update(value.attrs)
    return Prepared(out, fit, report)
