"""The prepared customer table: the one table every segmentation, comparison and action starts from.

:func:`prepare_table` turns a data set (or canonical transactions) into the
customer table of :func:`segwork.features.customer_table` and adds the CLV
columns of :func:`segwork.clv.predict_clv` (``p_alive``, ``clv``). The
segmentation notebooks, :func:`segwork.segment.default_segmentations` and
:func:`segwork.compare` take this table; fitting the CLV models happens here,
once, and nowhere downstream.

:func:`save_prepared_table` writes a :class:`Prepared` to a folder (the
table as Parquet, the fitted models as the JSON document of
:mod:`segwork.clv.document`) and :func:`load_prepared_table` reads it back
without refitting: ``segwork report`` prepares the table once per run and
every notebook loads it with :func:`load_or_prepare`, which prepares the
table itself only when it is given no folder (a notebook run on its own).
"""
from __future__ import annotations

import io as _bytes_io
import json
import math
import numbers
import os
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .clv.margin import DEFAULT_MARGIN
from ._atomic import atomic_write_bytes, atomic_write_text, read_json_document
from .clv.document import clv_document, clv_models_from_document
from .clv.predict import DEFAULT_TRANSACTION_MODEL, TRANSACTION_MODELS, ClvFit, fit_clv
from .clv.record import Fallback, FitRecord, ModelStatus
from .errors import ConvergenceError, DataError
from .features import customer_table
from .io import CleaningReport

__all__ = ["prepare_table", "prepare", "Prepared", "save_prepared_table", "load_prepared_table", "load_or_prepare",
           "clv_record_of", "PREPARED_TABLE_FILE", "PREPARED_CLV_FILE", "CLV_RECORD_ATTR"]

#: The key of ``table.attrs`` that holds the CLV step's record (:meth:`segwork.clv.record.FitRecord.to_dict`).
CLV_RECORD_ATTR = "clv_record"

_TABLE_COLUMNS = ("frequency", "recency", "T")
_TRANSACTION_COLUMNS = ("customer_id", "date", "amount")


@dataclass(frozen=True)
class Prepared:
    """The prepared customer table and the CLV fit behind its ``p_alive`` and ``clv`` (see :func:`prepare`).

    ``table``: as :func:`prepare_table` returns it; ``clv``: the
    :class:`segwork.clv.ClvFit` (fitted models and columns), or None when
    the models could not be fitted or the table already had ``clv``;
    ``cleaning_report``: the :class:`segwork.io.CleaningReport` of the
    transactions behind the table (the gate they passed), None for a table given as it is;
    ``notes``: the messages of the warnings (``UserWarning``) the CLV step gave
    (a penalized refit, a spend fallback, why there are no CLV columns), so
    that a page can show what was done to the numbers; ``record``: the
    :class:`segwork.clv.record.FitRecord` of the CLV step (which models were
    fitted, at which limits, which fallbacks were taken, also when there is
    no fit), also in ``table.attrs["clv_record"]`` as its ``to_dict()``;
    :meth:`FitRecord.to_markdown` is the line a page shows.
    """

    table: pd.DataFrame
    clv: ClvFit | None
    cleaning_report: CleaningReport | None = None
    notes: tuple[str, ...] = ()
    record: FitRecord = FitRecord()


