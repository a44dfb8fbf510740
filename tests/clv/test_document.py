"""The fitted CLV models as a JSON document: saved without pickle, loaded without refitting, same predictions."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from segwork.clv import (
    ClvModels,
    TRANSACTION_MODELS,
    apply_clv_models,
    clv_document,
    clv_fit_from_document,
    clv_models_from_document,
    fit_clv,
)
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import customer_table


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=800, random_state=7)
    return customer_table(data.transactions, observation_end=data.observation_end)


@pytest.mark.parametrize("key", ["mbgnbd", "bgnbd", "paretonbd"])
def test_models_from_the_document_predict_the_same_numbers_exactly(table, key):
    fit = fit_clv(table, transaction_model=key, horizon=6, discount_rate=0.02, margin=0.4)
    doc = json.loads(json.dumps(clv_document(fit)))  # through JSON text, as on disk
    assert doc["transaction_model"]["key"] == key and doc["time_unit"] == "weeks"
    assert (doc["horizon"], doc["discount_rate"], doc["margin"]) == (6, 0.02, 0.4)
    again = clv_fit_from_document(doc, table)
    pd.testing.assert_frame_equal(again.values, fit.values, check_exact=True)
    assert again.values.attrs == fit.values.attrs and again.p_alive_model == fit.p_alive_model
    models = clv_models_from_document(doc)
    assert isinstance(models, ClvModels) and type(models.transaction_model) is TRANSACTION_MODELS[key][0]
    assert models.transaction_model.params_ == fit.transaction_model.params_
    assert models.spend_model.params_ == fit.spend_model.params_


def test_with_settings_recomputes_clv_from_the_same_models(table):
    fit = fit_clv(table)
    other = fit.with_settings(table, horizon=3, margin=0.5)
    assert other.transaction_model is fit.transaction_model and other.spend_model is fit.spend_model
    direct = fit_clv(table, horizon=3, margin=0.5)
    pd.testing.assert_frame_equal(other.values, direct.values, check_exact=True)
    assert (other.horizon, other.discount_rate, other.margin) == (3, 0.01, 0.5)
    same = apply_clv_models(table, fit.transaction_model, fit.spend_model, transaction_model_key="mbgnbd")
    pd.testing.assert_frame_equal(same.values, fit.values, check_exact=True)


def test_a_constant_spend_model_round_trips(table):
    fit = fit_clv(table)
    constant = ClvModels(fit.transaction_model, 25.5, "mbgnbd")
    doc = clv_document(constant)
    assert doc["spend_model"] == {"constant": 25.5}
    assert clv_models_from_document(doc).spend_model == 25.5


@pytest.mark.parametrize("damage, match", [
    (lambda d: d["transaction_model"]["params"].pop("r"), "incomplete"),
    (lambda d: d["transaction_model"].update(key="nbd"), "incomplete"),
    (lambda d: d["spend_model"]["params"].update(p=float("nan")), "incomplete"),
    (lambda d: d.update(format="something-else"), "another kind"),
    (lambda d: d.pop("horizon"), "incomplete"),
])
def test_a_damaged_document_is_refused_naming_the_file(table, damage, match):
    doc = clv_document(fit_clv(table))
    damage(doc)
    with pytest.raises(DataError, match=match) as info:
        clv_models_from_document(doc, where="models/clv.json")
    assert "models/clv.json" in str(info.value)


def test_a_model_that_does_not_match_its_key_is_refused(table):
    fit = fit_clv(table)
    with pytest.raises(DataError, match="does not match"):
        clv_document(ClvModels(fit.transaction_model, fit.spend_model, "bgnbd"))


def test_a_rebuilt_model_says_it_has_no_covariance_instead_of_a_numpy_error():
    """A model rebuilt from saved estimates keeps no covariance (the document stores parameters only). summary() and
    the interval check said 'Input must be 1- or 2-d.' (numpy) on notebook 05's page; now they say what to do."""
    from segwork.clv import BetaGeo, interval_problem
    from segwork.clv.document import clv_document, clv_models_from_document
    from segwork.clv.predict import fit_clv
    from segwork.datasets import make_crm
    from segwork.errors import NotFittedError
    from segwork.features import customer_table

    data = make_crm(n_customers=500, random_state=1)
    table = customer_table(data.transactions, observation_end=data.observation_end)
    fit = fit_clv(table, transaction_model="bgnbd")
    assert isinstance(fit.transaction_model, BetaGeo) and interval_problem(fit.transaction_model) is None
    rebuilt = clv_models_from_document(clv_document(fit)).transaction_model
    assert rebuilt.params_ == fit.transaction_model.params_
    assert "rebuilt from saved estimates" in interval_problem(rebuilt)
    with pytest.raises(NotFittedError, match="fit it again on its customer table"):
        rebuilt.summary()
