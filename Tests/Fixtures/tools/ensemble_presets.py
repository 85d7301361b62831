"""Expected scores of the named log-rank ensembles (LogRankEnsembleTests.testPresetsMatchScipy).

Independent of the engine: scipy.stats.rankdata (ascending, ties averaged) of each member over the
population, a missing value (None) as -inf (ranked below every present value, the missing ones
tied), score = sum over members of log(rank / L), as the AZ-NAS notebook (cvlab-yonsei/AZ-NAS
NB201/tss_general.ipynb) and VKDNW_agg (Tybl & Neumann 2025) aggregate. Every member here is
higher-is-better. Run: python3 ensemble_presets.py (scipy==1.17.1, numpy==2.4.6).
"""
import numpy as np
from scipy import stats

# Columns in the order of the union below; None = missing.
union = ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops", "vkdnw_entropy", "jacob_cov"]
rows = [
    [310.5, 0.81, -1.9, 120.0, 1.52, -65.0],
    [305.0, None, -2.4, 80.5, 1.61, -63.0],
    [298.2, 0.77, -1.9, 120.0, None, -70.0],
    [None, None, -5.0, 15.6, 1.40, -80.0],
    [312.9, 0.92, -1.2, 153.0, 1.58, None],
    [301.4, 0.55, -3.3, 80.5, 1.61, -66.5],
    [305.0, 0.60, -2.0, 46.8, 1.33, -64.1],
]
presets = {
    "az_nas": ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops"],
    "vkdnw_agg": ["vkdnw_entropy", "jacob_cov", "az_nas_expressivity", "az_nas_trainability", "flops"],
}
L = len(rows)
def preset_scores(members):
    total = np.zeros(L)
    for m in members:
        c = union.index(m)
        x = np.array([-np.inf if r[c] is None else r[c] for r in rows])
        total += np.log(stats.rankdata(x) / L)
    return total
scores = {name: preset_scores(members) for name, members in presets.items()}
for name, total in scores.items():
    print(name, [float(v) for v in total])

# EnsembleCLITests.testPresetsThroughTheCLI: the same rows as architectures 0..6 of NAS-Bench-201,
# Spearman rho and Kendall tau of each preset's score against cifar10_test_acc
# (Datasets/nasbench201/nb201.csv), as `zcnas correlate --ensemble NAME` reports them.
import csv, pathlib
table = pathlib.Path(__file__).resolve().parents[3] / "Datasets" / "nasbench201" / "nb201.csv"
acc = {}
with open(table) as f:
    for r in csv.DictReader(f):
        if int(r["index"]) < L:
            acc[int(r["index"])] = float(r["cifar10_test_acc"])
y = [acc[i] for i in range(L)]
for name, total in scores.items():
    print(name, "spearman", float(stats.spearmanr(total, y)[0]), "kendall", float(stats.kendalltau(total, y)[0]))
