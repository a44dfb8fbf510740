"""ExplainDefection with zeep against the real server, on a model folder built from the planted defection world.

One small world (make_crm(600, random_state=0, defection=True)), one folder, one server for the module. The
same customer gets the same numbers by id (the folder's answer), by history (its transactions, profile and
weekly drivers sent in the request) and in ``segwork export retention`` of the same data set.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act import driver_words
from segwork.clv.margin import value_label
from segwork.cli import main
from segwork.datasets import make_crm

N, SEED = 600, 0
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def world():
    return make_crm(N, random_state=SEED, defection=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, world):
    from segwork.models import build_models

    return build_models(world, tmp_path_factory.mktemp("defection") / "models", random_state=SEED, source="synthetic")


@pytest.fixture(scope="module")
def stored(folder):
    from segwork.models import load_models

    return load_models(folder).defection


@pytest.fixture(scope="module")
def client(serve_folder, folder):
    zeep = pytest.importorskip("zeep")
    with serve_folder(folder) as url:
        yield zeep.Client(f"{url}?wsdl")


@pytest.fixture(scope="module")
def chosen(stored):
    """Customers of every kind: at risk with a model reason, with a complaint open at the end, at risk without a
    reason, not at risk."""
    c = stored.customers
    picks = [c.index[c["at_risk"] & (c["top_reason"] != "none")][:4],
             c.index[c["current:open_complaint"] > 0][:3],
             c.index[c["at_risk"] & (c["top_reason"] == "none")][:2],
             c.index[~c["at_risk"]][:3]]
    ids = list(dict.fromkeys(i for p in picks for i in p))
    assert len(ids) >= 10 and any(len(p) == 0 for p in picks) is False
    return ids


def _answers(response) -> dict:
    return {e["customerId"]: e for e in response["explanation"]}


def _history(world, cid) -> dict:
    """The customer as a client sends it: transactions, the profile's drivers, each week with a driver on."""
    tx = world.transactions[world.transactions["customer_id"] == cid]
    profile = world.customers.set_index("customer_id").loc[cid]
    weeks = world.dynamic_covariates[world.dynamic_covariates["customer_id"] == cid]
    drivers = [{"name": col, "value": float(row[col]), "from": row["period_start"].date(),
                "to": row["period_start"].date()}
               for col in ("open_complaint", "marketing_contact") for _, row in weeks[weeks[col] != 0].iterrows()]
    return {"customerId": cid,
            "transactions": {"transaction": [{"date": d.date(), "amount": float(a)}
                                             for d, a in zip(tx["date"], tx["amount"])]},
            "attribute": [{"name": k, "value": str(profile[k])} for k in ("contract", "acquisition_channel", "region")],
            "driver": drivers}


def test_by_id_answers_what_the_folder_holds(client, stored, chosen):
    r = client.service.ExplainDefection(customer=[{"customerId": c} for c in chosen])
    assert r["reasonsAvailable"] is True and r["horizon"] == 12
    assert any("time-varying Pareto/NBD" in n for n in r["modelNote"])
    got = _answers(r)
    assert list(got) == chosen  # the request's order
    for cid in chosen:
        e, row = got[cid], stored.customers.loc[cid]
        assert e["source"] == "id" and e["relationship"] == row["relationship"]
        assert e["pAlive"] == row["p_alive"] and e["valueAtRisk"] == row["clv"] and 0 <= e["pAlive"] <= 1
        assert (e["action"], e["actionCost"], e["retentionValue"]) == (row["action"], row["action_cost"],
                                                                       row["retention_value"])
        assert e["retentionValue"] == pytest.approx(e["clvSaved"] - e["actionCost"], abs=1e-9)
        own = stored.reasons[stored.reasons["customer_id"] == cid]
        assert [x["driver"] for x in e["reason"]] == own["driver"].tolist()
        assert [x["rank"] for x in e["reason"]] == list(range(1, len(own) + 1))
        assert all(x["multiplier"] > 1 and x["process"] == "dropout" for x in e["reason"])
        if not row["at_risk"]:
            assert e["action"] == "none" and e["retentionValue"] == 0
    complaint = [c for c in chosen if stored.customers.at[c, "current:open_complaint"] > 0]
    assert any("open_complaint" in [x["driver"] for x in got[c]["reason"]] for c in complaint)


