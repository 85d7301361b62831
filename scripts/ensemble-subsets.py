#!/usr/bin/env python3
"""Ranks every subset of candidate proxies as a log-rank ensemble (docs/metrics.md, "ensemble").

The default candidates are not all label-free: synflow, jacob_cov, nwot, meco and flops use no
labels; snip, grad_norm, fisher and grasp take the loss on the minibatch's labels.

    python3 scripts/ensemble-subsets.py [--table T.csv.gz] [--candidates a,b,c] [--top 15]

Reads a shipped NAS-Bench-201 score table (default: the CIFAR-10 one) and the benchmark's ground
truth (Datasets/nasbench201/nb201.csv). For each non-empty subset of the candidates, the ensemble
score of an architecture is the sum over members of log(rank / L): rank by scipy's rankdata
(ascending, ties averaged) over all L = 15,625 cells, every candidate higher-is-better, a missing
value ranked below every present one. Prints Spearman rho against <dataset>_valid_acc (the
selection criterion) and <dataset>_test_acc (reported, not used to choose), best first.
"""
import argparse, csv, gzip, itertools, math, os
import numpy as np
from scipy.stats import rankdata, spearmanr

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ap = argparse.ArgumentParser()
ap.add_argument("--table", default=os.path.join(root, "Datasets/nb201-scores/nb201_cifar10_seed0_b64.csv.gz"))
ap.add_argument("--candidates", default="synflow,jacob_cov,nwot,meco,snip,grad_norm,fisher,grasp,flops")
ap.add_argument("--top", type=int, default=15)
args = ap.parse_args()
cands = args.candidates.split(",")
N = 15625
cols = {m: np.full(N, -np.inf) for m in cands}
dataset = None
with gzip.open(args.table, "rt") if args.table.endswith(".gz") else open(args.table) as f:
    for r in csv.DictReader(f):
        dataset = r["dataset"]
        if r["metric"] in cols and r["value"] not in ("", "nan"):
            v = float(r["value"])
            if math.isfinite(v):
                cols[r["metric"]][int(r["arch_index"])] = v
absent = [m for m in cands if not np.isfinite(cols[m]).any()]
if absent:
    raise SystemExit(f"ensemble-subsets.py: {args.table} has no values of {', '.join(absent)}")
prefix = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet16"}[dataset]
valid, test = np.zeros(N), np.zeros(N)
with open(os.path.join(root, "Datasets/nasbench201/nb201.csv")) as f:
    for r in csv.DictReader(f):
        i = int(r["index"]); valid[i] = float(r[f"{prefix}_valid_acc"]); test[i] = float(r[f"{prefix}_test_acc"])
logrank = {m: np.log(rankdata(cols[m]) / N) for m in cands}
res = []
for k in range(1, len(cands) + 1):
    for c in itertools.combinations(cands, k):
        s = sum(logrank[m] for m in c)
        res.append((spearmanr(s, valid)[0], spearmanr(s, test)[0], c))
res.sort(key=lambda r: -r[0])
print(f"{len(res)} subsets of {', '.join(cands)}; {dataset}; rho against {prefix}_valid_acc (chosen on) and {prefix}_test_acc")
for v, t, c in res[: args.top]:
    print(f"{v:.4f} valid  {t:.4f} test  {'+'.join(c)}")
