"""Coverage of the two interval kinds (issue 19): prediction intervals for outcomes, confidence intervals for
expected values, on data simulated from known parameters.

Each replication draws ``--customers`` customers with
:func:`segwork.clv.simulate_purchase_histories` (event by event, written
apart from the models' prediction code): first purchases spread over the
calibration year (each customer's ``T`` uniform on 0-52 weeks), then a
holdout of 52 weeks (12 months of 4.348 weeks for the CLV: 52.18 weeks), the
value of every purchase from a Gamma-Gamma spend process. It fits the
transaction model (BG/NBD or Pareto/NBD) and the Gamma-Gamma on the
calibration period and asks for 90 % intervals of both kinds
(``n_draws`` parameter draws each):

* **per-customer purchases** in the 52-week holdout
  (``expected_purchases(52, ..., interval=0.9, kind=...)``);
* **per-customer CLV** over 12 months, discount 1 % a month, the spend
  simulated too (``customer_lifetime_value(..., interval=0.9, kind=...)``);
  its actual value is the discounted sum of the simulated holdout purchases'
  values;
* the four **quarterly totals** of the holdout
  (``aggregate_purchases_by_period(..., 4, period_length=13, kind=...)``);
* the **holdout total** (``holdout_total_interval(..., kind=...)``).

The prediction kind is scored against the simulated outcome, the confidence
kind against the expected value under the *true* parameters (the closed form
with the true parameters given each customer's simulated history).

Discrete outcomes. Per customer the outcome (a count, or a CLV with an atom
at 0) is discrete, so a closed interval ``[lower, upper]`` of whole numbers
holds *at least* 90 % of the model's predictive distribution, often much more
(a customer who makes no purchase in 95 % of simulated years has the
interval [0, 0]). Two figures are reported for per-customer outcomes:

* ``closed``: the share of customers whose outcome lies in ``[lower, upper]``,
  next to ``stated``, the mean of the intervals' own coverage under the model
  (the ``coverage`` column: the share of the simulated outcomes inside). A
  calibrated interval has ``closed`` close to ``stated`` (not to 90 %);
* ``PIT``: the randomized probability integral transform. With the model's
  predictive CDF F (the empirical CDF of the ``n_draws`` simulated outcomes,
  per customer) the outcome y gets ``u = F(y-) + V (F(y) - F(y-))``,
  ``V ~ U(0, 1)``; the randomized interval covers y when ``0.05 <= u <= 0.95``.
  For a calibrated model u is uniform, so this coverage is 90 % exactly. This
  is the figure held to 85-95 %.

Totals (5,000 customers) are nearly continuous; their coverage is the plain
``lower <= outcome <= upper``. Binomial 95 % interval of a coverage p over R
replications (Wilson). Per-customer coverages are averaged over customers
within a replication first, so their binomial interval over replications is
conservative in form only; their Monte-Carlo spread over replications is
given as ``sd``.

Not a test and not run by ``run_all.py`` (it takes minutes)::

    .venv/bin/python benchmarks/interval_coverage.py --reps 100          # the README's table
    .venv/bin/python benchmarks/interval_coverage.py --reps 5 --no-write # a quick look

Writes ``benchmarks/results/interval_coverage.json`` (``--out``) unless ``--no-write``. The two models can run
as two processes (``--models BG/NBD --out interval_coverage_bg.json`` and ``--models Pareto/NBD --out ...``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from segwork import clv
from segwork.clv import BetaGeo, GammaGamma, ParetoNBD, simulate_purchase_histories
from segwork.clv.value import DAYS_PER_MONTH
from segwork.errors import ConvergenceError

TRUE = {
    "BG/NBD": ("bg_nbd", BetaGeo, {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5}),
    "Pareto/NBD": ("pareto_nbd", ParetoNBD, {"r": 0.5, "alpha": 8.0, "s": 0.6, "beta": 12.0}),
}
SPEND = {"p": 6.0, "q": 4.0, "v": 15.0}  # close to the CDNOW estimates (FHL 2005: p 6.25, q 3.74, v 15.44)
LEVEL = 0.9
HOLDOUT_WEEKS = 52.0
HORIZON_MONTHS = 12
DISCOUNT = 0.01
MONTH_WEEKS = DAYS_PER_MONTH / 7.0


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return float(c - h), float(c + h)


def randomized_pit(samples: np.ndarray, y: np.ndarray, rng) -> np.ndarray:
    """Randomized PIT of outcomes ``y`` (n,) under the empirical CDF of ``samples`` (n_draws, n)."""
    below = (samples < y).mean(axis=0)
    at = (samples == y).mean(axis=0)
    return below + rng.random(y.size) * at


def true_model(cls, params):
    m = cls()
    m.params_ = dict(params)
    return m


def one_replication(name: str, seed: int, customers: int, n_draws: int) -> dict:
    key, cls, params = TRUE[name]
    rng = np.random.default_rng([seed, 99])
    holdout = HORIZON_MONTHS * MONTH_WEEKS  # 52.18 weeks: the CLV's 12 months
    S, events = simulate_purchase_histories(customers, model=key, params=params, T=(0.0, 52.0), holdout=holdout,
                                            spend=SPEND, random_state=seed)
    # the purchase checks use a 52-week holdout
    ev52 = events[events["t"] <= HOLDOUT_WEEKS]
    S["frequency_holdout"] = ev52.groupby("customer_id").size().reindex(S.index, fill_value=0)
    S["duration_holdout"] = HOLDOUT_WEEKS
    hist = (S["frequency"], S["recency"], S["T"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls().fit(*hist)
        spend = GammaGamma().fit(S["frequency"], S["monetary_value"])
    truth = true_model(cls, params)
    true_spend = true_model(GammaGamma, SPEND)
    out = {}
    y = S["frequency_holdout"].to_numpy(dtype=float)
    exp_true = np.asarray(truth.expected_purchases(HOLDOUT_WEEKS, *hist), dtype=float)
    # per-customer purchases
    ci = model.expected_purchases(HOLDOUT_WEEKS, *hist, interval=LEVEL, kind="confidence", n_draws=n_draws, random_state=seed)
    out["purchases/confidence"] = float(((ci["lower"] <= exp_true) & (exp_true <= ci["upper"])).mean())
    sims = np.array([s[-1] for s in model.simulate_purchase_draws(HOLDOUT_WEEKS, *hist, n_draws=n_draws, random_state=seed)])
    pi = model.expected_purchases(HOLDOUT_WEEKS, *hist, interval=LEVEL, kind="prediction", n_draws=n_draws,
                                  random_state=seed)
    out["purchases/prediction closed"] = float(((pi["lower"] <= y) & (y <= pi["upper"])).mean())
    out["purchases/prediction stated"] = float(pi["coverage"].mean())
    u = randomized_pit(sims, y, rng)
    out["purchases/prediction PIT"] = float(((u >= (1 - LEVEL) / 2) & (u <= (1 + LEVEL) / 2)).mean())
    # per-customer CLV (12 months, spend simulated)
    disc = (1 + DISCOUNT) ** np.ceil(events["t"].to_numpy() / MONTH_WEEKS)
    actual_clv = (events.assign(v=events["amount"].to_numpy() / disc).groupby("customer_id")["v"].sum()
                  .reindex(S.index, fill_value=0.0).to_numpy())
    clv_args = dict(horizon=HORIZON_MONTHS, time_unit="weeks", discount_rate=DISCOUNT)
    clv_true = clv.customer_lifetime_value(truth, true_spend, S, **clv_args).to_numpy()
    cci = clv.customer_lifetime_value(model, spend, S, interval=LEVEL, kind="confidence", n_draws=n_draws, random_state=seed,
                                      **clv_args)
    out["clv/confidence"] = float(((cci["lower"] <= clv_true) & (clv_true <= cci["upper"])).mean())
    cpi = clv.customer_lifetime_value(model, spend, S, interval=LEVEL, kind="prediction", n_draws=n_draws, random_state=seed,
                                      **clv_args)
    out["clv/prediction closed"] = float(((cpi["lower"] <= actual_clv) & (actual_clv <= cpi["upper"])).mean())
    out["clv/prediction stated"] = float(cpi["coverage"].mean())
    # the randomized PIT of the CLV: the simulated values again, from the same seeds (value.py's streams)
    s_tx, s_spend, s_sim = np.random.SeedSequence(seed).spawn(3)
    sim_rng = np.random.default_rng(s_sim)
    ends = np.arange(1, HORIZON_MONTHS + 1) * MONTH_WEEKS
    discount = (1 + DISCOUNT) ** np.arange(1, HORIZON_MONTHS + 1)[:, None]
    futures = model.simulate_purchase_draws(ends, *hist, n_draws=n_draws, random_state=np.random.default_rng(s_tx),
                                            simulation_random_state=sim_rng)
    spends = clv.intervals.sampled_models(spend, n_draws, np.random.default_rng(s_spend))
    vals = np.array([(clv.intervals.simulate_spend(ms, np.diff(cum, axis=0, prepend=0), S["frequency"],
                                                   S["monetary_value"], rng=sim_rng) / discount).sum(axis=0)
                     for cum, ms in zip(futures, spends)])
    u = randomized_pit(vals, actual_clv, rng)
    out["clv/prediction PIT"] = float(((u >= (1 - LEVEL) / 2) & (u <= (1 + LEVEL) / 2)).mean())
    # quarterly totals
    q_actual = np.histogram(ev52["t"], bins=[0, 13, 26, 39, 52])[0]
    q_true = np.diff([0.0] + [float(np.sum(truth.expected_purchases(e, *hist))) for e in (13, 26, 39, 52)])
    for kind in ("confidence", "prediction"):
        agg = clv.aggregate_purchases_by_period(model, *hist, 4, period_length=13.0, interval=LEVEL, kind=kind,
                                                n_draws=n_draws, random_state=seed)
        target = q_true if kind == "confidence" else q_actual
        hit = (agg["lower"].to_numpy() <= target) & (target <= agg["upper"].to_numpy())
        for q in range(4):
            out[f"quarter {q + 1}/{kind}"] = float(hit[q])
    # the holdout total
    for kind in ("confidence", "prediction"):
        r = clv.holdout_total_interval(model, S, interval=LEVEL, n_draws=n_draws, random_state=seed, kind=kind)
        target = exp_true.sum() if kind == "confidence" else r.actual_total
        out[f"holdout total/{kind}"] = float(r.lower <= target <= r.upper)
        out[f"holdout total/{kind} width"] = r.upper - r.lower
    out["holdout total/noise sd"] = float(np.sqrt(np.var(sims.sum(axis=1))))
    return out


def markdown_table(paths) -> str:
    """The README's table from result files (runs of the same model with other seeds are pooled).

    Totals (one 0/1 per replication): pooled share with its Wilson 95 % interval. Per-customer rows (a share
    per replication): the mean with +- 1.96 sd / sqrt(R) over replications.
    """
    pooled = {}
    for path in paths:
        for r in json.loads(Path(path).read_text())["rows"]:
            if r["kind"] == "note":
                continue
            key = (r["model"], r["quantity"], r["kind"])
            acc = pooled.setdefault(key, {"k": 0.0, "R": 0, "ss": 0.0})
            R, p, sd = r["replications"], r["coverage"], r["sd_over_replications"]
            acc["k"] += p * R
            acc["R"] += R
            acc["ss"] += (R - 1) * sd**2 + R * p**2  # sum of squares, to pool the sd
    lines = ["| model | quantity | kind, scored against | coverage | 95 % interval | replications |",
             "|---|---|---|---:|---|---:|"]
    for (model, quantity, kind), acc in pooled.items():
        R, p = acc["R"], acc["k"] / acc["R"]
        if quantity in ("purchases", "clv"):
            sd = np.sqrt(max(acc["ss"] - R * p * p, 0.0) / max(R - 1, 1))
            lo, hi = p - 1.96 * sd / np.sqrt(R), p + 1.96 * sd / np.sqrt(R)
        else:
            lo, hi = wilson(round(p * R), R)
        target = "expected value (true parameters)" if kind == "confidence" else "actual outcome"
        lines.append(f"| {model} | {quantity} | {kind}: {target} | {p:.3f} | {lo:.3f}-{hi:.3f} | {R} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="BG/NBD,Pareto/NBD")
    ap.add_argument("--out", default="interval_coverage.json", help="file name under benchmarks/results")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--table", nargs="+", metavar="RESULT_JSON", help="print the README table of these result files")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(args.table))
        return {}

    results, seconds, failed = {}, {}, {}
    for name in args.models.split(","):
        seeds = np.random.SeedSequence([args.seed, len(name)]).generate_state(args.reps)
        rows, failed[name] = [], 0
        t0 = time.perf_counter()
        for i, s in enumerate(seeds):
            try:
                rows.append(one_replication(name, int(s), args.customers, args.draws))
            except ConvergenceError:
                failed[name] += 1
            if (i + 1) % 10 == 0:
                print(f"  {name}: {i + 1}/{args.reps} replications, {time.perf_counter() - t0:.0f} s", flush=True)
        seconds[name] = time.perf_counter() - t0
        results[name] = pd.DataFrame(rows)

    table = []
    for name, frame in results.items():
        R = len(frame)
        for col in frame.columns:
            if col.endswith("width") or col.endswith("sd"):
                continue
            what, kind = col.split("/")
            p = float(frame[col].mean())
            lo, hi = wilson(p * R, R)
            table.append({"model": name, "quantity": what, "kind": kind, "coverage": p, "ci_low": lo, "ci_high": hi,
                          "sd_over_replications": float(frame[col].std()), "replications": R})
        table.append({"model": name, "quantity": "holdout total", "kind": "note",
                      "mean_width_confidence": float(frame["holdout total/confidence width"].mean()),
                      "mean_width_prediction": float(frame["holdout total/prediction width"].mean()),
                      "noise_sd": float(frame["holdout total/noise sd"].mean())})
    print(f"\n{LEVEL:.0%} intervals, {args.customers:,} customers, {args.draws} draws, seed {args.seed}")
    print(f"{'model':<11} {'quantity':<14} {'kind':<22} {'coverage':>8}  {'95 % CI':>13}")
    for r in table:
        if r["kind"] == "note":
            print(f"{r['model']:<11} holdout total  widths: confidence {r['mean_width_confidence']:.0f}, prediction "
                  f"{r['mean_width_prediction']:.0f}; purchase noise SD {r['noise_sd']:.0f}")
            continue
        print(f"{r['model']:<11} {r['quantity']:<14} {r['kind']:<22} {r['coverage']:>8.3f}  "
              f"{r['ci_low']:.3f}-{r['ci_high']:.3f}")
    from _common import machine_info

    out = {"level": LEVEL, "customers": args.customers, "draws": args.draws, "seed": args.seed,
           "true": {k: v[2] for k, v in TRUE.items()}, "spend": SPEND,
           "design": "T uniform(0, 52) weeks; holdout 52 weeks (CLV: 12 months = 52.18 weeks); discount 1 %/month",
           "failed_fits": failed, "seconds": seconds, "rows": table, "machine": machine_info(),
           "command": " ".join(["python benchmarks/interval_coverage.py", *(sys.argv[1:] if argv is None else argv)])}
    if not args.no_write:
        path = Path(__file__).parent / "results" / args.out
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
