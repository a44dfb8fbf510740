"""Intervals on predictions: parameter uncertainty by sampling from the MLE's asymptotic distribution.

Method (documented choice): the fitted parameters are drawn ``n_draws`` times
from their estimated asymptotic normal distribution **on the log scale**
(mean: the log estimates, covariance: the inverse observed information that
:meth:`~segwork.clv.base.BaseModel.summary` uses; for a model with covariates
the coefficients are drawn jointly with the log baseline parameters); every
draw's prediction is computed with the model's own closed forms, and the
interval is the ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles of
those predictions.

Why this and not a bootstrap over customers: it needs no refits (a bootstrap
refits the model hundreds of times: seconds for the BG/NBD, minutes for the
Pareto/NBD with its numerical gradient), it keeps the parameters positive
(log scale), it carries the correlation between the parameters, and unlike
the plain delta method it does not assume the prediction is linear in the
parameters (P(alive) is far from linear). Its limits: it rests on the
asymptotic normality of the log parameters (weak on small or degenerate
data, where the standard errors are themselves unreliable).

Two kinds of interval (``kind=``), named for what they cover:

* ``"confidence"``: an interval for the model's **expected value** (the
  expected purchases, P(alive), the expected CLV or total). Parameter
  uncertainty only: the quantiles of the closed-form prediction over the
  parameter draws (above).
* ``"prediction"``: an interval for the **outcome**, what will actually
  happen (the purchases a customer will make, the CLV they will bring, the
  total a period will see). For each parameter draw every customer's future
  is simulated once from the model given their history (posterior
  predictive simulation; see :meth:`TransactionModel.simulate_purchases
  <segwork.clv.transaction.TransactionModel.simulate_purchases>` and
  :func:`simulate_spend`), so it carries both the parameter uncertainty and
  each customer's own purchase and dropout noise; a total is the sum of the
  simulated customers of one draw. The ends are quantiles of the simulated
  outcomes by the inverted empirical CDF (``numpy.quantile(...,
  method="inverted_cdf")``), so they are outcomes themselves: whole numbers
  for purchases. For a discrete outcome a closed interval ``[lower, upper]``
  holds *at least* the nominal share of the simulated outcomes (for a single
  customer often much more: 95 % of them may make 0 purchases); the share it
  does hold is reported per customer (column ``coverage``) where the
  interval is per customer.

The purchase noise is not small next to the parameter uncertainty: on
BG/NBD data with 5,000 customers (52 + 52 weeks) the customers' own noise
in the holdout total (SD about 127 purchases) was as large as the parameter
error (SD about 134), and a confidence interval covered the actual total in
only 72.5 % of replications at a nominal 90 % (issue 19;
``benchmarks/interval_coverage.py`` measures both kinds). Per customer the
noise dominates completely. Use the prediction kind whenever the interval
is compared with what happened or will happen.

Every draw is seeded (``random_state``); the same one gives the same interval, and
for the same one both kinds use the same parameter draws.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .._checks import check_level, renamed_keywords
from ..errors import ConvergenceError, DataError, NotFittedError

__all__ = ["parameter_draws", "sampled_models", "quantile_interval", "outcome_interval", "check_kind", "simulate_spend",
           "interval_problem", "MAX_INTERVAL_DECADES", "INTERVAL_KINDS"]

#: The kinds of interval (``kind=``): for the expected value, for the outcome.
INTERVAL_KINDS = ("confidence", "prediction")

#: A parameter whose 95 % interval spans more than this many powers of ten is not pinned down by the data.
MAX_INTERVAL_DECADES = 4.0


def interval_problem(model, max_decades: float = MAX_INTERVAL_DECADES) -> str | None:
    """Why sampled intervals (this module) make no sense for ``model``'s fit, or None when they do.

    A heuristic on the parameters' 95 % Wald intervals of
    :meth:`~segwork.clv.base.BaseModel.summary` (computed on the log scale,
    so both ends are positive): when one spans more than ``max_decades``
    orders of magnitude (``log10(upper / lower) > max_decades``), or is not
    finite (no standard error, e.g. a parameter at a limit of the model), the
    data barely pin the parameters down and draws from their asymptotic
    distribution go to extremes, so an interval from them would say nothing.
    Only the model's own parameters are judged (covariate coefficients are not).

    A model rebuilt from saved estimates (:mod:`segwork.clv.document`) has no
    covariance: the sentence says so. Returns a sentence for the page, or None. Raises what ``summary()``
    raises (ConvergenceError when the fit has no covariance at its optimum;
    NotFittedError for an unfitted model).
    """
    try:
        table = model.summary()
    except NotFittedError as exc:  # estimates without covariance (rebuilt from a saved document): say so
        if not getattr(model, "params_", None):
            raise
        return str(exc)
    spread = (np.log10(table["upper_95"]) - np.log10(table["lower_95"])).iloc[:len(model.params_)]
    if not np.isfinite(spread).all() or spread.max() > max_decades:
        return "its parameters are too poorly identified by these data for sampled intervals"
    return None


@renamed_keywords(seed="random_state")
def parameter_draws(model, n_draws: int = 200, random_state=0) -> np.ndarray:
    """Draws of the (log baseline parameters, covariate coefficients) vector, shape ``(n_draws, n)``.

    From the normal with the fitted vector as mean and the inverse observed
    information as covariance. ConvergenceError when that covariance is not
    available (singular information: the data do not pin the parameters down).
    For a fit at a usable limit of the model (``model.unidentified_``, see
    :func:`segwork.clv.base.check_identification`) the covariance spans the
    identified directions only: the parameters at the limit stay at their
    estimate in every draw.
    """
    model._check_fitted()
    if getattr(model, "_cov_full", None) is not None and getattr(model, "covariates_", None) is not None:
        mean, cov = model._theta, model._cov_full
    else:
        mean, cov = model._log_params, model._cov_log()
    name = type(model).__name__
    if not np.isfinite(cov).all():
        raise ConvergenceError(f"{name}: the parameters' covariance is not available (singular observed "
                               "information), so no interval can be computed; fit on more data or with a penalizer")
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise DataError(f"{name}: n_draws must be a whole number >= 2, got {n_draws!r}")
    rng = np.random.default_rng(random_state)
    if getattr(model, "unidentified_", ()):
        # a fit at a limit of the model: the covariance covers the identified directions only (singular),
        # which a Cholesky factor cannot take; the parameters at the limit stay at their estimate
        return rng.multivariate_normal(mean, cov, size=int(n_draws), method="eigh")
    return rng.multivariate_normal(mean, cov, size=int(n_draws), method="cholesky")


@renamed_keywords(seed="random_state")
def sampled_models(model, n_draws: int = 200, random_state=0):
    """Copies of ``model`` with parameters drawn by :func:`parameter_draws` (a generator)."""
    draws = parameter_draws(model, n_draws, random_state)
    k = len(model._param_names)
    for theta in draws:
        m = copy.copy(model)
        m.params_ = {name: float(v) for name, v in zip(model._param_names, np.exp(theta[:k]))}
        if getattr(model, "coef_", None) is not None and len(theta) > k:
            m.coef_ = pd.Series(theta[k:], index=model.coef_.index, name=model.coef_.name)
        yield m


def quantile_interval(where: str, point, samples: np.ndarray, interval, name: str, index=None) -> pd.DataFrame:
    """DataFrame ``{name, lower, upper}`` from the point prediction and per-draw predictions ``(n_draws, n)``."""
    level = check_level(where, interval)
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    point = np.asarray(point, dtype=np.float64).reshape(-1)
    if index is None and isinstance(point, pd.Series):
        index = point.index
    return pd.DataFrame({name: point, "lower": lo.reshape(-1), "upper": hi.reshape(-1)}, index=index)


def check_kind(where: str, kind, allowed: tuple[str, ...] = INTERVAL_KINDS) -> str:
    """``kind`` if it is one of ``allowed``; DataError naming the value and the choices otherwise.

    ``allowed=("confidence",)`` for a quantity nobody observes (P(alive)): its
    message says why there is no prediction interval.
    """
    if kind in allowed:
        return kind
    if kind in INTERVAL_KINDS:  # a known kind this quantity does not offer
        raise DataError(f"{where}: kind={kind!r} is not offered here: P(alive) is never observed, so there is no "
                        "outcome to predict; use kind='confidence' (an interval for the probability itself)")
    raise DataError(f"{where}: kind must be one of {list(allowed)} ('confidence': an interval for the expected "
                    f"value; 'prediction': an interval for the outcome), got {kind!r}")


def check_kind_without_interval(where: str, kind) -> None:
    """Refuse ``kind="prediction"`` given without ``interval``: the point value is the expected value, so the
    request for an outcome interval would be dropped without a word. DataError naming the fix; an unknown
    ``kind`` is refused as :func:`check_kind` does."""
    if check_kind(where, kind) != "confidence":
        raise DataError(f"{where}: kind={kind!r} asks for an interval, but interval= is not given; give interval= "
                        "(e.g. 0.9) for the prediction interval, or leave kind out for the expected value alone")


def outcome_interval(where: str, point, samples: np.ndarray, interval, name: str, index=None,
                     coverage: bool = True) -> pd.DataFrame:
    """Prediction interval from simulated outcomes ``(n_draws, n)``: DataFrame ``{name, lower, upper[, coverage]}``.

    ``lower`` / ``upper``: the ``(1 - interval) / 2`` and ``(1 + interval) / 2``
    quantiles by the inverted empirical CDF (the smallest simulated outcome
    whose empirical CDF reaches the probability), so both ends are simulated
    outcomes (whole numbers for purchase counts) and, for a discrete outcome,
    ``[lower, upper]`` holds at least ``interval`` of the simulated outcomes.
    ``coverage``: the share of the simulated outcomes inside ``[lower, upper]``
    (the interval's actual level under the model, >= ``interval`` up to the
    simulation error).
    """
    level = check_level(where, interval)
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0, method="inverted_cdf")
    point = np.asarray(point, dtype=np.float64).reshape(-1)
    out = pd.DataFrame({name: point, "lower": lo.reshape(-1), "upper": hi.reshape(-1)}, index=index)
    if coverage:
        out["coverage"] = ((samples >= lo) & (samples <= hi)).mean(axis=0).reshape(-1)
    return out


def simulate_spend(spend_model, counts: np.ndarray, frequency, monetary_value, covariates=None, *, rng=None):
    """Simulated revenue of purchases still to come: for each customer and period, the sum of ``counts`` values.

    ``counts``: purchases per period, shape ``(K, n)`` (e.g. the differences of
    :meth:`~segwork.clv.transaction.TransactionModel.simulate_purchases`);
    ``frequency``, ``monetary_value``: the customers' history (length ``n``).
    ``spend_model``: a fitted :class:`~segwork.clv.gamma_gamma.GammaGamma`
    (with ``covariates`` if it was fitted with them) or a number (a constant
    value per purchase). Returns float array ``(K, n)`` in the data's currency.

    Gamma-Gamma (Fader, Hardie & Lee 2005; Hardie's note 025): a purchase's
    value is Gamma(p, rate nu); a customer's nu has the posterior
    Gamma(q + p x, rate v_i + x m) given x repeat purchases with mean value m
    (the prior Gamma(q, v_i) for x = 0), whose mean ``p (v_i + x m) / (p x + q - 1)``
    is :meth:`~segwork.clv.gamma_gamma.GammaGamma.expected_spend`. Per draw
    nu is drawn once per customer and the sum of c values in a period is
    Gamma(p c, rate nu). Seeded by ``rng`` (a numpy Generator or a seed).
    """
    rng = np.random.default_rng(rng)
    counts = np.asarray(counts)
    if isinstance(spend_model, (int, float, np.number)):
        return float(spend_model) * counts.astype(np.float64)
    p, q, _ = (spend_model.params_[k] for k in ("p", "q", "v"))
    x = np.asarray(frequency, dtype=np.float64).reshape(-1)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=np.float64).reshape(-1), 0.0)
    index = frequency.index if isinstance(frequency, pd.Series) else None
    v = spend_model._customer_scale("simulate_spend", covariates, index, x.size)
    nu = rng.gamma(q + p * x, 1.0 / (v + x * m))
    out = np.zeros(counts.shape, dtype=np.float64)
    bought = counts > 0
    if bought.any():
        scale = np.broadcast_to(1.0 / nu, counts.shape)[bought]
        out[bought] = rng.gamma(p * counts[bought], scale)
    return out
