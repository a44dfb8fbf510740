"""rfm_summary / customer_table from files: pandas, DuckDB and Dask engines give the same frame and report.

The reference is always the pandas engine (read_transactions + the in-memory
summary, itself tested against published values in test_rfm.py); the dirty
file's expected counts are written by hand from the rows below.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import segwork
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import customer_table, rfm_summary
from segwork.io import CleaningRules

pytest.importorskip("duckdb")

PERIODS = [
    dict(time_unit="days"),
    dict(time_unit="weeks", observation_end="2024-10-31"),
    dict(time_unit="weeks", calibration_end="2024-06-30", observation_end="2024-10-31"),
    dict(time_unit="days", calibration_end="2024-03-31"),
]


@pytest.fixture(scope="module")
def crm_tx() -> pd.DataFrame:
    return make_crm(n_customers=400, random_state=5).transactions


@pytest.fixture(scope="module")
def parquet_dir(crm_tx, tmp_path_factory) -> str:
    """The transactions shuffled into 4 Parquet files (partitions), with a few exact duplicate rows."""
    folder = tmp_path_factory.mktemp("parquet")
    rows = pd.concat([crm_tx, crm_tx.iloc[[3, 50, 50]]]).sample(frac=1.0, random_state=1).reset_index(drop=True)
    for i, idx in enumerate(np.array_split(np.arange(len(rows)), 4)):
        rows.iloc[idx].to_parquet(folder / f"part-{i}.parquet", index=False)
    return str(folder)


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_duckdb_equals_pandas_on_parquet(parquet_dir, period):
    expected = rfm_summary(parquet_dir, engine="pandas", **period)
    got = rfm_summary(parquet_dir, engine="duckdb", **period)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["cleaning_report"].to_frame()["rows"].tolist() == \
        expected.attrs["cleaning_report"].to_frame()["rows"].tolist()
    assert _rows(expected, "duplicates") == 3  # the planted duplicates


def test_path_default_is_duckdb_and_equals_the_dataframe_summary(parquet_dir, crm_tx, monkeypatch):
    from segwork.features import engines

    monkeypatch.setitem(engines.DUCKDB_CONFIG, "memory_limit", "500MB")
    monkeypatch.setitem(engines.DUCKDB_CONFIG, "threads", 1)
    monkeypatch.setattr(engines.duckdb, "ROWS_PER_PASS", 1000)  # several passes over customer buckets
    got = segwork.rfm_summary(parquet_dir + "/*.parquet", observation_end="2024-12-31", time_unit="weeks")
    assert got.attrs["cleaning_report"].source.endswith("*.parquet")
    direct = rfm_summary(crm_tx, observation_end="2024-12-31", time_unit="weeks")
    pd.testing.assert_frame_equal(got, direct)


def test_customer_table_from_files_same_table(parquet_dir, crm_tx):
    data = make_crm(n_customers=400, random_state=5)
    expected = customer_table(parquet_dir, data.customers, data.survey, observation_end="2024-10-31", engine="pandas")
    got = customer_table(parquet_dir, data.customers, data.survey, observation_end="2024-10-31")
    with pytest.MonkeyPatch.context() as mp:
        from segwork.features import engines

        mp.setattr(engines.duckdb, "ROWS_PER_PASS", 1500)
        pd.testing.assert_frame_equal(customer_table(parquet_dir, data.customers, data.survey,
                                                     observation_end="2024-10-31"), expected)
    pd.testing.assert_frame_equal(got, expected)
    assert {"cat_" + c for c in crm_tx["category"].unique()} <= set(got.columns)
    assert _rows(got, "duplicates") == 3
    # and it is the in-memory table of the same (duplicate-free) rows
    direct = customer_table(crm_tx, data.customers, data.survey, observation_end="2024-10-31")
    pd.testing.assert_frame_equal(got, direct)


DIRTY_CSV = """customer_id,date,amount,quantity,invoice_id,category
1,2024-01-02,10.5,1,A1,x
1,2024-01-02,10.5,1,A1,x
1,2024-01-02 15:30,4,2,A2,y
 1 ,2024-02-10,7.25,1,A3,x
