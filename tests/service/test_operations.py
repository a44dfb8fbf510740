"""Every operation called with zeep, a real SOAP client reading the served WSDL; answers checked against the library.

The expected values come from the library functions on the same data (the
loaded model folder, ``store``): the segmentations' labels and ``predict``,
the prepared table's ``p_alive`` and ``clv`` (fitted by prepare_table when the
folder was built), :func:`segwork.act.select_targets`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests
from lxml import etree

from segwork.act.targeting import select_targets
from segwork.act.view import customer_view
from segwork.errors import DataError
from segwork.features import customer_table
from segwork.service.contract import SOAP11_ENV, TNS, compile_schema, safe_parser

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_wsdl_is_served_with_the_real_endpoint(server):
    r = requests.get(f"{server}?wsdl", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    assert f'location="{server}"'.encode() in r.content


def test_list_segmentations_without_arguments(client, store):
    r = client.service.ListSegmentations()
    assert [s["name"] for s in r["segmentation"]] == list(store.segmentations)
    # every segment a customer can be placed in, as GetSegmentProfiles lists them (empty ones with size 0)
    assert [s["segments"] for s in r["segmentation"]] == [len(s.segments) for s in store.segmentations.values()]
    assert r["customers"] == len(store.table) == 1_500
    assert str(r["periodEnd"]) == store.manifest["date_range"][1]
    assert "MBG/NBD" in r["valueModel"]


@pytest.mark.parametrize("name", ["rfm", "relationship", "kmeans"])
def test_get_segment_profiles(client, store, name):
    seg = store.segmentations[name]
    r = client.service.GetSegmentProfiles(segmentation=name)
    assert [s["name"] for s in r["segment"]] == seg.segments
    assert [s["size"] for s in r["segment"]] == seg.sizes.tolist()
    assert sum(s["share"] for s in r["segment"]) == pytest.approx(1.0)
    labels = seg.labels.astype(str)
    expected = store.table["clv"].groupby(labels.reindex(store.table.index).to_numpy()).mean()
    for s in r["segment"]:
        if s["size"]:
            assert s["meanValue"] == pytest.approx(expected[s["name"]], rel=1e-9)
        assert s["strategy"]


def test_predict_customer_value_matches_the_prepared_table_in_days_and_weeks(client, store):
    rows = store.table.iloc[::75]
    customers = [{"customerId": cid, "frequency": int(r.frequency), "recency": float(r.recency), "T": float(r["T"]),
                  "monetaryValue": float(r.monetary_value)} for cid, r in rows.iterrows()]
    r = client.service.PredictCustomerValue(timeUnit="days", horizon=12, customer=customers)
    got = pd.DataFrame([{k: v[k] for k in ("customerId", "pAlive", "clv", "expectedPurchases", "expectedSpend")}
                        for v in r["value"]]).set_index("customerId")
    np.testing.assert_allclose(got["pAlive"], rows["p_alive"], rtol=1e-9)
    np.testing.assert_allclose(got["clv"], rows["clv"], rtol=1e-6)
    assert (got["expectedPurchases"] >= 0).all() and (got["expectedSpend"] > 0).all()
    weeks = [{**c, "recency": c["recency"] / 7, "T": c["T"] / 7} for c in customers]
    r2 = client.service.PredictCustomerValue(timeUnit="weeks", horizon=12, customer=weeks)
    np.testing.assert_allclose([v["clv"] for v in r2["value"]], got["clv"], rtol=1e-6)


def test_classify_relationship_matches_the_relationship_segmentation(client, store):
    rows = store.table.iloc[::30]
    customers = [{"customerId": cid, "frequency": int(r.frequency), "recency": float(r.recency), "T": float(r["T"]),
                  "monetaryValue": float(r.monetary_value), "revenue": float(r.revenue)} for cid, r in rows.iterrows()]
    r = client.service.ClassifyRelationship(customer=customers)
    got = {v["customerId"]: v["relationship"] for v in r["relationship"]}
    expected = store.segmentations["relationship"].labels.astype(str)
    assert got == {cid: expected[cid] for cid in rows.index}
    assert len(set(got.values())) >= 3


@pytest.mark.parametrize("name", ["rfm", "value", "relationship", "kmeans", "apriori"])
def test_segment_customers_from_transactions_matches_the_library(client, store, crm, name):
    ids = list(store.table.index[::60])
    tx = crm.transactions[crm.transactions["customer_id"].isin(ids)]
    profile = crm.customers.set_index("customer_id").loc[ids]
    customers = []
    for cid in ids:
        own = tx[tx["customer_id"] == cid]
        attrs = [{"name": c, "value": str(profile.at[cid, c])} for c in ("customer_type", "age_band", "region",
                                                                         "company_size")
                 if not pd.isna(profile.at[cid, c])]
        customers.append({"customerId": cid, "attribute": attrs, "transactions": {"transaction": [
            {"date": d.date(), "amount": float(a), "category": c, "channel": ch}
            for d, a, c, ch in zip(own["date"], own["amount"], own["category"], own["channel"])]}})
    r = client.service.SegmentCustomers(segmentation=name, customer=customers)
    got = {a["customerId"]: a["segmentName"] for a in r["assignment"]}
    seg = store.segmentations[name]
    # the library on the same customers: the customer table of their transactions, the models' CLV
    expected = seg.predict(store.table.loc[ids])
    assert got == expected.astype(str).to_dict()
    assert all(a["segmentId"] == seg.segments.index(a["segmentName"]) for a in r["assignment"])
    own_table = customer_table(tx, observation_end=crm.observation_end)
    pd.testing.assert_series_equal(own_table.loc[ids, "revenue"], store.table.loc[ids, "revenue"],
                                   check_names=False, check_index_type=False)


def test_segment_customers_from_summaries(client, store):
    rows = store.table.iloc[:10]
    customers = [{"customerId": f"new-{cid}", "summary": {
        "frequency": int(r.frequency), "recency": float(r.recency), "T": float(r["T"]),
        "monetaryValue": float(r.monetary_value), "revenue": float(r.revenue)}} for cid, r in rows.iterrows()]
    r = client.service.SegmentCustomers(segmentation="rfm", customer=customers)
    expected = store.segmentations["rfm"].predict(rows).astype(str).tolist()
    assert [a["segmentName"] for a in r["assignment"]] == expected


def test_select_campaign_targets_matches_select_targets(client, store):
    seg = store.segmentations["relationship"]
    r = client.service.SelectCampaignTargets(segmentation="relationship", segment=["Loyal", "Vulnerable"],
                                             costPerContact=2.0, margin=0.3, responseRate=0.1, budget=100.0)
    # margin is the profit share of revenue, as everywhere: the value is the CLV at margin 0.3, the folder's own
    assert store.clv_settings["margin"] == 0.3
    expected = select_targets(store.table, seg, segments=["Loyal", "Vulnerable"], response_rate=0.1,
                              cost_per_contact=2.0, budget=100.0)
    assert r["contacts"] == len(expected) == 50
    assert [t["customerId"] for t in r["target"]] == list(expected.index)
    np.testing.assert_allclose([t["expectedProfit"] for t in r["target"]], expected["expected_profit"], rtol=1e-9)
    assert r["totalExpectedProfit"] == pytest.approx(expected["expected_profit"].sum())


def test_select_campaign_targets_values_customers_at_the_requests_margin(client, store):
    """Issue 21: one CLV definition. The request's margin is the profit share of revenue (as in
    PredictCustomerValue): the value is the CLV at that margin, whatever margin the folder was built with."""
    ask = dict(segmentation="value", costPerContact=1.0, responseRate=0.5, maxContacts=20)
    at = {m: client.service.SelectCampaignTargets(margin=m, **ask) for m in (0.3, 0.6, 1.0)}
    ids = [t["customerId"] for t in at[0.3]["target"]]
    values = {m: np.array([t["value"] for t in r["target"]]) for m, r in at.items()}
    np.testing.assert_allclose(values[0.3], store.table.loc[ids, "clv"], rtol=1e-12)  # the folder's CLV at 0.3
    assert [t["customerId"] for t in at[1.0]["target"]][:len(ids)] == ids
    np.testing.assert_allclose(values[0.6], 2 * values[0.3], rtol=1e-12)
    np.testing.assert_allclose(values[1.0], values[0.3] / 0.3, rtol=1e-12)  # expected revenue


def test_select_campaign_targets_by_purchase_propensity_and_permission(client, store, crm):
    """Without responseRate the ranking is P(buy in 30 days) from the served model, recounted with clv_propensity."""
    from segwork.act.propensity import clv_propensity
    from segwork.service.operations import purchase_propensity

    last = crm.transactions["date"].max().normalize()
    p = clv_propensity(crm.transactions, last, 30)["p_buy"]
    served = purchase_propensity(store, 30)
    np.testing.assert_allclose(served.reindex(p.index), p, rtol=1e-6)  # the served model is the same fit
    seg = store.segmentations["rfm"]
    r = client.service.SelectCampaignTargets(segmentation="rfm", costPerContact=1.0, margin=0.3, channel="sms",
                                             incrementalShare=0.2, maxContacts=40)
    expected = select_targets(store.table, seg, propensity=served, incremental_share=0.2, cost_per_contact=1.0,
                              max_contacts=40, opt_in_column="sms_opt_in")
    assert [t["customerId"] for t in r["target"]] == list(expected.index) and len(expected) == 40
    np.testing.assert_allclose([t["pBuy"] for t in r["target"]], served[expected.index], rtol=1e-9)
    np.testing.assert_allclose([t["expectedProfit"] for t in r["target"]],
                               served[expected.index] * 0.2 * store.table.loc[expected.index, "clv"] - 1.0,
                               rtol=1e-9)
    sms = store.table["sms_opt_in"].astype(bool)
    assert sms[expected.index].all() and r["leftOutNoPermission"] == int((~sms).sum())
    assert purchase_propensity(store, 90).gt(served).all()  # a longer period, a likelier purchase
    with pytest.raises(DataError, match="horizon_days"):
        purchase_propensity(store, 0)


def test_get_customer_view(client, store):
    cid = store.table.index[7]
    r = client.service.GetCustomerView(customerId=cid)
    row = store.table.loc[cid]
    assert r["frequency"] == row["frequency"] and r["clv"] == pytest.approx(row["clv"])
    assert r["pAlive"] == pytest.approx(row["p_alive"])
    assert {m["segmentation"]: m["segment"] for m in r["membership"]} == \
        {n: str(s.labels[cid]) for n, s in store.segmentations.items()}
    assert r["relationship"] == str(store.segmentations["relationship"].labels[cid]) and r["strategy"]
    attrs = {a["name"]: a["value"] for a in r["attribute"]}
    assert attrs["customer_type"] == row["customer_type"]
    # the service answers from segwork.act.customer_view: every non-behaviour column with a value, as before
    view = customer_view(cid, store.table, store.segmentations)
    assert set(attrs) == {c for c in view.attributes if c in store.table.columns}
    assert r["strategy"] == view.strategy


def _post(server, op_xml: str):
    env = (f'<soap:Envelope xmlns:soap="{SOAP11_ENV}" xmlns:tns="{TNS}"><soap:Body>{op_xml}</soap:Body>'
           '</soap:Envelope>')
    return requests.post(server, data=env.encode(), headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)


@pytest.mark.parametrize("op_xml", [
    "<tns:ListSegmentations/>",
    "<tns:GetSegmentProfiles><tns:segmentation>needs</tns:segmentation></tns:GetSegmentProfiles>",
    "<tns:GetSegmentProfiles><tns:segmentation>apriori</tns:segmentation></tns:GetSegmentProfiles>",
    "<tns:GetCustomerView><tns:customerId>C000002</tns:customerId></tns:GetCustomerView>",
    "<tns:SelectCampaignTargets><tns:segmentation>value</tns:segmentation><tns:costPerContact>1</tns:costPerContact>"
    "<tns:margin>0.5</tns:margin><tns:maxContacts>5</tns:maxContacts></tns:SelectCampaignTargets>",
    "<tns:SelectCampaignTargets><tns:segmentation>value</tns:segmentation><tns:costPerContact>1</tns:costPerContact>"
    "<tns:margin>0.5</tns:margin><tns:maxContacts>5</tns:maxContacts><tns:channel>email</tns:channel>"
    "<tns:horizonDays>60</tns:horizonDays></tns:SelectCampaignTargets>",
])
def test_responses_validate_against_the_wsdl_schema(server, op_xml):
    r = _post(server, op_xml)
    assert r.status_code == 200, r.text
    body = etree.fromstring(r.content, safe_parser()).find(f"{{{SOAP11_ENV}}}Body")
    schema = compile_schema()
    assert schema.validate(body[0]), schema.error_log


def test_segment_customers_gives_kmeans_distances_to_the_centre(client, store):
    rows = store.table.iloc[:12]
    customers = [{"customerId": cid, "summary": {
        "frequency": int(r.frequency), "recency": float(r.recency), "T": float(r["T"]),
        "monetaryValue": float(r.monetary_value), "revenue": float(r.revenue)},
        "attribute": [{"name": c, "value": repr(float(r[c]))} for c in store.segmentations["kmeans"].features
                      if c.startswith(("cat_", "ch_")) or c == "mean_amount"]} for cid, r in rows.iterrows()]
    r = client.service.SegmentCustomers(segmentation="kmeans", customer=customers)
    seg = store.segmentations["kmeans"]
    assert [a["segmentName"] for a in r["assignment"]] == seg.predict(rows).astype(str).tolist()
    km = seg.segmenter.model_
    X = seg.segmenter.preprocess(rows[seg.features])
    expected = np.sqrt(((X[:, None, :] - km.cluster_centers_[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    np.testing.assert_allclose([a["distance"] for a in r["assignment"]], expected, rtol=1e-6)
    # RFM reads no measure: the same customers without their shares (sending them is refused as not read)
    r = client.service.SegmentCustomers(segmentation="rfm", customer=[{k: v for k, v in c.items() if k != "attribute"}
                                                                      for c in customers[:2]])
    assert all(a["distance"] is None for a in r["assignment"])


def test_many_clients_at_once_get_correct_answers(server, store):
    from concurrent.futures import ThreadPoolExecutor

    zeep = pytest.importorskip("zeep")
    ids = list(store.table.index[:40])

    def ask(cid):
        c = zeep.Client(f"{server}?wsdl")
        return cid, c.service.GetCustomerView(customerId=cid)["clv"]

    with ThreadPoolExecutor(8) as pool:
        answers = dict(pool.map(ask, ids))
    np.testing.assert_allclose([answers[c] for c in ids], store.table.loc[ids, "clv"], rtol=1e-12)


def test_the_clv_record_is_answered_as_model_notes(client, store):
    """What the value numbers rest on is never silent: every model's status and every fallback, as built."""
    lines = store.clv_record.lines()
    assert lines and any("Gamma-Gamma" in line or "spend" in line for line in lines)
    assert [str(n) for n in client.service.ListSegmentations()["modelNote"]] == lines
    r = client.service.PredictCustomerValue(timeUnit="days", horizon=6, customer=[
        {"customerId": "a", "frequency": 2, "recency": 50.0, "T": 120.0, "monetaryValue": 30.0}])
    # the record's lines, then which value clv is (issue 21: every answer names it, at the margin it used)
    assert [str(n) for n in r["modelNote"]] == lines + [
        "clv: CLV (margin 30 %) over 6 months, in the data's currency (the folder's margin)"]
    r = client.service.PredictCustomerValue(timeUnit="days", horizon=6, margin=1.0, customer=[
        {"customerId": "a", "frequency": 2, "recency": 50.0, "T": 120.0, "monetaryValue": 30.0}])
    assert str(r["modelNote"][-1]) == "clv: expected revenue over 6 months, in the data's currency"
    assert store.manifest["clv_record"] == store.clv_record.to_dict()
