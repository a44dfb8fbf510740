"""Campaign measurement: uplift and interval by hand, make_crm's built-in campaign, planted uplift recovered, coverage, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act.campaign import campaign_results, planted_uplift
from segwork.datasets import DEFAULT_SEGMENTS, make_crm, plant_campaign
from segwork.errors import DataError


def test_small_example_by_hand():
    c = pd.DataFrame({"group": ["treatment"] * 10 + ["control"] * 10,
                      "responded": [True] * 4 + [False] * 6 + [True] * 1 + [False] * 9})
    out = campaign_results(c, value_per_response=50, cost_per_contact=2, planned_uplift=0.2)
    row = out.loc["all"]
    se = np.sqrt(0.4 * 0.6 / 10 + 0.1 * 0.9 / 10)
    assert row["uplift"] == pytest.approx(0.3)
    assert row["uplift_low"] == pytest.approx(0.3 - 1.959964 * se, rel=1e-5)
    assert row["incremental_profit"] == pytest.approx(0.3 * 10 * 50 - 20)
    assert row["planned_profit"] == pytest.approx(0.2 * 10 * 50 - 20)


@pytest.fixture(scope="module")
def crm():
    return make_crm(3000, random_state=0)


def _with_segment(data):
    c = data.campaign
    return c.assign(segment=c["customer_id"].map(data.truth["segment"].astype(str)))


def test_built_in_campaign_is_reproducible_and_respects_permission(crm):
    camp = crm.campaign
    pd.testing.assert_frame_equal(camp, make_crm(3000, random_state=0).campaign)
    assert list(camp.columns) == ["customer_id", "campaign_date", "channel", "group", "responded"]
    day = camp["campaign_date"].iloc[0]
    prof = crm.customers.set_index("customer_id")
    eligible = prof.index[prof["email_opt_in"] & (prof["signup_date"] < day)]
    assert sorted(camp["customer_id"]) == sorted(eligible) and (camp["channel"] == "email").all()
    share = (camp["group"] == "control").mean()
    assert 0.15 < share < 0.25
    planted = crm.truth["campaign_true_uplift"]
    assert planted.notna().sum() == len(camp)
    # dead customers (dropout before the campaign) neither buy nor respond to a contact
    t = crm.truth.loc[camp["customer_id"]]
    dead = (t["dropout_date"] <= day).to_numpy()
    assert (t.loc[dead, "campaign_p_treatment"] == 0).all() and not camp.loc[dead, "responded"].any()


def test_planted_uplift_is_covered(crm):
    camp = _with_segment(crm)
    out = campaign_results(camp)
    planted = planted_uplift(camp, crm.truth)
    row = out.loc["all"]
    assert row["uplift_low"] <= planted["all"] <= row["uplift_high"]
    # the planted mean recomputed from truth's own probabilities
    t = crm.truth.loc[camp["customer_id"]]
    assert planted["all"] == pytest.approx((t["campaign_p_treatment"] - t["campaign_p_control"]).mean())
    assert set(planted.index) == set(out.index)


def test_interval_coverage_near_nominal(crm):
    """Over 200 campaign draws on one population the 95 % interval covers the planted uplift about 95 % of the time."""
    day = crm.campaign["campaign_date"].iloc[0]
    covered = []
    for s in range(200):
        camp, truth = plant_campaign(crm.customers, crm.truth, day, uplift={s.name: s.campaign_uplift
                                                                            for s in DEFAULT_SEGMENTS}, random_state=s)
        row = campaign_results(camp).loc["all"]
        covered.append(row["uplift_low"] <= truth["campaign_true_uplift"].mean() <= row["uplift_high"])
    assert 0.90 <= np.mean(covered) <= 0.99


def test_other_channel_and_bad_input(crm):
    day = crm.campaign["campaign_date"].iloc[0]
    sms, _ = plant_campaign(crm.customers, crm.truth, day, channel="sms", random_state=1)
    ok = crm.customers.set_index("customer_id")["sms_opt_in"]
    assert ok.loc[sms["customer_id"]].all() and (sms["channel"] == "sms").all()
    c = pd.DataFrame({"group": ["treatment", "treatment"], "responded": [True, False]})
    with pytest.raises(DataError, match="control"):
        campaign_results(c)
    with pytest.raises(DataError, match="'other'"):
        campaign_results(c.assign(group=["treatment", "other"]))
    with pytest.raises(DataError, match="responded"):
        campaign_results(c.drop(columns="responded"))
    with pytest.raises(DataError, match="campaign_true_uplift"):
        planted_uplift(crm.campaign, crm.truth.drop(columns="campaign_true_uplift"))
    with pytest.raises(DataError, match="'C9"):  # unknown customer
        planted_uplift(pd.DataFrame({"customer_id": ["C999999"]}), crm.truth)
    with pytest.raises(DataError, match="truth"):
        plant_campaign(crm.customers, pd.DataFrame({"x": [1]}), day)
    with pytest.raises(DataError, match="control_share"):
        plant_campaign(crm.customers, crm.truth, day, control_share=1.0)
    with pytest.raises(DataError, match="fax"):
        plant_campaign(crm.customers, crm.truth, day, channel="fax")
    with pytest.raises(DataError, match="no customer acquired before"):  # an empty campaign
        plant_campaign(crm.customers, crm.truth, "2022-01-01")