def prepare_table(data, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
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
    margin: profit share of revenue (default :data:`~segwork.clv.margin.DEFAULT_MARGIN`, 0.3; 1.0 gives
        expected revenue, labelled so by :func:`~segwork.clv.margin.value_label`).
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

    ``table.attrs["clv_record"]``: what the CLV step did
    (:meth:`segwork.clv.record.FitRecord.to_dict`): each model's status
    (``"fitted"``, ``"at limit"``, ``"penalized"``, ``"failed"``), the
    parameters at a limit, and the fallbacks taken with the columns they change.

    A model at a usable limit of its own (e.g. Gamma-Gamma's p -> infinity
    when every purchase of a customer has the same value) is that limit: its
    columns are kept, with its ``IdentificationWarning`` and status ``"at
    limit"``. When a model does not converge, it is refitted with a small
    penalizer and a ``UserWarning`` says so (see
    :func:`segwork.clv.fit_transaction_model`, :func:`segwork.clv.fit_spend`).
    When the spend model still cannot be fitted, one expected spend per
    purchase stands in (fallback ``"constant spend"``): a failed spend model
    never removes ``p_alive``. When the transaction model cannot be fitted at
    all (e.g. no repeat buyers, no convergence even penalized) both columns
    are left out and a ``UserWarning`` says why (fallback ``"no p_alive"``);
    everything downstream then works on revenue and says so.

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


def prepare(data, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
            transaction_model: str = DEFAULT_TRANSACTION_MODEL, _stacklevel: int = 2,
            _where: str = "prepare") -> Prepared:
    """:func:`prepare_table`, keeping the CLV fit: a :class:`Prepared` (``table``, ``clv``).

    The parameters, the table and the errors are those of
    :func:`prepare_table`. ``clv`` is the :class:`segwork.clv.ClvFit` whose
    columns the table carries, so that the relationship typer and
    ``segwork models build`` reuse the fitted models instead of fitting them
    again.
    """
    _check_settings(horizon, discount_rate, margin, _where)
    if transaction_model not in TRANSACTION_MODELS:
        raise DataError(f"{_where}: transaction_model={transaction_model!r} is not known; use one of "
                         f"{', '.join(repr(k) for k in TRANSACTION_MODELS)}")
    if isinstance(data, pd.DataFrame):
        if all(c in data.columns for c in _TABLE_COLUMNS):
            table = data
            if "clv" in table.columns:
                return Prepared(table, None, record=clv_record_of(table))
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
                               cleaned=getattr(data, "cleaning_report", None))
    else:
        raise TypeError(f"{_where}: give a Dataset (e.g. segwork.datasets.make_crm()), canonical transactions "
                        f"or a customer table, got {type(data).__name__}")
    # the report is a field of the result, not an attribute of the table (attrs are written into Parquet as JSON)
    report = table.attrs.get("cleaning_report")
    if report is not None:
        table = table.copy(deep=False)
        table.attrs = {k: v for k, v in table.attrs.items() if k != "cleaning_report"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = fit_clv(table, horizon=horizon, discount_rate=discount_rate, margin=margin,
                          transaction_model=transaction_model)
        except (DataError, ConvergenceError) as exc:
            fit = None
            warnings.warn(f"{_where}: no CLV columns ({exc})", UserWarning)
            failure = exc
    notes = _notes(caught, _stacklevel + 1)
    if fit is None:
        record = _failed_record(transaction_model, failure)
        return Prepared(_with_record(table, record), None, cleaning_report=report, notes=notes, record=record)
    return Prepared(_with_record(_with_values(table, fit.values), fit.record), fit, cleaning_report=report,
                    notes=notes, record=fit.record)


def _failed_record(transaction_model: str, exc: Exception) -> FitRecord:
    """The record of a CLV step whose transaction model could not be fitted: no p_alive, no clv."""
    _cls, label = TRANSACTION_MODELS[transaction_model]
    why = str(exc).split(";")[0]
    return FitRecord((ModelStatus("transaction", transaction_model, label, "failed", message=why),),
                     (Fallback("no p_alive", f"the {label} transaction model could not be fitted ({why}), so the "
                               "table has neither p_alive nor clv; value tiers and the other steps use revenue",
                               ("p_alive", "clv")),))


def _with_record(table: pd.DataFrame, record: FitRecord) -> pd.DataFrame:
    out = table.copy(deep=False)
    out.attrs = {**table.attrs, CLV_RECORD_ATTR: record.to_dict()}
    return out


def clv_record_of(table: pd.DataFrame) -> FitRecord:
    """The CLV step's record a prepared table carries in ``attrs["clv_record"]`` (an empty record without one)."""
    try:
        return FitRecord.from_dict(table.attrs.get(CLV_RECORD_ATTR))
    except (KeyError, TypeError, ValueError, AttributeError):
        return FitRecord()


def _notes(caught, stacklevel: int) -> tuple[str, ...]:
    """Say the recorded warnings again (to the caller, under its filters); the UserWarnings' messages, once each."""
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=stacklevel)
    return tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))


