"""segwork export: the documented schema, permission respected, one-line errors."""
from __future__ import annotations

import pandas as pd
import pytest

from segwork.act.export import EXPORT_SCHEMAS, export_frame
from segwork.cli import main
from segwork.datasets import make_crm
from segwork.errors import DataError


@pytest.fixture(scope="module")
def crm():
    return make_crm(1500, random_state=4)


def test_targets_and_triggers_follow_the_schema(crm):
    t = export_frame("targets", crm)
    assert list(t.columns) == list(EXPORT_SCHEMAS["targets"])
    assert t["rank"].tolist() == list(range(1, len(t) + 1)) and (t["expected_profit"] > 0).all()
    opted = set(crm.customers.loc[crm.customers["email_opt_in"], "customer_id"].astype(str))
    assert set(t["customer_id"]) <= opted and t["p_buy"].between(0, 1).all()
    tr = export_frame("triggers", crm)
    assert list(tr.columns) == list(EXPORT_SCHEMAS["triggers"]) and len(tr) > 0
    last = crm.transactions["date"].max().normalize()
    assert (pd.to_datetime(tr["date"]) > last).all()
    assert set(tr["customer_id"]) <= opted and tr.attrs["left_out_no_permission"] > 0


def test_the_channel_chooses_the_permission(crm):
    t = export_frame("targets", crm, channel="post")
    posted = set(crm.customers.loc[crm.customers["post_opt_in"], "customer_id"].astype(str))
    assert set(t["customer_id"]) <= posted
    assert t.attrs["left_out_no_permission"] == len(crm.customers) - len(posted)


