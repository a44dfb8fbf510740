"""The defection part of the model folder: what ExplainDefection answers from, written and read with the folder.

:func:`segwork.models.store.build_models` calls :func:`write_defection` with
the :class:`segwork.act.explain.DefectionExplanation` of the data set
(:func:`segwork.act.explain.explain_defection`, on the same prepared table
and relationship segmentation the folder serves), and
:func:`segwork.models.store.load_models` calls :func:`read_defection`. The
folder ``defection/`` holds

=====================  ==========================================================================  =======
file                   content                                                                     format
=====================  ==========================================================================  =======
``model.json``         whether reasons can be given and why (``available``, ``note``); with        JSON
                       drivers: the time-varying Pareto/NBD's ``params`` (r, alpha, s, beta,
                       weeks) and coefficients with standard errors, the drivers (static columns
                       with their levels, reference first; time-varying columns), the weekly grid
                       (origin, 7 days), the status-quo path (``carry_weeks``, the mean of each
                       time-varying driver over the customer-weeks), the observation end; the
                       CLV settings, ``alpha``, the test, the retention actions with their costs
``model.pkl``          with drivers: the fitted :class:`segwork.clv.TimeVaryingParetoNBD` as       pickle
                       ``with_data`` of one customer (its parameters, covariance and covariate
                       encoding, without the data set), for customers given by history
``customers.parquet``  one row per known customer: the columns of                                  Parquet
                       ``DefectionExplanation.customers`` and, with drivers, each driver's current
                       value (``current:<column>``: a static driver's level, a time-varying
                       driver's value in the week containing the observation end)
``reasons.parquet``    every reason of every known customer (``DefectionExplanation.reasons``)    Parquet
=====================  ==========================================================================  =======

All three are listed with their SHA-256 in the folder's manifest (as every
file), and the manifest's ``defection`` entry repeats ``available``, ``note``
and the driver columns. Data without drivers (CDNOW, a plain file) writes the
same files with ``available: false``: the customers' P(alive), relationship
type and value at risk from the folder's CLV models, no reasons.
"""
from __future__ import annotations

import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["StoredDefection", "write_defection", "read_defection", "DEFECTION_FOLDER", "defection_document"]

#: The folder of the model folder that holds the defection part.
DEFECTION_FOLDER = "defection"
_MODEL, _PICKLE, _CUSTOMERS, _REASONS = "model.json", "model.pkl", "customers.parquet", "reasons.parquet"
_FORMAT, _VERSION = "segwork-defection", 1


@dataclass
class StoredDefection:
    """The defection part of a loaded model folder.

    ``available``: reasons can be given (the data had drivers); ``note``: what
    the numbers rest on; ``document``: ``model.json`` as a dict (see the module
    docs); ``customers`` (index customer_id) and ``reasons`` (long): the known
    customers' answers, as :func:`segwork.act.explain.explain_defection` made
    them when the folder was built; ``model``: the fitted time-varying
    Pareto/NBD on one customer's data (call its ``with_data`` for others;
    None without drivers); ``settings``: the document's settings.
    """

    available: bool
    note: str
    document: dict
    customers: pd.DataFrame
    reasons: pd.DataFrame
    model: object = None
    settings: dict = field(default_factory=dict)


