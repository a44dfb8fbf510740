"""How well does the automatic choice of k recover planted segments as they overlap?

For every data set (generator, overlap, seed) the benchmark runs
:func:`segwork.segment.selection.select_k` once over k = 2..8 and applies two rules to
the same table:

* ``before``: the rule before issue 19: mean rank of silhouette, Calinski-Harabasz,
  Davies-Bouldin, BIC, gap statistic and the raw prediction strength; a tie goes to the
  higher raw prediction strength, then to the smaller k;
* ``now``: :func:`segwork.segment.selection.rank_k` (the excess of the prediction strength
  over null data ranked as well; a tie goes to the larger excess).

Every ``select_k`` table is also written (``<out>`` with ``_tables`` before ``.csv``), so
another rule can be replayed on the same numbers without refitting.

Each chosen k, and k = 5, is refitted (same seed, so the same partition as in
``select_k``) and scored by the adjusted Rand index (ARI) against the planted groups.
``ari_at_5`` is what the right k would give: where it is below 0.7, no rule can reach 0.7.

Generators (five planted groups each):

* ``make_crm``: ``make_crm(n, seed, separation=s)``, the default k-means features of the
  customer table (skewed, partly discrete; unequal group shares);
* ``simplex``: ``sklearn.datasets.make_blobs`` with five centres at the vertices of a
  regular simplex in 4 dimensions (every pair 1 apart) and ``cluster_std`` = s; at s = 0.28
  k-means at k = 5 has ARI about 0.73 (moderate overlap), at 0.15 about 1;
* ``blobs``: ``make_blobs`` with five centres drawn at random in [-6, 6]^4 for every seed
  and ``cluster_std`` = s. Some draws put two or three centres close together (nested
  groups, the hard case for a coarse-favouring rule); there even k = 5 often scores
  below 0.7, so read ``now_ari`` against ``ari_at_5``;
* ``null_uniform`` / ``null_gauss``: no groups at all (uniform in a box / one Gaussian,
  4 dimensions): measures which k each rule's tie-break criterion prefers by itself
  (``ps_best``: highest raw prediction strength; ``excess_best``: highest excess).

Run (writes one CSV row per data set and prints the distribution per generator); the
figures in benchmarks/README.md came from:
  PYTHONPATH=. python benchmarks/k_selection.py --n 12000 --seeds 0-19 --gens make_crm \\
      --seps 0.6,1.0 --out benchmarks/results/k_selection_make_crm.csv
  PYTHONPATH=. python benchmarks/k_selection.py --n 12000 --seeds 0-19 --gens nested \\
      --nested-stds 0.36 --out benchmarks/results/k_selection_nested.csv
  PYTHONPATH=. python benchmarks/k_selection.py --n 12000 --seeds 0-19 --gens simplex,blobs \\
      --stds 0.28 --random-stds 2.0 --out benchmarks/results/k_selection_blobs.csv
  PYTHONPATH=. python benchmarks/k_selection.py --n 3000 --seeds 0-19 \\
      --gens null_uniform,null_gauss --out benchmarks/results/k_selection_null.csv
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segwork.datasets import make_crm
from segwork.features import customer_table
from segwork.segment.estimators import GaussianMixtureSegmenter, KMeansSegmenter
from segwork.segment.preprocess import default_features
from segwork.segment.selection import rank_k, select_k

#: The rule before issue 19 ranked these, with ties to the higher raw prediction strength.
BEFORE = ["silhouette", "calinski_harabasz", "davies_bouldin", "bic", "gap", "prediction_strength"]
KS = range(2, 9)


def crm(sep, seed, n):
    data = make_crm(n, random_state=seed, separation=sep)
    t = customer_table(data.transactions, data.customers, data.survey, observation_end=data.observation_end)
    X = t[default_features(t, "kmeans")]
    return X, data.truth["segment"].reindex(t.index).astype(str).to_numpy()


def simplex_centres(dim=4):
    """The dim + 1 vertices of a regular simplex in ``dim`` dimensions, every pair at distance 1."""
    E = np.eye(dim + 1) - 1.0 / (dim + 1)
    C = E @ np.linalg.svd(E)[2][:dim].T
    return C / np.linalg.norm(C[0] - C[1])


def simplex(std, seed, n):
    X, y = make_blobs(n_samples=n, centers=simplex_centres(), cluster_std=std, random_state=seed)
    return pd.DataFrame(X, columns=list("abcd")), y


def nested_centres():
    """Five centres in two families: three at the corners of a triangle and two on a line (every
    pair within a family 1 apart), the families 2 apart. Cutting in two separates the families."""
    return np.array([[0.0, 0, 0, 0], [1, 0, 0, 0], [0.5, np.sqrt(0.75), 0, 0],
                     [0.25, 0.3, 1.0, 2.0], [0.25, 0.3, 0.0, 2.0]])


def nested(std, seed, n):
    X, y = make_blobs(n_samples=n, centers=nested_centres(), cluster_std=std, random_state=seed)
    return pd.DataFrame(X, columns=list("abcd")), y


def blobs(std, seed, n):
    X, y = make_blobs(n_samples=n, centers=5, n_features=4, cluster_std=std, center_box=(-6, 6), random_state=seed)
    return pd.DataFrame(X, columns=list("abcd")), y


def null(kind, seed, n):
    rng = np.random.default_rng([seed, 19])
    X = rng.uniform(size=(n, 4)) if kind == "uniform" else rng.normal(size=(n, 4))
    return pd.DataFrame(X, columns=list("abcd")), np.zeros(n, dtype=int)


def segmenter(method, gen):
    log = "auto" if gen == "make_crm" else None  # the blobs are symmetric: no log transform
    if method == "kmeans":
        return KMeansSegmenter(random_state=0, log_columns=log)
    return GaussianMixtureSegmenter(random_state=0, log_columns=log)


def before_rule(scores):
    """Mean rank over BEFORE; a tie to the higher raw prediction strength, then the smaller k."""
    crit = [c for c in BEFORE if c in scores and scores[c].notna().any()]
    ranks = pd.DataFrame({c: scores[c].rank(ascending=c in ("davies_bouldin", "bic"), method="min",
                                            na_option="bottom") for c in crit})
    mean = ranks.mean(axis=1).round(12)
    ps = scores["prediction_strength"].fillna(-np.inf)
    order = sorted(scores.index, key=lambda k: (mean[k], -ps[k], k))
    tied = [k for k in order if mean[k] == mean[order[0]]]
    return int(order[0]), tied


def evaluate(X, truth, method, gen, seed, tables=None):
    t0 = time.perf_counter()
    scores = select_k(X, segmenter(method, gen), KS, random_state=seed)
    if tables is not None:
        tables.append(scores.reset_index())
    seconds = time.perf_counter() - t0
    before, before_tied = before_rule(scores)
    ranking = rank_k(scores)
    ps, ex = scores["prediction_strength"], scores["prediction_strength_excess"]
    row = {"before_k": before, "now_k": ranking.k, "runner_up": ranking.runner_up,
           "before_tied": ",".join(map(str, before_tied)) if len(before_tied) > 1 else "",
           "now_tied": ",".join(map(str, ranking.tied)) if len(ranking.tied) > 1 else "",
           "now_decided_by": ranking.table.loc[ranking.k, "decided_by"],
           "ps_best": int(ps.idxmax()), "excess_best": int(ex.idxmax()),
           "ps2_above_ps5": bool(ps.loc[2] > ps.loc[5]), "excess2_above_excess5": bool(ex.loc[2] > ex.loc[5])}
    if not gen.startswith("null"):
        ari = {}
        for k in {before, ranking.k, 5}:
            est = segmenter(method, gen).set_params(n_clusters=k, random_state=seed).fit(X)
            ari[k] = adjusted_rand_score(truth, est.labels_)
        row.update(before_ari=ari[before], now_ari=ari[ranking.k], ari_at_5=ari[5])
    row["seconds"] = seconds
    return row, ranking


def distribution(out: pd.DataFrame) -> pd.DataFrame:
    """Per generator, parameter, method and rule: how often each k was chosen, ARI quantiles, ARI >= 0.7."""
    rows = []
    for (gen, par, method), g in out.groupby(["generator", "param", "method"], sort=False):
        for rule in ("before", "now"):
            ks = g[f"{rule}_k"].value_counts().sort_index()
            r = {"generator": gen, "param": f"{par:g}", "method": method, "rule": rule, "data sets": len(g),
                 "k chosen (k: times)": " ".join(f"{k}:{c}" for k, c in ks.items()),
                 "ties": int((g[f"{rule}_tied"].astype(object).fillna("").astype(str) != "").sum()),
                 "PS(2) > PS(5)": int(g["ps2_above_ps5"].sum()),
                 "excess(2) > excess(5)": int(g["excess2_above_excess5"].sum())}
            if f"{rule}_ari" in g and g[f"{rule}_ari"].notna().any():
                a = g[f"{rule}_ari"]
                r.update({"ARI min": a.min(), "ARI q10": a.quantile(0.1), "ARI median": a.median(),
                          "ARI >= 0.7": int((a >= 0.7).sum()),
                          "k=5 gives ARI >= 0.7": int((g["ari_at_5"] >= 0.7).sum())})
            rows.append(r)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table (for benchmarks/README.md)."""
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:.0f}" if v == int(v) and abs(v) > 1 else f"{v:.2f}")
        return str(v)
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def seeds_of(text):
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gens", default="make_crm,simplex,blobs",
                    help="generators: make_crm, simplex, blobs, null_uniform, null_gauss")
    ap.add_argument("--seps", default="0.6,1.0", help="make_crm separations")
    ap.add_argument("--stds", default="0.28,0.15", help="simplex cluster_std values")
    ap.add_argument("--nested-stds", default="0.36", help="nested cluster_std values")
    ap.add_argument("--random-stds", default="2.0", help="blobs (random centres) cluster_std values")
    ap.add_argument("--seeds", default="0-3", help="'0-19' or '0,1,2'")
    ap.add_argument("--methods", default="kmeans", help="kmeans,gmm")
    ap.add_argument("--n", type=int, default=4000, help="customers (rows) per data set")
    ap.add_argument("--out", default="k_selection.csv")
    ap.add_argument("--verbose", action="store_true", help="print every ranking table")
    ap.add_argument("--summarise", nargs="+", metavar="CSV", help="only print the distribution of earlier runs")
    a = ap.parse_args()
    if a.summarise:
        out = pd.concat([pd.read_csv(f) for f in a.summarise], ignore_index=True)
        print(markdown(distribution(out)))
        return
    warnings.simplefilter("ignore")
    gens = a.gens.split(",")
    rows, tables = [], []
    for seed in seeds_of(a.seeds):
        sets = []
        if "make_crm" in gens:
            sets += [("make_crm", float(s), lambda s=s, seed=seed: crm(float(s), seed, a.n)) for s in a.seps.split(",")]
        if "simplex" in gens:
            sets += [("simplex", float(s), lambda s=s, seed=seed: simplex(float(s), seed, a.n)) for s in a.stds.split(",")]
        if "nested" in gens:
            sets += [("nested", float(s), lambda s=s, seed=seed: nested(float(s), seed, a.n))
                     for s in a.nested_stds.split(",")]
        if "blobs" in gens:
            sets += [("blobs", float(s), lambda s=s, seed=seed: blobs(float(s), seed, a.n))
                     for s in a.random_stds.split(",")]
        sets += [(g, 0.0, lambda g=g, seed=seed: null(g.split("_")[1], seed, a.n)) for g in gens if g.startswith("null")]
        for gen, par, make in sets:
            X, y = make()
            for method in a.methods.split(","):
                tabs = []
                res, ranking = evaluate(X, y, method, gen, seed, tabs)
                rows.append({"generator": gen, "param": par, "seed": seed, "n": a.n, "method": method, **res})
                tables.append(tabs[0].assign(generator=gen, param=par, seed=seed, n=a.n, method=method))
                pd.concat(tables).to_csv(a.out.replace(".csv", "_tables.csv"), index=False)
                print(pd.DataFrame(rows[-1:]).round(3).to_string(header=len(rows) == 1, index=False), flush=True)
                if a.verbose:
                    print(ranking.summary())
                    print(ranking.table.round(3).to_string())
                pd.DataFrame(rows).to_csv(a.out, index=False)
    print()
    print(distribution(pd.DataFrame(rows)).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
