"""Issue 19, no silent fallbacks: a Gamma-Gamma at its limit p -> infinity (every purchase of a customer has the
same value) is that limit, with its IdentificationWarning, wherever along the flat ridge the optimiser stops; a
spend model that fails is penalized or replaced by a constant, recorded, and never takes P(alive) with it."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import segwork.clv.predict as predict_module
from segwork.clv import GammaGamma, fit_clv, simulate_one_price_transactions
from segwork.clv.predict import fit_spend
from segwork.clv.record import Fallback, FitRecord, ModelStatus
from segwork.errors import ConvergenceError, IdentificationWarning
from segwork.features import customer_table

#: seed 0 of simulate_one_price_transactions(1000): before issue 19 the fit ran off to p = 1.07e13 and raised
#: ConvergenceError ("ran off ... not a usable limit"); 4 of seeds 0-9 did (the others converged or warned)
SEED = 0
LIMIT = r"GammaGamma\.fit: .*p=.*v=.* not identified.*every purchase of a customer has the same value"


@pytest.fixture(scope="module")
def table():
    return customer_table(simulate_one_price_transactions(1000, random_state=SEED))


@pytest.fixture(scope="module")
def reference(table):
    with pytest.warns(IdentificationWarning, match=LIMIT):
        return GammaGamma().fit(table["frequency"], table["monetary_value"])


#: starts (p, q) along the ridge p -> infinity, v = (p v of the reference) / p: from far short of where the
#: optimiser usually stops to its bound (p = e^30)
RIDGE_STARTS = [None, (1e2, 2.0), (1e5, 4.0), (1e9, 2.0), (1e12, 8.0)]


@pytest.mark.parametrize("start", RIDGE_STARTS, ids=lambda s: "default" if s is None else f"p{s[0]:g}_q{s[1]:g}")
def test_the_limit_is_the_same_wherever_the_optimiser_stops(monkeypatch, table, reference, start):
    if start is not None:
        pv = reference.params_["p"] * reference.params_["v"]
        monkeypatch.setattr(GammaGamma, "_start", lambda self, d, c: np.array([start[0], start[1], pv / start[0]]))
    with pytest.warns(IdentificationWarning, match=LIMIT):
        m = GammaGamma().fit(table["frequency"], table["monetary_value"])
    assert {"p", "v"} <= set(m.unidentified_)
    assert m.params_["p"] > 1e4  # on the ridge towards the limit, wherever it stopped
    # the identified part, the likelihood and the predictions are those of the limit, far inside their errors
    assert m.params_["q"] == pytest.approx(reference.params_["q"], rel=1e-3)
    assert m.params_["p"] * m.params_["v"] == pytest.approx(reference.params_["p"] * reference.params_["v"], rel=1e-3)
    assert m.log_likelihood_ == pytest.approx(reference.log_likelihood_, abs=1e-2)
    x, mv = table["frequency"], table["monetary_value"]
    np.testing.assert_allclose(m.expected_spend(x, mv), reference.expected_spend(x, mv), rtol=1e-3)
    s = m.summary()
    assert s.loc[["p", "v"], "std_error"].isna().all() and np.isfinite(s.loc["q", "estimate"])


def test_at_the_limit_a_repeat_buyer_is_expected_to_spend_their_own_price(table, reference):
    # the limit's meaning: every purchase of a customer has the same value, so the observed mean is the expectation
    rep = table["frequency"] > 0
    spend = reference.expected_spend(table.loc[rep, "frequency"], table.loc[rep, "monetary_value"])
    np.testing.assert_allclose(spend, table.loc[rep, "monetary_value"], rtol=1e-3)


def test_fit_clv_at_the_limit_keeps_both_columns_and_records_the_limit(table):
    with pytest.warns(IdentificationWarning, match=LIMIT):
        fit = fit_clv(table)
    assert np.isfinite(fit.values["clv"]).all() and fit.values["p_alive"].between(0, 1).all()
    spend = fit.record.model("spend")
    assert spend.status == "at limit" and {"p", "v"} <= set(spend.limit)
    assert "every purchase of a customer has the same value" in spend.message
    assert fit.record.fallbacks == ()  # a limit is the model, not a fallback
    assert "at limit" in fit.record.to_markdown()


class _NeverConverges(GammaGamma):
    def fit(self, *args, **kwargs):
        raise ConvergenceError("GammaGamma.fit did not converge (a test); try a penalizer")


class _OnlyPenalized(GammaGamma):
    def fit(self, *args, **kwargs):
        if not self.penalizer:
            raise ConvergenceError("GammaGamma.fit did not converge (a test); try a penalizer")
        return super().fit(*args, **kwargs)


def test_a_spend_model_that_converges_only_penalized_is_recorded(monkeypatch, table):
    monkeypatch.setattr(predict_module, "GammaGamma", _OnlyPenalized)
    with pytest.warns(UserWarning, match=r"Gamma-Gamma: the unpenalized Gamma-Gamma fit did not converge .*penalizer=0\.001"):
        fit = fit_clv(table)
    spend = fit.record.model("spend")
    assert spend.status == "penalized" and spend.penalizer == 0.001
    assert fit.record.fallback("penalized spend model").columns == ("clv",)
    assert np.isfinite(fit.values["clv"]).all() and fit.values["p_alive"].between(0, 1).all()


def test_a_failed_spend_model_keeps_p_alive_and_records_the_constant_spend(monkeypatch, table):
    monkeypatch.setattr(predict_module, "GammaGamma", _NeverConverges)
    with pytest.warns(UserWarning, match="not even with penalizer .*repeat buyers' mean spend"):
        fit = fit_clv(table)
    assert fit.values["p_alive"].between(0, 1).all() and np.isfinite(fit.values["clv"]).all()
    assert isinstance(fit.spend_model, float)
    rep = table[(table["frequency"] > 0) & (table["monetary_value"] > 0)]
    assert fit.spend_model == pytest.approx(rep["monetary_value"].mean(), rel=1e-12)
    assert fit.record.model("spend").status == "failed"
    assert fit.record.model("transaction").status in ("fitted", "at limit")
    constant = fit.record.fallback("constant spend")
    assert constant.columns == ("clv",) and f"{fit.spend_model:.4g}" in constant.detail
    assert "constant spend" in fit.record.to_markdown()


def test_fit_spend_reads_a_plain_fit_as_fitted(table):
    plain = table.copy()
    rng = np.random.default_rng(0)
    rep = plain["frequency"] > 0  # spread within customers: a plain Gamma-Gamma
    plain.loc[rep, "monetary_value"] *= rng.gamma(20.0, 1 / 20.0, int(rep.sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spend = fit_spend(plain)
    assert isinstance(spend.model, GammaGamma) and spend.status.status == "fitted" and spend.fallbacks == ()


def test_the_record_is_json_and_reads_back():
    record = FitRecord((ModelStatus("transaction", "mbgnbd", "MBG/NBD", "penalized", (), 0.001, "did not converge"),
                        ModelStatus("spend", "gamma_gamma", "Gamma-Gamma", "at limit", ("p", "v"), 0.0, "flat")),
                       (Fallback("penalized transaction model", "refitted", ("p_alive", "clv")),))
    doc = json.loads(json.dumps(record.to_dict()))
    assert FitRecord.from_dict(doc) == record and doc["lines"] == record.lines()
    assert FitRecord.from_dict(None) == FitRecord() and FitRecord().to_markdown() == ""
    with pytest.raises(ValueError, match="status"):
        ModelStatus("spend", "gamma_gamma", "Gamma-Gamma", "fine")
    with pytest.raises(ValueError, match="kind"):
        Fallback("something else", "")
