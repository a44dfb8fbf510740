"""Scale series: 1M, 10M, 100M transactions in Parquet -> RFM, BG/NBD fit, k-means, ``segwork score``.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_scale.py                       # sizes 1e6,1e7 (the default)
    .venv/bin/python benchmarks/bench_scale.py --sizes 1e8           # the 100M-row step, on a quiet machine
    .venv/bin/python benchmarks/bench_scale.py --sizes 2e8 --steps score   # score 20M customers
    .venv/bin/python benchmarks/bench_scale.py --quick               # 200,000 rows, print only

For each size N the input is N transactions of N/10 customers, generated to
Parquet by a seeded, vectorised generator (files of at most 10M rows; each
file holds a range of customers, its rows in date order; string ids
``C000000001``; dates over two years ending 2024-12-31; category and channel
from the vocabulary of :func:`segwork.datasets.make_crm`). The data are kept
in ``--data-dir`` (default ``benchmarks/.data-scale``, git-ignored) and reused
by later runs.

Steps, each in its own subprocess so that each peak RSS is that step's own
(``ru_maxrss`` of the child, imports included):

* ``rfm duckdb``: ``segwork.rfm_summary(PATH, engine="duckdb")`` on the Parquet
  files (cleaned with the rules of ``read_transactions`` and aggregated in
  SQL); peer ``rfm pandas``: ``segwork.rfm_summary(PATH, engine="pandas")``
  (``read_transactions`` of every file, cleaning, aggregation in pandas), only
  up to ``--pandas-max`` rows (default 1e7: it needs the whole log in memory).
  Check: the two frames are equal (1e-9).
* ``rfm plain``: the baseline of the rfm step (issue 22, goal 1): one plain
  DuckDB query on the same files with the same settings, per customer-day,
  then per customer (frequency, recency, T, monetary value), sorted by
  customer, fetched to pandas; no cleaning rule, no report (:data:`PLAIN_RFM`).
  ``rfm duckdb`` and ``rfm duckdb keep`` (``CleaningRules(duplicates="keep")``,
  the path for exports with unique invoice lines) print their ratio to it.
  The three run alternating, ``--rfm-repeat`` times (default 3), best of each.
* ``rfm dask``: ``segwork.rfm_summary(PATH, engine="dask")`` on a ``LocalCluster``
  of 2 worker processes (1 thread each, workers warmed), checked equal to
  ``rfm duckdb``; transactions per second per worker core (goal 250,000) and
  the workers' peak RSS. Up to ``--dask-max`` rows.
* ``BG/NBD fit``: :class:`segwork.clv.BetaGeo` on the aggregated customers
  (weeks), fit only (the default route: above 100,000 customers the search starts
  from a seeded sample's optimum and ends with Newton steps on all customers; its
  side-by-side comparison with the L-BFGS-B fit is ``benchmarks/bench_fit_scale.py``).
* ``k-means``: :func:`segwork.segment.clustering.behavioural_segmentation`
  (k chosen over 2..8 on a 50,000 sample, final k-means on every customer) on
  6 RFM columns of the aggregated customers.
* ``score``: ``segwork score --engine duckdb`` with a model folder built once
  from ``make_crm(5000)`` (not timed), the whole command timed.
* ``score dask``: the same on a ``LocalCluster`` of 2 worker processes (1 thread
  each) — the per-partition throughput behind the cost estimate in
  ``benchmarks/README.md``; its RSS is the client's only (the workers are
  other processes). Up to ``--dask-max`` rows (default 1e7).

DuckDB runs with ``memory_limit`` 5 GB (``DUCKDB_CONFIG``; it spills to
``--data-dir``) so that the 8 GiB peak goals are measured under a cap. The
1M/10M figures in the README were measured before this cap (their DuckDB peaks
were 1.6 GiB, well below it).

Results go to ``benchmarks/results/scale.json`` (rows of earlier runs at other
sizes are kept, so the big sizes can be run separately) and the log-log figure
``benchmarks/results/scale.png``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from _common import RESULTS_DIR, machine_info, write_results  # noqa: E402

END = "2024-12-31"
DAYS = 730
CATEGORIES = ["beauty", "electronics", "fashion", "gifts", "groceries", "home"]
CHANNELS = ["app", "phone", "store", "web"]
FILE_ROWS = 10_000_000
MEMORY_LIMIT = "5GB"  # DuckDB's memory_limit in the steps (segwork.features.engines.DUCKDB_CONFIG)
GENERATOR = 2  # bump when generate() changes: the data are regenerated
PLAIN_RFM = """
    WITH per_day AS (
        SELECT customer_id, CAST(date AS DATE) AS day, sum(amount) AS v FROM read_parquet($files) GROUP BY ALL
    )
    SELECT customer_id, count(*) - 1 AS frequency, max(day) - min(day) AS recency, $end - min(day) AS T,
           CASE WHEN count(*) > 1 THEN (sum(v) - arg_min(v, day)) / (count(*) - 1) ELSE 0 END AS monetary_value
    FROM per_day GROUP BY customer_id ORDER BY customer_id
