"""Load measurement of the segmentation service on loopback (not a test; nothing in tests/ asserts a time).

1. One ``SegmentCustomers`` request with 10,000 customers (RFM summary + 2 profile fields: 8 fields each),
   timed end to end from the client (best and all of ``--repeats``).
2. ``--clients`` concurrent clients sending small requests (``GetCustomerView`` of a random known
   customer, ``ClassifyRelationship`` of one customer, alternating) for ``--seconds``: p50/p95/p99 latency,
   throughput, errors (must be 0), and the server's resident memory before and after.

The server is the real ``segwork serve`` in a subprocess, on 127.0.0.1 and a free port, serving models
built from ``make_crm(--n-customers)``. Results: ``benchmarks/results/service.json`` (with the machine).

    .venv/bin/python benchmarks/service_load.py                 # 20,000-customer models, 30 s load
    .venv/bin/python benchmarks/service_load.py --seconds 5     # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import RESULTS_DIR, machine_info  # noqa: E402

ENV = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" ' \
      'xmlns:tns="urn:segwork:segmentation:1"><soap:Body>{}</soap:Body></soap:Envelope>'


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _summary_customer(cid, r) -> str:
    return (f"<tns:customer><tns:customerId>{cid}</tns:customerId><tns:summary>"
            f"<tns:frequency>{int(r['frequency'])}</tns:frequency><tns:recency>{float(r['recency'])!r}</tns:recency>"
            f"<tns:T>{float(r['T'])!r}</tns:T><tns:monetaryValue>{float(r['monetary_value'])!r}</tns:monetaryValue>"
            f"<tns:revenue>{float(r['revenue'])!r}</tns:revenue></tns:summary>"
            f"<tns:attribute><tns:name>customer_type</tns:name><tns:value>{r['customer_type']}</tns:value>"
            f"</tns:attribute><tns:attribute><tns:name>region</tns:name><tns:value>{r['region']}</tns:value>"
            f"</tns:attribute></tns:customer>")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-customers", type=int, default=20_000, help="customers of the data the models are built on")
    ap.add_argument("--batch", type=int, default=10_000, help="customers in the one large request")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--models", help="an existing model folder (default: build one in a temporary folder)")
    args = ap.parse_args(argv)

    from segwork.datasets import make_crm
    from segwork.models.store import build_models, load_models

    tmp = tempfile.TemporaryDirectory()
    models = Path(args.models) if args.models else build_models(
        make_crm(n_customers=args.n_customers, random_state=0), Path(tmp.name) / "models", source="synthetic")
    table = load_models(models).table
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "-m", "segwork.cli", "serve", "--models", str(models), "--port",
                             str(port), "--workers", str(args.workers), "--max-batch", str(max(args.batch, 10_000))],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "ready" in proc.stderr.readline()
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # a full pipe must never block the server
        rss_start = _rss_kib(proc.pid)

        # 1. the large batch
        rows = table.sample(args.batch, replace=args.batch > len(table), random_state=0)
        body = ENV.format("<tns:SegmentCustomers><tns:segmentation>rfm</tns:segmentation>"
                          + "".join(_summary_customer(f"b{i}", r) for i, (_, r) in enumerate(rows.iterrows()))
                          + "</tns:SegmentCustomers>").encode()
        batch_times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            r = requests.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=120)
            batch_times.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.content.count(b"<tns:assignment>") == args.batch, r.text[:300]

        # 2. concurrent small requests
        rss_before_load = _rss_kib(proc.pid)
        ids = list(table.index)
        one = table.iloc[0]
        classify = ENV.format(
            "<tns:ClassifyRelationship><tns:customer><tns:customerId>x</tns:customerId>"
            f"<tns:frequency>{int(one['frequency'])}</tns:frequency><tns:recency>{float(one['recency'])!r}</tns:recency>"
            f"<tns:T>{float(one['T'])!r}</tns:T><tns:monetaryValue>{float(one['monetary_value'])!r}</tns:monetaryValue>"
            f"<tns:revenue>{float(one['revenue'])!r}</tns:revenue></tns:customer></tns:ClassifyRelationship>").encode()
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop = time.perf_counter() + args.seconds

        def client(k: int) -> None:
            rng = random.Random(k)
            session = requests.Session()
            mine, bad, i = [], 0, 0
            while time.perf_counter() < stop:
                if i % 2:
                    data = classify
                else:
                    data = ENV.format(f"<tns:GetCustomerView><tns:customerId>{rng.choice(ids)}</tns:customerId>"
                                      "</tns:GetCustomerView>").encode()
                t0 = time.perf_counter()
                try:
                    r = session.post(url, data=data, headers={"Content-Type": "text/xml"}, timeout=30)
                    ok = r.status_code == 200 and b"Response>" in r.content
                except requests.RequestException:
                    ok = False
                mine.append(time.perf_counter() - t0)
                bad += not ok
                i += 1
            with lock:
                latencies.extend(mine)
                errors[0] += bad

        rss_series: list[int] = []

        def monitor() -> None:  # the server's memory every 5 s during the load: warm-up vs growth
            while time.perf_counter() < stop:
                rss_series.append(_rss_kib(proc.pid))
                time.sleep(5)

        t_start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        threads.append(threading.Thread(target=monitor))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t_start
        rss_end = _rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lat = np.array(latencies) * 1000
    result = {
        "machine": machine_info(),
        "models_customers": int(len(table)),
        "batch": {"customers": args.batch, "request_bytes": len(body), "seconds": batch_times,
                  "best_seconds": min(batch_times), "goal_seconds": 2.0},
        "load": {"clients": args.clients, "workers": args.workers, "seconds": elapsed, "requests": int(lat.size),
                 "throughput_per_s": lat.size / elapsed, "errors": errors[0],
                 "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                 "p99_ms": float(np.percentile(lat, 99))},
        "server_rss_kib": {"start": rss_start, "before_load": rss_before_load, "during_load_every_5s": rss_series,
                           "after_load": rss_end},
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "service.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if errors[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
