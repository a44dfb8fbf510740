"""Cross-sell: baskets, mlxtend rules checked against counts by hand, recommendations, hit rate."""
from __future__ import annotations

import pandas as pd
import pytest

from segwork.act.crosssell import association_rules_table, basket_matrix, hit_rate_at_k, recommend
from segwork.errors import DataError


@pytest.fixture()
def tx():
    rows = [("a", "2024-01-01", "x"), ("a", "2024-01-02", "y"), ("b", "2024-01-01", "x"), ("b", "2024-01-03", "y"),
            ("c", "2024-01-01", "x"), ("d", "2024-01-01", "z"), ("d", "2024-01-02", "y"),
            # after the cut-off 2024-01-31
            ("c", "2024-02-05", "y"), ("d", "2024-02-05", "x"), ("a", "2024-02-05", "x")]
    f = pd.DataFrame(rows, columns=["customer_id", "date", "category"])
    return f.assign(date=pd.to_datetime(f["date"]), amount=1.0)


def test_rules_match_counts(tx):
    rules = association_rules_table(tx, observation_end="2024-01-31", min_support=0.2, min_confidence=0.1)
    r = rules[(rules["antecedents"] == "x") & (rules["consequents"] == "y")].iloc[0]
    # baskets up to the cut-off: a{x,y} b{x,y} c{x} d{y,z}
    assert r["support"] == pytest.approx(2 / 4)
    assert r["confidence"] == pytest.approx(2 / 3)
    assert r["lift"] == pytest.approx((2 / 3) / (3 / 4))
    assert basket_matrix(tx, observation_end="2024-01-31").sum().to_dict() == {"x": 3, "y": 3, "z": 1}


def test_recommend_only_new_items_and_hit_rate(tx):
    for method in ("rules", "cooccurrence", "popularity"):
        rec = recommend(tx, 1, observation_end="2024-01-31", method=method, min_support=0.2)
        owned = {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "x"), ("d", "z"), ("d", "y")}
        assert not any((c, i) in owned for c, i in rec[["customer_id", "item"]].to_numpy())
    rec = recommend(tx, 1, observation_end="2024-01-31", method="rules", min_support=0.2)
    assert rec.set_index("customer_id").loc["c", "item"] == "y"   # x -> y, confidence 2/3
    out = hit_rate_at_k(rec, tx, calibration_end="2024-01-31")
    # new purchases after the cut-off: c bought y (new), d bought x (new); a bought x (not new)
    hits = sum(rec.set_index("customer_id").loc[c, "item"] == i for c, i in (("c", "y"), ("d", "x")))
    assert out.n_customers == 2 and out.hit_rate == pytest.approx(hits / 2) and out.k == 1


def test_bad_input(tx):
    with pytest.raises(DataError, match="no categories"):
        recommend(tx.drop(columns="category"), 3)
    with pytest.raises(DataError, match="customer 'zz'"):
        recommend(tx, 3, customers=["zz"], observation_end="2024-01-31")
    with pytest.raises(DataError, match="method"):
        recommend(tx, 3, method="magic")
    rec = recommend(tx, 1, observation_end="2024-01-31")
    with pytest.raises(DataError, match="empty window"):
        hit_rate_at_k(rec, tx, calibration_end="2024-01-31", observation_end="2024-02-01")
    with pytest.raises(DataError, match="min_support"):
        association_rules_table(tx, min_support=0)


def test_upsell_by_hand():
    from segwork.act.crosssell import upsell

    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
                       "date": pd.to_datetime(["2024-01-01"] * 8),
                       "category": ["x"] * 8, "amount": [10.0, 10, 100, 100, 90, 110, 5, 5]})
    seg = pd.Series({"a": "s", "b": "s", "c": "s", "d": "t"})
    out = upsell(tx, seg)
    # segment s: means a 10, b 100, c 100 -> median 100; a is below 0.5 x 100 with a gap of 90; d alone in t
    assert out["customer_id"].tolist() == ["a"] and out["gap"].item() == pytest.approx(90)
    assert out["segment_median_spend"].item() == 100
    with pytest.raises(DataError, match="no categories"):
        upsell(tx.drop(columns="category"), seg)
    with pytest.raises(DataError, match="ratio"):
        upsell(tx, seg, ratio=2)