"""  # the baseline of the rfm step: what a hand-written DuckDB query costs on the same files
RATIO_GOALS = {"rfm duckdb": 1.5, "rfm duckdb keep": 1.1}  # at most this many times the plain query
STEPS = ("rfm", "rfm-dask", "fit", "kmeans", "score", "score-dask")
GOALS = {  # step -> (seconds, peak GiB) at the sizes
    ("rfm duckdb", 100_000_000): (60.0, 8.0),
    ("BG/NBD fit", 100_000_000): (10.0, None),
    ("k-means", 100_000_000): (180.0, None),
    ("score", 200_000_000): (600.0, 8.0),
}


# ----------------------------------------------------------------------------- data


def _size(text: str) -> int:
    return int(float(text))


def generate(n_tx: int, folder: Path, seed: int = 0) -> Path:
    """Write ``n_tx`` transactions of ``n_tx // 10`` customers to ``folder/part-*.parquet`` (seeded; reused)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = folder / "_SUCCESS"
    if done.exists() and json.loads(done.read_text()).get("n_tx") == n_tx \
            and json.loads(done.read_text()).get("generator") == GENERATOR:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    n_customers = max(1, n_tx // 10)
    n_files = max(1, math.ceil(n_tx / FILE_ROWS))
    cust_edges = np.linspace(0, n_customers, n_files + 1).astype(np.int64)
    tx_edges = np.linspace(0, n_tx, n_files + 1).astype(np.int64)
    end_day = int(np.datetime64(END, "D").astype(np.int64))
    start_day = end_day - DAYS + 1
    cats, chans = pa.array(CATEGORIES), pa.array(CHANNELS)
    for i in range(n_files):
        rng = np.random.default_rng([seed, n_tx, i])
        c0, c1 = int(cust_edges[i]), int(cust_edges[i + 1])
        nc, nt = c1 - c0, int(tx_edges[i + 1] - tx_edges[i])
        # purchases per customer: 1 + multinomial over gamma(0.5) weights (heavy-tailed, exact total)
        weights = rng.gamma(0.5, 1.0, nc)
        counts = 1 + rng.multinomial(nt - nc, weights / weights.sum())
        cid = np.repeat(np.arange(c0, c1, dtype=np.int64), counts)
        first = rng.integers(0, DAYS, nc)
        # each customer is active from the first purchase to a dropout day (exponential, mean 1 year), as the
        # BG/NBD / Pareto-NBD story has it; purchases fall uniformly in that span
        span = np.minimum(DAYS - first, 1 + rng.exponential(365.0, nc).astype(np.int64))
        first_rep = np.repeat(first, counts)
        is_first = np.zeros(nt, dtype=bool)
        is_first[np.cumsum(counts) - counts] = True
        offset = (rng.random(nt) * np.repeat(span, counts)).astype(np.int64)
        day = start_day + first_rep + np.where(is_first, 0, offset)
        amount = np.round(rng.lognormal(3.5, 0.8, nt), 2)
        order = np.argsort(day, kind="stable")  # a date-ordered log
        ids = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(pa.array(cid[order] + 1), pa.string()), 9,
                                                            padding="0"), "")
        table = pa.table({
            "customer_id": ids,
            "date": pa.array((day[order] * 86_400_000_000).astype("datetime64[us]")),
            "amount": pa.array(amount[order]),
            "category": cats.take(pa.array(rng.integers(0, len(CATEGORIES), nt)[order])),
            "channel": chans.take(pa.array(rng.integers(0, len(CHANNELS), nt)[order])),
        })
        pq.write_table(table, folder / f"part-{i:04d}.parquet", row_group_size=1_000_000)
        del table, ids, cid, day, amount, order
    done.write_text(json.dumps({"n_tx": n_tx, "n_customers": n_customers, "files": n_files,
                                "generator": GENERATOR}))
    return folder


