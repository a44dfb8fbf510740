"""The transaction data layer: reading, layouts, each cleaning rule, each class of bad input."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.io import CleaningRules, read_transactions

HERE = Path(__file__).parent
ROOT = HERE.parent
RETAIL = HERE / "data" / "online_retail_ii_sample.csv"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rule(report, name):
    return next(r for r in report.rules if r.rule == name)


CANONICAL = """customer_id,date,amount,channel
A,2024-01-05,10.00,web
A,2024-01-09,12.50,store
B,2024-01-07,7.25,web
"""


# --------------------------------------------------------------------------- reading


def test_canonical_csv_gives_canonical_types_and_order(tmp_path):
    tx, report = read_transactions(write(tmp_path / "t.csv", CANONICAL))
    assert list(tx.columns) == ["customer_id", "date", "amount", "channel"]
    assert pd.api.types.is_datetime64_any_dtype(tx["date"])
    assert tx["amount"].dtype == np.float64
    assert tx["customer_id"].tolist() == ["A", "A", "B"]
    assert report.rows_read == 3 and report.rows_kept == 3 and report.customers == 2
    assert report.first_date == pd.Timestamp("2024-01-05") and report.last_date == pd.Timestamp("2024-01-09")
    assert report.revenue == pytest.approx(29.75)


@pytest.mark.parametrize(
    "sep, decimal, encoding",
    [(";", ",", "cp1252"), ("\t", ".", "utf-8"), ("|", ".", "utf-8"), (",", ".", "utf-8-sig")],
)
def test_csv_dialects_are_detected(tmp_path, sep, decimal, encoding):
    rows = [("Müller", "2024-03-01", "1234.50"), ("Ørsted", "2024-03-02", "0.99")]
    body = "\n".join(sep.join((c, d, a.replace(".", decimal))) for c, d, a in rows)
    path = write(tmp_path / "t.csv", sep.join(("customer_id", "date", "amount")) + "\n" + body + "\n", encoding)
    tx, _ = read_transactions(path)
    assert tx.set_index("customer_id")["amount"].to_dict() == {"Müller": 1234.50, "Ørsted": 0.99}


def test_explicit_dialect_and_column_mapping(tmp_path):
    path = write(tmp_path / "export.csv", "Kunde;Datum;Betrag\nK1;05.01.2024;1.234,50\nK2;31.12.2024;3,00\n", "cp1252")
    tx, _ = read_transactions(path, sep=";", decimal=",", date_format="%d.%m.%Y",
                              columns={"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"})
    assert tx["amount"].tolist() == [1234.5, 3.0]
    assert tx["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-12-31")]


def test_dataframe_source_is_not_modified():
    raw = pd.DataFrame({"customer_id": ["x", "x", None], "date": ["2024-01-01", "2024-01-02", "2024-01-03"],
                        "amount": [1.0, 2.0, 3.0]})
    before = raw.copy()
    tx, report = read_transactions(raw)
    pd.testing.assert_frame_equal(raw, before)
    assert report.source == "<DataFrame>" and len(tx) == 2


def test_parquet_and_excel_round_trip(tmp_path):
    frame = pd.DataFrame({"customer_id": ["1", "2"], "date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                          "amount": [5.0, 6.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    for name in ("t.parquet", "t.xlsx"):
        tx, report = read_transactions(tmp_path / name)
        assert tx["amount"].tolist() == [5.0, 6.0], name
        assert tx["customer_id"].tolist() == ["1", "2"], name


# --------------------------------------------------------------------------- layouts


def test_online_retail_ii_layout_as_is():
    tx, report = read_transactions(RETAIL)
    raw = pd.read_csv(RETAIL, dtype=str)
    assert report.layout == "online_retail_ii"
    # expected outcome computed from the raw file with plain pandas
    raw["qty"] = raw["Quantity"].astype(float)
    raw["price"] = raw["Price"].astype(float)
    ok = raw[raw["Customer ID"].notna() & ~raw["Invoice"].str.startswith("C") & (raw["qty"] * raw["price"] > 0)]
    ok = ok.drop_duplicates()
    assert report.rows_read == len(raw)
    assert report.rows_kept == len(ok)
    assert set(tx["customer_id"]) == {c[:-2] for c in ok["Customer ID"]}  # "13085.0" -> "13085"
    assert tx["amount"].sum() == pytest.approx((ok["qty"] * ok["price"]).sum())
    assert {"quantity", "product", "invoice_id"} <= set(tx.columns)
    assert rule(report, "returns").rows == 1
    assert rule(report, "missing_customer_id").rows == 2
    assert rule(report, "non_positive_amount").rows == 1
    assert rule(report, "duplicates").rows == 1


def test_online_retail_ii_as_excel(tmp_path):
    pd.read_csv(RETAIL, dtype=str).assign(
        Quantity=lambda d: d["Quantity"].astype(int), Price=lambda d: d["Price"].astype(float),
        **{"Customer ID": lambda d: d["Customer ID"].astype(float)},
    ).to_excel(tmp_path / "online_retail_II.xlsx", index=False)
    tx_csv, rep_csv = read_transactions(RETAIL)
    tx_xls, rep_xls = read_transactions(tmp_path / "online_retail_II.xlsx")
    assert rep_xls.layout == "online_retail_ii"
    assert tx_xls["customer_id"].tolist() == tx_csv["customer_id"].tolist()
    assert tx_xls["amount"].tolist() == pytest.approx(tx_csv["amount"].tolist())


@pytest.mark.parametrize("name, customers, rows", [("CDNOW_sample.txt", 2357, 6919), ("CDNOW_master.txt", 23570, 69659)])
def test_cdnow_layout_as_is(name, customers, rows):
    rules = CleaningRules(non_positive_amount="keep", duplicates="keep")
    tx, report = read_transactions(ROOT / "data" / name, rules=rules)
    assert report.layout == "cdnow"
    assert report.rows_read == rows and report.rows_kept == rows
    assert tx["customer_id"].nunique() == customers
    assert tx["date"].min() == pd.Timestamp("1997-01-01") and tx["date"].max() == pd.Timestamp("1998-06-30")
    assert "quantity" in tx.columns


# --------------------------------------------------------------------------- cleaning rules

RULE_CASES = {
    # rule: (csv rows that trigger it, column named in the error)
    "missing_customer_id": (",2024-01-02,5.00", "customer_id"),
    "unparseable_date": ("B,not a date,5.00", "date"),
    "bad_amount": ("B,2024-01-02,five", "amount"),
    "non_positive_amount": ("B,2024-01-02,-5.00", "amount"),
    "duplicates": ("A,2024-01-05,10.00", "all columns"),
}


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_each_rule_drops_and_reports_by_default(tmp_path, name):
    bad, _ = RULE_CASES[name]
    path = write(tmp_path / "t.csv", "customer_id,date,amount\nA,2024-01-05,10.00\n" + bad + "\n")
    tx, report = read_transactions(path)
    r = rule(report, name)
    assert r.rows == 1 and r.action == "drop" and r.example is not None
    assert len(tx) == 1 and report.rows_kept == 1
    assert sum(x.rows for x in report.rules) == 1  # no other rule touched a row
    assert name.split("_")[0] in str(report).lower() or r.description in str(report)


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_each_rule_can_reject_with_a_message_naming_file_column_and_value(tmp_path, name):
    bad, column = RULE_CASES[name]
    path = write(tmp_path / "bad.csv", "customer_id,date,amount\nA,2024-01-05,10.00\n" + bad + "\n")
    with pytest.raises(DataError) as err:
        read_transactions(path, rules=CleaningRules(**{name: "error"}))
    msg = str(err.value)
    assert str(path) in msg and column in msg and "row 3" in msg
    offending = [v for v in bad.split(",") if v][-1] if name != "missing_customer_id" else "5.0"
    assert offending in msg


def test_a_rule_that_keeps_still_counts(tmp_path):
    bad, _ = RULE_CASES["non_positive_amount"]
    path = write(tmp_path / "t.csv", "customer_id,date,amount\nA,2024-01-05,10.00\n" + bad + "\n")
    tx, report = read_transactions(path, rules=CleaningRules(non_positive_amount="keep"))
    assert len(tx) == 2 and rule(report, "non_positive_amount").rows == 1
    assert rule(report, "non_positive_amount").action == "keep"


def test_duplicates_keep_keeps_every_row_and_is_not_counted_on_any_engine(tmp_path):
    """duplicates="keep" does not look for duplicates (the out-of-core engines skip a GROUP BY over every column
    for it), so every engine reports the same 0, and the report says "not looked for" instead of "0 rows kept"."""
    bad, _ = RULE_CASES["duplicates"]
    path = write(tmp_path / "t.csv", "customer_id,date,amount\nA,2024-01-05,10.00\n" + bad + "\n")
    tx, report = read_transactions(path, rules=CleaningRules(duplicates="keep"))
    assert len(tx) == 2 and rule(report, "duplicates").rows == 0 and rule(report, "duplicates").action == "keep"
    assert "not looked for" in str(report)
    tx, report = read_transactions(path)
    assert len(tx) == 1 and rule(report, "duplicates").rows == 1


def test_rows_that_no_model_can_use_cannot_be_kept():
    with pytest.raises(ValueError, match="missing_customer_id='keep' is not possible"):
        CleaningRules(missing_customer_id="keep")
    with pytest.raises(ValueError, match="not one of"):
        CleaningRules(duplicates="ignore")


def test_returns_by_invoice_prefix_and_negative_quantity(tmp_path):
    path = write(tmp_path / "t.csv", "invoice_id,customer_id,date,quantity,amount\n"
                 "1,A,2024-01-01,2,10\nC2,A,2024-01-02,1,10\n3,A,2024-01-03,-1,-5\n")
    tx, report = read_transactions(path)
    assert rule(report, "returns").rows == 2 and tx["invoice_id"].tolist() == ["1"]
    tx_keep, rep_keep = read_transactions(path, rules=CleaningRules(returns="keep", non_positive_amount="keep"))
    assert len(tx_keep) == 3 and rule(rep_keep, "returns").rows == 2


def test_rows_after_observation_end(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id,date,amount\nA,2024-01-05 10:00,1\nA,2024-01-31 23:59,1\nA,2024-02-01,1\n")
    tx, report = read_transactions(path, rules=CleaningRules(observation_end="2024-01-31"))
    assert rule(report, "after_observation_end").rows == 1 and len(tx) == 2


def test_non_finite_amount_is_bad(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id,date,amount\nA,2024-01-05,inf\nA,2024-01-06,2\n")
    tx, report = read_transactions(path)
    assert rule(report, "bad_amount").rows == 1 and tx["amount"].tolist() == [2.0]


# --------------------------------------------------------------------------- unusable sources


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"customer_id,date,amount\n", "no transaction rows"),
        (b"customer_id,date,value\nA,2024-01-01,1\n", "required column 'amount' is missing"),
        (b"customer_id,date,amount,amount\nA,2024-01-01,1,2\n", "duplicate column name 'amount'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"customer_id,date,amount\n,2024-01-01,1\n", "no rows left after cleaning"),
    ],
)
def test_unusable_sources_raise_data_error_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_transactions(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_file_and_bad_parquet(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_transactions(tmp_path / "nope.csv")
    (tmp_path / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        read_transactions(tmp_path / "x.parquet")


def test_mapping_that_names_an_absent_column(tmp_path):
    path = write(tmp_path / "t.csv", CANONICAL)
    with pytest.raises(DataError, match="'Kunde', which is not in the file"):
        read_transactions(path, columns={"Kunde": "customer_id"})


def test_missing_column_message_says_how_to_map(tmp_path):
    path = write(tmp_path / "t.csv", "client,date,amount\nA,2024-01-01,1\n")
    with pytest.raises(DataError) as err:
        read_transactions(path)
    assert "'customer_id'" in str(err.value) and "--map" in str(err.value) and "client" in str(err.value)


def test_input_files_are_never_modified(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_bytes(RETAIL.read_bytes())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    read_transactions(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retail.csv"]


def test_example_rows_quote_ids_as_the_data_wrote_them(tmp_path):
    """A customer_id column with a gap is read as floats by pandas (12482.0); the cleaning report's example rows
    quote the id as the file wrote it (12482) and a missing id as "missing", not NaN."""
    path = tmp_path / "tx.csv"
    path.write_text("invoice_id,customer_id,date,amount\n"
                    "1,12482,2024-01-02,5.0\nC2,12482,2024-01-03,5.0\n3,,2024-01-04,5.0\n4,12839,2024-01-05,2.5\n")
    _tx, report = read_transactions(path)
    examples = {r.rule: r.example for r in report.rules if r.example is not None}
    assert examples["returns"]["customer_id"] == "12482"
    assert examples["missing_customer_id"]["customer_id"] is None
    text = str(report)
    assert "customer_id=12482," in text and "customer_id=missing" in text
    assert "12482.0" not in text and "customer_id=NaN" not in text


def test_shown_path_is_relative_to_the_working_folder_or_the_name(tmp_path):
    from segwork.io import shown_path

    assert shown_path(tmp_path / "data" / "x.csv", cwd=tmp_path) == "data/x.csv"
    assert shown_path(tmp_path / "x.csv", cwd=tmp_path / "elsewhere") == "x.csv"
    assert shown_path("data/x.csv", cwd=tmp_path) == "data/x.csv"
