"""The gate's fast parts give what the per-row definitions give (issue 22, goal 5).

id_codes (ids hashed once, checked and cleaned once per distinct id) against to_id row by row;
duplicated_rows against DataFrame.duplicated; implausible_dates against the day-normalised comparison;
clean_rows (input order, ids as codes) against clean_transactions (canonical order).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.io import CleaningRules, PLACEHOLDER_DATES, clean_rows, clean_transactions, duplicated_rows, implausible_dates
from segwork.io.numbers import id_codes, to_id

RNG_SEED = 22


def _ids(kind: str, rng) -> pd.Series:
    n = 400
    pick = lambda pool: [pool[i] for i in rng.integers(0, len(pool), n)]  # noqa: E731
    if kind == "fixed8":
        return pd.Series(pick([f"C{i:07d}" for i in range(60)]), dtype="str")
    if kind == "fixed5_non_ascii":  # 5 bytes each: 'Ç' is two
        return pd.Series(pick([f"Ç{i:03d}" for i in range(60)] + ["Z\x00z00"]), dtype="str")
    if kind == "fixed3_with_blank_and_null_words":
        return pd.Series(pick(["abc", " ab", "ab ", "NaN", "nan", "N/A", "1.0", "2.0", "zz9"]), dtype="str")
    if kind == "wide":
        return pd.Series(pick([f"customer-{i:05d}" for i in range(60)]), dtype="str")
    if kind == "mixed_widths":
        return pd.Series(pick(["a", "ab", "abc", "b", "ba", "12.0", "12", " 12 ", "", "NA"]), dtype="str")
    if kind == "object_with_missing":
        return pd.Series(pick(["x1", "x2", None, "x3 ", "NULL", np.nan]), dtype=object)
    if kind == "python_strings":
        return pd.Series(pick(["b", "a", "c", "a ", "None"]), dtype=pd.StringDtype("python"))
    if kind == "floats":
        return pd.Series(pick([1.0, 2.0, 13085.0, np.nan]), dtype=float)
    if kind == "ints":
        return pd.Series(pick([5, 40, 3]), dtype="int64")
    if kind == "mixed_objects":  # True and 1 hash alike: cleaned row by row
        return pd.Series(pick([True, 1, "1", 1.0, "x", None]), dtype=object)
    raise AssertionError(kind)


KINDS = ["fixed8", "fixed5_non_ascii", "fixed3_with_blank_and_null_words", "wide", "mixed_widths",
         "object_with_missing", "python_strings", "floats", "ints", "mixed_objects"]


@pytest.mark.parametrize("kind", KINDS)
def test_id_codes_are_to_id_row_by_row(kind):
    values = _ids(kind, np.random.default_rng(RNG_SEED))
    codes, ids = id_codes(values, "customer_id", "<test>")
    expected = to_id(values)
    missing = expected.isna().to_numpy()
    assert np.array_equal(codes < 0, missing)
    assert ids.dtype == "str" and ids.is_unique and ids.is_monotonic_increasing
    got = np.asarray(ids)[codes[~missing]]
    assert list(got) == list(expected[~missing].astype(str))


def test_packed_ids_keep_the_text_order_of_bytes():
    """Ids of one width packed as numbers sort as the texts do (UTF-8 byte order is code point order)."""
    rng = np.random.default_rng(RNG_SEED)
    alphabet = list("09AZaz~ÇéΩ")
    texts = ["".join(rng.choice(alphabet, 3)) for _ in range(300)]
    texts = [t for t in texts if len(t.encode()) == 3] + ["abc", "abd", "ab~"]
    codes, ids = id_codes(pd.Series(texts, dtype="str"), "customer_id", "<test>")
    assert list(ids) == sorted(set(texts))
    assert list(np.asarray(ids)[codes]) == texts


@pytest.mark.parametrize("dtype", ["str", object])
def test_scientific_ids_are_refused_naming_the_first_row(dtype):
    values = pd.Series(["C1", "C2", "1.2E+05", "C1", "9.9E+10", "1.2E+05"], dtype=dtype)
    with pytest.raises(DataError, match=r"'1\.2E\+05' \(3 row\(s\)\)"):
        id_codes(values, "customer_id", "<test>")


def _frame(n: int, rng, *, in_date_order: bool) -> pd.DataFrame:
    day = rng.integers(0, 40, n)
    second = rng.integers(0, 3, n)  # few distinct times: many rows share a date
    dates = pd.to_datetime("2024-01-01") + pd.to_timedelta(day, unit="D") + pd.to_timedelta(second, unit="s")
    frame = pd.DataFrame({"customer_id": pd.Series(rng.choice(["C01", "C02", "C03", " C01"], n), dtype="str"),
                          "date": dates, "amount": rng.choice([1.0, 2.5, 0.0, -3.0], n)})
    frame = pd.concat([frame, frame.sample(n // 5, random_state=1)], ignore_index=True)
    return frame.sort_values("date", kind="stable", ignore_index=True) if in_date_order else frame


@pytest.mark.parametrize("order", ["date", "customer_date", "none"])
@pytest.mark.parametrize("categorical", [True, False])
def test_duplicated_rows_is_dataframe_duplicated(order, categorical):
    frame = _frame(500, np.random.default_rng(RNG_SEED), in_date_order=order == "date")
    if order == "customer_date":
        frame = frame.sort_values(["customer_id", "date"], kind="stable", ignore_index=True)
    if categorical:
        frame["customer_id"] = frame["customer_id"].astype("category")
    assert duplicated_rows(frame).equals(frame.duplicated(keep="first"))
    assert duplicated_rows(frame).any()


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_implausible_dates_is_the_day_normalised_comparison(unit):
    rules = CleaningRules(plausible_dates=("1990-01-01", "2100-01-01"))
    days = ["1753-01-01", "1899-12-30", "1900-01-01", "1970-01-01", "2099-12-31", "1989-12-31", "1990-01-01",
            "2024-05-05", "2100-01-01", "2100-01-02"]  # placeholders inside and outside the window, its edges
    dates = pd.Series(pd.to_datetime(days, format="%Y-%m-%d")).astype(f"datetime64[{unit}]")
    dates = pd.concat([dates + pd.Timedelta(hours=13), dates, pd.Series([pd.NaT], dtype=dates.dtype)],
                      ignore_index=True)
    first, last = rules.plausible_window()
    day = dates.dt.normalize()
    expected = ((day < first) | (day > last) | day.dt.strftime("%Y-%m-%d").isin(PLACEHOLDER_DATES))
    expected = expected.fillna(False).astype(bool) & dates.notna()
    assert implausible_dates(dates, rules).equals(expected)
    inside = dates[(day >= pd.Timestamp("2024-01-01")) & (day <= pd.Timestamp("2024-12-31"))]
    assert not implausible_dates(inside, rules).any()  # the range alone clears the rows


@pytest.mark.parametrize("in_date_order", [True, False])
def test_clean_rows_are_the_canonical_rows_unsorted_with_the_same_report(in_date_order):
    frame = _frame(600, np.random.default_rng(RNG_SEED), in_date_order=in_date_order)
    rows, row_report = clean_rows(frame)
    canonical, report = clean_transactions(frame)
    assert isinstance(rows["customer_id"].dtype, pd.CategoricalDtype)
    assert row_report.rules == report.rules
    assert (row_report.rows_kept, row_report.customers, row_report.first_date, row_report.last_date) == (
        report.rows_kept, report.customers, report.first_date, report.last_date)
    assert row_report.revenue == pytest.approx(report.revenue, rel=1e-12)
    again = rows.astype({"customer_id": str}).sort_values(["customer_id", "date"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(again, canonical.set_axis(range(len(canonical))), check_exact=True)