,2024-01-05,3,1,A4,x
NA,2024-01-05,3,1,A4,x
2.0,2024-01-03,20,1,A5,y
2,unknown,20,1,A6,y
2,2024-03-01,abc,1,A7,y
2,2024-03-02,,1,A7,y
2,2024-03-03,5,1,C8,y
2,2024-03-04,5,-1,A9,y
3,2024-01-09,0,1,A10,x
3,2024-01-10,-2,1,A11,x
3,2024-01-11,9,1,A12,x
3,2024-01-11,9,1,A12,x
4,2024-05-01,8,1,A13,x
4,2024-07-01,8,1,A14,x
4,2203-05-01,8,1,A15,x
3,1970-01-01,6,1,A16,y
"""

#: rows each rule drops in DIRTY_CSV, counted by hand (rules in their order)
DIRTY_COUNTS = {"missing_customer_id": 2, "unparseable_date": 1, "implausible_date": 2, "bad_amount": 2,
                "returns": 2, "non_positive_amount": 2, "duplicates": 2, "after_observation_end": 1}


def _rows(summary: pd.DataFrame, rule: str) -> int:
    """Rows the named cleaning rule matched in the summary's cleaning report."""
    return next(r.rows for r in summary.attrs["cleaning_report"].rules if r.rule == rule)


@pytest.fixture()
def dirty_csv(tmp_path):
    path = tmp_path / "dirty.csv"
    path.write_text(DIRTY_CSV)
    return path


def test_dirty_file_same_counts_and_frame(dirty_csv, tmp_path):
    rules = CleaningRules(observation_end="2024-06-30")
    expected = rfm_summary(dirty_csv, engine="pandas", rules=rules)
    got = rfm_summary(dirty_csv, engine="duckdb", rules=rules)
    pd.testing.assert_frame_equal(got, expected)
    want, have = expected.attrs["cleaning_report"], got.attrs["cleaning_report"]
    assert {r.rule: r.rows for r in want.rules} == DIRTY_COUNTS
    assert {r.rule: r.rows for r in have.rules} == DIRTY_COUNTS
    for field in ("rows_read", "rows_kept", "customers", "first_date", "last_date"):
        assert getattr(have, field) == getattr(want, field), field
    assert have.revenue == pytest.approx(want.revenue)
    assert list(got.index) == ["1", "2", "3", "4"]
    # the same rows as Parquet text columns: the text 'NA' is kept there, but an id written as a null string is
    # missing in every source (io.to_id and its SQL), so the Parquet file gives the CSV file's customers and counts
    pq = tmp_path / "dirty.parquet"
    pd.read_csv(dirty_csv, dtype=str, keep_default_na=False).to_parquet(pq, index=False)
    expected = rfm_summary(pq, engine="pandas", rules=rules)
    got = rfm_summary(pq, engine="duckdb", rules=rules)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.index) == ["1", "2", "3", "4"]
    assert {r.rule: r.rows for r in got.attrs["cleaning_report"].rules} == \
        {r.rule: r.rows for r in expected.attrs["cleaning_report"].rules} == DIRTY_COUNTS


def test_error_rules_and_forms_only_pandas_reads(dirty_csv, tmp_path):
    with pytest.raises(DataError, match=r"dirty.csv: 2 row\(s\) with returns"):
        rfm_summary(dirty_csv, engine="duckdb", rules=CleaningRules(returns="error"))
    local = tmp_path / "local.csv"
    local.write_text("customer_id,date,amount\n1,31/01/2024,10\n2,2024-01-02,5\n")
    with pytest.raises(DataError, match=r"local.csv: column 'date' has the value '31/01/2024'.*engine='pandas'"):
        rfm_summary(local, engine="duckdb")
    assert list(rfm_summary(local, engine="pandas").index) == ["1", "2"]
    money = tmp_path / "money.csv"
    money.write_text("customer_id,date,amount\n1,2024-01-01,\"1.234,50\"\n")
    with pytest.raises(DataError, match=r"column 'amount' uses a decimal comma / a thousands dot \('1.234,50'\): the duckdb engine reads only plain numbers"):
        rfm_summary(money, engine="duckdb")
    money.write_text("customer_id;date;amount\n1;2024-01-01;1.250\n2;2024-01-02;2.500\n")  # ';': 1250 in pandas
    with pytest.raises(DataError, match=r"column 'amount' has values such as '(1.250|2.500)', which read as 1250 \(a thousands dot\) or 1.25.*12.50"):
        rfm_summary(money, engine="duckdb")
    money.write_text("customer_id,date,amount\n1,2024-01-01,1.250\n2,2024-01-02,2.50\n1,2024-01-03,12.\n")
    with pytest.raises(DataError, match=r"column 'amount' has the value '12.'"):
        rfm_summary(money, engine="duckdb")
    money.write_text("customer_id,date,amount\n\t1 ,2024-01-01,1.250\n2,2024-01-02,2.50\n1,2024-01-03,3\n")
    pd.testing.assert_frame_equal(rfm_summary(money, engine="duckdb"), rfm_summary(money, engine="pandas"))