def _plain(value):
    """A JSON-able value (numpy numbers and arrays, Timestamps, tuples) and no NaN (written null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    return value if value is None or isinstance(value, str) else str(value)


def defection_document(explanation) -> dict:
    """The JSON-able ``model.json`` of a :class:`segwork.act.explain.DefectionExplanation` (module docs)."""
    doc = {"format": _FORMAT, "version": _VERSION, "available": bool(explanation.available),
           "note": explanation.note, "settings": _plain(explanation.settings)}
    fit, paths = explanation.fit, explanation.paths
    if fit is None:
        return doc
    model = fit.model
    summary = model.summary()
    covariates = fit.covariates
    origin = pd.Timestamp(covariates["period_start"].min())
    week_of_end = (fit.observation_end - origin).days // 7
    fitted = covariates["customer_id"].astype(str).isin(paths.customers.astype(str))
    up_to_end = covariates[fitted & (((covariates["period_start"] - origin).dt.days // 7) <= week_of_end)]
    doc.update({
        "model": "time-varying Pareto/NBD (Bachmann, Meierer & Naef 2021), every driver on both processes",
        "time_unit": "weeks", "params": _plain(model.params_),
        "coefficients": {name: {"coef": _plain(row["coef"]), "se": _plain(row["se"])}
                         for name, row in summary.iterrows()},
        "n_nodes": int(model.n_nodes_), "log_likelihood": float(model.log_likelihood_),
        "n_customers": int(model.n_customers_),
        "static": {col: list(fit.levels[col]) for col in fit.static},
        "time_varying": list(fit.time_varying),
        "grid": {"origin": origin.date().isoformat(), "period_days": 7},
        "observation_end": fit.observation_end.date().isoformat(),
        "carry_weeks": _plain(paths.carry),
        "mean_over_customer_weeks": {c: float(up_to_end[c].astype(float).mean()) for c in fit.time_varying},
        "driver_ranges": {c: [float(covariates[c].min()), float(covariates[c].max())] for c in fit.time_varying},
        "spend_basis": fit.spend_basis, "currency": fit.currency,
    })
    return doc


def _current_values(explanation) -> pd.DataFrame:
    """``current:<column>`` per fitted customer: a static driver's level, a time-varying driver's value in the week
    containing the observation end (what :class:`segwork.act.defection.FuturePaths` starts the future from)."""
    fit, paths = explanation.fit, explanation.paths
    out = pd.DataFrame(index=pd.Index(paths.customers.astype(str), name="customer_id"))
    for col in fit.static:
        levels = list(fit.levels[col])
        code = np.zeros(len(out), dtype=int)  # the reference level where no level column is 1
        for j, lev in enumerate(levels[1:], start=1):
            code[np.asarray(paths.current[f"{col}[{lev}]"]) == 1] = j
        out[f"current:{col}"] = np.asarray(levels, dtype=object)[code]
    for col in fit.time_varying:
        out[f"current:{col}"] = np.asarray(paths.current[col], dtype=float)
    return out


def write_defection(folder: Path, explanation) -> dict:
    """Write ``defection/`` into ``folder`` (the build's temporary folder); returns the manifest entry
    (``available``, ``note``, ``drivers``)."""
    out = Path(folder) / DEFECTION_FOLDER
    out.mkdir()
    doc = defection_document(explanation)
    (out / _MODEL).write_text(json.dumps(doc, indent=2))
    fit = explanation.fit
    if fit is not None:  # the model without the data set: with_data of its first customer
        first = str(explanation.paths.customers[0])
        one = fit.model.with_data(fit.transactions[fit.transactions["customer_id"].astype(str) == first],
                                  fit.covariates[fit.covariates["customer_id"].astype(str) == first],
                                  observation_end=fit.observation_end)
        (out / _PICKLE).write_bytes(pickle.dumps(one, protocol=pickle.HIGHEST_PROTOCOL))
    customers = explanation.customers.copy()
    if explanation.fit is not None:
        customers = customers.join(_current_values(explanation))
    customers.index = customers.index.astype(str)
    customers.to_parquet(out / _CUSTOMERS)
    explanation.reasons.to_parquet(out / _REASONS, index=False)
    drivers = [*doc.get("static", {}), *doc.get("time_varying", [])]
    return {"available": doc["available"], "note": doc["note"], "drivers": drivers}


def read_defection(folder: Path, manifest: dict) -> StoredDefection | None:
    """The defection part of a verified model folder (its files' SHA-256 were checked by
    :func:`segwork.models.store.load_models`); None for a folder built before it was kept (no ``defection``
    entry in the manifest). DataError naming the file and the fix when ``model.json`` is of another kind."""
    entry = manifest.get("defection")
    if not entry:
        return None
    base = Path(folder) / DEFECTION_FOLDER
    path = base / _MODEL
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        raise DataError(f"{folder}: {DEFECTION_FOLDER}/{_MODEL} is unreadable; rebuild the folder with "
                        "'segwork models build'") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != _VERSION:
        raise DataError(f"{folder}: {DEFECTION_FOLDER}/{_MODEL} is not a segwork defection document of version "
                        f"{_VERSION}; rebuild the folder with 'segwork models build'")
    customers = pd.read_parquet(base / _CUSTOMERS)
    reasons = pd.read_parquet(base / _REASONS)
    model = None
    if doc["available"]:
        if f"{DEFECTION_FOLDER}/{_PICKLE}" not in manifest.get("files", {}) or not (base / _PICKLE).is_file():
            raise DataError(f"{folder}: incomplete model folder, {DEFECTION_FOLDER}/{_PICKLE} is missing; rebuild it "
                            "with 'segwork models build'")
        model = pickle.loads((base / _PICKLE).read_bytes())  # its SHA-256 was checked against the manifest
    return StoredDefection(available=bool(doc["available"]), note=str(doc["note"]), document=doc,
                           customers=customers, reasons=reasons, model=model,
                           settings=dict(doc.get("settings") or {}))
