"""The lifetimes side of the benchmarks. Runs ONLY in benchmarks/.venv-lifetimes.

Usage (done for you by the bench_*.py scripts): ``python peer_lifetimes.py spec.json``.
The spec names the task, the input ``.npz`` files and the number of repeats; the
answer (timings, versions, estimates, paths of result files) goes to ``spec["output"]``
as JSON. Inputs are built by the segwork side, so both sides time the same data.
"""
from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

import numpy as np
import pandas as pd


def _versions() -> dict:
    return {name: version(name) for name in ("lifetimes", "pandas", "numpy", "scipy", "autograd")} | {
        "python": sys.version.split()[0]}


def _best_of(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result, times


def rfm(spec: dict) -> dict:
    """Time lifetimes.utils.summary_data_from_transaction_data on each input table."""
    from lifetimes.utils import summary_data_from_transaction_data

    answer = {"versions": _versions(), "cases": {}}
    for case in spec["inputs"]:
        z = np.load(case["path"])
        labels = np.array([spec["id_format"].format(i) for i in range(int(z["n_customers"]))], dtype=object)
        tx = pd.DataFrame({
            "customer_id": labels[z["customer"]],  # Python strings: what pandas 1.x users have
            "date": z["time_ns"].astype("datetime64[ns]"),
            "amount": z["amount"],
        })
        best, out, times = _best_of(lambda: summary_data_from_transaction_data(
            tx, "customer_id", "date", monetary_value_col="amount",
            observation_period_end=spec["observation_end"], freq="D"), spec["repeats"])
        entry = {"best_s": best, "times_s": times}
        if case.get("result"):
            out = out.sort_index()
            np.savez(case["result"], customer_id=out.index.to_numpy().astype(str),
                     **{col: out[col].to_numpy(dtype=np.float64) for col in ["frequency", "recency", "T", "monetary_value"]})
            entry["result"] = case["result"]
        answer["cases"][case["name"]] = entry
    return answer


def betageo(spec: dict) -> dict:
    """Time lifetimes.BetaGeoFitter.fit (default tolerance and start) on each input."""
    from lifetimes import BetaGeoFitter

    answer = {"versions": _versions(), "cases": {}}
    for case in spec["inputs"]:
        z = np.load(case["path"])
        weights = z["weights"] if "weights" in z.files else None

        def fit():
            return BetaGeoFitter().fit(z["frequency"], z["recency"], z["T"], weights=weights)

        best, model, times = _best_of(fit, case["repeats"])
        n = float(weights.sum()) if weights is not None else float(len(z["frequency"]))
        answer["cases"][case["name"]] = {
            "best_s": best, "times_s": times, "params": {k: float(v) for k, v in model.params_.items()},
            "n_customers": n,
        }
    return answer


if __name__ == "__main__":
    spec = json.loads(open(sys.argv[1]).read())
    task = {"rfm": rfm, "betageo": betageo}[spec["task"]]
    with open(spec["output"], "w") as fh:
        json.dump(task(spec), fh)
