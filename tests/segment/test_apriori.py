"""A priori segmentation: rules (mapping and string form), order, remainder, new customers, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.datasets import make_crm
from segwork.errors import DataError, NotFittedError
from segwork.features import customer_table
from segwork.segment import AprioriSegmenter, Segmentation, apriori_segmentation, default_rules, grid_rules
from segwork.segment.apriori import AGE_GROUPS, format_condition, parse_condition


@pytest.fixture(scope="module")
def crm_size():
    return 1500, 11  # customers, seed: the `data` and `table` fixtures (tests/conftest.py) are made at this size


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), None)


def test_default_rules_label_by_company_size_and_age_group_x_region(table):
    seg = apriori_segmentation(table)
    labels = seg.labels.astype(str)
    b2b = table["customer_type"].astype(str) == "B2B"
    # B2B: "B2B <size>", computed directly from the profile
    assert (labels[b2b] == "B2B " + table.loc[b2b, "company_size"].astype(str)).all()
    # B2C: "B2C <age group> <region>" with the age bands coarsened as documented
    group_of = {band: group for group, bands in AGE_GROUPS.items() for band in bands}
    b2c = table["customer_type"].astype(str) == "B2C"
    expected = "B2C " + table.loc[b2c, "age_band"].astype(str).map(group_of) + " " + table.loc[b2c, "region"].astype(str)
    assert (labels[b2c] == expected).all()
    # 3 sizes + 3 age groups x 5 regions; no customer is left over in make_crm
    assert seg.n_segments == 3 + 3 * table["region"].nunique()
    assert seg.sizes["Other"] == 0
    assert seg.shares.min() > 0 or seg.sizes.min() == 0


def test_string_and_mapping_rules_agree(table):
    as_dicts = [
        {"name": "big business", "where": {"customer_type": "B2B", "company_size": ["medium", "large"]}},
        {"name": "young north", "where": {"age_band": ["18-24", "25-34"], "region": "north"}},
        {"name": "high spend", "where": {"revenue": {">=": 1000}}},
    ]
    as_text = {
        "big business": "customer_type = B2B and company_size in (medium, large)",
        "young north": "age_band in ('18-24', '25-34') and region == north",
        "high spend": "revenue >= 1000",
    }
    a = apriori_segmentation(table, as_dicts)
    b = apriori_segmentation(table, as_text)
    pd.testing.assert_series_equal(a.labels, b.labels)
    # first match wins, the rest is the remainder: checked against direct masks
    big = (table["customer_type"].astype(str) == "B2B") & table["company_size"].astype(str).isin(["medium", "large"])
    young_north = table["age_band"].astype(str).isin(["18-24", "25-34"]) & (table["region"].astype(str) == "north")
    high = table["revenue"] >= 1000
    expected = np.select([big, young_north & ~big, high & ~big & ~young_north],
                         ["big business", "young north", "high spend"], "Other")
    assert (a.labels.astype(str).to_numpy() == expected).all()
    assert set(a.segments) == {"big business", "young north", "high spend", "Other"}


def test_operators_and_missing_values(table):
    where = parse_condition("region != north and revenue < 500 and company_size not in (small)")
    seg = AprioriSegmenter({"x": where}).fit(table)
    region, size = table["region"].astype(str), _text(table["company_size"])
    # missing company_size does not match 'not in' (unknown is not "not small")
    expected = (region != "north") & (table["revenue"] < 500) & size.notna() & (size != "small")
    assert ((seg.labels_ == "x") == expected).all()


def test_parse_condition_forms():
    assert parse_condition("a = 1 and b in (x, 'y z') and c >= 2.5") == {"a": 1, "b": ["x", "y z"], "c": {">=": 2.5}}
    assert parse_condition("a > 1 and a <= 3") == {"a": {">": 1, "<=": 3}}
    assert parse_condition("industry = 'public sector'") == {"industry": "public sector"}


@pytest.mark.parametrize("bad", ["region =", "region in north", "region ~ x", "a = 1 or b = 2", "= 3", "a in (x, y",
                                 "region = north and", "a = 1 and a in (2)"])
def test_parse_errors_say_how_to_write_it(bad):
    with pytest.raises(DataError, match="rule"):
        parse_condition(bad)


words = st.text(alphabet=st.sampled_from("abcxyz_-+.0123 "), min_size=1, max_size=8).filter(lambda s: s.strip() == s)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True).filter(lambda s: s not in ("and", "in", "not")),
                       st.one_of(words, st.lists(words, min_size=1, max_size=3),
                                 st.dictionaries(st.sampled_from(["<", "<=", ">", ">=", "!="]),
                                                 st.integers(-50, 50), min_size=1, max_size=2)),
                       min_size=1, max_size=3))
def test_format_then_parse_is_the_identity(where):
    back = parse_condition(format_condition(where))

    def norm(d):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out[k] = {op: str(x) for op, x in v.items()}
            elif isinstance(v, list):
                out[k] = [str(x) for x in v]
            else:
                out[k] = str(v)
        return out

    assert norm(back) == norm(where)


def test_unknown_column_names_it_and_lists_the_available(table):
    with pytest.raises(DataError, match=r"column 'segmentz'.*available: .*customer_type"):
        apriori_segmentation(table, {"x": "segmentz = a"})


def test_value_never_seen_warns(table):
    with pytest.warns(UserWarning, match="'Large' never occurs in column 'company_size'"):
        apriori_segmentation(table, {"big": "company_size = Large"})


def test_bad_rule_lists():
    t = pd.DataFrame({"a": ["x", "y"]}, index=["1", "2"])
    for rules in ([], "a = x", [{"name": "n"}], [{"name": "n", "where": {}}], [{"name": "n", "where": {"a": {"~": 1}}}]):
        with pytest.raises(DataError):
            AprioriSegmenter(rules).fit(t)
    with pytest.raises(DataError, match="empty"):
        AprioriSegmenter({"n": "a = x"}).fit(t.iloc[:0])
    with pytest.raises(DataError, match="customer_type"):
        default_rules(t)


def test_predict_new_customers_and_unseen_categories(table):
    seg = apriori_segmentation(table)
    other = make_crm(n_customers=400, random_state=99)
    new = customer_table(other.transactions, other.customers)
    # known categories: the same rules give the same labels as building on the new customers
    direct = apriori_segmentation(new, seg.segmenter.rules_).labels.astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assigned = seg.predict(new)
    assert (assigned == direct).all()
    assert seg.segmenter.unseen_categories(new)[1].empty
    # an unseen region -> the named fallback, counted
    new = new.copy()
    new["region"] = new["region"].astype(object)
    moved = new.index[:7]
    new.loc[moved, "region"] = "mars"
    with pytest.warns(UserWarning, match=r"7 customer\(s\) have categories not seen.*region='mars' \(7\).*'Other'"):
        assigned = seg.predict(new)
    assert (assigned.loc[moved] == "Other").all()
    assert (assigned.drop(moved) == direct.drop(moved)).all()
    mask, report = seg.segmenter.unseen_categories(new)
    assert mask.sum() == 7
    assert report.to_dict("records") == [{"column": "region", "value": "mars", "customers": 7}]


def test_named_fallback_and_missing_column_at_predict(table):
    seg = apriori_segmentation(table, {"north": "region = north"}, fallback="Unknown")
    assert "Unknown" in seg.segments and seg.fallback == "Unknown"
    new = table.iloc[:5].copy()
    new["region"] = "atlantis"
    with pytest.warns(UserWarning):
        assert (seg.predict(new) == "Unknown").all()
    with pytest.raises(DataError, match="'region'"):
        seg.predict(table.drop(columns=["region"]).iloc[:5])
    with pytest.raises(NotFittedError, match="fit"):
        AprioriSegmenter().predict(table)


def test_grid_rules_cover_every_combination_present(table):
    rules = grid_rules(table, ["industry", "company_size"], where="customer_type = B2B", prefix="B2B")
    b2b = table[table["customer_type"].astype(str) == "B2B"]
    combos = b2b[["industry", "company_size"]].astype(str).drop_duplicates()
    assert len(rules) == len(combos)
    seg = apriori_segmentation(table, rules)
    assert seg.sizes["Other"] == (table["customer_type"].astype(str) != "B2B").sum()
    lab = seg.labels.astype(str)[b2b.index]
    assert (lab == "B2B " + b2b["industry"].astype(str) + " " + b2b["company_size"].astype(str)).all()


def test_save_load_round_trip(table, tmp_path):
    seg = apriori_segmentation(table)
    path = seg.save(tmp_path / "apriori.seg")
    back = Segmentation.load(path)
    pd.testing.assert_series_equal(back.labels, seg.labels)
    pd.testing.assert_series_equal(back.predict(table.iloc[:50]), seg.predict(table.iloc[:50]))
    assert back.description.equals(seg.description)


def test_numbers_are_not_categories_at_predict(table):
    seg = apriori_segmentation(table, {"one-time": "frequency = 0", "B2B": "customer_type = B2B"})
    new = table.iloc[:3].copy()
    new["frequency"] = [0, 999, 5]  # 999 never occurred, but it is a number, not an unseen category
    new["customer_type"] = new["customer_type"].astype(object)
    new.iloc[:, new.columns.get_loc("customer_type")] = ["B2C", "B2C", "B2B"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert seg.predict(new).tolist() == ["one-time", "Other", "B2B"]
