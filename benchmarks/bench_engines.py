"""rfm_summary on its engines side by side: pandas vs DuckDB (in-memory raw log, Parquet files).

Run: ``.venv/bin/python benchmarks/bench_engines.py`` (``--quick``: 10x smaller,
writes nothing). Each step is one function returning a result row, so the
scale series (``make benchmark``) can import and call them:

* :func:`step_raw_log` -- a raw, date-ordered log in memory (10M rows, 1M
  customers, pandas ``str`` ids): ``rfm_summary(df, engine="pandas")`` vs
  ``engine="duckdb"`` (DuckDB's pandas scan), the issue's 1.5 s goal;
* :func:`step_parquet` -- the same rows written to Parquet files:
  ``engine="pandas"`` (read_transactions + the in-memory summary) vs
  ``engine="duckdb"`` (cleaned and aggregated in SQL from the files).

Each engine runs in a fresh subprocess so that peak RSS (``ru_maxrss``) is
that engine's alone; the outputs are checked equal (``assert_frame_equal``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_size, write_results  # noqa: E402
from bench_rfm import OBSERVATION_END, in_time_order, make_transactions, to_frame  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, {bench!r})
from bench_rfm import OBSERVATION_END, in_time_order, make_transactions, to_frame
from segwork.features import rfm_summary
args = json.loads(sys.argv[1])
if args["input"] == "log":
    z = np.load(args["npz"])
    source = to_frame({{k: z[k] for k in z.files}})
else:
    source = args["path"]
times = []
for _ in range(args["repeats"]):
    t0 = time.perf_counter()
    out = rfm_summary(source, observation_end=OBSERVATION_END, engine=args["engine"])
    times.append(time.perf_counter() - t0)
out.attrs.clear()
out.to_parquet(args["out"])
print("RESULT " + json.dumps({{"best_s": min(times), "times_s": times,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_engine(engine: str, *, repeats: int, out: Path, npz: Path | None = None, path: str | None = None) -> dict:
    """Time ``rfm_summary`` with ``engine`` in a fresh Python; returns best_s, times_s, peak_rss_mib."""
    args = {"engine": engine, "repeats": repeats, "out": str(out),
            "input": "log" if npz is not None else "path", "npz": str(npz), "path": path}
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{engine}: {proc.stderr.strip().splitlines()[-1]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def _row(step: str, size: str, a: dict, b: dict, check: str) -> dict:
    ratio = a["best_s"] / b["best_s"]
    print(f"{step:<38} {size:<34} pandas {a['best_s']:7.2f} s {a['peak_rss_mib']:7.0f} MiB   "
          f"duckdb {b['best_s']:7.2f} s {b['peak_rss_mib']:7.0f} MiB   pandas/duckdb {ratio:5.2f}x", flush=True)
    # run_all.py's contract: segwork_s is the DuckDB engine, the "peer" the pandas engine of the same call
    return {"case": step, "size": size, "segwork_s": b["best_s"], "peer": "engine='pandas'", "peer_s": a["best_s"],
            "ratio": ratio, "pandas_s": a["best_s"], "pandas_times_s": a["times_s"],
            "pandas_peak_rss_mib": a["peak_rss_mib"], "duckdb_s": b["best_s"], "duckdb_times_s": b["times_s"],
            "duckdb_peak_rss_mib": b["peak_rss_mib"], "ratio_pandas_over_duckdb": ratio, "check": check}


def step_raw_log(n_tx: int = 10_000_000, n_customers: int = 1_000_000, *, repeats: int = 3, seed: int = 1) -> dict:
    """rfm_summary of a raw, date-ordered in-memory log with str ids: pandas vs DuckDB's pandas scan."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "log.npz", **in_time_order(make_transactions(n_tx, n_customers, seed=seed)))
        a = run_engine("pandas", repeats=repeats, npz=tmp / "log.npz", out=tmp / "a.parquet")
        b = run_engine("duckdb", repeats=repeats, npz=tmp / "log.npz", out=tmp / "b.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(tmp / "b.parquet"), pd.read_parquet(tmp / "a.parquet"))
    return _row("rfm_summary, raw date-ordered log", fmt_size(n_tx, "tx", n_customers), a, b, "same frame")


def write_parquet(n_tx: int, n_customers: int, folder: Path, *, files: int = 8, seed: int = 1) -> Path:
    """The date-ordered log as ``files`` Parquet files (str ids, datetime64 dates, float amounts)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = to_frame(in_time_order(make_transactions(n_tx, n_customers, seed=seed)))
    for i, idx in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[idx].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return folder


def step_parquet(n_tx: int = 10_000_000, n_customers: int = 1_000_000, *, repeats: int = 1, seed: int = 1) -> dict:
    """rfm_summary of a folder of Parquet files: read_transactions + pandas vs DuckDB SQL (cleaning included)."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        tmp = Path(tmp)
        folder = write_parquet(n_tx, n_customers, tmp / "tx", seed=seed)
        a = run_engine("pandas", repeats=repeats, path=str(folder), out=tmp / "a.parquet")
        b = run_engine("duckdb", repeats=repeats, path=str(folder), out=tmp / "b.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(tmp / "b.parquet"), pd.read_parquet(tmp / "a.parquet"))
    return _row("rfm_summary, Parquet folder (8 files)", fmt_size(n_tx, "tx", n_customers), a, b,
                "same frame and cleaning")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller inputs; print only, write nothing")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    rows = [step_raw_log(10_000_000 // scale, 1_000_000 // scale),
            step_parquet(10_000_000 // scale, 1_000_000 // scale)]
    if args.quick:
        print("--quick: nothing written")
        return 0
    notes = ["segwork (s) is engine='duckdb', peer (s) engine='pandas' of the same rfm_summary call. "
             "Each engine in a fresh process: peak RSS is ru_maxrss of that process (input frame included for "
             "the in-memory log). Best of 3 runs (log) / 1 run (Parquet). 2 cores shared with other work."]
    path = write_results("engines", rows, command=".venv/bin/python benchmarks/bench_engines.py", notes=notes)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
