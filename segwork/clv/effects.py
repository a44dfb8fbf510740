"""What a customer attribute (e.g. the acquisition channel) does to buying, leaving and spending: covariate effects.

:func:`group_effects` puts one categorical attribute into the BG/NBD and the
Gamma-Gamma as a time-invariant covariate (Fader & Hardie 2007,
"Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
models"; :mod:`segwork.clv.covariates`) and turns the coefficients into plain
numbers per group, relative to a reference group (the first in sorted
order, whose covariate row is 0):

* purchase rate: ``alpha_i = alpha * exp(-gamma_purchase * z_i)``, so
  ``exp(gamma_purchase)`` multiplies a live customer's purchase rate;
* dropout: ``a_i = a * exp(gamma_a * z_i)``, ``b_i = b * exp(gamma_b * z_i)``,
  read through the mean chance of leaving after a purchase ``a_i / (a_i + b_i)``;
* spend: ``v_i = v * exp(gamma_spend * z_i)`` in the Gamma-Gamma, so
  ``exp(gamma_spend)`` multiplies the expected spend per purchase;
* a new customer of each group: expected repeat purchases over the horizon and
  :func:`segwork.clv.new_customer_value` (counting the first purchase).

:func:`planted_multipliers` gives the same multipliers from a synthetic data
set's planted truth, to compare with the estimates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .margin import DEFAULT_MARGIN
from .._checks import require_columns
from ..errors import DataError
from .beta_geo import BetaGeo
from .gamma_gamma import GammaGamma
from .units import convert_duration
from .value import new_customer_value

__all__ = ["GroupEffects", "group_effects", "planted_multipliers"]


@dataclass(frozen=True)
class GroupEffects:
    """The effects of one categorical attribute, per group (see :func:`group_effects`).

    ``effects``: DataFrame indexed by the group (index named as asked, e.g.
    ``channel``), one row per group in sorted order, columns

    * ``customers``: customers of the group (int);
    * ``purchase_multiplier_se``, ``purchase_multiplier``,
      ``purchase_multiplier_low``, ``purchase_multiplier_high``: the purchase-rate
      multiplier ``exp(gamma_purchase)`` against the reference, its standard
      error (delta method: ``exp(gamma) * se(gamma)``) and 95 % confidence
      interval (``exp`` of the coefficient's interval; 1, 1, 1 and 0 for the reference);
    * ``dropout_prob``: the mean chance of leaving after a purchase,
      ``a_i / (a_i + b_i)``; ``dropout_multiplier``: its ratio to the reference's;
    * ``new_customer_purchases``: expected repeat purchases of a new customer
      of the group over ``horizon`` months;
    * ``spend_multiplier``, ``spend_multiplier_low``, ``spend_multiplier_high``:
      ``exp(gamma_spend)`` and its 95 % confidence interval (1 for the reference);
    * ``mean_spend``: the group's population mean spend per purchase (the data's currency);
    * ``new_customer_clv``: :func:`segwork.clv.new_customer_value` of a new
      customer of the group (the data's currency, counting the first purchase).

    ``coefficients``: the raw coefficient rows of both models' ``summary()``
    (estimate, standard error, 95 % interval; ``purchase:``, ``dropout_a:``,
    ``dropout_b:`` and ``spend:`` rows); ``reference``: the reference group;
    ``transaction_model``, ``spend_model``: the fitted :class:`BetaGeo` and
    :class:`GammaGamma` with the covariate.
    """

    effects: pd.DataFrame
    coefficients: pd.DataFrame
    reference: str
    transaction_model: BetaGeo
    spend_model: GammaGamma

    @property
    def best(self) -> str:
        """The group whose new customer has the highest ``new_customer_clv``."""
        return self.effects["new_customer_clv"].idxmax()


def group_effects(summary: pd.DataFrame, groups: pd.Series, *, horizon: int = 12, time_unit: str = "weeks",
                  discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN, index_name: str = "group") -> GroupEffects:
    """Fit the BG/NBD and the Gamma-Gamma with one categorical attribute as covariate; effects per group.

    Parameters
    ----------
    summary: one row per customer, indexed by ``customer_id``, with
        ``frequency`` (repeat purchases), ``recency`` and ``T`` (in
        ``time_unit``) and ``monetary_value`` (mean repeat spend, the data's
        currency), e.g. the calibration period of :func:`segwork.features.rfm_summary`.
    groups: the attribute per customer (e.g. the acquisition channel),
        indexed like ``summary`` (every customer of ``summary`` present); its
        ``name`` names the covariate (``acquisition_channel[tv]``). Values are
        used as text; the first group in sorted order is the reference.
    horizon: months for the new customers' purchases and value.
    time_unit: the unit of ``recency`` and ``T`` (``"weeks"`` or ``"days"``).
    discount_rate: per month; margin: profit share of revenue.
    index_name: the name of the effects' index (e.g. ``"channel"``).

    Returns
    -------
    :class:`GroupEffects`.

    Raises
    ------
    DataError: a missing column; customers of ``summary`` without a group;
        fewer than 2 groups; from the fits (e.g. no repeat buyers).
    ConvergenceError: a fit does not converge.
    """
    require_columns(summary, ("frequency", "recency", "T", "monetary_value"), "group_effects",
                    "compute it with segwork.features.rfm_summary", what="summary")
    name = str(groups.name or "group")
    missing = summary.index.difference(groups.index)
    if len(missing):
        raise DataError(f"group_effects: {len(missing)} customer(s) of the summary have no {name} (e.g. "
                        f"{missing[0]!r}); give every customer a group")
    covariate = groups.loc[summary.index].astype(str).to_frame(name)
    levels = sorted(covariate[name].unique())
    if len(levels) < 2:
        raise DataError(f"group_effects: {name} has {len(levels)} group(s); effects need at least 2")
    reference = levels[0]
    args = (summary["frequency"], summary["recency"], summary["T"])
    model = BetaGeo().fit(*args, covariates=covariate)
    coef_table = model.summary().loc[list(model.coef_.index)]
    new_customers = pd.DataFrame({name: levels}, index=pd.Index(levels, name=index_name))
    a, b = model.params_["a"], model.params_["b"]
    rows = []
    for level in levels:
        key = f"{name}[{level}]"
        row = {index_name: level, "customers": int((covariate[name] == level).sum())}
        if level == reference:
            g = {"purchase": 0.0, "dropout_a": 0.0, "dropout_b": 0.0}
            lo = hi = 1.0
            row["purchase_multiplier_se"] = 0.0
        else:
            g = {side: float(model.coef_[f"{side}:{key}"]) for side in ("purchase", "dropout_a", "dropout_b")}
            est = coef_table.loc[f"purchase:{key}"]
            lo, hi = float(np.exp(est["lower_95"])), float(np.exp(est["upper_95"]))
            row["purchase_multiplier_se"] = float(np.exp(g["purchase"]) * est["std_error"])  # delta method
        row["purchase_multiplier"] = float(np.exp(g["purchase"]))
        row["purchase_multiplier_low"], row["purchase_multiplier_high"] = lo, hi
        ai, bi = a * np.exp(g["dropout_a"]), b * np.exp(g["dropout_b"])
        row["dropout_prob"] = float(ai / (ai + bi))
        rows.append(row)
    effects = pd.DataFrame(rows).set_index(index_name)
    effects["dropout_multiplier"] = effects["dropout_prob"] / effects.loc[reference, "dropout_prob"]
    effects["new_customer_purchases"] = model.expected_purchases_new(
        horizon * convert_duration(1, "months", time_unit), covariates=new_customers).to_numpy()
    spend = GammaGamma().fit(summary["frequency"], summary["monetary_value"], covariates=covariate)
    spend_table = spend.summary().loc[list(spend.coef_.index)]
    for level in levels:
        key = f"spend:{name}[{level}]"
        est = spend_table.loc[key] if key in spend_table.index else None
        effects.loc[level, "spend_multiplier"] = 1.0 if est is None else float(np.exp(est["estimate"]))
        effects.loc[level, "spend_multiplier_low"] = 1.0 if est is None else float(np.exp(est["lower_95"]))
        effects.loc[level, "spend_multiplier_high"] = 1.0 if est is None else float(np.exp(est["upper_95"]))
    effects["mean_spend"] = spend.population_mean_spend(covariates=new_customers).to_numpy()
    effects["new_customer_clv"] = new_customer_value(
        model, spend, horizon=horizon, time_unit=time_unit, discount_rate=discount_rate, margin=margin,
        covariates=new_customers).to_numpy()
    return GroupEffects(effects=effects, coefficients=pd.concat([coef_table, spend_table]), reference=reference,
                        transaction_model=model, spend_model=spend)


#: The planted columns :func:`planted_multipliers` compares, and the effect each stands for.
PLANTED = {"purchase_rate": "planted_rate_multiplier", "dropout_prob": "planted_dropout_multiplier",
           "mean_spend": "planted_spend_multiplier"}


def planted_multipliers(truth: pd.DataFrame, groups: pd.Series, reference: str) -> pd.DataFrame:
    """The planted purchase-rate, dropout and spend multipliers per group against ``reference`` (synthetic data).

    ``truth``: per customer, ``purchase_rate``, ``dropout_prob`` and
    ``mean_spend`` as :func:`segwork.datasets.make_crm` plants them;
    ``groups``: the attribute per customer (its customers are the ones
    compared; all must be in ``truth``). Returns a DataFrame indexed by group
    (sorted) with ``planted_rate_multiplier``, ``planted_dropout_multiplier``
    and ``planted_spend_multiplier``: the group's mean of the planted value
    divided by the reference group's. Raises DataError for a missing column
    or customers without a truth.
    """
    require_columns(truth, tuple(PLANTED), "planted_multipliers", "use the truth of segwork.datasets.make_crm",
                    what="truth")
    missing = groups.index.difference(truth.index)
    if len(missing):
        raise DataError(f"planted_multipliers: {len(missing)} customer(s) have no planted truth (e.g. {missing[0]!r})")
    name = str(groups.name or "group")
    means = truth.loc[groups.index].join(groups.astype(str).rename(name)).groupby(name)
    levels = sorted(groups.astype(str).unique())
    return pd.DataFrame({out: (means[col].mean() / means[col].mean()[reference]).reindex(levels)
                         for col, out in PLANTED.items()})