def test_errors_name_file_and_column(tmp_path, parquet_dir):
    with pytest.raises(DataError, match=r"nothing-\*\.parquet: the pattern matches no file"):
        rfm_summary(str(tmp_path / "nothing-*.parquet"))
    with pytest.raises(DataError, match="no such file or folder"):
        rfm_summary(tmp_path / "missing.parquet")
    bad = tmp_path / "noamount.csv"
    bad.write_text("customer_id,date,value\n1,2024-01-01,3\n")
    with pytest.raises(DataError, match=r"noamount.csv: required column 'amount' is missing \(columns: "
                                        r"customer_id, date, value\)"):
        rfm_summary(bad, engine="duckdb")
    got = rfm_summary(bad, engine="duckdb", amount_col="value")
    assert got.loc["1", "monetary_value"] == 0.0
    with pytest.raises(DataError, match="engine='spark' is not one of"):
        rfm_summary(parquet_dir, engine="spark")


def test_without_the_extra_one_line_says_what_to_install(monkeypatch, parquet_dir):
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(DataError, match=r"^engine='duckdb' needs duckdb, which is not installed: "
                                          r"pip install 'segwork\[scale\]'$"):
        rfm_summary(parquet_dir)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DataError, match=r"^engine='dask' needs distributed, which is not installed: "
                                          r"pip install 'segwork\[scale\]'$"):
        rfm_summary(parquet_dir, engine="dask")


def test_dask_without_a_client_says_how_to_start_one(monkeypatch, parquet_dir):
    distributed = pytest.importorskip("distributed")

    def no_client():
        raise ValueError("No global client found and no address provided")

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(DataError, match=r"engine='dask' found no running dask.distributed client.*scheduler="):
        rfm_summary(parquet_dir, engine="dask")


@pytest.mark.parametrize("ids", ["str", "int", "categorical"])
def test_dataframe_on_duckdb_equals_pandas(crm_tx, ids):
    tx = crm_tx.sample(frac=1.0, random_state=2)  # a raw, unsorted log
    if ids == "int":
        tx = tx.assign(customer_id=tx["customer_id"].str[1:].astype(int))
    elif ids == "categorical":
        tx = tx.assign(customer_id=tx["customer_id"].astype("category"))
    for period in PERIODS:
        pd.testing.assert_frame_equal(rfm_summary(tx, engine="duckdb", **period), rfm_summary(tx, **period))
    # a row without a customer id: dropped and counted by the gate on either engine, as in a file
    no_id = tx.assign(customer_id=tx["customer_id"].where(np.arange(len(tx)) != 7))
    on_duckdb = rfm_summary(no_id, engine="duckdb")
    pd.testing.assert_frame_equal(on_duckdb, rfm_summary(no_id))
    assert next(r.rows for r in on_duckdb.attrs["cleaning_report"].rules if r.rule == "missing_customer_id") == 1


