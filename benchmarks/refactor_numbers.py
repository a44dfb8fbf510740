"""Numbers a refactor must keep: record them before, compare after.

    python benchmarks/refactor_numbers.py capture before.pkl     # on the commit before the change
    python benchmarks/refactor_numbers.py capture after.pkl      # on the changed tree
    python benchmarks/refactor_numbers.py compare before.pkl after.pkl

Captures, on ``make_crm(3000, random_state=4)`` and CDNOW: the prepared table
(``segwork.prepare_table``), the labels of every default segmentation
(``default_segmentations(table, random_state=0)`` with all approaches) and the
``segwork.compare`` table; on ``make_crm(3000, random_state=4)`` also the scores of
``segwork score`` with each engine (pandas, duckdb, dask) from the model folder
``segwork models build`` writes, and the answers of the real SOAP service
(``segwork serve`` on 127.0.0.1, called with zeep) to SegmentCustomers (from
transactions, per segmentation), PredictCustomerValue and ClassifyRelationship.
``compare`` prints the share of identical labels per approach, the largest
difference of every comparison metric and the P(alive) and CLV totals, and for
the scores and SOAP answers the share of identical labels and the largest
relative difference of every number. A pure refactor shows 1.0000 everywhere and
no difference.
"""
from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

APPROACHES = ["apriori", "rfm", "value", "relationship", "kmeans", "gmm", "needs"]


def capture(path: str) -> None:
    import segwork
    from segwork.datasets import load_dataset, make_crm
    from segwork.segment import default_segmentations

    warnings.simplefilter("ignore")
    out = {}
    for tag, data in [("make_crm(3000, random_state=4)", make_crm(3000, random_state=4)), ("cdnow", load_dataset("cdnow"))]:
        table = segwork.prepare_table(data)
        segs = default_segmentations(table, random_state=0, approaches=APPROACHES)
        truth = data.truth["segment"] if data.truth is not None else None
        out[tag] = {"table": table, "labels": {k: s.labels.astype(str) for k, s in segs.items()},
                    "compare": segwork.compare(segs, table, truth=truth)}
        print(f"{tag}: {len(table):,} customers, {', '.join(segs)}")
        if tag.startswith("make_crm"):
            out[tag]["score"], out[tag]["soap"] = _score_and_soap(data)
    with open(path, "wb") as f:
        pickle.dump(out, f)


def _build_models(data, folder):
    try:  # the saved-model folder moved from segwork.service.store to segwork.models (issue 18)
        from segwork.models import build_models
    except ImportError:
        from segwork.service.store import build_models
    return build_models(data, folder, random_state=0, source="synthetic")


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "segwork.cli", *args]


SEGMENTATIONS = ("rfm", "value", "relationship", "kmeans", "apriori")


def _score_and_soap(data) -> tuple[dict, dict]:
    """``segwork score`` per engine and the SOAP answers on ``data`` (a make_crm data set)."""
    import zeep
    from zeep.helpers import serialize_object

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = _build_models(data, tmp / "models")
        csv = tmp / "transactions.csv"
        data.transactions.to_csv(csv, index=False)
        scores = {}
        for engine in ("pandas", "duckdb", "dask"):
            out = tmp / f"scores_{engine}.parquet"
            subprocess.run(_cli("score", "--models", str(models), "--transactions", str(csv), "--output", str(out),
                                "--engine", engine, "--no-progress"), check=True, capture_output=True)
            scores[engine] = pd.read_parquet(out).set_index("customer_id").sort_index()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(_cli("serve", "--models", str(models), "--host", "127.0.0.1", "--port", str(port)),
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=os.environ)
        try:
            line = proc.stderr.readline()
            if "ready" not in line:
                raise RuntimeError(f"segwork serve did not start: {line}")
            client = zeep.Client(f"http://127.0.0.1:{port}/?wsdl")
            soap = _soap_answers(client, data, serialize_object)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return scores, soap


