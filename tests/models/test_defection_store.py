"""The defection part of the model folder: written with the folder, listed in its manifest, read back by load_models;
data without drivers says so, and ExplainDefection still answers P(alive), relationship and value at risk."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from segwork.datasets import Dataset, make_crm
from segwork.errors import DataError
from segwork.models.store import build_models, file_sha256, load_models
from segwork.service.contract import TNS, compile_schema
from segwork.service.faults import ServiceFault
from segwork.service.operations import call

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _el(tag, *kids, text=None):
    el = etree.Element(f"{{{TNS}}}{tag}")
    if text is not None:
        el.text = str(text)
    el.extend(kids)
    return el


def _request(*customers):
    request = _el("ExplainDefection", *customers)
    assert compile_schema().validate(request)
    return request


def _by_history(tx: pd.DataFrame, cid: str, *extra):
    rows = tx[tx["customer_id"] == cid]
    return _el("customer", _el("customerId", text=cid), _el("transactions", *[
        _el("transaction", _el("date", text=d.date().isoformat()), _el("amount", text=repr(float(a))))
        for d, a in zip(rows["date"], rows["amount"])]), *extra)


def _answers(response) -> dict:
    out = {}
    for e in response.iterfind(f"{{{TNS}}}explanation"):
        out[e.findtext(f"{{{TNS}}}customerId")] = {c.tag.split("}")[1]: c.text for c in e if c.tag.split("}")[1]
                                                   not in ("reason",)} | {"reasons": len(e.findall(f"{{{TNS}}}reason"))}
    return out


def test_the_profile_drivers_of_the_plain_world_are_kept_and_read_back(models_dir, store, crm):
    """make_crm's plain world has a profile with acquisition_channel and region: a profile-only defection model."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    entry = manifest["defection"]
    assert entry["available"] is True and entry["drivers"] == ["acquisition_channel", "region"]
    for name in ("model.json", "model.pkl", "customers.parquet", "reasons.parquet"):
        assert file_sha256(models_dir / "defection" / name) == manifest["files"][f"defection/{name}"]
    stored = store.defection
    doc = stored.document
    assert doc["static"]["region"][0] == "central" and doc["time_varying"] == []
    assert set(doc["params"]) == {"r", "alpha", "s", "beta"} and doc["grid"]["period_days"] == 7
    assert list(stored.customers.index) == list(store.table.index)
    assert stored.customers["p_alive"].between(0, 1).all()
    assert (stored.customers.loc[~stored.customers["at_risk"], "action"] == "none").all()
    # the stored model (one customer's data) on other customers' data gives the stored P(alive)
    ids = list(store.table.index[:25])
    tx = crm.transactions[crm.transactions["customer_id"].isin(ids)]
    end = pd.Timestamp(doc["observation_end"])
    origin = pd.Timestamp(doc["grid"]["origin"])
    first = tx.groupby("customer_id")["date"].min()
    rows = [(c, origin + pd.Timedelta(days=7 * k)) for c in ids
            for k in range((first[c] - origin).days // 7, (end - origin).days // 7 + 1)]
    weeks = pd.DataFrame(rows, columns=["customer_id", "period_start"])
    profile = crm.customers.set_index("customer_id")
    for col, levels in doc["static"].items():  # a 0/1 column per level but the reference, as fit_defection
        given = profile.loc[weeks["customer_id"], col].to_numpy()
        for lev in levels[1:]:
            weeks[f"{col}[{lev}]"] = (given == lev).astype(float)
    again = stored.model.with_data(tx, weeks, observation_end=end)
    np.testing.assert_allclose(again.p_alive().reindex(ids), stored.customers.loc[ids, "p_alive"], rtol=1e-12)


def test_a_changed_stored_model_is_refused_before_it_is_unpickled(models_dir, tmp_path):
    folder = shutil.copytree(models_dir, tmp_path / "copy")
    path = folder / "defection" / "model.pkl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="defection/model.pkl does not match the SHA-256"):
        load_models(folder)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A folder from transactions only (no profile, no events), as from a plain file or CDNOW."""
    world = make_crm(500, random_state=2)
    data = Dataset(transactions=world.transactions, name="orders.csv")
    folder = build_models(data, tmp_path_factory.mktemp("plain") / "m", random_state=0, source="orders.csv")
    return world, folder, load_models(folder)


def test_without_drivers_the_folder_says_so_and_the_answer_has_no_reasons(plain):
    world, folder, store = plain
    entry = json.loads((folder / "manifest.json").read_text())["defection"]
    assert entry["available"] is False and entry["drivers"] == [] and "no reasons" in entry["note"]
    assert not (folder / "defection" / "model.pkl").exists() and store.defection.model is None
    c = store.defection.customers
    assert (c["top_reason"] == "").all() and store.defection.reasons.empty
    np.testing.assert_array_equal(c["p_alive"], store.table["p_alive"])
    np.testing.assert_array_equal(c["clv"], store.table["clv"])
    worth = c["at_risk"] & (c["retention_value"] > 0)
    ids = list(c.index[worth][:3]) + list(c.index[c["at_risk"] & ~worth][:2]) + list(c.index[~c["at_risk"]][:2])
    r = call(store, "ExplainDefection", _request(*[_el("customer", _el("customerId", text=i)) for i in ids]))
    assert r.findtext(f"{{{TNS}}}reasonsAvailable") == "false"
    assert "Reasons need a customer profile or events per week" in r.findtext(f"{{{TNS}}}modelNote")
    by_id = _answers(r)
    assert all(a["reasons"] == 0 for a in by_id.values())
    assert {by_id[i]["action"] for i in ids[:3]} == {"win-back contact"}  # no driver: the generic action
    assert {by_id[i]["action"] for i in ids[3:]} == {"none"}  # not worth its cost, or not at risk
    by_history = _answers(call(store, "ExplainDefection",
                               _request(*[_by_history(world.transactions, i) for i in ids])))
    for i in ids:
        a, b = by_id[i], by_history[i]
        assert (a["relationship"], a["action"]) == (b["relationship"], b["action"])
        for key in ("pAlive", "valueAtRisk", "retentionValue"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-9, abs=1e-9)


def test_without_drivers_a_profile_or_driver_is_refused_not_dropped(plain):
    world, _, store = plain
    cid = store.table.index[0]
    extra = (_el("attribute", _el("name", text="contract"), _el("value", text="none")),
             _el("driver", _el("name", text="open_complaint"), _el("value", text="1")))
    with pytest.raises(ServiceFault) as info:
        call(store, "ExplainDefection", _request(_by_history(world.transactions, cid, *extra)))
    text = info.value.text
    assert info.value.code == "InvalidRequest" and f"customer {cid!r}" in text
    assert "attribute 'contract'='none'" in text and "driver 'open_complaint'" in text and "no drivers" in text
