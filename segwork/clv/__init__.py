"""CLV models and what they are used for.

Transaction models (who buys again, how often, who has left):
``BetaGeo`` (BG/NBD), ``ModifiedBetaGeo`` (MBG/NBD), ``ParetoNBD``, ``GGomNBD`` (GGom/NBD),
``BetaGeoBetaBinom`` (BG/BB, discrete opportunities); spend: ``GammaGamma``;
contractual retention: ``ShiftedBetaGeometric`` (sBG). All fit by maximum
likelihood on a shared base (:mod:`segwork.clv.base`).

Value: :func:`customer_lifetime_value`, :func:`historical_value`, :func:`new_customer_value`
(a customer not yet acquired); covariates: ``fit(..., covariates=X)`` on ``BetaGeo`` and
``ParetoNBD`` (:mod:`segwork.clv.covariates`); time-varying covariates (a weekly long table, e.g. open
complaints, contacts, season) on the Pareto/NBD: ``TimeVaryingParetoNBD``
(:mod:`segwork.clv.pareto_nbd_dynamic`, CLVTools' dynamic-covariate model); intervals: ``interval=0.9`` on the predictions, with
``kind="confidence"`` (for the expected value; the default of the prediction functions) or
``kind="prediction"`` (for the outcome, with the customers' own purchase noise simulated; the default of
:func:`holdout_total_interval`) (:mod:`segwork.clv.intervals`); fit and
predict on a customer table: :func:`predict_clv` (P(alive) and CLV per
customer; MBG/NBD by default), :func:`fit_transaction_model`, :func:`fit_spend_model`, :func:`bg_nbd_inputs`;
the fitted models as JSON (saved and loaded without refitting): :mod:`segwork.clv.document`; a fit with the
penalizer fallback: :func:`fit_or_penalize`; effects of a customer attribute (covariate) per group:
:func:`group_effects`; whether sampled intervals make sense: :func:`interval_problem`; time units:
:func:`convert_duration`, :func:`convert_rate`.
Per-period forecasts (each week or month of a horizon, per customer and in total) and the
incremental tracking: :mod:`segwork.clv.forecast`. Validation (calibration / holdout):
:mod:`segwork.clv.validation`; model
diagnostics for the figures: :mod:`segwork.clv.diagnostics`; simulation:
:func:`simulate_bg_nbd`, :func:`simulate_purchase_histories` (calibration and holdout from known parameters).
"""
from .base import BaseModel
from .beta_geo import BetaGeo
from .bgbb import BetaGeoBetaBinom
from .document import ClvModels, clv_document, clv_fit_from_document, clv_models_from_document
from .effects import GroupEffects, group_effects, planted_multipliers
from .intervals import interval_problem
from .margin import DEFAULT_MARGIN, margin_text, value_label
from .units import convert_duration, convert_rate
from .diagnostics import expected_purchases_matrix, p_alive_matrix, period_transactions
from .forecast import aggregate_purchases_by_period, expected_purchases_by_period, incremental_repeat_transactions
from .gamma_gamma import GammaGamma
from .ggom_nbd import GGomNBD
from .modified_beta_geo import ModifiedBetaGeo
from .pareto_nbd import ParetoNBD
from .pareto_nbd_dynamic import TimeVaryingParetoNBD
from .predict import (
    ClvFit,
    PenalizedFit,
    apply_clv_models,
    fit_or_penalize,
    fit_clv,
    TRANSACTION_MODELS,
    bg_nbd_inputs,
    fit_spend_model,
    fit_transaction_model,
    predict_clv,
    transaction_model_label,
)
from .sbg import ShiftedBetaGeometric
from .simulate import simulate_bg_nbd, simulate_one_price_transactions, simulate_purchase_histories
from .simulate_dynamic import SimulatedDynamicData, simulate_time_varying_pareto_nbd
from .validation import (
    HoldoutErrors,
    HoldoutTotalInterval,
    SpendErrors,
    compare_models,
    cumulative_repeat_transactions,
    fit_models,
    holdout_by_frequency,
    holdout_errors,
    holdout_predictions,
    holdout_total_interval,
    spend_errors,
    spend_holdout,
)
from .value import customer_lifetime_value, historical_value, new_customer_value

__all__ = [
    "DEFAULT_MARGIN",
    "value_label",
    "margin_text",
    "BaseModel",
    "BetaGeo",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "TimeVaryingParetoNBD",
    "GGomNBD",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ShiftedBetaGeometric",
    "customer_lifetime_value",
    "historical_value",
    "new_customer_value",
    "predict_clv",
    "bg_nbd_inputs",
    "fit_spend_model",
    "fit_clv",
    "ClvFit",
    "apply_clv_models",
    "fit_or_penalize",
    "PenalizedFit",
    "group_effects",
    "GroupEffects",
    "planted_multipliers",
    "interval_problem",
    "convert_duration",
    "convert_rate",
    "ClvModels",
    "clv_document",
    "clv_models_from_document",
    "clv_fit_from_document",
    "fit_transaction_model",
    "transaction_model_label",
    "TRANSACTION_MODELS",
    "holdout_predictions",
    "holdout_by_frequency",
    "holdout_errors",
    "compare_models",
    "holdout_total_interval",
    "HoldoutTotalInterval",
    "HoldoutErrors",
    "SpendErrors",
    "fit_models",
    "spend_holdout",
    "spend_errors",
    "cumulative_repeat_transactions",
    "incremental_repeat_transactions",
    "expected_purchases_by_period",
    "aggregate_purchases_by_period",
    "period_transactions",
    "p_alive_matrix",
    "expected_purchases_matrix",
    "simulate_bg_nbd", "simulate_one_price_transactions",
    "simulate_purchase_histories",
    "simulate_time_varying_pareto_nbd", "SimulatedDynamicData",
]