def _soap_answers(client, data, serialize_object) -> dict:
    tx = data.transactions
    ids = sorted(tx["customer_id"].unique())[::60][:50]
    own = tx[tx["customer_id"].isin(ids)]
    profile = data.customers.set_index("customer_id")
    customers = [{"customerId": cid, "attribute": [
        {"name": c, "value": str(profile.at[cid, c])} for c in ("customer_type", "age_band", "region", "company_size")
        if not pd.isna(profile.at[cid, c])], "transactions": {"transaction": [
        {"date": d.date(), "amount": float(a), "category": c, "channel": ch}
        for d, a, c, ch in zip(g["date"], g["amount"], g["category"], g["channel"])]}}
        for cid, g in own.groupby("customer_id")]
    answers = {}
    for name in SEGMENTATIONS:
        r = client.service.SegmentCustomers(segmentation=name, customer=customers)
        answers[f"SegmentCustomers {name}"] = pd.DataFrame(
            [{"customer_id": a["customerId"], "label": a["segmentName"]} for a in r["assignment"]]
        ).set_index("customer_id")
    summary = own.groupby("customer_id").agg(n=("amount", "size"))  # RFM summaries made up from the row counts
    rows = [{"customerId": cid, "frequency": int(max(n - 1, 0)), "recency": float(min(10 * (n - 1), 390)), "T": 400.0,
             "monetaryValue": 25.0 + n} for cid, n in summary["n"].items()]
    r = client.service.ClassifyRelationship(customer=[{**c, "revenue": c["monetaryValue"] * (c["frequency"] + 1)}
                                                      for c in rows])
    answers["ClassifyRelationship"] = pd.DataFrame(
        [{"customer_id": v["customerId"], "label": v["relationship"]} for v in r["relationship"]]
    ).set_index("customer_id")
    r = client.service.PredictCustomerValue(timeUnit="days", horizon=12, customer=rows)
    answers["PredictCustomerValue"] = pd.DataFrame(
        [{k: v[k] for k in ("customerId", "pAlive", "clv", "expectedPurchases", "expectedSpend")} for v in r["value"]]
    ).rename(columns={"customerId": "customer_id"}).set_index("customer_id")
    return answers


def _frames(label: str, a: dict, b: dict) -> None:
    for name, fa in a.items():
        fb = b.get(name)
        if fb is None:
            print(f"  {label} {name}: missing after")
            continue
        fb = fb.reindex(fa.index)
        parts = []
        for col in fa.columns:
            if col not in fb:
                parts.append(f"{col} missing")
            elif pd.api.types.is_numeric_dtype(fa[col]):
                scale = fa[col].abs().clip(lower=1e-12)
                rel = ((fa[col] - fb[col]).abs() / scale).max()
                if not rel == 0:
                    parts.append(f"{col} rel {rel:.2e}")
            else:
                same = (fa[col].astype(str).to_numpy() == fb[col].astype(str).to_numpy()).mean()
                if same < 1:
                    parts.append(f"{col} {same:.4f} identical")
        extra = len(b[name]) - len(fa)
        print(f"  {label} {name}: {len(fa)} rows{f' ({extra:+d} after)' if extra else ''}, "
              f"{'; '.join(parts) or 'identical'}")


def compare(before_path: str, after_path: str) -> None:
    with open(before_path, "rb") as f:
        before = pickle.load(f)
    with open(after_path, "rb") as f:
        after = pickle.load(f)
    def run_of(tag: str) -> str:  # "seed=" became "random_state=" in issue 18: a capture of either names one run
        return tag.replace("seed=", "random_state=")

    after = {run_of(tag): v for tag, v in after.items()}
    for tag, a in before.items():
        b = after[run_of(tag)]
        print(f"== {tag}")
        for name, la in a["labels"].items():
            lb = b["labels"].get(name)
            if lb is None:
                print(f"  {name}: missing after")
                continue
            la = la.sort_index()
            same = (la.to_numpy() == lb.reindex(la.index).astype(str).to_numpy()).mean()
            print(f"  labels {name}: {same:.4f} identical ({la.nunique()} -> {lb.nunique()} segments)")
        ca, cb = a["compare"], b["compare"]
        numeric = [c for c in ca.columns if c in cb.columns and pd.api.types.is_numeric_dtype(ca[c])]
        diff = (ca[numeric] - cb.loc[ca.index, numeric]).abs().max()
        print("  compare, largest differences:", diff[diff > 1e-9].round(4).to_dict() or "none")
        for col in ("p_alive", "clv"):
            if col in a["table"] and col in b["table"]:
                print(f"  {col} total: {a['table'][col].sum():,.1f} -> {b['table'][col].sum():,.1f}")
        for part in ("score", "soap"):
            if part in a:
                _frames(part, a[part], b.get(part, {}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "capture":
        capture(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
