"""Purchase propensity: labels from raw dates, no leakage, BG/NBD and classifier scores."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act.propensity import PropensityClassifier, clv_propensity, propensity_features, purchase_labels
from segwork.datasets import make_crm
from segwork.errors import DataError


@pytest.fixture(scope="module")
def crm():
    return make_crm(3000, random_state=1)


def test_labels_counted_from_raw_dates(crm):
    tx = crm.transactions
    y = purchase_labels(tx, "2024-05-01", 30)
    day = tx["date"].dt.normalize()
    known = set(tx.loc[day <= "2024-05-01", "customer_id"].astype(str))
    bought = set(tx.loc[(day > "2024-05-01") & (day <= "2024-05-31"), "customer_id"].astype(str)) & known
    assert set(y.index) == known
    assert set(y.index[y]) == bought


def test_features_do_not_read_after_cutoff(crm):
    tx = crm.transactions
    cut = pd.Timestamp("2024-03-01")
    a = propensity_features(tx, crm.customers, observation_end=cut)
    b = propensity_features(tx[tx["date"].dt.normalize() <= cut], crm.customers, observation_end=cut)
    pd.testing.assert_frame_equal(a, b)
    assert {"n_last_30d", "frequency", "recency"} <= set(a.columns)


def test_classifier_ignores_the_future(crm):
    """Changing transactions after the cut-off does not change the scores (no leakage)."""
    tx = crm.transactions
    cut = pd.Timestamp("2024-05-01")
    p1 = PropensityClassifier(random_state=0, max_iter=50).fit(tx, crm.customers, observation_end=cut).predict(
        tx, crm.customers, observation_end=cut)
    past = tx[tx["date"].dt.normalize() <= cut]
    p2 = PropensityClassifier(random_state=0, max_iter=50).fit(past, crm.customers, observation_end=cut).predict(
        past, crm.customers, observation_end=cut)
    pd.testing.assert_series_equal(p1, p2)
    assert p1.between(0, 1).all()


def test_clv_propensity_ranks_buyers_above_chance(crm):
    tx = crm.transactions
    y = purchase_labels(tx, "2024-05-01")
    s = clv_propensity(tx, "2024-05-01", transaction_model="bgnbd")
    assert np.allclose(s["p_buy"], 1 - np.exp(-s["expected_purchases"]))
    # mean score of buyers above that of non-buyers
    assert s["p_buy"][y].mean() > s["p_buy"][~y].mean()


def test_bad_input(crm):
    tx = crm.transactions
    with pytest.raises(DataError, match="outside"):
        clv_propensity(tx, "2030-01-01")
    with pytest.raises(DataError, match="horizon_days"):
        purchase_labels(tx, "2024-05-01", 0)
    with pytest.raises(DataError, match="fit first"):
        PropensityClassifier().predict(tx, observation_end="2024-05-01")
    with pytest.raises(DataError, match="training histories end"):
        PropensityClassifier(horizon_days=3000).fit(tx, observation_end="2024-05-01")
