"""Value tiers, against direct computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.datasets import make_crm
from segwork.errors import DataError, NotFittedError
from segwork.features import customer_table
from segwork.segment import Segmentation, ValueTiers, value_segmentation
from segwork.segment.value import DEFAULT_TIERS, NEGATIVE_TIER


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=2000, random_state=8)
    return customer_table(data.transactions, data.customers)


def test_tier_shares_match_the_configured_shares(table):
    seg = value_segmentation(table)
    n = len(table)
    for name, share in DEFAULT_TIERS:
        assert abs(seg.sizes[name] - share * n) <= 1
    assert NEGATIVE_TIER not in seg.segments  # no negative value in revenue
    # a better tier never holds a lower value
    rev = table["revenue"]
    names = [name for name, _ in DEFAULT_TIERS]
    for better, worse in zip(names, names[1:]):
        assert rev[seg.labels == better].min() >= rev[seg.labels == worse].max()
    # the top 1 % are exactly the 20 highest revenues
    assert set(seg.labels.index[seg.labels == "Top 1 %"]) == set(rev.nlargest(20).index)
    assert seg.profile.loc["Top 1 %", "revenue_share"] == pytest.approx(rev.nlargest(20).sum() / rev.sum())


def test_custom_tiers_and_margin(table):
    tiers = [("A", 0.2), ("B", 0.3), ("C", 0.5)]
    seg = value_segmentation(table, "revenue", tiers=tiers, margin=0.3, name="margin tiers")
    assert seg.name == "margin tiers" and seg.segments == ["A", "B", "C"]
    assert np.allclose(seg.params["value"], 0.3 * table["revenue"])
    assert [seg.sizes[t] for t, _ in tiers] == [400, 600, 1000]


def test_negative_values_get_their_own_tier(table):
    value = (table["revenue"] - 300).rename("revenue - cost to serve")
    seg = value_segmentation(table, value)
    neg = value < 0
    assert ((seg.labels == NEGATIVE_TIER) == neg).all()
    m = int((~neg).sum())
    for name, share in DEFAULT_TIERS:  # shares apply to the others
        assert abs(seg.sizes[name] - share * m) <= 1
    assert seg.segments[-1] == NEGATIVE_TIER
    assert seg.description.loc[NEGATIVE_TIER, "max_value"] < 0


def test_predict_uses_the_fitted_thresholds(table):
    seg = value_segmentation(table)
    again = seg.predict(table)
    assert (again == seg.labels.astype(str)).all()  # revenues are distinct enough: no tie at a threshold here
    new = pd.DataFrame({"revenue": [1e9, 0.0, -5.0]}, index=["rich", "zero", "owes"])
    assert seg.predict(new).tolist() == ["Top 1 %", "Low 50 %", NEGATIVE_TIER]
    clv_based = value_segmentation(table, table["revenue"].rename("clv"))
    with pytest.raises(DataError, match="need a column .clv. or .value."):
        clv_based.predict(new.drop(columns=["revenue"]))
    assert clv_based.predict(new.rename(columns={"revenue": "value"})).tolist()[0] == "Top 1 %"


def test_errors(table):
    with pytest.raises(DataError, match="add up to 1"):
        value_segmentation(table, tiers=[("a", 0.5), ("b", 0.4)])
    with pytest.raises(DataError, match="positive"):
        value_segmentation(table, tiers=[("a", 1.2), ("b", -0.2)])
    with pytest.raises(DataError, match="fewer than the 4 tiers"):
        value_segmentation(table.iloc[:3])
    const = table.assign(revenue=10.0)
    with pytest.raises(DataError, match="same value"):
        value_segmentation(const)
    with pytest.raises(DataError, match="no value for 1 customer"):
        value_segmentation(table, table["revenue"].iloc[1:])
    with pytest.raises(DataError, match="'profit' is not in the customer table"):
        value_segmentation(table, "profit")
    with pytest.raises(DataError, match="missing"):
        value_segmentation(table, table["revenue"].where(table.index != table.index[0]))
    with pytest.raises(NotFittedError):
        ValueTiers().predict([1.0])


def test_save_load(table, tmp_path):
    seg = value_segmentation(table)
    back = Segmentation.load(seg.save(tmp_path / "v.seg"))
    pd.testing.assert_series_equal(back.labels, seg.labels)
    assert (back.predict(table) == seg.predict(table)).all()


def test_value_tiers_on_revenue_instead_of_clv_record_the_fallback():
    """Issue 19: value tiers switched to revenue without a word; now the Segmentation says so, and why."""
    from segwork.clv.record import Fallback, FitRecord, ModelStatus
    from segwork.datasets import make_crm
    from segwork.features import customer_table
    from segwork.segment import default_segmentations, tier_value

    data = make_crm(n_customers=300, random_state=1)
    table = customer_table(data.transactions, data.customers)  # no clv column
    failed = FitRecord((ModelStatus("transaction", "mbgnbd", "MBG/NBD", "failed", message="no convergence"),),
                       (Fallback("no p_alive", "the MBG/NBD could not be fitted (no convergence)", ("p_alive", "clv")),))
    table.attrs["clv_record"] = failed.to_dict()
    seg = default_segmentations(table, approaches=["value"])["value"]
    fallback = seg.params["value_fallback"]
    assert fallback.kind == "value on revenue" and fallback.columns == ("value",)
    assert "could not be fitted" in fallback.detail  # why, from the table's CLV record
    assert "fallback" in seg.method and seg.description.attrs["fallback"] == fallback.sentence()
    # asked for what the table has: no fallback
    value, none = tier_value(table, "historical", margin=0.3)
    assert none is None and value.name == "historical margin"
    with_clv = table.assign(clv=table["revenue"] * 0.5)
    value, none = tier_value(with_clv, "clv")
    assert none is None and value.name == "clv"
    assert "value_fallback" not in default_segmentations(with_clv, approaches=["value"])["value"].params
    _, fb = tier_value(table.drop(columns=[]).rename_axis("customer_id"), "clv")
    assert fb is not None and "margin to date" in fb.detail
