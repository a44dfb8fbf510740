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
data, where the standard errors are themselves unreliable), and it describes
the uncertainty of the model's *expected* value only: a customer's actual
number of purchases varies around its expectation by much more (Poisson and
dropout noise), which these intervals do not include.

Every draw is seeded (``seed``); the same seed gives the same interval.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .._checks import check_level
from ..errors import ConvergenceError, DataError

__all__ = ["parameter_draws", "sampled_models", "quantile_interval", "interval_problem", "MAX_INTERVAL_DECADES"]

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

    Returns a sentence for the page, or None. Raises what ``summary()``
    raises (ConvergenceError when the fit has no covariance at its optimum;
    NotFittedError for an unfitted model).
    """
    table = model.summary()
    spread = (np.log10(table["upper_95"]) - np.log10(table["lower_95"])).iloc[:len(model.params_)]
    if not np.isfinite(spread).all() or spread.max() > max_decades:
        return "its parameters are too poorly identified by these data for sampled intervals"
    return None


def parameter_draws(model, n_draws: int = 200, seed=0) -> np.ndarray:
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
    rng = np.random.default_rng(seed)
    if getattr(model, "unidentified_", ()):
        # a fit at a limit of the model: the covariance covers the identified directions only (singular),
        # which a Cholesky factor cannot take; the parameters at the limit stay at their estimate
        return rng.multivariate_normal(mean, cov, size=int(n_draws), method="eigh")
    return rng.multivariate_normal(mean, cov, size=int(n_draws), method="cholesky")


def sampled_models(model, n_draws: int = 200, seed=0):
    """Copies of ``model`` with parameters drawn by :func:`parameter_draws` (a generator)."""
    draws = parameter_draws(model, n_draws, seed)
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