def test_cli_writes_csv_and_parquet(tmp_path, capsys):
    assert main(["export", "targets", "--dataset", "synthetic", "--n-customers", "800", "--random-state", "1",
                 "--output", str(tmp_path / "t.csv"), "--channel", "post"]) == 0
    assert "left out without post permission" in capsys.readouterr().out
    t = pd.read_csv(tmp_path / "t.csv")
    assert list(t.columns) == list(EXPORT_SCHEMAS["targets"])
    posted = make_crm(800, random_state=1).customers.set_index("customer_id")["post_opt_in"]
    assert posted[t["customer_id"]].all()
    assert main(["export", "segments", "--dataset", "synthetic", "--n-customers", "800", "--random-state", "1",
                 "--output", str(tmp_path / "s.parquet")]) == 0
    s = pd.read_parquet(tmp_path / "s.parquet")
    assert list(s.columns) == list(EXPORT_SCHEMAS["segments"])
    assert s.groupby("segmentation")["customer_id"].nunique().eq(800).all()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "targets", "--dataset", "synthetic", "--output", str(tmp_path / "t.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and ".csv or .parquet" in err
    assert main(["export", "triggers", "--dataset", "cdnow_sample", "--output", str(tmp_path / "t.csv")]) == 2
    assert "no customer profiles" in capsys.readouterr().err
    with pytest.raises(DataError, match="unknown kind"):
        export_frame("everything", make_crm(200, random_state=0))


def test_retention_follows_its_schema_and_its_counts_add_up(tmp_path, capsys):
    """A file without drivers: the at-risk list with P(alive) and value at risk, and the line saying why no
    reasons (the planted world's export is checked against the service in tests/service/test_defection.py)."""
    world = make_crm(400, random_state=3)
    path = tmp_path / "orders.csv"
    world.transactions[["customer_id", "date", "amount"]].to_csv(path, index=False)
    out = tmp_path / "retention.parquet"
    assert main(["export", "retention", "--dataset", str(path), "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and "400 customers" in lines[0]
    assert "CLV (margin 30 %) over 12 months" in lines[4]  # the export's default margin, stated (value_label)
    assert int(lines[1].split()[0]) + int(lines[2].split()[0]) == 400
    assert lines[3].strip().startswith("no reasons:") and "profile" in lines[3] and "events" in lines[3]
    table = pd.read_parquet(out)
    assert list(table.columns) == list(EXPORT_SCHEMAS["retention"]) and len(table) == int(lines[1].split()[0])
    assert set(table["relationship"]) <= {"Vulnerable", "Win-back"} and table["p_alive"].between(0, 1).all()
    # no empty reason cells: the data has no drivers, said in every row
    assert (table["top_reason"] == "not known: the data has no drivers").all()
    assert (table["reasons"] == table["top_reason"]).all() and table["reason_multiplier"].isna().all()
    assert table["retention_value"].is_monotonic_decreasing and table["rank"].tolist() == list(range(1, len(table) + 1))
    for column, (kind, unit, meaning) in EXPORT_SCHEMAS["retention"].items():
        assert kind in ("int", "float", "string") and meaning, column
        if kind == "float" and column not in ("reason_multiplier", "p_alive"):
            assert unit == "currency", column
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically, nothing left over


@pytest.mark.parametrize("argv, expected", [
    (["--dataset", "synthetic", "--output", "r.json"], ".csv or .parquet"),
    (["--dataset", "no_such_data", "--output", "r.csv"], "no_such_data: not a built-in data set"),
])
def test_retention_refuses_bad_input_in_one_line(tmp_path, capsys, argv, expected):
    argv = [a if a not in ("r.json", "r.csv") else str(tmp_path / a) for a in argv]
    assert main(["export", "retention", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and expected in captured.err
    assert captured.out == "" and not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["segments", "targets", "triggers"])
def test_every_customer_is_counted_once(crm, kind):
    """The counts of each export add up to the customers of the data (issue 21: `export targets` left out the
    unprofitable third without a word, because `out.attrs = {...}` dropped n_unprofitable)."""
    frame = export_frame(kind, crm)
    a = frame.attrs
    customers = set(crm.transactions["customer_id"].astype(str)) | set(crm.customers["customer_id"].astype(str))
    assert a["n_customers"] == len(customers) == 1500
    assert sum(a["counts"].values()) == a["n_customers"] and all(n >= 0 for n in a["counts"].values())
    if kind == "segments":
        assert frame.groupby("segmentation")["customer_id"].nunique().eq(1500).all()
        assert len(frame) == 1500 * len(a["segmentations"]) and a["value_label"] == "CLV (margin 30 %)"
    if kind == "targets":
        opted = set(crm.customers.loc[crm.customers["email_opt_in"], "customer_id"].astype(str))
        listed, no_permission, unprofitable = a["counts"].values()
        assert listed == len(frame) and no_permission == 1500 - len(opted)
        assert unprofitable == a["n_unprofitable"] > 0 and listed + unprofitable == len(opted)
    if kind == "triggers":
        from segwork.act.triggers import triggers
        # recounted without the permission filter: who has an event, and who of them gave no permission
        cut = crm.transactions["date"].max().normalize()
        everyone = triggers(crm.transactions, crm.customers, cut + pd.Timedelta(days=1), cut + pd.Timedelta(days=30))
        opted = set(crm.customers.loc[crm.customers["email_opt_in"], "customer_id"].astype(str))
        had_event = set(everyone["customer_id"].astype(str))
        listed, no_permission, no_event = a["counts"].values()
        assert listed == frame["customer_id"].nunique() == len(had_event & opted)
        assert no_permission == len(had_event - opted) and no_event == len(customers - had_event)


def test_triggers_carry_each_customers_relationship_type(crm):
    from segwork.features import customer_table
    from segwork.segment import RELATIONSHIP_TYPES, relationship_segmentation

    frame = export_frame("triggers", crm)
    assert frame["relationship"].notna().all() and set(frame["relationship"]) <= set(RELATIONSHIP_TYPES)
    assert frame["relationship"].nunique() > 1
    cut = crm.transactions["date"].max().normalize()
    types = relationship_segmentation(customer_table(crm.transactions, crm.customers, observation_end=cut)).labels
    assert (frame["relationship"].to_numpy() == types.astype(str).reindex(frame["customer_id"]).to_numpy()).all()


@pytest.mark.parametrize("kind", ["segments", "targets", "triggers"])
def test_cli_prints_counts_that_add_up(tmp_path, capsys, kind):
    assert main(["export", kind, "--dataset", "synthetic", "--n-customers", "600", "--random-state", "2",
                 "--output", str(tmp_path / "x.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 600 customers")
    counted = [int(line.split()[0].replace(",", "")) for line in lines[1:] if line.strip()[0].isdigit()]
    assert sum(counted) == 600, lines
    if kind == "targets":
        assert "unprofitable" in "\n".join(lines) and "margin 30 % of revenue" in lines[-1]
    if kind == "segments":
        assert "CLV (margin 30 %)" in lines[-1]


def test_notebook_08_and_the_export_build_the_trigger_list_one_way(crm):
    """Page 08's triggers table had an empty relationship column (the notebook called triggers() without
    relationships=): both now call labelled_triggers, which fills the segment and the relationship type."""
    from segwork.act import labelled_triggers
    from segwork.features import customer_table

    frame = export_frame("triggers", crm)
    cut = crm.transactions["date"].max().normalize()
    table = customer_table(crm.transactions, crm.customers, observation_end=cut)
    events = labelled_triggers(crm.transactions, crm.customers, table, cut + pd.Timedelta(days=1),
                               cut + pd.Timedelta(days=30), channel="email")
    assert events["relationship"].notna().all() and events["segment"].notna().all()
    events = events.assign(date=pd.to_datetime(events["date"]).dt.date)
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), events[frame.columns].reset_index(drop=True),
                                  check_dtype=False)
    with pytest.raises(DataError, match="relationships= is computed"):
        labelled_triggers(crm.transactions, crm.customers, table, cut, cut, relationships=None)


def test_an_empty_retention_list_says_why_in_one_line(tmp_path, capsys):
    """Finding 14: on a short plain file the MBG/NBD finds no dropout (a -> 0), nobody is at risk, and the export
    wrote a header-only file without a word; now one line says why, with the lowest P(alive) and the fit's limit."""
    from pathlib import Path

    from segwork.datasets import load_dataset
    from segwork.prepare import prepare

    path = Path(__file__).parents[2] / "data" / "examples" / "online_retail_II_example.csv"
    out = tmp_path / "retention.csv"
    assert main(["export", "retention", "--dataset", str(path), "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].strip().startswith("0 listed")
    why = [line for line in lines if line.strip().startswith("why nobody is listed:")]
    assert len(why) == 1 and "no customer is Vulnerable or Win-back" in why[0] and "found no dropout" in why[0]
    table = prepare(load_dataset(str(path))).table
    lowest = table.loc[table["frequency"] > 0, "p_alive"].min()
    assert f"repeat buyer is {lowest:.2f} (at risk below 0.7)" in why[0]
    assert len(pd.read_csv(out)) == 0  # the file keeps its header for a CRM import
    # a list with customers has no such line
    frame = export_frame("retention", make_crm(400, random_state=3))
    assert len(frame) > 0 and frame.attrs["why_empty"] == ""


def test_export_retention_and_targets_name_the_currency_alike(tmp_path, capsys):
    """Finding 6: retention said "in EUR", targets "in the data's currency"; both now name the data set's currency."""
    for kind in ("targets", "retention"):
        assert main(["export", kind, "--dataset", "synthetic", "--n-customers", "400", "--random-state", "3",
                     "--output", str(tmp_path / f"{kind}.csv")]) == 0
        printed = capsys.readouterr().out
        assert "in EUR" in printed and "the data's currency" not in printed