# ----------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_equals_pandas_and_duckdb(dask_client, parquet_dir):
    for period in (PERIODS[0], PERIODS[2]):  # days, whole period; weeks with calibration / holdout
        expected = rfm_summary(parquet_dir, engine="pandas", **period)
        got = rfm_summary(parquet_dir, engine="dask", **period)
        pd.testing.assert_frame_equal(got, expected)
        pd.testing.assert_frame_equal(got, rfm_summary(parquet_dir, engine="duckdb", **period))
        assert [r.rows for r in got.attrs["cleaning_report"].rules] == \
            [r.rows for r in expected.attrs["cleaning_report"].rules]
    table = customer_table(parquet_dir, observation_end="2024-10-31", engine="dask")
    pd.testing.assert_frame_equal(table, customer_table(parquet_dir, observation_end="2024-10-31", engine="pandas"))


def test_dask_dirty_parquet_counts_and_scheduler_address(dask_client, dirty_csv, tmp_path):
    raw = pd.read_csv(dirty_csv, dtype=str, keep_default_na=False)
    raw.iloc[:9].to_parquet(tmp_path / "dirty-a.parquet", index=False)
    raw.iloc[9:].to_parquet(tmp_path / "dirty-b.parquet", index=False)
    rules = CleaningRules(observation_end="2024-06-30")
    expected = rfm_summary(str(tmp_path / "dirty-*.parquet"), engine="pandas", rules=rules)
    got = rfm_summary(str(tmp_path / "dirty-*.parquet"), engine="dask", rules=rules,
                      scheduler=dask_client.scheduler.address)
    pd.testing.assert_frame_equal(got, expected)
    want, have = expected.attrs["cleaning_report"], got.attrs["cleaning_report"]
    # the text 'NA' of the Parquet files is a missing id, as in the CSV file (io.to_id)
    assert {r.rule: r.rows for r in have.rules} == {r.rule: r.rows for r in want.rules} == DIRTY_COUNTS
    for field in ("rows_read", "rows_kept", "customers", "first_date", "last_date"):
        assert getattr(have, field) == getattr(want, field), field
    with pytest.raises(DataError, match="engine='dask' reads Parquet"):
        rfm_summary(dirty_csv, engine="dask")


def test_dask_pieces_inside_row_groups_and_keep_rules_equal_pandas(dask_client, parquet_dir, monkeypatch):
    """Pieces of 300 rows (ranges inside row groups) and 5 buckets: the copies of a row in different pieces
    still meet (the planted duplicates are counted), and duplicates="keep" keeps them, as on pandas."""
    from segwork.features.engines import dask as dask_engine

    monkeypatch.setattr(dask_engine, "PIECE_ROWS", 300)
    monkeypatch.setattr(dask_engine, "MIN_PIECE_ROWS", 300)
    monkeypatch.setattr(dask_engine, "BUCKET_ROWS", 1000)
    for rules in (CleaningRules(), CleaningRules(duplicates="keep")):
        expected = rfm_summary(parquet_dir, engine="pandas", rules=rules, **PERIODS[2])
        got = rfm_summary(parquet_dir, engine="dask", rules=rules, **PERIODS[2])
        pd.testing.assert_frame_equal(got, expected)
        # the counts of the DuckDB engine, whose SQL runs on the workers, and of pandas (with duplicates="keep"
        # no engine looks for duplicates: 0 on all three)
        assert [(r.rule, r.rows) for r in got.attrs["cleaning_report"].rules] == \
            [(r.rule, r.rows) for r in expected.attrs["cleaning_report"].rules]
        on_duckdb = rfm_summary(parquet_dir, engine="duckdb", rules=rules, **PERIODS[2])
        assert [(r.rule, r.rows) for r in got.attrs["cleaning_report"].rules] == \
            [(r.rule, r.rows) for r in on_duckdb.attrs["cleaning_report"].rules]
        assert _rows(got, "duplicates") == (3 if rules.duplicates == "drop" else 0)
    table = customer_table(parquet_dir, observation_end="2024-10-31", engine="dask")
    pd.testing.assert_frame_equal(table, customer_table(parquet_dir, observation_end="2024-10-31", engine="pandas"))


