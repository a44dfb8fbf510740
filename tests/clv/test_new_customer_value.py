"""new_customer_value: the value of a customer not yet acquired, checked against a Monte Carlo of the models' story."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.clv import BetaGeo, ParetoNBD, new_customer_value
from segwork.clv.value import DAYS_PER_MONTH
from segwork.errors import DataError

MONTH = DAYS_PER_MONTH / 7.0  # weeks


def _simulated_value(kind, params, n, horizon, d, k, spend, seed):
    """Mean discounted value of n simulated new customers (events drawn one by one), and its standard error."""
    rng = np.random.default_rng(seed)
    H = horizon * MONTH
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    N = rng.poisson(lam * H)
    cust = np.repeat(np.arange(n), N)
    times = rng.uniform(0.0, H, cust.size)
    order = np.lexsort((times, cust))
    cust, times = cust[order], times[order]
    start = np.repeat(np.cumsum(N) - N, N)
    rank = np.arange(cust.size) - start  # 0 for a customer's first repeat purchase
    if kind == "bg":
        p = np.clip(rng.beta(params["a"], params["b"], n), 1e-12, 1.0)
        last = rng.geometric(p)  # leaves right after this repeat purchase
        keep = rank < last[cust]
    else:
        mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
        life = rng.exponential(1.0 / mu)
        keep = times < life[cust]
    month = np.ceil(times[keep] / MONTH)
    per_customer = np.bincount(cust[keep], weights=(1.0 + d) ** -(k + month), minlength=n)
    value = spend * (per_customer + (1.0 + d) ** -k)
    return value.mean(), value.std() / np.sqrt(n)


@pytest.mark.parametrize("kind, params", [
    ("bg", dict(r=0.24, alpha=4.41, a=0.79, b=2.43)),  # FHL 2005's CDNOW estimates
    ("pareto", dict(r=0.55, alpha=10.58, s=0.61, beta=11.67)),  # FHL's Pareto/NBD CDNOW estimates
])
def test_new_customer_value_matches_simulation(kind, params):
    model = BetaGeo() if kind == "bg" else ParetoNBD()
    model.params_ = dict(params)
    # margin=1.0: the simulation sums revenue (spend per purchase), so the value compared is expected revenue
    value = new_customer_value(model, 35.0, horizon=24, discount_rate=0.01, margin=1.0, acquired_in=3)
    mc, se = _simulated_value(kind, params, 400_000, 24, 0.01, 3, 35.0, seed=4)
    assert abs(value - mc) < 4 * se, (value, mc, se)
    # without the first purchase and without discounting: spend x expected repeat purchases
    plain = new_customer_value(model, 1.0, horizon=24, discount_rate=0.0, margin=1.0, include_first_purchase=False)
    assert plain == pytest.approx(model.expected_purchases_new(24 * MONTH), rel=1e-12)


def test_new_customer_value_per_covariate_group():
    rng = np.random.default_rng(0)
    from tests.clv.test_covariates import _simulate

    Z = rng.integers(0, 2, 6000).astype(float)[:, None]
    x, tx, T = _simulate(BetaGeo, [0.7, 6.0, 0.9, 3.0], [[0.5], [0.0], [0.0]], Z, 40.0, seed=2)
    X = pd.DataFrame({"web": Z[:, 0]}, index=x.index)
    model = BetaGeo().fit(x, tx, T, covariates=X)
    groups = pd.DataFrame({"web": [0.0, 1.0]}, index=pd.Index(["shop", "web"], name="channel"))
    out = new_customer_value(model, 20.0, covariates=groups)
    assert list(out.index) == ["shop", "web"]
    for label, w in (("shop", 0.0), ("web", 1.0)):
        g = BetaGeo()
        c = model.coef_
        g.params_ = {"r": model.params_["r"], "alpha": model.params_["alpha"] * np.exp(-c["purchase:web"] * w),
                     "a": model.params_["a"] * np.exp(c["dropout_a:web"] * w),
                     "b": model.params_["b"] * np.exp(c["dropout_b:web"] * w)}
        assert out[label] == pytest.approx(new_customer_value(g, 20.0), rel=1e-12)
    assert out["web"] > out["shop"]  # the planted purchase effect is positive


@pytest.mark.parametrize("kwargs, match", [
    (dict(horizon=0), "horizon"), (dict(acquired_in=-1), "acquired_in"), (dict(discount_rate=-2), "discount_rate"),
    (dict(time_unit="years"), "time_unit"),
])
def test_new_customer_value_bad_input(kwargs, match):
    model = BetaGeo()
    model.params_ = dict(r=0.24, alpha=4.41, a=0.79, b=2.43)
    with pytest.raises(DataError, match=match):
        new_customer_value(model, 10.0, **kwargs)
