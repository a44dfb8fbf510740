"""Shared fixtures: the CDNOW sample summarised from the raw transactions (FHL 2005 set-up)."""
from __future__ import annotations

import pytest

from segwork.datasets import CDNOW_RULES, load_cdnow, make_crm
from segwork.features import rfm_summary


@pytest.fixture(scope="session")
def cdnow_tx():
    return load_cdnow("sample")


@pytest.fixture(scope="session")
def cdnow(cdnow_tx):
    """Per-customer (x, t_x, T) in weeks for the 39-week calibration period, plus the holdout."""
    return rfm_summary(cdnow_tx, calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="weeks",
                       rules=CDNOW_RULES)  # every record counts, as published


@pytest.fixture(scope="session")
def crm():
    return make_crm(n_customers=3000, random_state=1)


@pytest.fixture(scope="session")
def crm_summary(crm):
    return rfm_summary(crm.transactions, time_unit="weeks")