def test_dask_error_rule_is_refused_as_on_duckdb(dask_client, dirty_csv, tmp_path):
    raw = pd.read_csv(dirty_csv, dtype=str, keep_default_na=False)
    raw.iloc[:9].to_parquet(tmp_path / "dirty-a.parquet", index=False)
    raw.iloc[9:].to_parquet(tmp_path / "dirty-b.parquet", index=False)
    rules = CleaningRules(non_positive_amount="error")
    with pytest.raises(DataError) as on_duckdb:
        rfm_summary(str(tmp_path / "dirty-*.parquet"), engine="duckdb", rules=rules)
    with pytest.raises(DataError) as on_dask:
        rfm_summary(str(tmp_path / "dirty-*.parquet"), engine="dask", rules=rules)
    assert str(on_dask.value).split(", e.g.")[0] == str(on_duckdb.value).split(", e.g.")[0]
    assert "2 row(s)" in str(on_dask.value)


def test_aggregate_source_same_on_pandas_and_duckdb(parquet_dir):
    from segwork.features.rfm import aggregate_source

    kw = dict(calibration_end="2024-06-30", observation_end="2024-10-31", mix=("category", "channel"))
    a, b = aggregate_source(parquet_dir, engine="pandas", **kw), aggregate_source(parquet_dir, engine="duckdb", **kw)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert (a.first_tx, a.last_tx) == (b.first_tx, b.last_tx)
    key = ["customer_id", "value"]
    for column in ("category", "channel"):
        left = a.mix[column].assign(value=a.mix[column]["value"].astype(str)).sort_values(key).reset_index(drop=True)
        right = b.mix[column].assign(value=b.mix[column]["value"].astype(str)).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_dataframe_on_duckdb_with_every_purchase_after_the_observation_end_is_refused_as_on_pandas(crm_tx):
    """The DataFrame path runs the engine's one aggregate SQL; no row up to observation_end is pandas' error."""
    early = pd.Timestamp(crm_tx["date"].min()) - pd.Timedelta(days=3)
    with pytest.raises(DataError) as on_pandas:
        rfm_summary(crm_tx, observation_end=early)
    with pytest.raises(DataError) as on_duckdb:
        rfm_summary(crm_tx, observation_end=early, engine="duckdb")
    assert str(on_duckdb.value) == str(on_pandas.value)


@pytest.mark.parametrize("unit", ["us", "ns"])
@pytest.mark.parametrize("rules", [
    CleaningRules(observation_end="2024-06-30"),
    CleaningRules(observation_end="2024-06-30", duplicates="keep"),
    CleaningRules(observation_end="2024-03-03", after_observation_end="keep", implausible_date="keep",
                  returns="keep", non_positive_amount="keep"),
], ids=["drop", "duplicates-keep", "keep-rules"])
def test_typed_parquet_one_pass_same_counts_dates_and_frame(dirty_csv, tmp_path, rules, unit):
    """The DuckDB engine's one pass on typed columns (TIMESTAMP dates take the report's first / last date from a
    second look at those days; TIMESTAMP_NS ones in the pass), every rule's action, against pandas."""
    raw = pd.read_csv(dirty_csv, dtype=str, keep_default_na=False)
    typed = raw.assign(date=pd.to_datetime(raw["date"], errors="coerce", format="mixed"),
                       amount=pd.to_numeric(raw["amount"], errors="coerce"),
                       quantity=pd.to_numeric(raw["quantity"], errors="coerce"))
    path = tmp_path / f"typed-{unit}.parquet"
    typed.to_parquet(path, index=False, coerce_timestamps=None if unit == "ns" else unit)  # ns: pandas' own unit
    expected = rfm_summary(path, engine="pandas", rules=rules, calibration_end="2024-02-15")
    got = rfm_summary(path, engine="duckdb", rules=rules, calibration_end="2024-02-15")
    pd.testing.assert_frame_equal(got, expected)
    want, have = expected.attrs["cleaning_report"], got.attrs["cleaning_report"]
    # every count equal, duplicates included: under duplicates="keep" no engine looks for them (0 on both)
    assert [(r.rule, r.rows) for r in have.rules] == [(r.rule, r.rows) for r in want.rules]
    for field in ("rows_read", "rows_kept", "customers", "first_date", "last_date"):
        assert getattr(have, field) == getattr(want, field), field
    assert have.revenue == pytest.approx(want.revenue)
