"""The concentration curve and top share of a per-customer value, against direct computations."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import concentration_curve, customer_table, top_share


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=2000, random_state=8)
    return customer_table(data.transactions, data.customers)


def test_concentration_curve_against_direct_sums(table):
    rev = table["revenue"]
    curve = concentration_curve(rev, [0.0, 0.01, 0.2, 0.5, 1.0])
    ordered = rev.sort_values(ascending=False)
    n = len(rev)
    for q, share in zip(curve["customer_share"], curve["value_share"]):
        assert share == pytest.approx(ordered.iloc[: round(q * n)].sum() / rev.sum())
    assert top_share(rev, 0.2) == pytest.approx(ordered.iloc[:400].sum() / rev.sum())
    assert curve["value_share"].iloc[0] == 0 and curve["value_share"].iloc[-1] == pytest.approx(1)
    assert len(concentration_curve(rev, 11)) == 11


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=200).filter(lambda v: sum(v) > 0))
def test_concentration_curve_is_increasing_concave_and_above_the_diagonal(values):
    curve = concentration_curve(np.array(values), 21)
    y = curve["value_share"].to_numpy()
    assert (np.diff(y) >= -1e-12).all()
    assert (y >= curve["customers"].to_numpy() / len(values) - 1e-9).all()  # best first: never below the diagonal
    full = concentration_curve(np.array(values), np.arange(len(values) + 1) / len(values))["value_share"].to_numpy()
    assert (np.diff(np.diff(full)) <= 1e-9).all()  # each next customer adds no more than the previous


def test_concentration_curve_errors():
    with pytest.raises(DataError, match="positive total"):
        concentration_curve([-1.0, 0.5])
    with pytest.raises(DataError, match="between 0 and 1"):
        concentration_curve([1.0, 2.0], [1.5])
    with pytest.raises(DataError, match="no values"):
        concentration_curve([])
