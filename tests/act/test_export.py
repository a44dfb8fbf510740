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
    assert "margin 30% of revenue over 12 months" in lines[4]  # the export's default margin, stated
    assert int(lines[1].split()[0]) + int(lines[2].split()[0]) == 400
    assert lines[3].strip().startswith("no reasons:") and "profile" in lines[3] and "events" in lines[3]
    table = pd.read_parquet(out)
    assert list(table.columns) == list(EXPORT_SCHEMAS["retention"]) and len(table) == int(lines[1].split()[0])
    assert set(table["relationship"]) <= {"Vulnerable", "Win-back"} and table["p_alive"].between(0, 1).all()
    assert (table["top_reason"] == "").all() and (table["reasons"] == "").all()
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
