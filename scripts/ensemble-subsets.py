#!/usr/bin/env python3
"""Ranks every subset of candidate proxies as a log-rank ensemble (docs/metrics.md, "ensemble").

The default candidates are not all label-free: synflow, jacob_cov, nwot, meco and flops use no
labels; snip, grad_norm, fisher and grasp take the loss on the minibatch's labels.

    python3 scripts/ensemble-subsets.py [--table T.csv.gz] [--candidates a,b,c] [--top 15]
                                        [--split SEED] [--top-cells K] [--also a+b,c+d]

Reads a shipped NAS-Bench-201 score table (default: the CIFAR-10 one) and the benchmark's ground
truth (Datasets/nasbench201/nb201.csv). For each non-empty subset of the candidates, the ensemble
score of an architecture is the sum over members of log(rank / L): rank by scipy's rankdata
(ascending, ties averaged) over all L = 15,625 cells, every candidate higher-is-better, a missing
value ranked below every present one. Prints Spearman rho against <dataset>_valid_acc (the
selection criterion) and <dataset>_test_acc (reported, not used to choose), best first.

--split SEED: a held-out check. numpy's default_rng(SEED) permutes the 15,625 cells; the subsets are
ranked by rho against the validation accuracy of the first half (7,812 cells) and the test column
is rho against the test accuracy of the other half (7,813 cells), so the reported number played no
part in the choice. The log-ranks are still taken over all cells, as `zcnas correlate` does.

--top-cells K: for each printed subset, also the test accuracy of the cell the ensemble ranks first
and the mean test accuracy of its first K (ties in the score broken by the lower arch index), over
all cells: what a search that takes the ensemble's best would find.

--also a+b,c+d: also print these subsets (members joined by +, of the candidates) with their place
in the ranking, e.g. the default ensemble synflow+jacob_cov+meco.
"""
import argparse, csv, gzip, itertools, math, os
import numpy as np
from scipy.stats import rankdata, spearmanr

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ap = argparse.ArgumentParser()
ap.add_argument("--table", default=os.path.join(root, "Datasets/nb201-scores/nb201_cifar10_seed0_b64.csv.gz"))
ap.add_argument("--candidates", default="synflow,jacob_cov,nwot,meco,snip,grad_norm,fisher,grasp,flops")
ap.add_argument("--top", type=int, default=15)
ap.add_argument("--split", type=int, default=None, metavar="SEED")
ap.add_argument("--top-cells", type=int, default=None, metavar="K")
ap.add_argument("--also", default="")
args = ap.parse_args()
if args.top_cells is not None and args.top_cells < 1:
    raise SystemExit(f"ensemble-subsets.py: --top-cells expects a positive integer, found {args.top_cells}")
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
also = [tuple(x.split("+")) for x in args.also.split(",") if x]
for a in also:
    unknown = [m for m in a if m not in cands]
    if unknown:
        raise SystemExit(f"ensemble-subsets.py: --also {'+'.join(a)}: {', '.join(unknown)} not among --candidates")
absent = [m for m in cands if not np.isfinite(cols[m]).any()]
if absent:
    raise SystemExit(f"ensemble-subsets.py: {args.table} has no values of {', '.join(absent)}")
prefix = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet16"}[dataset]
valid, test = np.zeros(N), np.zeros(N)
with open(os.path.join(root, "Datasets/nasbench201/nb201.csv")) as f:
    for r in csv.DictReader(f):
        i = int(r["index"]); valid[i] = float(r[f"{prefix}_valid_acc"]); test[i] = float(r[f"{prefix}_test_acc"])
logrank = {m: np.log(rankdata(cols[m]) / N) for m in cands}
if args.split is None:
    choose = report = np.arange(N)
    where = ""
else:
    perm = np.random.default_rng(args.split).permutation(N)
    choose, report = np.sort(perm[: N // 2]), np.sort(perm[N // 2 :])
    where = f" (split {args.split}: chosen on {len(choose)} cells, test on the other {len(report)})"
res = []
for k in range(1, len(cands) + 1):
    for c in itertools.combinations(cands, k):
        s = sum(logrank[m] for m in c)
        res.append((spearmanr(s[choose], valid[choose])[0], spearmanr(s[report], test[report])[0], c))
res.sort(key=lambda r: -r[0])
print(f"{len(res)} subsets of {', '.join(cands)}; {dataset}; rho against {prefix}_valid_acc (chosen on) and {prefix}_test_acc{where}")
shown = [(i, r) for i, r in enumerate(res) if i < args.top or tuple(sorted(r[2])) in {tuple(sorted(a)) for a in also}]
for i, (v, t, c) in shown:
    line = f"#{i + 1:<5d} {v:.4f} valid  {t:.4f} test  {'+'.join(c)}"
    if args.top_cells is not None:
        s = sum(logrank[m] for m in c)
        order = np.lexsort((np.arange(N), -s))
        line += f"  top-1 {test[order[0]]:.2f} (arch {order[0]})  top-{args.top_cells} mean {test[order[: args.top_cells]].mean():.2f}"
    print(line)
