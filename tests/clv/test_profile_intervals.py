"""Profile-likelihood intervals of the parameters (BaseModel.profile_interval, summary(interval="profile")).

The endpoints are checked against an independent profile: the other parameters refitted with Nelder-Mead on
the natural scale (not the method's L-BFGS-B on the log scale), the log-likelihood at the MLE being the
published CDNOW value (FHL 2005: -9582.4, checked in test_beta_geo). Coverage is measured by
benchmarks/param_interval_coverage.py (too slow for the suite).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize
from scipy.stats import chi2

from segwork.clv import BetaGeo, GammaGamma, ShiftedBetaGeometric
from segwork.clv.base import compress
from segwork.errors import DataError, IdentificationWarning, NotFittedError

CHI2_95 = chi2.ppf(0.95, 1)  # 3.8415


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def _profile_ll(model, data, w, name, value):
    """max over the other parameters of the total log-likelihood with ``name`` fixed at ``value`` (Nelder-Mead)."""
    names = list(model._param_names)
    j = names.index(name)
    start = np.delete(np.array([model.params_[p] for p in names]), j)

    def negll(others):
        if (others <= 0).any():
            return np.inf
        return -model._total_loglik(np.insert(others, j, value), data, w)[0]

    res = optimize.minimize(negll, start, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20000, "maxfev": 20000})
    return -res.fun


def test_cdnow_profile_interval_endpoints_are_where_the_deviance_is_chi2(bg, cdnow):
    data, w = compress({"x": cdnow["frequency"].to_numpy(float), "tx": cdnow["recency"].to_numpy(float),
                        "T": cdnow["T"].to_numpy(float)}, np.ones(len(cdnow)))
    for name in ("a", "r"):
        lo, hi = bg.profile_interval(name, level=0.95)
        assert lo < bg.params_[name] < hi
        for end in (lo, hi):
            deviance = 2 * (bg.log_likelihood_ - _profile_ll(bg, data, w, name, end))
            assert deviance == pytest.approx(CHI2_95, abs=1e-4), (name, end)


def test_profile_agrees_with_wald_for_near_quadratic_parameters_and_shifts_up_for_a_b(bg):
    s = bg.summary(interval="profile")
    assert list(s.columns[-2:]) == ["profile_lower_95", "profile_upper_95"]
    assert (s["profile_lower_95"] < s["estimate"]).all() and (s["estimate"] < s["profile_upper_95"]).all()
    # r and alpha (2,357 customers, most information): within 2 % of the log-scale Wald limits
    for p in ("r", "alpha"):
        np.testing.assert_allclose(s.loc[p, ["profile_lower_95", "profile_upper_95"]].to_numpy(float),
                                   s.loc[p, ["lower_95", "upper_95"]].to_numpy(float), rtol=0.02)
    # the dropout parameters' likelihood is skewed even on the log scale: both profile limits lie above the
    # Wald ones (by 3-7 % on CDNOW), the direction in which the Wald interval misses in the coverage benchmark
    for p in ("a", "b"):
        assert s.loc[p, "profile_lower_95"] > 1.02 * s.loc[p, "lower_95"], p
        assert s.loc[p, "profile_upper_95"] > 1.02 * s.loc[p, "upper_95"], p
    # the default summary is unchanged (no profile columns, no refits)
    assert list(bg.summary().columns) == ["estimate", "std_error", "lower_95", "upper_95"]


def test_r_on_a_small_sample_has_an_asymmetric_profile_interval(cdnow):
    sub = cdnow.sample(300, random_state=1)
    m = BetaGeo().fit(sub["frequency"], sub["recency"], sub["T"])
    lo, hi = m.profile_interval("r")
    r = m.params_["r"]
    # a gamma shape: the likelihood falls faster towards 0 than upwards, the interval reaches further up
    assert (hi - r) > 1.2 * (r - lo)
    lo90, hi90 = m.profile_interval("r", level=0.90)
    assert lo < lo90 < r < hi90 < hi


def test_spend_and_contractual_models_use_the_same_profile(cdnow):
    rep = cdnow[cdnow["frequency"] > 0]
    gg = GammaGamma().fit(rep["frequency"], rep["monetary_value"])
    data, w = compress({"x": rep["frequency"].to_numpy(float), "m": rep["monetary_value"].to_numpy(float)},
                       np.ones(len(rep)))
    lo, hi = gg.profile_interval("p")
    assert lo < gg.params_["p"] < hi
    for end in (lo, hi):
        assert 2 * (gg.log_likelihood_ - _profile_ll(gg, data, w, "p", end)) == pytest.approx(CHI2_95, abs=1e-4)
    # sBG (two parameters, one refitted): Fader & Hardie (2007) "regular" customers
    sbg = ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326])
    lo, hi = sbg.profile_interval("alpha")
    assert lo < sbg.params_["alpha"] < hi


def test_a_side_the_data_do_not_limit_is_reported_as_inf_with_a_warning():
    # everybody buys steadily until the end (gamma rates r = 2, alpha = 4): nobody seems to leave, the BG/NBD
    # fit is the limit a -> 0 / b -> infinity (as in test_identification)
    rng = np.random.default_rng(3)
    T = rng.uniform(20, 40, 200)
    x = rng.poisson(rng.gamma(2.0, 1 / 4.0, 200) * T)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    with pytest.warns(IdentificationWarning):
        m = BetaGeo().fit(x, tx, T)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        lo, hi = m.profile_interval("b")
    notes = [str(w.message) for w in rec if issubclass(w.category, IdentificationWarning)]
    assert any("profile likelihood of b" in n and "no upper limit, reported as inf" in n for n in notes), notes
    assert hi == np.inf and 0.0 <= lo <= m.params_["b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lo, hi = m.profile_interval("alpha")  # identified: finite, silent
    assert 0 < lo < m.params_["alpha"] < hi < np.inf


def test_bad_input_raises_the_projects_errors(bg):
    with pytest.raises(DataError, match=r"unknown parameter 'beta'.*r, alpha, a, b"):
        bg.profile_interval("beta")
    for level in (0.0, 1.0, 1.5, -0.1, "high", None):
        with pytest.raises(DataError, match="level must be a coverage level strictly between 0 and 1"):
            bg.profile_interval("a", level=level)
    with pytest.raises(DataError, match="interval must be 'wald'.*or 'profile'"):
        bg.summary(interval="bootstrap")
    with pytest.raises(NotFittedError):
        BetaGeo().profile_interval("a")
    with pytest.raises(NotFittedError):
        GammaGamma().summary(interval="profile")
