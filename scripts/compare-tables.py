#!/usr/bin/env python3
"""Compares two NAS-Bench-201 score tables (zcnas export, .csv or .csv.gz) row by row: how many
architectures changed a value, the largest relative change per proxy, and the Spearman rho against
the benchmark's test accuracy with the old and the new values, over the architectures both tables
hold for that proxy (e.g. the rows a partial regeneration replaced).

    scripts/compare-tables.py OLD NEW --dataset cifar10|cifar100 [--only-new-numerics]

--only-new-numerics: restrict to the rows of NEW that carry a numerics version (the regenerated
ones) while OLD's are empty or different. Ground truth: Datasets/nasbench201/nb201.csv.
"""
import argparse, csv, gzip, math, os, sys
from collections import defaultdict
from scipy.stats import spearmanr

def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        return {(int(r["arch_index"]), r["metric"]): r for r in csv.DictReader(f)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old"); ap.add_argument("new")
    ap.add_argument("--dataset", required=True, choices=["cifar10", "cifar100"])
    ap.add_argument("--only-new-numerics", action="store_true")
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    truth = {}
    with open(os.path.join(root, "Datasets/nasbench201/nb201.csv"), newline="") as f:
        for r in csv.DictReader(f):
            v = float(r[f"{a.dataset}_test_acc"])
            if math.isfinite(v): truth[int(r["index"])] = v
    old, new = read(a.old), read(a.new)
    keys = sorted(set(old) & set(new))
    if a.only_new_numerics:
        keys = [k for k in keys if new[k]["numerics"] and new[k]["numerics"] != old[k].get("numerics", "")]
    if not keys: sys.exit("compare-tables.py: no rows in common" + (" with new numerics" if a.only_new_numerics else ""))
    changed_archs = set()
    per = defaultdict(lambda: {"rows": 0, "changed": 0, "maxrel": 0.0, "pairs": []})
    for k in keys:
        o, n = old[k], new[k]
        m = per[k[1]]
        m["rows"] += 1
        if (o["value"], o["missing_reason"]) != (n["value"], n["missing_reason"]):
            m["changed"] += 1; changed_archs.add(k[0])
            if o["value"] and n["value"]:
                ov, nv = float(o["value"]), float(n["value"])
                m["maxrel"] = max(m["maxrel"], abs(nv - ov) / max(abs(ov), 1e-300))
        if o["value"] and n["value"] and k[0] in truth:
            m["pairs"].append((float(o["value"]), float(n["value"]), truth[k[0]]))
    print(f"{len(set(k[0] for k in keys))} architectures compared, {len(changed_archs)} changed at least one value")
    print(f"{'proxy':<12} {'rows':>7} {'changed':>8} {'max rel change':>15} {'rho old':>10} {'rho new':>10} {'|diff|':>9}")
    for metric in sorted(per):
        m = per[metric]
        if len(m["pairs"]) > 2:
            ro = spearmanr([p[0] for p in m["pairs"]], [p[2] for p in m["pairs"]])[0]
            rn = spearmanr([p[1] for p in m["pairs"]], [p[2] for p in m["pairs"]])[0]
        else:
            ro = rn = float("nan")
        print(f"{metric:<12} {m['rows']:>7} {m['changed']:>8} {m['maxrel']:>15.2e} {ro:>10.6f} {rn:>10.6f} {abs(rn - ro):>9.1e}")

if __name__ == "__main__":
    main()
