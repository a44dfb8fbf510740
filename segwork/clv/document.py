"""The fitted CLV models as a small JSON document: save them without pickle, load them without refitting.

A :class:`~segwork.clv.ClvFit` is two fitted models and three settings. The
document holds exactly that, as plain numbers::

    {"format": "segwork-clv-models", "version": 1, "time_unit": "weeks",
     "transaction_model": {"key": "mbgnbd", "class": "ModifiedBetaGeo", "label": "MBG/NBD",
                           "penalizer": 0.0, "params": {"r": ..., "alpha": ..., "a": ..., "b": ...},
                           "T_range": [shortest T, longest T]},
     "spend_model": {"class": "GammaGamma", "params": {"p": ..., "q": ..., "v": ...}}   (or {"constant": 12.5}),
     "horizon": 12, "discount_rate": 0.01, "margin": 1.0,
     "record": {"models": [...], "fallbacks": [...], "lines": [...]}}

``spend_model`` is ``null`` when there is no spend model (no ``clv``).
``record`` is the :class:`~segwork.clv.record.FitRecord` of the fit (which
models were fitted, at which limits, which fallbacks were taken); documents
without it (written before it existed) read the record from the models (:func:`segwork.clv.apply_clv_models`).

JSON keeps every float exactly (Python writes the shortest text that reads
back as the same double), so models rebuilt from the document predict the
same numbers as the fitted ones. The prepared-table folder of
:func:`segwork.prepare.save_prepared_table` and the saved-model folder of
``segwork models build`` (its ``clv.json``, the same keys) use this document.
Models fitted with covariates are not covered (the prepared table's are not).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .margin import DEFAULT_MARGIN
from ..errors import DataError
from .gamma_gamma import GammaGamma
from .predict import TRANSACTION_MODELS, ClvFit, apply_clv_models
from .record import FitRecord

__all__ = ["CLV_DOCUMENT_FORMAT", "ClvModels", "clv_document", "clv_models_from_document", "clv_fit_from_document"]

#: What a document says it is; documents without it (older model folders) are read too.
CLV_DOCUMENT_FORMAT = "segwork-clv-models"
_VERSION = 1


@dataclass(frozen=True)
class ClvModels:
    """Fitted CLV models and the settings their CLV is computed with (a :class:`ClvFit` without its columns).

    ``transaction_model``: fitted transaction model (time in weeks);
    ``spend_model``: fitted :class:`GammaGamma` or a number (spend per
    purchase, the data's currency); ``transaction_model_key``: key of
    :data:`segwork.clv.TRANSACTION_MODELS`; ``horizon`` (months),
    ``discount_rate`` (per month), ``margin`` (profit share of revenue);
    ``record``: the :class:`~segwork.clv.record.FitRecord` of their fit (None:
    read from the models, as :func:`segwork.clv.apply_clv_models` does).
    """

    transaction_model: object
    spend_model: object
    transaction_model_key: str
    horizon: int = 12
    discount_rate: float = 0.01
    margin: float = DEFAULT_MARGIN
    record: FitRecord | None = None

    def apply(self, table: pd.DataFrame) -> ClvFit:
        """The :class:`ClvFit` of these models on ``table`` (see :func:`segwork.clv.apply_clv_models`)."""
        return apply_clv_models(table, self.transaction_model, self.spend_model,
                                transaction_model_key=self.transaction_model_key, horizon=self.horizon,
                                discount_rate=self.discount_rate, margin=self.margin, record=self.record)


def _finite(value, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} is {number!r}")
    return number


def clv_document(fit: ClvFit | ClvModels) -> dict:
    """The JSON-able document of a :class:`ClvFit` (or :class:`ClvModels`): model parameters and settings.

    The layout is in the module docs; :func:`clv_models_from_document` reads
    it back. Raises DataError for a model that is not a fitted transaction
    model of :data:`segwork.clv.TRANSACTION_MODELS` (e.g. one with
    covariates) or non-finite parameters.
    """
    key = fit.transaction_model_key
    model, spend = fit.transaction_model, fit.spend_model
    if key not in TRANSACTION_MODELS or type(model) is not TRANSACTION_MODELS[key][0]:
        raise DataError(f"clv_document: the transaction model {type(model).__name__} does not match the key {key!r} "
                        f"of segwork.clv.TRANSACTION_MODELS")
    if getattr(model, "covariates_", None) is not None or getattr(spend, "covariates_", None) is not None:
        raise DataError("clv_document: models fitted with covariates cannot be saved as a CLV document; save the "
                        "models fitted without covariates")
    cls, label = TRANSACTION_MODELS[key]
    try:
        transaction = {"key": key, "class": cls.__name__, "label": label,
                       "penalizer": float(getattr(model, "penalizer", 0.0) or 0.0),
                       "params": {k: _finite(v, f"parameter {k}") for k, v in model.params_.items()}}
        if getattr(model, "T_range_", None) is not None:
            transaction["T_range"] = [float(t) for t in model.T_range_]
        if spend is None:
            spend_doc = None
        elif isinstance(spend, GammaGamma):
            spend_doc = {"class": "GammaGamma", "params": {k: _finite(v, f"parameter {k}")
                                                           for k, v in spend.params_.items()}}
        else:
            spend_doc = {"constant": _finite(spend, "the constant spend")}
    except (AttributeError, TypeError, ValueError) as exc:
        raise DataError(f"clv_document: the models are not fitted or not finite ({exc}); fit them with "
                        "segwork.clv.fit_clv") from None
    return {"format": CLV_DOCUMENT_FORMAT, "version": _VERSION, "time_unit": "weeks",
            "transaction_model": transaction, "spend_model": spend_doc,
            "horizon": int(fit.horizon), "discount_rate": float(fit.discount_rate), "margin": float(fit.margin),
            "record": (fit.record or FitRecord()).to_dict()}


def clv_models_from_document(doc: dict, *, where: str = "clv_models_from_document",
                             fix: str = "save the models again") -> ClvModels:
    """The fitted models and settings of a document written by :func:`clv_document`, without refitting.

    The rebuilt models have the saved ``params_`` (and ``T_range_``) and
    predict as the fitted ones did; they have no standard errors (refit for
    :meth:`~segwork.clv.BaseModel.summary`). ``where`` names the file in the
    error message and ``fix`` says what to do.

    Raises
    ------
    DataError: a document of another format or version, an unknown model, or
        missing or non-finite parameters or settings; the message names
        ``where`` and says to save the models again.
    """
    try:
        if doc.get("format", CLV_DOCUMENT_FORMAT) != CLV_DOCUMENT_FORMAT or doc.get("version", _VERSION) != _VERSION:
            raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r}, "
                             f"not {CLV_DOCUMENT_FORMAT!r} version {_VERSION}")
        tm = doc["transaction_model"]
        cls, _label = TRANSACTION_MODELS[tm["key"]]
        model = cls(penalizer=float(tm["penalizer"]))
        model.params_ = {k: _finite(tm["params"][k], f"parameter {k}") for k in cls._param_names}
        if set(tm["params"]) != set(cls._param_names):
            raise KeyError(f"parameters {sorted(tm['params'])}")
        if tm.get("T_range") is not None:
            model.T_range_ = tuple(float(t) for t in tm["T_range"])
        sm = doc["spend_model"]
        if sm is None:
            spend = None
        elif "constant" in sm:
            spend = _finite(sm["constant"], "the constant spend")
        else:
            spend = GammaGamma()
            spend.params_ = {k: _finite(sm["params"][k], f"parameter {k}") for k in GammaGamma._param_names}
        horizon = doc["horizon"]
        if isinstance(horizon, bool) or not isinstance(horizon, int):
            raise ValueError(f"horizon {horizon!r}")
        return ClvModels(model, spend, tm["key"], horizon=horizon,
                         discount_rate=_finite(doc["discount_rate"], "discount_rate"),
                         margin=_finite(doc["margin"], "margin"),
                         record=FitRecord.from_dict(doc["record"]) if "record" in doc else None)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: the CLV model document is incomplete or of another kind ({exc}); {fix}") from None


def clv_fit_from_document(doc: dict, table: pd.DataFrame, *, where: str = "clv_fit_from_document") -> ClvFit:
    """The :class:`ClvFit` of the saved models on ``table`` (``p_alive`` and ``clv`` predicted, nothing refitted).

    ``table``: the customer table the models were fitted on (or another one
    in the same units: ``frequency``, ``recency``, ``T`` in days,
    ``monetary_value``). On the fitting table the values equal those of
    the original :func:`segwork.clv.fit_clv` exactly. Raises DataError as
    :func:`clv_models_from_document` and :func:`segwork.clv.apply_clv_models` do.
    """
    return clv_models_from_document(doc, where=where).apply(table)