def _with_values(table: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    out = table.drop(columns=[c for c in values.columns if c in table.columns]).join(values)
    out.attrs.update(values.attrs)
    return out


# --------------------------------------------------------------------------- saved once, loaded by every notebook

#: The files of a prepared-table folder (:func:`save_prepared_table`).
PREPARED_TABLE_FILE = "table.parquet"
PREPARED_CLV_FILE = "clv.json"
_FORMAT = "segwork-prepared-table"
_VERSION = 1


def _settings_key(horizon, discount_rate, margin, transaction_model) -> dict:
    return {"horizon": int(horizon), "discount_rate": float(discount_rate), "margin": float(margin),
            "transaction_model": str(transaction_model)}


def save_prepared_table(prepared: Prepared, folder: str | Path, *, data=None, settings: dict | None = None) -> Path:
    """Write a :class:`Prepared` to ``folder``, as a whole or not at all, for :func:`load_prepared_table`.

    ``folder`` gets ``table.parquet`` (the table, index ``customer_id``) and
    ``clv.json``: the fitted models (:func:`segwork.clv.clv_document`, or
    ``null`` when the table has no CLV columns), the settings of
    :func:`prepare` (``horizon``, ``discount_rate``, ``margin``,
    ``transaction_model``; give ``settings`` when the table has no CLV fit),
    the table's ``attrs``, the ``notes``, the ``record`` (the CLV step's
    :class:`segwork.clv.record.FitRecord`, as its ``to_dict()``) and, when ``data`` (the Dataset the
    table was prepared from) is given, its ``name`` and ``observation_end``
    (:func:`load_or_prepare` checks them against the data it is given).
    The files are written into a temporary folder beside ``folder``, which is
    then renamed: a reader sees the complete folder or none.

    Raises
    ------
    DataError: ``folder`` exists and is not empty; the table's ``attrs``
        are not JSON-able; the models cannot be saved (see
        :func:`segwork.clv.clv_document`).
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise DataError(f"{folder}: already holds files; save a prepared table into a new folder")
    fit = prepared.clv
    if fit is not None:
        settings = _settings_key(fit.horizon, fit.discount_rate, fit.margin, fit.transaction_model_key)
    elif settings is None:
        settings = _settings_key(12, 0.01, DEFAULT_MARGIN, DEFAULT_TRANSACTION_MODEL)
    else:
        settings = _settings_key(**settings)
    doc = {"format": _FORMAT, "version": _VERSION, "settings": settings,
           "models": None if fit is None else clv_document(fit), "attrs": dict(prepared.table.attrs),
           "notes": list(prepared.notes), "record": prepared.record.to_dict(), "source": _source_of(data)}
    try:
        text = json.dumps(doc, indent=2) + "\n"
    except TypeError as exc:
        raise DataError(f"save_prepared_table: the table's attrs are not JSON-able ({exc})") from None
    buffer = _bytes_io.BytesIO()
    prepared.table.to_parquet(buffer)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()  # the usual permissions of a new folder (a temporary folder would be owner-only)
    try:
        atomic_write_bytes(tmp / PREPARED_TABLE_FILE, buffer.getvalue())
        atomic_write_text(tmp / PREPARED_CLV_FILE, text)
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _read_document(folder: Path) -> dict:
    return read_json_document(folder / PREPARED_CLV_FILE, format=_FORMAT, version=_VERSION, folder="prepared-table",
                              what="prepared table", fix="write one with segwork.prepare.save_prepared_table")


def load_prepared_table(folder: str | Path, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
                        transaction_model: str = DEFAULT_TRANSACTION_MODEL) -> Prepared:
    """The :class:`Prepared` saved by :func:`save_prepared_table`, with the CLV settings asked for; never refits.

    With the saved settings the table is returned as it was saved (equal to
    what :func:`prepare` gave, values and dtypes). With another ``horizon``,
    ``discount_rate`` or ``margin``, ``clv`` is computed again from the saved
    fitted models (:meth:`segwork.clv.ClvFit.with_settings`): P(alive) and
    the models do not depend on these settings, so the table equals that of
    :func:`prepare` with them. The saved ``notes`` are said again as
    ``UserWarning`` messages (a fallback stays visible) and returned in ``notes``.

    Raises
    ------
    DataError: ``folder`` is not a prepared-table folder or a file is
        unreadable; ``transaction_model`` differs from the saved one (that
        would need another fit: prepare the table with it instead); bad
        settings (as :func:`prepare`).
    """
    _check_settings(horizon, discount_rate, margin, "load_prepared_table")
    folder = Path(folder)
    doc = _read_document(folder)
    try:
        table = pd.read_parquet(folder / PREPARED_TABLE_FILE)
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder / PREPARED_TABLE_FILE}: the prepared table cannot be read ({exc}); prepare it "
                        "again") from None
    table.attrs.clear()
    table.attrs.update(doc.get("attrs") or {})
    saved = doc["settings"]
    if str(transaction_model) != saved["transaction_model"]:
        raise DataError(f"{folder}: its CLV columns come from transaction_model={saved['transaction_model']!r}, not "
                        f"{transaction_model!r}; prepare the table with segwork.prepare.prepare(..., "
                        f"transaction_model={transaction_model!r}) instead")
    notes = list(doc.get("notes") or [])
    try:
        record = FitRecord.from_dict(doc.get("record"))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{folder / PREPARED_CLV_FILE}: its record of the CLV step is unreadable ({exc}); prepare "
                        "the table again") from None
    fit = None
    if doc.get("models") is not None:
        models = clv_models_from_document(doc["models"], where=str(folder / PREPARED_CLV_FILE))
        fit = ClvFit(table[[c for c in ("p_alive", "clv") if c in table.columns]].copy(), models.transaction_model,
                     models.spend_model, models.transaction_model_key, models.horizon, models.discount_rate,
                     models.margin, record=record if models.record is None else models.record)
        fit.values.attrs.update({k: table.attrs[k] for k in ("transaction_model", "p_alive_model")
                                 if k in table.attrs})
        if _settings_key(horizon, discount_rate, margin, transaction_model) != saved:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = fit.with_settings(table, horizon=horizon, discount_rate=discount_rate, margin=margin)
            notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
            table = _with_record(_with_values(table, fit.values), fit.record)
            record = fit.record
    notes = tuple(dict.fromkeys(notes))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Prepared(table, fit, notes=notes, record=record)


def load_or_prepare(data, prepared_table: str | Path | None = None, *, horizon: int = 12,
                    discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
                    transaction_model: str = DEFAULT_TRANSACTION_MODEL) -> Prepared:
    """The prepared table of ``data``: loaded from ``prepared_table`` when given, else prepared here.

    What a notebook calls. ``segwork report`` prepares the table once per run
    and passes its folder as the notebooks' ``prepared_table`` parameter, so
    the CLV models are fitted once per run; run on its own (the parameter
    left ``None`` or ``""``), the notebook prepares the same table itself,
    with the same numbers.

    Parameters
    ----------
    data: what :func:`prepare` takes (a Dataset, transactions or a customer table).
    prepared_table: a folder written by :func:`save_prepared_table`, or None / "".
    horizon, discount_rate, margin, transaction_model: as for :func:`prepare_table`.

    Returns
    -------
    :class:`Prepared`, equal to ``prepare(data, ...)``.

    Raises
    ------
    DataError: as :func:`load_prepared_table` and :func:`prepare`; the folder
        was saved from another data set than ``data`` (its name or
        observation end differ).
    """
    if prepared_table is None or not str(prepared_table).strip():
        return prepare(data, horizon=horizon, discount_rate=discount_rate, margin=margin,
                       transaction_model=transaction_model, _stacklevel=3, _where="load_or_prepare")
    folder = Path(prepared_table)
    source = _read_document(folder).get("source") or {}
    mine = _source_of(data)
    differs = [k for k in mine if k in source and source[k] != mine[k]]
    if differs:
        raise DataError(f"{folder}: this prepared table was saved from another data set "
                        f"({', '.join(f'{k} {source[k]!r}, not {mine[k]!r}' for k in differs)}); give the folder "
                        "prepared from this data set, or None to prepare it here")
    return load_prepared_table(folder, horizon=horizon, discount_rate=discount_rate, margin=margin,
                               transaction_model=transaction_model)


def _source_of(data) -> dict:
    """What identifies a data set in a prepared-table folder: its ``name`` and ``observation_end``."""
    out = {}
    if hasattr(data, "transactions"):
        out["name"] = str(getattr(data, "name", ""))
        end = getattr(data, "observation_end", None)
        if end is not None:
            out["observation_end"] = str(pd.Timestamp(end))
    return out


def _check_settings(horizon, discount_rate, margin, where: str) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise DataError(f"{where}: horizon must be a whole number of months >= 1, got {horizon!r}")
    if not isinstance(discount_rate, numbers.Real) or not math.isfinite(discount_rate) or discount_rate <= -1:
        raise DataError(f"{where}: discount_rate must be a finite rate per month > -1, got {discount_rate!r}")
    if not isinstance(margin, numbers.Real) or not math.isfinite(margin):
        raise DataError(f"{where}: margin must be a finite profit share of revenue, got {margin!r}")
