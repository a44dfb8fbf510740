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
    data = make_crm(n_customers=4000, random_state=3)
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
    other = prepare_table(make_crm(n_customers=500, random_state=77))
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
    other = prepare_table(make_crm(n_customers=500, random_state=77))
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
    again = relationship_segmentation(prepare_table(make_crm(n_customers=4000, random_state=3)))
    pd.testing.assert_series_equal(again.labels, seg.labels)
    back = Segmentation.load(seg.save(tmp_path / "rel.seg"))
    assert (back.predict(table) == seg.labels.astype(str)).all()


@pytest.fixture(scope="module")
def cdnow():
    from segwork.datasets import load_dataset

    return load_dataset("cdnow")


def test_cdnow_mean_p_alive_reads_as_shown(cdnow):
    """Issue 13, kind 8: the type means of P(alive) on CDNOW must not say that lapsed customers are the more alive.

    The root, reproduced: under the BG/NBD every one-time buyer has P(alive) = 1 by construction, so averaging the
    BG/NBD P(alive) over a type full of long-lapsed one-time buyers (Win-back) gives more than over the Vulnerable
    repeat buyers. The prepared table's default model (MBG/NBD) lets one-time buyers leave, and the summary says
    which model it shows.
    """
    import segwork
    from segwork.act import relationship_summary as summary_of

    bg_table = segwork.prepare_table(cdnow, transaction_model="bgnbd")
    one = bg_table["frequency"] == 0
    assert one.mean() > 0.5 and (bg_table.loc[one, "p_alive"] == 1).all()  # the root
    bg_seg = segwork.segment.relationship_segmentation(bg_table)
    naive = bg_table["p_alive"].groupby(bg_seg.labels.astype(str)).mean()
    assert naive["Win-back"] > naive["Vulnerable"]  # the misleading ordering the report showed
    bg_summary = summary_of(bg_seg, bg_table)  # BG/NBD on request: its means leave the one-time buyers out and say so
    assert bg_summary["p_alive_model"].str.contains("repeat buyers only").all()
    repeat_mean = bg_table.loc[~one, "p_alive"].groupby(bg_seg.labels[~one].astype(str)).mean()
    assert bg_summary.loc["Win-back", "mean_p_alive"] == pytest.approx(repeat_mean["Win-back"])

    table = segwork.prepare_table(cdnow)
    assert table.attrs["p_alive_model"] == "MBG/NBD"
    seg = segwork.segment.relationship_segmentation(table)
    summary = summary_of(seg, table)
    assert (summary["p_alive_model"] == "MBG/NBD").all()
    mean = summary["mean_p_alive"]
    assert mean["Win-back"] < mean["Vulnerable"] < mean["Loyal"]
    # ... because the lapsed one-time buyers (on CDNOW every one bought over 180 days ago) are no longer counted
    # alive: P(alive) < 1, and the older the single purchase, the lower it is
    assert (table.loc[one, "days_since_last"] > 180).all() and (table.loc[one, "p_alive"] < 0.5).all()
    assert table.loc[one, "p_alive"].corr(table.loc[one, "days_since_last"], method="spearman") < -0.9
    # the same numbers directly from the table and the labels
    direct = table["p_alive"].groupby(seg.labels.astype(str)).mean()
    for t in summary.index:
        assert mean[t] == pytest.approx(direct[t])
    assert "MBG/NBD" in seg.method and seg.description["rule"].str.contains(r"p_alive \(MBG/NBD\)").any()
    assert seg.profile.attrs["p_alive_model"] == "MBG/NBD"


def test_typer_fits_the_model_the_table_names(crm):
    _, table, seg = crm
    assert table.attrs["transaction_model"] == "mbgnbd"
    assert seg.params["p_alive_source"] == "table" and seg.params["p_alive_model"] == "MBG/NBD"
    from segwork.clv import ModifiedBetaGeo

    assert type(seg.segmenter.model_) is ModifiedBetaGeo
    # another model asked for explicitly: fitted here, not the table's column, and named
    bg = relationship_segmentation(table, transaction_model="bgnbd")
    assert bg.params["p_alive_source"] == "fitted" and bg.params["p_alive_model"] == "BG/NBD"
    one = table["frequency"] == 0
    assert (bg.params["p_alive"][one] == 1).all() and (table.loc[one, "p_alive"] < 1).all()
    # a p_alive column that does not state its model is used as given, and labelled so
    unstated = table.copy()
    unstated.attrs = {}
    plain = relationship_segmentation(unstated)
    assert plain.params["p_alive_source"] == "table" and "not stated" in plain.params["p_alive_model"]
    with pytest.raises(DataError, match="transaction_model='xyz'"):
        relationship_segmentation(table, transaction_model="xyz")


def test_profiles_name_the_model_and_leave_bg_nbd_one_time_buyers_out(crm):
    data, table, seg = crm
    from segwork.segment import segment_profile

    labels = seg.labels
    prof = segment_profile(labels, table)
    assert prof.attrs["p_alive_model"] == "MBG/NBD"
    lab = labels.astype(str)
    for t in prof.index:
        assert prof.loc[t, "p_alive"] == pytest.approx(table.loc[lab == t, "p_alive"].mean())
    bg_table = prepare_table(data, transaction_model="bgnbd")
    bg_prof = segment_profile(labels, bg_table)
    assert "repeat buyers only" in bg_prof.attrs["p_alive_model"]
    repeat = bg_table["frequency"] > 0
    assert bg_prof.loc["Loyal", "p_alive"] == pytest.approx(bg_table.loc[(lab == "Loyal") & repeat, "p_alive"].mean())
    assert np.isnan(bg_prof.loc["Prospective", "p_alive"])  # one-time buyers only: no BG/NBD P(alive) worth showing