def models_folder(data_dir: Path) -> Path:
    """A model folder built once from make_crm(5000) (same category / channel vocabulary as the generator)."""
    folder = data_dir / "models"
    if not (folder / "manifest.json").exists():
        import warnings

        from segwork.datasets import make_crm
        from segwork.models.store import build_models

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_models(make_crm(n_customers=5000, random_state=0), folder, random_state=0, source="synthetic")
    return folder


# ----------------------------------------------------------------------------- one step in a child process


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB on Linux


def child(step: str, data: Path, work: Path) -> dict:
    import warnings

    import numpy as np
    import pandas as pd

    warnings.simplefilter("ignore")
    from segwork.features import engines

    # DuckDB would take 80 % of RAM; the goals are < 8 GiB peak, so cap it below that and let it spill
    engines.DUCKDB_CONFIG.update(memory_limit=MEMORY_LIMIT, temp_directory=str(work / "duckdb-tmp"))
    glob = str(data / "*.parquet")
    rfm_path = work / "rfm.parquet"
    out: dict = {"step": step}
    if step == "rfm plain":
        import datetime

        con = engines.connect()  # the engine's settings (DUCKDB_CONFIG), nothing else of segwork
        t0 = time.perf_counter()
        rfm = con.execute(PLAIN_RFM, {"files": glob, "end": datetime.date.fromisoformat(END)}).df()
        out["seconds"] = time.perf_counter() - t0
        con.close()
        out["customers"] = len(rfm)
        out["check"] = f"{len(rfm):,} customers"
    elif step in ("rfm duckdb", "rfm duckdb keep"):
        import segwork
        from segwork.io import CleaningRules

        rules = CleaningRules(duplicates="keep") if step.endswith("keep") else None
        t0 = time.perf_counter()
        rfm = segwork.rfm_summary(glob, observation_end=END, time_unit="days", engine="duckdb", rules=rules)
        out["seconds"] = time.perf_counter() - t0
        report = rfm.attrs.get("cleaning_report")
        rfm.attrs = {}  # the cleaning report is not Parquet metadata
        if rules is None:
            rfm.to_parquet(rfm_path)
        out["customers"] = len(rfm)
        out["check"] = f"{len(rfm):,} customers, {report.rows_read:,} rows read, {report.rows_kept:,} kept"
    elif step == "rfm pandas":
        import segwork

        t0 = time.perf_counter()
        rfm = segwork.rfm_summary(glob, observation_end=END, time_unit="days", engine="pandas")
        out["seconds"] = time.perf_counter() - t0
        out["customers"] = len(rfm)
        if rfm_path.exists():
            ref = pd.read_parquet(rfm_path)
            same = ref.index.equals(rfm.index) and np.allclose(ref.to_numpy(float), rfm.to_numpy(float), rtol=1e-9,
                                                               atol=1e-9)
            out["check"] = "same frame as duckdb" if same else "DIFFERENT from duckdb"
        else:
            out["check"] = f"{len(rfm):,} customers"
    elif step == "rfm dask":
        import segwork
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with Client(cluster) as client:
            warm = ("segwork.features.engines", "duckdb", "pyarrow.parquet")  # imports are not throughput
            client.run(lambda: [__import__(m) for m in warm])
            t0 = time.perf_counter()
            rfm = segwork.rfm_summary(glob, observation_end=END, time_unit="days", engine="dask")
            out["seconds"] = time.perf_counter() - t0
            workers = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss)
        cluster.close()
        out["worker_peak_gib"] = max(workers.values()) / 1024 ** 2
        out["customers"] = len(rfm)
        if rfm_path.exists():
            ref = pd.read_parquet(rfm_path)
            rfm.attrs = {}
            same = ref.index.equals(rfm.index) and np.allclose(ref.to_numpy(float), rfm.to_numpy(float), rtol=1e-9,
                                                               atol=1e-9)
            out["check"] = "same frame as duckdb" if same else "DIFFERENT from duckdb"
        else:
            out["check"] = f"{len(rfm):,} customers"
    elif step in ("BG/NBD fit", "k-means"):
        rfm = pd.read_parquet(rfm_path)
        if step == "BG/NBD fit":
            from segwork.clv import BetaGeo

            f, r, T = (rfm["frequency"].to_numpy(float), rfm["recency"].to_numpy(float) / 7,
                       rfm["T"].to_numpy(float) / 7)
            t0 = time.perf_counter()
            model = BetaGeo().fit(f, r, T)
            out["seconds"] = time.perf_counter() - t0
            out["check"] = ("params " + ", ".join(f"{k} {v:.3g}" for k, v in model.params_.items())
                            + ("; sample start + Newton on all customers" if "Newton steps on all" in
                               model.fit_method_ else "; L-BFGS-B on the distinct histories"))
        else:
            from segwork.segment.clustering import behavioural_segmentation

            table = rfm.assign(days_since_last=rfm["T"] - rfm["recency"],
                               purchase_rate=(rfm["frequency"] + 1) / np.maximum(rfm["T"], 1.0) * 30.0)
            feats = ["frequency", "recency", "T", "monetary_value", "days_since_last", "purchase_rate"]
            t0 = time.perf_counter()
            seg = behavioural_segmentation(table, features=feats, random_state=0)
            out["seconds"] = time.perf_counter() - t0
            out["check"] = f"k={seg.assessment.k} chosen, final fit {seg.params.get('algorithm')}"
        out["customers"] = len(rfm)
    elif step in ("score", "score dask"):
        from segwork.cli import main

        models = models_folder(work.parent)
        target = work / "scores.parquet"
        argv = ["score", "--models", str(models), "--transactions", glob, "--output", str(target),
                "--as-of", END, "--no-progress"]
        cluster = None
        if step == "score dask":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            argv += ["--scheduler", cluster.scheduler_address]
            # the workers import segwork once; not part of the throughput
            from distributed import Client

            with Client(cluster.scheduler_address) as c:
                c.run(lambda: __import__("segwork.models.bulk"))
        t0 = time.perf_counter()
        status = main(argv)
        out["seconds"] = time.perf_counter() - t0
        if cluster is not None:
            cluster.close()
        if status != 0:
            raise SystemExit(f"segwork score failed with status {status}")
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(target).metadata
        out["customers"] = meta.num_rows
        out["check"] = f"{meta.num_rows:,} customers scored, {meta.num_row_groups} chunks written"
        target.unlink()
    else:
        raise SystemExit(f"unknown step {step!r}")
    out["peak_gib"] = _peak_gib()
    return out


