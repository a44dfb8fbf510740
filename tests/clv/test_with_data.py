"""TimeVaryingParetoNBD.with_data: the fitted model at its parameters on other customers' histories (the service's
customers given by history): a fitted customer given again gets the fit's numbers, whatever the others given."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from segwork.clv import TimeVaryingParetoNBD, simulate_time_varying_pareto_nbd
from segwork.errors import DataError

COLUMNS = ["season", "promo", "complaint", "segment"]


@pytest.fixture(scope="module")
def sim():
    return simulate_time_varying_pareto_nbd(600, purchase_coef={"season": 0.5, "promo": 0.4, "segment[b]": 0.3},
                                            dropout_coef={"complaint": 1.2, "segment[b]": -0.5}, future_weeks=30,
                                            random_state=5)


@pytest.fixture(scope="module")
def table(sim):
    """The long table with the static segment as a categorical column (constant over a customer's weeks)."""
    cov = sim.covariates.join(sim.static["segment"].astype("category"), on="customer_id")
    return cov


@pytest.fixture(scope="module")
def fitted(sim, table):
    return TimeVaryingParetoNBD().fit(sim.transactions, table, observation_end=sim.observation_end,
                                      purchase_covariates=COLUMNS, dropout_covariates=COLUMNS)


def _some(sim, table, ids):
    return (sim.transactions[sim.transactions["customer_id"].isin(ids)], table[table["customer_id"].isin(ids)])


def test_fitted_customers_given_again_get_the_fits_numbers(sim, table, fitted):
    ids = list(fitted.p_alive().index[::37])
    tx, cov = _some(sim, table, ids)
    again = fitted.with_data(tx, cov, observation_end=sim.observation_end)
    assert list(again.p_alive().index) == sorted(ids)
    np.testing.assert_array_equal(again.p_alive(), fitted.p_alive()[again.p_alive().index])
    np.testing.assert_array_equal(again.log_likelihood_customers(),
                                  fitted.log_likelihood_customers()[again.p_alive().index])
    ahead = again.discounted_expected_purchases(20.0, 0.01, covariates=cov)
    np.testing.assert_allclose(ahead, fitted.discounted_expected_purchases(20.0, 0.01)[ahead.index], rtol=1e-12)
    assert again.summary().equals(fitted.summary()) and again.params_ == fitted.params_
    # one customer alone, all of whose covariates are constant: encoded as at fit, no 'constant column' refusal
    one = fitted.with_data(*_some(sim, table, ids[:1]), observation_end=sim.observation_end)
    assert one.p_alive().iloc[0] == fitted.p_alive()[ids[0]]
    small = pickle.loads(pickle.dumps(one))
    assert len(pickle.dumps(one)) < 100_000  # the copy keeps no design of the fitted customers
    np.testing.assert_array_equal(small.with_data(tx, cov, observation_end=sim.observation_end).p_alive(),
                                  again.p_alive())


def test_other_data_is_checked_as_at_fit(sim, table, fitted):
    ids = list(fitted.p_alive().index[:3])
    tx, cov = _some(sim, table, ids)
    unseen = cov.assign(segment=cov["segment"].cat.add_categories("z"))
    unseen.loc[unseen.index[0], "segment"] = "z"
    with pytest.raises(DataError, match="level not seen in fit"):
        fitted.with_data(tx, unseen, observation_end=sim.observation_end)
    shifted = cov.assign(period_start=cov["period_start"] + np.timedelta64(2, "D"))
    with pytest.raises(DataError, match="not on the weekly grid|grid"):
        fitted.with_data(tx, shifted, observation_end=sim.observation_end)
