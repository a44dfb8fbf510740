"""P(alive) and predicted CLV of every customer of a customer table: fit the CLV models, then apply.

:func:`predict_clv` is the one place where segwork fits the CLV models on a
customer table (:func:`segwork.features.customer_table`) and predicts from
them; :func:`segwork.prepare.prepare_table` adds its two columns to the table
every segmentation starts from. :func:`bg_nbd_inputs` converts the table's
days into the weeks the transaction-model fits of segwork work in;
:func:`fit_transaction_model` fits the transaction model (the same one for
``predict_clv`` and the relationship typer).

Which transaction model: the MBG/NBD by default (:data:`TRANSACTION_MODELS`).
The BG/NBD lets customers leave only after a *repeat* purchase, so it gives
every one-time buyer P(alive) = 1 by construction: averaged over a group of
customers, that number reads as "the lapsed one-time buyers are alive" (issue
13, kind 8). In the MBG/NBD (and the Pareto/NBD) one-time buyers can leave
too, so their P(alive) falls with the time since their purchase.

Non-convergence: when the unpenalized fit does not converge (e.g. the MBG/NBD
``a, b -> 0`` on data where some customers seem to leave at once and the rest
never), :func:`fit_transaction_model` refits with the smallest penalizer of
:data:`FALLBACK_PENALIZERS` that converges and says so in one ``UserWarning``
(:func:`fit_or_penalize`, which takes any model and the one penalizer ladder).

Heavy-tailed spend: when Gamma-Gamma finds ``q <= 1`` (infinite population
mean spend), :func:`segwork.clv.customer_lifetime_value` applies its stated
fallback (:data:`segwork.clv.value.SPEND_FALLBACK`) and says so in one
warning; the prepared table's ``clv`` stays finite.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from sklearn.base import clone

import numpy as np
import pandas as pd

from .margin import DEFAULT_MARGIN
from .._checks import require_columns
from ..errors import ConvergenceError, DataError, IdentificationWarning
from ..features.rfm import TIME_UNITS
from .base import PENALIZER_LADDER
from .beta_geo import BetaGeo
from .gamma_gamma import HOMOGENEOUS_SPEND_CV, GammaGamma, spend_spread
from .ggom_nbd import GGomNBD
from .modified_beta_geo import ModifiedBetaGeo
from .record import Fallback, FitRecord, ModelStatus
from .pareto_nbd import ParetoNBD
from .value import SPEND_FALLBACK, customer_lifetime_value

__all__ = ["predict_clv", "fit_clv", "ClvFit", "apply_clv_models", "bg_nbd_inputs", "fit_transaction_model",
           "fit_or_penalize", "PenalizedFit", "fit_spend_model", "fit_spend", "SpendFit", "model_status", "transaction_model_label", "TRANSACTION_MODELS", "DEFAULT_TRANSACTION_MODEL"]

#: The transaction models ``predict_clv``, ``prepare_table`` and the relationship typer can use: key -> (class, name).
TRANSACTION_MODELS = {
    "mbgnbd": (ModifiedBetaGeo, "MBG/NBD"),
    "bgnbd": (BetaGeo, "BG/NBD"),
    "paretonbd": (ParetoNBD, "Pareto/NBD"),
    "ggomnbd": (GGomNBD, "GGom/NBD"),
}
#: The default: a model in which one-time buyers can leave (see the module docs).
DEFAULT_TRANSACTION_MODEL = "mbgnbd"
#: Penalizers :func:`fit_transaction_model` tries, smallest first, when the unpenalized fit does not converge:
#: the first two rungs of the one ladder, :data:`segwork.clv.base.PENALIZER_LADDER` (a heavier penalty would
#: change the model of the prepared table, not only keep its parameters finite).
FALLBACK_PENALIZERS = PENALIZER_LADDER[:2]


def _model_key(transaction_model: str, where: str) -> str:
    key = str(transaction_model).lower().replace("/", "").replace("-", "").replace("_", "")
    if key not in TRANSACTION_MODELS:
        raise DataError(f"{where}: transaction_model={transaction_model!r} is not known; use one of "
                        f"{', '.join(repr(k) for k in TRANSACTION_MODELS)}")
    return key


def transaction_model_label(model) -> str:
    """The name of a fitted transaction model for tables and figures.

    E.g. ``"MBG/NBD"``, or ``"MBG/NBD (penalizer 0.001)"`` for a penalized fit.

    ``model``: a fitted :class:`BetaGeo`, :class:`ModifiedBetaGeo` or
    :class:`ParetoNBD` (the most derived class decides the name).
    """
    name = type(model).__name__
    for cls, label in TRANSACTION_MODELS.values():
        if type(model) is cls:
            name = label
            break
    pen = float(getattr(model, "penalizer", 0.0) or 0.0)
    return f"{name} (penalizer {pen:g})" if pen else name


def fit_transaction_model(table: pd.DataFrame, transaction_model: str = DEFAULT_TRANSACTION_MODEL):
    """Fit the transaction model on a customer table's histories (weeks), refitting with a penalizer if needed.

    Parameters
    ----------
    table: customer table with ``frequency``, ``recency`` and ``T`` (days),
        converted to weeks by :func:`bg_nbd_inputs`.
    transaction_model: a key of :data:`TRANSACTION_MODELS`: ``"mbgnbd"``
        (default; one-time buyers can leave), ``"bgnbd"`` (one-time buyers
        have P(alive) = 1 by construction), ``"paretonbd"`` or ``"ggomnbd"``
        (the GGom/NBD: dropout that can speed up or slow down with age).

    Returns
    -------
    The fitted model (time in weeks). When the unpenalized fit raises
    :class:`~segwork.errors.ConvergenceError`, the first penalizer of
    :data:`FALLBACK_PENALIZERS` whose fit converges is used (``model.penalizer``
    says which) and one ``UserWarning`` names the model, the reason and the
    penalizer.

    Raises
    ------
    DataError: an unknown ``transaction_model``; from the model's ``fit``.
    ConvergenceError: no fit converged, not even penalized (the message of
        the unpenalized fit).
    """
    return fit_transaction(table, transaction_model, _where="fit_transaction_model")[0]


def fit_transaction(table: pd.DataFrame, transaction_model: str = DEFAULT_TRANSACTION_MODEL, *,
                    _where: str = "fit_transaction") -> tuple[object, ModelStatus, tuple[Fallback, ...]]:
    """:func:`fit_transaction_model`, with how the fit ended: ``(model, status, fallbacks)``.

    ``status``: the :class:`ModelStatus` (``"fitted"``, ``"at limit"`` with
    the IdentificationWarning's message, or ``"penalized"``); ``fallbacks``:
    ``("penalized transaction model", ...)`` when a penalizer was needed, else
    empty. Raises as :func:`fit_transaction_model`.
    """
    key = _model_key(transaction_model, _where)
    cls, label = TRANSACTION_MODELS[key]
    x = bg_nbd_inputs(table)
    fit, caught = _recorded(lambda: fit_or_penalize(cls(), x["frequency"], x["recency"], x["T"],
                                                    penalizers=FALLBACK_PENALIZERS))
    status = model_status("transaction", key, label, fit.model, caught, reason=fit.reason)
    if fit.reason is None:
        return fit.model, status, ()
    detail = (f"the unpenalized fit did not converge ({fit.reason}); refitted with penalizer={fit.penalizer:g} (an L2 "
              "penalty on the log parameters), whose P(alive) and expected purchases are used")
    warnings.warn(f"{label}: {detail}", UserWarning, stacklevel=3)
    return fit.model, status, (Fallback("penalized transaction model", detail, ("p_alive", "clv")),)


@dataclass(frozen=True)
class PenalizedFit:
    """A fit that may have needed a penalizer (see :func:`fit_or_penalize`).

    ``model``: the fitted model; ``penalizer``: the penalizer it was fitted
    with (the model's own when its first fit converged); ``reason``: None when
    the first fit converged, else the first sentence of its
    :class:`~segwork.errors.ConvergenceError` (say it wherever the numbers are shown).
    """

    model: object
    penalizer: float
    reason: str | None = None


def fit_or_penalize(model, *args, penalizers=PENALIZER_LADDER, **kwargs) -> PenalizedFit:
    """``model.fit(*args, **kwargs)``; when it does not converge, the fit with the smallest penalizer that converges.

    The penalizers are those of ``penalizers`` above ``model.penalizer``,
    smallest first; by default the one ladder of segwork,
    :data:`segwork.clv.base.PENALIZER_LADDER` (the one a ConvergenceError's
    hint is chosen from). A penalizer adds ``penalizer * sum(log(theta) ** 2)``
    to the mean negative log-likelihood per customer (see
    :mod:`segwork.clv.base`): it keeps the parameters finite and pulls them
    towards 1, so a penalized fit is a (slightly) different model, which
    :attr:`PenalizedFit.reason` lets the caller say.

    ``model``: an unfitted model of :mod:`segwork.clv` (its penalized copies
    are ``sklearn.base.clone`` d); ``args``, ``kwargs``: what its ``fit`` takes
    (e.g. ``frequency, recency, T``).

    Returns
    -------
    :class:`PenalizedFit`.

    Raises
    ------
    ConvergenceError: no penalizer makes it converge (the first fit's error).
    DataError: from ``fit`` (unusable inputs; not retried).
    """
    try:
        return PenalizedFit(model.fit(*args, **kwargs), float(model.penalizer or 0.0))
    except ConvergenceError as first:
        for pen in [p for p in penalizers if p > float(model.penalizer or 0.0)]:
            try:
                fitted = clone(model).set_params(penalizer=pen).fit(*args, **kwargs)
            except ConvergenceError:
                continue
            return PenalizedFit(fitted, float(pen), str(first).split(";")[0])
        raise


#: The spend model's key and name in a :class:`~segwork.clv.record.FitRecord`.
SPEND_MODEL_KEY, SPEND_MODEL_LABEL = "gamma_gamma", "Gamma-Gamma"


@dataclass(frozen=True)
class SpendFit:
    """The spend model of a customer table and how it came about (see :func:`fit_spend`).

    ``model``: a fitted :class:`GammaGamma`, a float (one expected spend per
    purchase for every customer, the data's currency) or None (no spend model:
    no ``clv``); ``status``: the Gamma-Gamma's :class:`ModelStatus`;
    ``fallbacks``: the :class:`Fallback` s taken (a penalizer, a constant spend).
    """

    model: object
    status: ModelStatus
    fallbacks: tuple[Fallback, ...] = ()


def _recorded(fit_call):
    """``fit_call()`` with its warnings recorded and said again (also when it raises); returns ``(result,
    warnings)``."""
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fit_call()
    finally:
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, caught


def model_status(role: str, key: str, label: str, model, caught=(), *, reason: str | None = None) -> ModelStatus:
    """The :class:`ModelStatus` of a fitted model: ``"penalized"`` when ``reason`` (the unpenalized fit's error)
    is given, else ``"at limit"`` when its fit warned that the likelihood is flat towards a usable limit
    (:class:`~segwork.errors.IdentificationWarning`, ``model.unidentified_``), else ``"fitted"``. ``caught``: the
    warnings recorded during the fit (their IdentificationWarning becomes the message)."""
    said = [str(w.message) for w in caught if issubclass(w.category, IdentificationWarning)]
    limit = tuple(getattr(model, "unidentified_", ()) or ())
    pen = float(getattr(model, "penalizer", 0.0) or 0.0)
    if reason is not None:
        return ModelStatus(role, key, label, "penalized", limit, pen, reason)
    at_limit = [m for m in said if "the likelihood is flat towards" in m]
    if at_limit and limit:
        return ModelStatus(role, key, label, "at limit", limit, pen, at_limit[0])
    return ModelStatus(role, key, label, "fitted", (), pen, said[0] if said else "")


def fit_spend(table: pd.DataFrame) -> SpendFit:
    """The spend model of a customer table, with its status and the fallbacks taken: never an error for a fit.

    The Gamma-Gamma is fitted on the repeat buyers with a positive
    ``monetary_value`` (``frequency``: repeat purchases; ``monetary_value``:
    their mean value, in the data's currency):

    * it converges, or converges to a usable limit of the model (status
      ``"at limit"``, with its :class:`~segwork.errors.IdentificationWarning`:
      e.g. p -> infinity when every purchase of a customer has the same value;
      that limit is the spend model, as for any model);
    * it does not converge: refitted with the smallest penalizer of
      :data:`FALLBACK_PENALIZERS` that converges (status ``"penalized"``,
      fallback ``"penalized spend model"``), except when the repeat buyers'
      mean spends hardly vary (coefficient of variation below
      :data:`segwork.clv.gamma_gamma.HOMOGENEOUS_SPEND_CV`), where a penalty
      pulls away from the one spend the data show;
    * otherwise (status ``"failed"``) every customer's expected spend per
      purchase is one number, fallback ``"constant spend"``: the repeat
      buyers' weighted mean spend, or, with fewer than 2 repeat buyers that
      spent, the table's mean transaction amount (``mean_amount``);
    * with neither, the model is None (fallback ``"no clv"``): ``clv`` cannot
      be computed, ``p_alive`` can.

    Each fallback warns once (``UserWarning``) and is in
    :attr:`SpendFit.fallbacks`. ``q <= 1`` (an infinite population mean spend)
    is kept, silently here: :func:`apply_clv_models` records the fallback of
    :func:`customer_lifetime_value`.

    Raises DataError only for a table without ``frequency`` or ``monetary_value``.
    """
    require_columns(table, ("frequency", "monetary_value"), "fit_spend", "build the table with "
                    "segwork.features.customer_table", what="customer table")
    key, label = SPEND_MODEL_KEY, SPEND_MODEL_LABEL
    frequency = table["frequency"].to_numpy(dtype=float)
    monetary = table["monetary_value"].to_numpy(dtype=float)
    repeat = (frequency > 0) & (monetary > 0)
    if repeat.sum() < 2:
        why = (f"only {int(repeat.sum())} repeat buyer(s) with a positive monetary_value, too few to fit the "
               "Gamma-Gamma spend model")
        status = ModelStatus("spend", key, label, "failed", message=why)
        if "mean_amount" not in table.columns:
            detail = (f"{why}, and the table has no 'mean_amount' column to stand in: no CLV; build the table with "
                      "segwork.features.customer_table (it adds mean_amount) or use a longer observation period")
            warnings.warn(f"fit_spend: {detail}", UserWarning, stacklevel=2)
            return SpendFit(None, status, (Fallback("no clv", detail, ("clv",)),))
        mean = float(table["mean_amount"].mean())
        detail = (f"{why}; every customer's expected spend per purchase is the mean transaction amount, "
                  f"{mean:.4g}")
        return SpendFit(mean, status, (Fallback("constant spend", detail, ("clv",)),))
    x, m = pd.Series(frequency, index=table.index), pd.Series(monetary, index=table.index)

    def plain():
        with warnings.catch_warnings():
            # q <= 1 is handled (and said, with what was done) by customer_lifetime_value
            warnings.filterwarnings("ignore", message=r"GammaGamma: q = .* <= 1", category=RuntimeWarning)
            return GammaGamma().fit(x, m)

    try:
        model, caught = _recorded(plain)
        return SpendFit(model, model_status("spend", key, label, model, caught))
    except ConvergenceError as exc:
        first = str(exc).split(";")[0]
    mean, cv = spend_spread(monetary[repeat])
    if cv >= HOMOGENEOUS_SPEND_CV:
        for pen in FALLBACK_PENALIZERS:
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=r"GammaGamma: q = .* <= 1", category=RuntimeWarning)
                    model, caught = _recorded(lambda: GammaGamma(penalizer=pen).fit(x, m))
            except ConvergenceError:
                continue
            detail = (f"the unpenalized Gamma-Gamma fit did not converge ({first}); refitted with penalizer={pen:g} "
                      "(an L2 penalty on the log parameters), whose expected spend is used in clv")
            warnings.warn(f"{label}: {detail}", UserWarning, stacklevel=2)
            return SpendFit(model, model_status("spend", key, label, model, caught, reason=first),
                            (Fallback("penalized spend model", detail, ("clv",)),))
        detail = (f"the Gamma-Gamma spend model did not converge, not even with penalizer "
                  f"{', '.join(f'{p:g}' for p in FALLBACK_PENALIZERS)}; every customer's expected spend per purchase "
                  f"is the repeat buyers' mean spend, {mean:.4g} ({first})")
    else:
        detail = (f"the Gamma-Gamma spend model did not converge because the repeat buyers' mean spends hardly vary "
                  f"(coefficient of variation {100 * cv:.2g} %); every customer's expected spend per purchase is their "
                  f"mean, {mean:.4g} ({first})")
    warnings.warn(f"fit_spend_model: {detail}", UserWarning, stacklevel=2)
    return SpendFit(mean, ModelStatus("spend", key, label, "failed", message=first),
                    (Fallback("constant spend", detail, ("clv",)),))


def fit_spend_model(table: pd.DataFrame):
    """The spend model of a customer table: a fitted Gamma-Gamma, or one number when the data support no more.

    ``fit_spend(table).model`` (see :func:`fit_spend`, which also says how the
    model came about): a fitted :class:`GammaGamma` (converged, at a usable
    limit with its IdentificationWarning, or penalized with a ``UserWarning``)
    or a float every customer's expected spend per purchase is set to, with a
    ``UserWarning`` (the fit failed: the repeat buyers' mean spend; fewer than
    2 repeat buyers that spent: the table's ``mean_amount``, no warning, as
    before).

    Raises DataError when fewer than 2 repeat buyers spent and the table has
    no ``mean_amount``.
    """
    fit = fit_spend(table)
    if fit.model is None:
        raise DataError(f"fit_spend_model: {fit.fallbacks[0].detail}")
    return fit.model


def bg_nbd_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The BG/NBD inputs of a customer table: ``frequency`` and ``recency``, ``T`` converted from days to weeks.

    The customer table measures ``recency`` and ``T`` in days; the BG/NBD
    fits of this package (:func:`predict_clv`, the relationship typer) work
    in weeks (``segwork.features.TIME_UNITS["weeks"]`` days each). Returns a
    float DataFrame indexed like ``table`` with columns ``frequency``,
    ``recency`` and ``T`` (weeks).
    """
    week = TIME_UNITS["weeks"]
    return pd.DataFrame({
        "frequency": table["frequency"].to_numpy(dtype=float),
        "recency": table["recency"].to_numpy(dtype=float) / week,
        "T": table["T"].to_numpy(dtype=float) / week,
    }, index=table.index)


def predict_clv(
    table: pd.DataFrame,
    *,
    horizon: int = 12,
    discount_rate: float = 0.01,
    margin: float = DEFAULT_MARGIN,
    transaction_model: str = DEFAULT_TRANSACTION_MODEL,
) -> pd.DataFrame:
    """P(alive) and predicted CLV per customer of a customer table (MBG/NBD by default + Gamma-Gamma).

    Fits the transaction model (:func:`fit_transaction_model`; default
    :class:`segwork.clv.ModifiedBetaGeo`, Batislam et al. 2007) on the
    table's ``frequency``, ``recency`` and ``T`` (converted from days to
    weeks, :func:`bg_nbd_inputs`) and :class:`segwork.clv.GammaGamma` on the
    repeat buyers' ``monetary_value``, then
    :func:`segwork.clv.customer_lifetime_value` (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    table: customer table indexed by ``customer_id`` (see
        :func:`segwork.features.customer_table`): ``frequency``, ``recency``
        and ``T`` (days), ``monetary_value`` (the data's currency); an
        optional ``mean_amount`` stands in for the spend model when it
        cannot be fitted.
    horizon: months ahead (whole number >= 1).
    discount_rate: per month (0.01 = 1 % a month).
    margin: profit share of revenue (default :data:`~segwork.clv.margin.DEFAULT_MARGIN`, 0.3; 1.0 gives
        expected revenue, labelled so by :func:`~segwork.clv.margin.value_label`).
    transaction_model: ``"mbgnbd"`` (default), ``"bgnbd"``,
        ``"paretonbd"`` or ``"ggomnbd"`` (see :data:`TRANSACTION_MODELS`).

    Returns
    -------
    DataFrame indexed like ``table`` with ``p_alive`` (P(alive) from the
    transaction model, 0..1; with ``"bgnbd"`` 1 for every one-time buyer by
    the model's construction) and ``clv`` (discounted expected margin over
    ``horizon`` months, the data's currency). ``attrs`` name the model:
    ``transaction_model`` (the key) and ``p_alive_model`` (the label of
    :func:`transaction_model_label`, with the penalizer if one was needed).

    Heavy-tailed spend: when the Gamma-Gamma fit gives ``q <= 1`` (infinite
    population mean spend), the customers whose expected spend is undefined
    get the fallback of :func:`segwork.clv.customer_lifetime_value`
    (:data:`segwork.clv.value.SPEND_FALLBACK`: the median observed mean spend
    of the repeat buyers for customers without a repeat purchase) and one
    ``UserWarning`` says how many and with which value; ``clv`` stays finite.

    Raises
    ------
    DataError: a missing column; from the transaction model (e.g. no repeat
        buyers for BG/NBD). The spend model never raises here: at a usable
        limit it is that limit; otherwise it is penalized or a constant spend
        stands in (:func:`fit_spend`); with fewer than 2 repeat buyers that
        spent and no ``mean_amount`` the result has ``p_alive`` and no ``clv``,
        with a ``UserWarning``. :func:`fit_clv`'s ``record`` says which.
    ConvergenceError: when the transaction model does not converge even
        penalized (see :func:`fit_transaction_model`).
    """
    return fit_clv(table, horizon=horizon, discount_rate=discount_rate, margin=margin,
                   transaction_model=transaction_model, _where="predict_clv").values


@dataclass(frozen=True)
class ClvFit:
    """The CLV models fitted on a customer table, and their two columns: fitted once, reused by every consumer.

    ``values``: DataFrame indexed like the table with ``p_alive`` and
    ``clv`` (as :func:`predict_clv` returns, with its ``attrs``);
    ``transaction_model``: the fitted transaction model (time in weeks);
    ``spend_model``: the fitted :class:`GammaGamma`, or a number (see
    :func:`fit_spend_model`); ``transaction_model_key``: the key of
    :data:`TRANSACTION_MODELS`; ``horizon`` (months), ``discount_rate`` (per
    month) and ``margin`` (profit share of revenue): the settings ``clv`` was
    computed with; ``p_alive_model`` (derived): the model's label
    (:func:`transaction_model_label`, with a penalizer if one was needed);
    ``record``: the :class:`~segwork.clv.record.FitRecord`: which models were
    fitted, at which limits, and which fallbacks were taken (a penalizer, a
    constant spend, the heavy-tailed spend of :func:`customer_lifetime_value`,
    no ``clv``); ``spend_model`` None means no ``clv`` column.
    The relationship typer (``model=``) and ``segwork models build`` take the
    fitted models from here instead of fitting them again;
    :meth:`with_settings` computes ``clv`` for other settings from the same
    models; :func:`segwork.clv.clv_document` saves the models as JSON.
    """

    values: pd.DataFrame
    transaction_model: object
    spend_model: object
    transaction_model_key: str
    horizon: int = 12
    discount_rate: float = 0.01
    margin: float = DEFAULT_MARGIN
    record: FitRecord = FitRecord()

    @property
    def p_alive_model(self) -> str:
        return transaction_model_label(self.transaction_model)

    def with_settings(self, table: pd.DataFrame, *, horizon: int | None = None, discount_rate: float | None = None,
                      margin: float | None = None) -> "ClvFit":
        """The same fitted models applied to ``table`` with other CLV settings (``None``: keep this fit's).

        Nothing is refitted: ``p_alive`` and ``clv`` are predicted from
        :attr:`transaction_model` and :attr:`spend_model` as :func:`fit_clv`
        predicts them, so with this fit's settings and table the values are
        identical. ``table``: as for :func:`predict_clv` (``frequency``,
        ``recency``, ``T`` in days, ``monetary_value``). Raises what
        :func:`segwork.clv.customer_lifetime_value` raises for bad settings
        or histories (DataError).
        """
        return apply_clv_models(
            table, self.transaction_model, self.spend_model, transaction_model_key=self.transaction_model_key,
            horizon=self.horizon if horizon is None else horizon,
            discount_rate=self.discount_rate if discount_rate is None else discount_rate,
            margin=self.margin if margin is None else margin, record=self.record, _where="ClvFit.with_settings")


def apply_clv_models(table: pd.DataFrame, transaction_model, spend_model, *, transaction_model_key: str,
                     horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
                     record: FitRecord | None = None, _where: str = "apply_clv_models") -> ClvFit:
    """``p_alive`` and ``clv`` of every customer of ``table`` from already fitted models: the predicting half of
    :func:`fit_clv`.

    Parameters
    ----------
    table: customer table (``frequency``, ``recency``, ``T`` in days,
        ``monetary_value`` in the data's currency), converted to weeks by
        :func:`bg_nbd_inputs`.
    transaction_model: a fitted transaction model (time in weeks), e.g. from
        :func:`fit_transaction_model`.
    spend_model: a fitted :class:`GammaGamma` or a number (spend per purchase);
        None: no ``clv`` column (``p_alive`` only).
    transaction_model_key: its key of :data:`TRANSACTION_MODELS`.
    horizon, discount_rate, margin: as for :func:`predict_clv`.
    record: how the models were fitted (:func:`fit_clv`'s
        :class:`~segwork.clv.record.FitRecord`); None: the status
        :func:`model_status` reads from the models themselves. The fallback of
        :func:`customer_lifetime_value` for a Gamma-Gamma with ``q <= 1``
        (``"heavy-tailed spend"``) is added here, where it is taken.

    Returns
    -------
    :class:`ClvFit` whose ``values`` are those of :func:`predict_clv`
    (P(alive), Fader, Hardie & Lee 2005 eq. 11 for the BG/NBD; CLV as
    :func:`segwork.clv.customer_lifetime_value`).

    Raises
    ------
    DataError: a missing column, an unknown ``transaction_model_key``, or
        what :func:`segwork.clv.customer_lifetime_value` refuses.
    """
    require_columns(table, ("frequency", "recency", "T", "monetary_value"), _where,
                    "build the table with segwork.features.customer_table", what="customer table")
    key = _model_key(transaction_model_key, _where)
    summary = bg_nbd_inputs(table)
    summary["monetary_value"] = table["monetary_value"].to_numpy(dtype=float)
    p_alive = np.asarray(transaction_model.p_alive(summary["frequency"], summary["recency"], summary["T"]),
                         dtype=float)
    columns = {"p_alive": p_alive}
    if record is None:
        record = _record_of(transaction_model, key, spend_model)
    if spend_model is not None:
        clv = customer_lifetime_value(transaction_model, spend_model, summary, horizon=horizon, time_unit="weeks",
                                      discount_rate=discount_rate, margin=margin)
        columns["clv"] = np.asarray(clv, dtype=float)
        heavy = _heavy_tail_fallback(spend_model, summary)
        record = record.with_fallbacks(heavy) if heavy is not None else record
    out = pd.DataFrame(columns, index=table.index)
    fit = ClvFit(values=out, transaction_model=transaction_model, spend_model=spend_model, transaction_model_key=key,
                 horizon=horizon, discount_rate=discount_rate, margin=margin, record=record)
    out.attrs.update({"transaction_model": key, "p_alive_model": fit.p_alive_model})
    return fit


def _record_of(transaction_model, key: str, spend_model) -> FitRecord:
    """A record read from the models alone (no fit warnings at hand): a penalizer -> penalized, ``unidentified_``
    -> at limit, a number -> a constant spend."""
    def status(role, k, label, model):
        pen = float(getattr(model, "penalizer", 0.0) or 0.0)
        limit = tuple(getattr(model, "unidentified_", ()) or ())
        return ModelStatus(role, k, label, "penalized" if pen else ("at limit" if limit else "fitted"), limit, pen)

    models = [status("transaction", key, TRANSACTION_MODELS[key][1], transaction_model)]
    fallbacks = []
    if isinstance(spend_model, GammaGamma):
        models.append(status("spend", SPEND_MODEL_KEY, SPEND_MODEL_LABEL, spend_model))
    elif spend_model is not None:
        models.append(ModelStatus("spend", SPEND_MODEL_KEY, SPEND_MODEL_LABEL, "failed"))
        fallbacks.append(Fallback("constant spend", f"every customer's expected spend per purchase is "
                                  f"{float(spend_model):.4g}", ("clv",)))
    return FitRecord(tuple(models), tuple(fallbacks))


def _heavy_tail_fallback(spend_model, summary: pd.DataFrame) -> Fallback | None:
    """The fallback :func:`customer_lifetime_value` takes for a Gamma-Gamma with q <= 1 (None otherwise)."""
    if not isinstance(spend_model, GammaGamma) or getattr(spend_model, "covariates_", None) is not None:
        return None
    q = spend_model.params_["q"]
    if q > 1:
        return None
    x = summary["frequency"].to_numpy(dtype=float)
    spend = np.asarray(spend_model.expected_spend(x, np.where(x > 0, summary["monetary_value"].to_numpy(dtype=float),
                                                              0.0)), dtype=float)
    undefined = int((~np.isfinite(spend)).sum())
    return Fallback("heavy-tailed spend", f"the Gamma-Gamma spend model has q = {q:.3g} <= 1 (an infinite population "
                    f"mean spend), so the expected spend of {undefined:,} of {x.size:,} customers is undefined: "
                    f"{SPEND_FALLBACK}", ("clv",))


def fit_clv(table: pd.DataFrame, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
            transaction_model: str = DEFAULT_TRANSACTION_MODEL, _where: str = "fit_clv") -> ClvFit:
    """Fit the transaction and spend models on ``table`` once and predict ``p_alive`` and ``clv``.

    The parameters, the columns and the errors are those of
    :func:`predict_clv` (which returns ``fit_clv(...).values``); this also
    returns the fitted models, the settings and the
    :class:`~segwork.clv.record.FitRecord` of the step (:class:`ClvFit`:
    each model's status, the parameters at a limit, the fallbacks taken). The
    predicting half is :func:`apply_clv_models`.
    """
    require_columns(table, ("frequency", "recency", "T", "monetary_value"), _where,
                    "build the table with segwork.features.customer_table", what="customer table")
    key = _model_key(transaction_model, _where)
    bg, status, fallbacks = fit_transaction(table, key, _where=_where)
    spend = fit_spend(table)
    record = FitRecord((status, spend.status), fallbacks + spend.fallbacks)
    return apply_clv_models(table, bg, spend.model, transaction_model_key=key, horizon=horizon,
                            discount_rate=discount_rate, margin=margin, record=record, _where=_where)