def test_by_history_gives_the_numbers_by_id(client, world, chosen):
    by_id = _answers(client.service.ExplainDefection(customer=[{"customerId": c} for c in chosen]))
    r = client.service.ExplainDefection(customer=[_history(world, c) for c in chosen])
    got = _answers(r)
    for cid in chosen:
        a, b = by_id[cid], got[cid]
        assert b["source"] == "history" and (a["relationship"], a["action"]) == (b["relationship"], b["action"])
        scale = max(1.0, abs(a["valueAtRisk"]))
        assert b["pAlive"] == pytest.approx(a["pAlive"], rel=1e-9)
        for key in ("valueAtRisk", "clvSaved", "retentionValue"):
            assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-9 * scale), (cid, key)
        assert [x["driver"] for x in b["reason"]] == [x["driver"] for x in a["reason"]]
        np.testing.assert_allclose([x["multiplier"] for x in b["reason"]], [x["multiplier"] for x in a["reason"]],
                                   rtol=1e-12)
        np.testing.assert_allclose([x["clvKept"] for x in b["reason"]], [x["clvKept"] for x in a["reason"]],
                                   rtol=1e-9, atol=1e-9 * scale)


def test_the_export_lists_the_numbers_by_id(client, stored, tmp_path, capsys):
    out = tmp_path / "retention.csv"
    # the same margin as the folder's (models build's default, DEFAULT_MARGIN 0.3, the export's default too)
    margin = stored.settings["margin"]
    assert main(["export", "retention", "--dataset", "synthetic", "--n-customers", str(N), "--random-state",
                 str(SEED), "--output", str(out), "--margin", str(margin)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{value_label(margin)} over 12 months" in lines[-1]
    listed = int(lines[1].split()[0].replace(",", ""))
    not_at_risk = int(lines[2].split()[0].replace(",", ""))
    assert f"{N:,} customers" in lines[0] and listed + not_at_risk == N
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert len(table) == listed == int(stored.customers["at_risk"].sum())
    assert table["rank"].tolist() == list(range(1, listed + 1))
    assert table["retention_value"].is_monotonic_decreasing
    ids = table["customer_id"].tolist()[:40]
    got = _answers(client.service.ExplainDefection(customer=[{"customerId": c} for c in ids]))
    for row in table.head(40).itertuples():
        e = got[row.customer_id]
        assert (e["relationship"], e["action"]) == (row.relationship, row.action)
        assert e["pAlive"] == pytest.approx(row.p_alive, rel=1e-12)
        assert e["valueAtRisk"] == pytest.approx(row.clv, rel=1e-12)
        assert e["retentionValue"] == pytest.approx(row.retention_value, rel=1e-12, abs=1e-12)
        # the service answers the driver's key (column[level], as the drivers table names it); the export writes it
        # in words (segwork.act.driver_words): the same reason
        assert driver_words(e["reason"][0]["driver"] if e["reason"] else "none") == row.top_reason


def _bad(world, stored):
    known = stored.customers.index[0]
    h = _history(world, known)
    later = pd.Timestamp(world.observation_end) + pd.Timedelta(days=3)
    return {
        "unknown id": ([{"customerId": "NOPE-1"}], ("UnknownCustomer", "NOPE-1")),
        "unknown level": ([{**h, "customerId": "N1", "attribute": [{"name": "contract", "value": "yearly"},
                                                                   *h["attribute"][1:]]}],
                          ("InvalidRequest", "'N1'", "'contract'='yearly'", "'annual', 'none'")),
        "unknown attribute": ([{**h, "customerId": "N2", "attribute": [*h["attribute"],
                                                                       {"name": "regoin", "value": "south"}]}],
                              ("InvalidRequest", "'N2'", "'regoin'")),
        "missing driver": ([{**h, "customerId": "N3", "attribute": h["attribute"][:2]}],
                           ("InvalidRequest", "'N3'", "'region'")),
        "unknown driver": ([{**h, "customerId": "N4", "driver": [{"name": "price_change", "value": 1.0}]}],
                           ("InvalidRequest", "'N4'", "'price_change'")),
        "bad value": ([{**h, "customerId": "N5", "driver": [{"name": "open_complaint", "value": 5.0}]}],
                      ("InvalidRequest", "'N5'", "'open_complaint'", "value=5")),
        "after asOf": ([{**h, "customerId": "N6", "transactions": {"transaction": [
            *h["transactions"]["transaction"], {"date": later.date(), "amount": 10.0}]}}],
            ("InvalidRequest", "'N6'", f"date={later.date()}", "asOf")),
        "id with profile": ([{"customerId": known, "attribute": h["attribute"]}],
                            ("InvalidRequest", repr(known), "by id")),
        "two values a week": ([{**h, "customerId": "N7", "driver": [{"name": "open_complaint", "value": 1.0},
                                                                    {"name": "open_complaint", "value": 0.0}]}],
                              ("InvalidRequest", "'N7'", "'open_complaint'", "different values")),
    }


@pytest.mark.parametrize("case", ["unknown id", "unknown level", "unknown attribute", "missing driver",
                                  "unknown driver", "bad value", "after asOf", "id with profile",
                                  "two values a week"])
def test_bad_input_is_a_fault_naming_customer_field_and_value(client, world, stored, case):
    zeep = pytest.importorskip("zeep")
    customers, expected = _bad(world, stored)[case]
    with pytest.raises(zeep.exceptions.Fault) as info:
        client.service.ExplainDefection(customer=customers)
    message = info.value.message
    code, *parts = expected
    assert message.startswith(f"{code}: ExplainDefection: ")
    for part in parts:
        assert part in message, (case, message)


def test_the_server_keeps_serving_and_explains_a_new_customer(client, world, stored):
    h = _history(world, stored.customers.index[1])
    r = client.service.ExplainDefection(customer=[{**h, "customerId": "NEW-1", "driver": []}])
    (e,) = r["explanation"]
    assert e["customerId"] == "NEW-1" and e["source"] == "history" and 0 <= e["pAlive"] <= 1
    assert client.service.ListSegmentations()["customers"] == N


def test_a_driver_period_defaults_to_the_week_of_asof(client, world, stored):
    """A client that only knows what is open now sends the driver without dates: the week containing asOf."""
    c = stored.customers
    cid = c.index[(c["current:open_complaint"] > 0)][0]
    h = _history(world, cid)
    end = pd.Timestamp(world.observation_end).date()
    now = [d for d in h["driver"] if d["name"] == "open_complaint" and d["to"] >= end - pd.Timedelta(days=6)]
    assert now
    earlier = [d for d in h["driver"] if d not in now]
    dated = client.service.ExplainDefection(customer=[{**h, "driver": earlier + [{**now[0], "to": end}]}])
    bare = client.service.ExplainDefection(customer=[{**h, "driver": earlier + [{"name": "open_complaint",
                                                                                 "value": 1.0}]}])
    a, b = dated["explanation"][0], bare["explanation"][0]
    assert b["pAlive"] == a["pAlive"] and b["valueAtRisk"] == a["valueAtRisk"]
    assert [x["driver"] for x in b["reason"]] == [x["driver"] for x in a["reason"]]


def test_asof_does_not_move_a_stored_answer_in_silence(client, stored):
    zeep = pytest.importorskip("zeep")
    cid = stored.customers.index[0]
    with pytest.raises(zeep.exceptions.Fault) as info:
        client.service.ExplainDefection(asOf="2024-06-30", customer=[{"customerId": cid}])
    assert f"customer {cid!r}" in info.value.message and "asOf 2024-06-30" in info.value.message
