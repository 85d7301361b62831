"""scripts/compare-tables.py on two small hand-made tables whose differences are known.

Ground truth is the shipped Datasets/nasbench201/nb201.csv: the OLD values are the architectures'
CIFAR-10 test accuracies themselves (Spearman rho +1 by construction) and the NEW ones -3 times
them (rho -1), so the expected rho values do not come from the script's own arithmetic.
"""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "compare-tables.py")
FIELDS = ["space", "dataset", "arch_index", "arch", "metric", "seed", "batch_size", "init", "batch",
          "dtype", "value", "missing_reason", "seconds", "engine_version", "numerics"]


def truth(n):
    with open(os.path.join(ROOT, "Datasets", "nasbench201", "nb201.csv"), newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    return [(int(r["index"]), r["arch"], float(r["cifar10_test_acc"])) for r in rows]


def write(path, rows):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for index, arch, metric, value, reason, numerics in rows:
            w.writerow({"space": "nb201", "dataset": "cifar10", "arch_index": index, "arch": arch,
                        "metric": metric, "seed": 0, "batch_size": 64, "init": "pytorch-default",
                        "batch": "sampled", "dtype": "float32", "value": value,
                        "missing_reason": reason, "seconds": 0.1, "engine_version": "0.1.0",
                        "numerics": numerics})


def run(old, new, *extra):
    return subprocess.run([sys.executable, SCRIPT, old, new, "--dataset", "cifar10", *extra],
                          capture_output=True, text=True)


def row_of(output, metric):
    line = next(l for l in output.splitlines() if l.split()[:1] == [metric])
    name, rows, changed, maxrel, rho_old, rho_new, diff = line.split()
    return int(rows), int(changed), float(maxrel), float(rho_old), float(rho_new), float(diff)


def test_counts_relative_change_and_rho(tmp_path):
    archs = truth(6)
    old = [(i, a, "snip", repr(acc), "", "") for i, a, acc in archs]
    old += [(i, a, "nwot", "1.0", "", "") for i, a, _ in archs]
    # snip: every value times -3 (rho -1; relative change |-3a - a| / |a| = 4, and 4/3 if the
    # script divided by the new value); nwot: architecture 5 becomes missing, the others unchanged.
    new = [(i, a, "snip", repr(-3 * acc), "", "n1") for i, a, acc in archs]
    new += [(i, a, "nwot", "" if i == 5 else "1.0", "nan" if i == 5 else "", "n1") for i, a, _ in archs]
    write(str(tmp_path / "old.csv.gz"), old)
    write(str(tmp_path / "new.csv"), new)
    r = run(str(tmp_path / "old.csv.gz"), str(tmp_path / "new.csv"))
    assert r.returncode == 0, r.stderr
    assert "6 architectures compared, 6 changed at least one value" in r.stdout
    rows, changed, maxrel, rho_old, rho_new, diff = row_of(r.stdout, "snip")
    assert (rows, changed) == (6, 6)
    assert abs(maxrel - 4.0) < 1e-9
    assert abs(rho_old - 1.0) < 1e-6 and abs(rho_new + 1.0) < 1e-6 and abs(diff - 2.0) < 1e-6
    rows, changed, maxrel, *_ = row_of(r.stdout, "nwot")
    assert (rows, changed, maxrel) == (6, 1, 0.0)  # a value that became missing has no relative change


def test_a_value_that_becomes_missing_counts_as_a_change(tmp_path):
    archs = truth(4)
    old = [(i, a, "nwot", "1.0", "", "") for i, a, _ in archs]
    new = [(i, a, "nwot", "" if i == 2 else "1.0", "nan" if i == 2 else "", "n1") for i, a, _ in archs]
    write(str(tmp_path / "old.csv"), old)
    write(str(tmp_path / "new.csv"), new)
    r = run(str(tmp_path / "old.csv"), str(tmp_path / "new.csv"))
    assert r.returncode == 0, r.stderr
    assert "4 architectures compared, 1 changed at least one value" in r.stdout


def test_only_new_numerics_keeps_regenerated_rows(tmp_path):
    archs = truth(4)
    old = [(i, a, "snip", repr(acc), "", "") for i, a, acc in archs]
    # Architectures 0 and 1 were regenerated (numerics set); 2 changed without one; 3 carries the
    # same numerics in both tables (an earlier regeneration), so it is not new either.
    old[3] = (old[3][0], old[3][1], "snip", old[3][3], "", "n1")
    new = [(i, a, "snip", repr(acc + 1), "", "n1" if i in (0, 1, 3) else "") for i, a, acc in archs]
    write(str(tmp_path / "old.csv"), old)
    write(str(tmp_path / "new.csv"), new)
    r = run(str(tmp_path / "old.csv"), str(tmp_path / "new.csv"), "--only-new-numerics")
    assert r.returncode == 0, r.stderr
    assert "2 architectures compared, 2 changed at least one value" in r.stdout
    rows, changed, *_ = row_of(r.stdout, "snip")
    assert (rows, changed) == (2, 2)


def test_no_rows_in_common_is_an_error(tmp_path):
    archs = truth(3)
    write(str(tmp_path / "old.csv"), [(i, a, "snip", "1.0", "", "") for i, a, _ in archs])
    write(str(tmp_path / "new.csv"), [(i, a, "nwot", "1.0", "", "n1") for i, a, _ in archs])
    r = run(str(tmp_path / "old.csv"), str(tmp_path / "new.csv"))
    assert r.returncode != 0
    assert "no rows in common" in r.stderr
