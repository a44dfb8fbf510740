"""Relationship types against make_crm's ground truth, their rules, the summary, new customers, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act.strategies import relationship_summary, with_effects
from segwork.datasets import make_crm
from segwork.errors import DataError, NotFittedError
from segwork.prepare import prepare_table
from segwork.segment import RELATIONSHIP_TYPES, RelationshipTyper, Segmentation, relationship_segmentation


@pytest.fixture(scope="module")
def crm():
    data = make_crm(n_customers=4000, seed=3)
    table = prepare_table(data)
    return data, table, relationship_segmentation(table)


def test_types_agree_with_who_is_truly_alive(crm):
    """Win-back customers have mostly truly left; Loyal ones are mostly truly alive.

    make_crm's truth says who is still alive at the end of the window (about
    57 % here), so a typing that knew nothing would give each type about 57 %
    alive. Measured at 2,000-20,000 customers and several seeds: about 95 % of
    Win-back have left and 90-93 % of Loyal are alive. The thresholds (85 %)
    leave room for sampling noise (Win-back holds ~300 customers at this size,
    a standard error of about 1.5 points) while still failing a typing that
    merely follows the base rate by a wide margin.
    """
    data, table, seg = crm
    alive = data.truth["alive"].reindex(seg.labels.index)
    by_type = alive.groupby(seg.labels.astype(str)).mean()
    base = alive.mean()
    assert 0.45 < base < 0.7
    assert 1 - by_type["Win-back"] >= 0.85
    assert by_type["Loyal"] >= 0.85
    # vulnerable customers are at risk: between the loyal and the lapsed
    assert by_type["Win-back"] < by_type["Vulnerable"] < by_type["Loyal"]


def test_p_alive_is_prepare_tables_and_not_refitted(crm):
    _, table, seg = crm
    # the P(alive) that prepare_table computed (BG/NBD in weeks) is the one used: no second fit
    pd.testing.assert_series_equal(seg.params["p_alive"], table["p_alive"], check_names=False)
    assert seg.params["p_alive_source"] == "table"
    # without that column the typer fits the same model itself and agrees
    bare = table.drop(columns=["p_alive", "clv"])
    refit = relationship_segmentation(bare)
    assert refit.params["p_alive_source"] == "fitted"
    assert np.allclose(refit.params["p_alive"].to_numpy(), table["p_alive"].to_numpy(), atol=1e-8)
    pd.testing.assert_series_equal(refit.labels, seg.labels)
    # a given model is used as is (here one fitted on other customers: a different P(alive))
    other = prepare_table(make_crm(n_customers=500, seed=77))
    # the model learned at fit (for new customers) is the one behind the table's P(alive): predict agrees
    assert np.allclose(seg.segmenter.p_alive(table).to_numpy(), table["p_alive"].to_numpy(), atol=1e-8)
    pd.testing.assert_series_equal(seg.predict(table.head(50)).astype(str), seg.labels.head(50).astype(str),
                                   check_names=False, check_categorical=False)
    model = refit.segmenter.model_
    typer = RelationshipTyper(model=model).fit(bare)
    assert typer.p_alive_source_ == "model" and typer.model_ is model
    given = relationship_segmentation(bare, model=RelationshipTyper().fit(other.drop(columns="p_alive")).model_)
    assert given.params["p_alive_source"] == "model"
    assert not np.allclose(given.params["p_alive"].to_numpy(), table["p_alive"].to_numpy(), atol=1e-6)


def test_each_type_meets_its_rule(crm):
    _, table, seg = crm
    p = seg.params
    lab = seg.labels.astype(str)
    pa, x = p["p_alive"], table["frequency"]
    quiet, value, rate = table["days_since_last"], table["revenue"], table["purchase_rate"]
    assert p["value_cut"] == pytest.approx(value.median())
    assert p["rate_cut"] == pytest.approx(rate[x > 0].median())
    pro = lab == "Prospective"
    assert ((x[pro] == 0) & (quiet[pro] <= 180)).all()
    assert ((x[~pro] > 0) | (quiet[~pro] > 180)).all()  # every recent one-time buyer is prospective
    lapsed = ((x > 0) & (pa < 0.3)) | ((x == 0) & (quiet > 180))
    wb = lab == "Win-back"
    assert (lapsed[wb] & (value[wb] >= p["value_cut"])).all()
    assert not (lapsed & (value >= p["value_cut"]) & ~wb).any()
    loyal = lab == "Loyal"
    assert ((x[loyal] > 0) & (pa[loyal] >= 0.7) & ((rate[loyal] >= p["rate_cut"]) | (value[loyal] >= p["value_cut"]))).all()
    vul = lab == "Vulnerable"
    assert ((pa[vul] >= 0.3) & (pa[vul] < 0.7) & (value[vul] >= p["value_cut"])).all()
    other = lab == "Other"
    assert not (other & (x > 0) & (pa >= 0.3) & (value >= p["value_cut"])).any()  # valuable, not lapsed: typed
    assert set(lab) <= set(RELATIONSHIP_TYPES) and seg.segments == list(RELATIONSHIP_TYPES)


def test_summary_against_direct_sums(crm):
    _, table, seg = crm
    summary = relationship_summary(seg, table, margin=0.25)
    lab = seg.labels.astype(str)
    assert summary["customers"].sum() == len(table)
    assert summary["share"].sum() == pytest.approx(1)
    rev = table["revenue"].groupby(lab).sum()
    for t in summary.index:
        assert summary.loc[t, "revenue_share"] == pytest.approx(rev[t] / table["revenue"].sum())
        assert summary.loc[t, "mean_clv"] == pytest.approx(table.loc[lab == t, "clv"].mean())
        assert summary.loc[t, "segment_margin"] == pytest.approx(0.25 * rev[t])
        assert summary.loc[t, "implied_gain_high"] == pytest.approx(summary.loc[t, "effect_high"] * 0.25 * rev[t])
    # the CRM studies' figures, shown as assumptions
    assert summary.loc["Vulnerable", ["effect_low", "effect_high"]].tolist() == [0.15, 0.20]
    assert summary.loc["Win-back", ["effect_low", "effect_high"]].tolist() == [0.10, 0.20]
    assert summary.loc["Loyal", ["effect_low", "effect_high"]].tolist() == [0.02, 0.03]
    assert summary.loc["Loyal", "assumed_effect"] == "+2-3 % (assumed)"
    assert "assumption" in summary["effect_source"].iloc[0] or "assumed" in summary["effect_source"].iloc[0]
    # loyal customers bring more than their head count, the 'Other' less
    assert summary.loc["Loyal", "revenue_share"] > summary.loc["Loyal", "share"]
    assert summary.loc["Other", "revenue_share"] < summary.loc["Other", "share"]


def test_changed_assumptions_flow_into_the_summary(crm):
    _, table, seg = crm
    changed = relationship_summary(seg, table, strategies=with_effects(Vulnerable=(0.05, 0.06)))
    default = relationship_summary(seg, table)
    assert changed.loc["Vulnerable", "implied_gain_low"] == pytest.approx(
        default.loc["Vulnerable", "implied_gain_low"] / 0.15 * 0.05)
    assert changed.loc["Loyal", "implied_gain_low"] == default.loc["Loyal", "implied_gain_low"]


def test_predict_new_customers(crm):
    _, table, seg = crm
    assert (seg.predict(table) == seg.labels.astype(str)).all()
    other = prepare_table(make_crm(n_customers=500, seed=77))
    typed = seg.predict(other)
    assert set(typed) <= set(RELATIONSHIP_TYPES) and typed.index.equals(other.index)


def test_errors_and_determinism(crm, tmp_path):
    _, table, seg = crm
    with pytest.raises(DataError, match="p_lapsed"):
        relationship_segmentation(table, p_loyal=0.2, p_lapsed=0.5)
    with pytest.raises(DataError, match="'days_since_last'"):
        relationship_segmentation(table.drop(columns=["days_since_last"]))
    with pytest.raises(DataError, match="fewer than the 5"):
        relationship_segmentation(table.iloc[:3])
    with pytest.raises(DataError, match="'margin2'"):
        relationship_segmentation(table, value="margin2")
    with pytest.raises(NotFittedError):
        RelationshipTyper().predict(table)
    again = relationship_segmentation(prepare_table(make_crm(n_customers=4000, seed=3)))
    pd.testing.assert_series_equal(again.labels, seg.labels)
    back = Segmentation.load(seg.save(tmp_path / "rel.seg"))
    assert (back.predict(table) == seg.labels.astype(str)).all()
