"""How well does the automatic choice of k recover planted segments as they overlap?

For each data set, seed and method (k-means, Gaussian mixture), runs
:func:`segwork.segment.selection.select_k` over k = 2..8 and compares two rules:

* ``old``: the mean rank of silhouette, Calinski-Harabasz, Davies-Bouldin and BIC,
  ties to the smaller k (the rule before the gap statistic and prediction strength);
* ``new``: :func:`segwork.segment.selection.rank_k` (mean rank of those plus the gap
  statistic and the prediction strength; ties by prediction strength).

Each chosen k is refitted (same seed, so the same partition as in ``select_k``) and
scored by the adjusted Rand index (ARI) against the planted segments. Data sets:
``make_crm(n, seed, separation=s)`` on the default k-means features, and an independent
generator, ``sklearn.datasets.make_blobs`` (5 isotropic Gaussian groups in 4 dimensions,
``cluster_std`` = 2: moderately overlapping, k-means at k=5 has ARI about 0.75).

Run:  PYTHONPATH=. python benchmarks/k_selection.py [--seps 1.0,0.6,0.5,0.45] [--seeds 0,1]
      [--n 4000] [--out k_selection.csv]
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
from segwork.segment.clustering import GaussianMixtureSegmenter, KMeansSegmenter, default_features
from segwork.segment.selection import _mean_rank, rank_k, select_k

OLD = ["silhouette", "calinski_harabasz", "davies_bouldin", "bic"]


def crm(sep, seed, n):
    data = make_crm(n, random_state=seed, separation=sep)
    t = customer_table(data.transactions, data.customers, data.survey, observation_end=data.observation_end)
    X = t[default_features(t, "kmeans")]
    return X, data.truth["segment"].reindex(t.index).astype(str).to_numpy()


def blobs(std, seed, n=3000):
    X, y = make_blobs(n_samples=n, centers=5, n_features=4, cluster_std=std, center_box=(-6, 6), random_state=seed)
    return pd.DataFrame(X, columns=list("abcd")), y


def segmenter(method):
    return KMeansSegmenter(random_state=0) if method == "kmeans" else GaussianMixtureSegmenter(random_state=0)


def evaluate(X, truth, method, seed):
    t0 = time.perf_counter()
    scores = select_k(X, segmenter(method), range(2, 9), random_state=seed)
    seconds = time.perf_counter() - t0
    old_rank = _mean_rank(scores, OLD)
    old = int(min(k for k, r in old_rank.items() if r == old_rank.min()))  # the old tie rule: smaller k
    ranking = rank_k(scores)
    ari = {}
    for k in {old, ranking.k, 5}:
        est = segmenter(method).set_params(n_clusters=k, random_state=seed).fit(X)
        ari[k] = adjusted_rand_score(truth, est.labels_)
    return {"old_k": old, "old_ari": ari[old], "new_k": ranking.k, "new_ari": ari[ranking.k],
            "runner_up": ranking.runner_up, "ari_at_5": ari[5], "tied": ",".join(map(str, ranking.tied)),
            "seconds": seconds}, ranking


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seps", default="1.0,0.6,0.5,0.45", help="make_crm separations")
    ap.add_argument("--stds", default="2.0", help="make_blobs cluster_std values")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--methods", default="kmeans,gmm")
    ap.add_argument("--n", type=int, default=4000, help="make_crm customers")
    ap.add_argument("--out", default="k_selection.csv")
    ap.add_argument("--verbose", action="store_true", help="print every ranking table")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        sets = [("make_crm", float(s), lambda s=s, seed=seed: crm(float(s), seed, a.n)) for s in a.seps.split(",") if s]
        sets += [("make_blobs", float(s), lambda s=s, seed=seed: blobs(float(s), seed)) for s in a.stds.split(",") if s]
        for gen, par, make in sets:
            X, y = make()
            for method in a.methods.split(","):
                res, ranking = evaluate(X, y, method, seed)
                rows.append({"generator": gen, "param": par, "seed": seed, "method": method, **res})
                print(pd.DataFrame(rows[-1:]).round(3).to_string(header=len(rows) == 1, index=False), flush=True)
                if a.verbose:
                    print(ranking.summary()); print(ranking.table.round(3).to_string())
                pd.DataFrame(rows).to_csv(a.out, index=False)
    out = pd.DataFrame(rows)
    print(out.groupby(["generator", "param", "method"])[["old_ari", "new_ari", "ari_at_5"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