def run_step(step: str, data: Path, work: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--_child", step, "--_data", str(data), "--_work", str(work)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"step": step, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- series


def _row(res: dict, n_tx: int, peer: dict | None = None) -> dict:
    n_c = n_tx // 10
    size = f"{n_tx:,} tx / {n_c:,} customers"
    goal = GOALS.get((res["step"], n_tx))
    check = res.get("check", res.get("error", ""))
    check += f"; peak RSS {res['peak_gib']:.2f} GiB" if "peak_gib" in res else ""
    if goal:
        met = res.get("seconds") is not None and res["seconds"] < goal[0] and (goal[1] is None or res["peak_gib"] < goal[1])
        check += f"; goal < {goal[0]:.0f} s" + (f", < {goal[1]:.0f} GiB" if goal[1] else "") + (": met" if met else ": MISSED")
    row = {"case": res["step"], "size": size, "segwork_s": res.get("seconds"), "peer": None, "peer_s": None,
           "check": check, "n_tx": n_tx, "n_customers": n_c, "peak_gib": res.get("peak_gib"),
           "error": res.get("error"), "load_1min": round(os.getloadavg()[0], 2),
           "measured": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    if peer is not None:
        row["peer"] = "engine='pandas' (read_transactions + rfm_summary)"
        row["peer_s"] = peer.get("seconds")
        row["peer_peak_gib"] = peer.get("peak_gib")
        row["check"] += (f"; pandas: {peer.get('check', peer.get('error'))}, peak RSS "
                         f"{peer.get('peak_gib', float('nan')):.2f} GiB")
    return row


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {}
    for r in rows:
        if r.get("segwork_s"):
            series.setdefault(r["case"], []).append((r["n_tx"], r["segwork_s"]))
        if r.get("peer_s"):
            series.setdefault("rfm pandas", []).append((r["n_tx"], r["peer_s"]))
    for name, pts in sorted(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("transactions (customers = transactions / 10)")
    ax.set_ylabel("wall time (s)")
    ax.set_title("segwork at scale (2-core machine)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7", help="transactions per run, comma-separated (default 1e6,1e7)")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"steps to run (default {','.join(STEPS)})")
    ap.add_argument("--data-dir", default=str(BENCH_DIR / ".data-scale"), help="where the generated data live")
    ap.add_argument("--pandas-max", type=_size, default=10_000_000, help="largest size for the pandas RFM peer")
    ap.add_argument("--dask-max", type=_size, default=10_000_000, help="largest size for 'rfm dask' and 'score dask'")
    ap.add_argument("--quick", action="store_true", help="200,000 rows, print only")
    ap.add_argument("--rfm-repeat", type=int, default=3, help="runs of each rfm case, alternating (best kept)")
    ap.add_argument("--_child")
    ap.add_argument("--_data")
    ap.add_argument("--_work")
    args = ap.parse_args(argv)
    if args._child:
        print(json.dumps(child(args._child, Path(args._data), Path(args._work))))
        return 0
    sizes = [200_000] if args.quick else [_size(s) for s in args.sizes.split(",") if s.strip()]
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        ap.error(f"unknown step {unknown[0]!r}; choose from {', '.join(STEPS)}")
    data_dir = Path(args.data_dir)
    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        data = generate(n, data_dir / f"tx-{n}")
        print(f"[scale] {n:,} transactions ready in {data} ({time.perf_counter() - t0:.1f} s)", flush=True)
        work = data_dir / f"work-{n}"
        work.mkdir(parents=True, exist_ok=True)
        if "score" in steps or "score-dask" in steps:
            models_folder(data_dir)
        plan = []
        if "rfm" in steps or (("fit" in steps or "kmeans" in steps) and not (work / "rfm.parquet").exists()):
            plan.append("rfm")
        plan += [s for s in ("rfm-dask", "fit", "kmeans", "score", "score-dask") if s in steps]
        for step in plan:
            if step == "rfm":
                best: dict = {}
                for _ in range(max(1, args.rfm_repeat)):  # alternating, so that a busy minute hits all three
                    for case in ("rfm plain", "rfm duckdb", "rfm duckdb keep"):
                        res = run_step(case, data, work)
                        if case not in best or (res.get("seconds") or math.inf) < (best[case].get("seconds") or math.inf):
                            best[case] = res
                peer = run_step("rfm pandas", data, work) if n <= args.pandas_max else None
                plain_s = best["rfm plain"].get("seconds")
                for case in ("rfm plain", "rfm duckdb", "rfm duckdb keep"):
                    row = _row(best[case], n, peer if case == "rfm duckdb" else None)
                    if case != "rfm plain" and plain_s and row["segwork_s"]:
                        row["ratio_to_plain"] = row["segwork_s"] / plain_s
                        goal = RATIO_GOALS[case]
                        row["check"] += (f"; {row['ratio_to_plain']:.2f}x the plain query (goal <= {goal}x: "
                                         + ("met" if row["ratio_to_plain"] <= goal else "MISSED") + ")")
                    rows.append(row)
                    if case != "rfm duckdb keep":
                        r = rows[-1]
                        print(f"[scale] {r['size']}: {r['case']}: {r['segwork_s'] if r['segwork_s'] is None else round(r['segwork_s'], 2)} s"
                              f" — {r['check']}", flush=True)
            elif step == "rfm-dask":
                if n > args.dask_max:
                    continue
                res = run_step("rfm dask", data, work)
                row = _row(res, n)
                if res.get("seconds"):
                    row["tx_per_s_per_worker"] = n / res["seconds"] / 2
                    row["worker_peak_gib"] = res.get("worker_peak_gib")
                    row["check"] += (f"; {row['tx_per_s_per_worker']:,.0f} tx/s per worker core (2 workers x 1 "
                                     f"thread; goal 250,000), worker peak RSS {res['worker_peak_gib']:.2f} GiB")
                rows.append(row)
            elif step == "score-dask":
                if n > args.dask_max:
                    continue
                res = run_step("score dask", data, work)
                row = _row(res, n)
                if res.get("seconds"):
                    parts = max(2, math.ceil(n // 10 / 1_000_000))
                    row["tx_per_s_per_worker"] = n / res["seconds"] / 2
                    row["check"] += (f"; {row['tx_per_s_per_worker']:,.0f} tx/s per worker (2 workers, "
                                     f"{parts}+ partitions); client RSS only")
                rows.append(row)
            else:
                name = {"fit": "BG/NBD fit", "kmeans": "k-means", "score": "score"}[step]
                rows.append(_row(run_step(name, data, work), n))
            r = rows[-1]
            print(f"[scale] {r['size']}: {r['case']}: {r['segwork_s'] if r['segwork_s'] is None else round(r['segwork_s'], 2)} s"
                  + (f" (pandas {r['peer_s']:.2f} s)" if r.get("peer_s") else "") + f" — {r['check']}", flush=True)
    if args.quick:
        return 0
    path = RESULTS_DIR / "scale.json"
    keep = []
    if path.exists():  # rows of other sizes (e.g. 1e8 run separately) stay
        done = {(r["case"], r["n_tx"]) for r in rows}
        keep = [r for r in json.loads(path.read_text()).get("rows", []) if (r["case"], r.get("n_tx")) not in done]
    allrows = sorted(keep + rows, key=lambda r: (r.get("n_tx", 0), STEPS.index(_step_key(r["case"]))))
    write_results("scale", allrows, command="python benchmarks/bench_scale.py --sizes " + args.sizes
                  + (f" --steps {args.steps}" if args.steps != ",".join(STEPS) else ""),
                  notes=["each step in its own subprocess; peak RSS = ru_maxrss of that process (imports included)",
                         "customers = transactions / 10; generator: benchmarks/bench_scale.py generate()",
                         f"measured: {machine_info()['date']}"])
    figure(allrows, RESULTS_DIR / "scale.png")
    print(f"[scale] wrote {path} and {RESULTS_DIR / 'scale.png'}")
    return 0


def _step_key(case: str) -> str:
    return {"rfm duckdb": "rfm", "rfm dask": "rfm-dask", "BG/NBD fit": "fit", "k-means": "kmeans", "score": "score",
            "score dask": "score-dask"}.get(case, "rfm")


if __name__ == "__main__":
    sys.exit(main())
