#!/usr/bin/env bash
# Scores the whole NAS-Bench-201 space (15,625 architectures) with the standard suite on one
# dataset, the way the tables in Datasets/nb201-scores/ are made, then exports the table.
#
#   [METRICS=a,b,c] scripts/score-full.sh cifar10|cifar100 STORE [OUTPUT.csv.gz]
#
# - METRICS: the proxies to score (default: the nine of the first tables); e.g.
#   METRICS=az_nas_expressivity,az_nas_progressivity,az_nas_trainability scores proxies the table
#   lacks, for scripts/ship-table.sh with the same METRICS to add them.
# - Order: the indices in a seeded random order (Python random.Random(2026).shuffle), so every
#   prefix of the run is a uniform random sample of the space.
# - Two `nice -n 19` processes walk that order from both ends into the same store (one per core,
#   one network each). The store is transactional: stop at any time and rerun the same command to
#   continue where it stopped.
# - A new STORE is first seeded with the shipped table's rows that this binary reproduces bit for
#   bit (`zcnas import --reproducible-only`: the same numerics version), so a regeneration shipped
#   partially by scripts/ship-table.sh continues where it stopped, on another machine too (one
#   with AVX-512 or AVX2 + FMA: the direct convolution's two builds give the same bits). The
#   processes use the OpenBLAS core the table's rows name (OPENBLAS_CORETYPE, unless set).
# - When both have finished, the store is exported to OUTPUT (default
#   nb201_DATASET_seed0_b64.csv.gz in the current folder).
# Cost: about 2-3 s per architecture per core on a recent x86-64 core (grasp's double backward is
# half of it), so several hours per dataset on two cores.
set -euo pipefail
dataset=${1:?usage: scripts/score-full.sh cifar10|cifar100 STORE [OUTPUT.csv.gz]}
store=${2:?usage: scripts/score-full.sh cifar10|cifar100 STORE [OUTPUT.csv.gz]}
output=${3:-nb201_${dataset}_seed0_b64.csv.gz}
case "$dataset" in cifar10|cifar100) ;; *) echo "score-full.sh: dataset must be cifar10 or cifar100, got '$dataset'" >&2; exit 2 ;; esac
metrics=${METRICS:-grad_norm,snip,grasp,fisher,synflow,jacob_cov,nwot,params,flops}
[[ "$metrics" =~ ^[a-z0-9_]+(,[a-z0-9_]+)*$ ]] || { echo "score-full.sh: METRICS must be comma-separated proxy names, got '$metrics'" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
zcnas=${ZCNAS:-$root/.build/release/zcnas}
[ -x "$zcnas" ] || { echo "score-full.sh: $zcnas not found; run 'swift build -c release' first (or set ZCNAS)" >&2; exit 2; }
# The OpenBLAS core of the shipped rows (the last part of their numerics version, e.g. haswell):
# this script's processes use it unless OPENBLAS_CORETYPE is set, so that they write rows of the
# same version as the table (zcnas would otherwise pick its own core, e.g. Zen on AMD CPUs).
table=$root/Datasets/nb201-scores/nb201_${dataset}_seed0_b64.csv.gz
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core=$(python3 -c "
import csv, gzip, sys
for r in csv.DictReader(gzip.open(sys.argv[1], 'rt')):
    if r.get('numerics'): print(r['numerics'].rsplit('-', 1)[-1]); break" "$table")
  export OPENBLAS_CORETYPE=${core:-Haswell}
fi
echo "score-full.sh: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" >&2
# Seeding goes to a temporary store moved into place only when the import has finished, so an
# interrupted or failed import never leaves a store that later runs would take as seeded.
if [ ! -e "$store" ]; then
  rm -f "$store.seeding"
  "$zcnas" import "$table" --reproducible-only --store "$store.seeding" --datasets "$root/Datasets"
  mv "$store.seeding" "$store"
fi
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
python3 -c "import random; l = list(range(15625)); random.Random(2026).shuffle(l); print('\n'.join(map(str, l)))" > "$tmp/order.txt"
tac "$tmp/order.txt" > "$tmp/order_rev.txt"
pids=()
for order in order order_rev; do
  nice -n 19 "$zcnas" score --dataset "$dataset" --archs "$tmp/$order.txt" --metrics "$metrics" \
    --batch-size 64 --seed 0 --jobs 1 --threads 1 --store "$store" --datasets "$root/Datasets" &
  pids+=($!)
done
# Each process re-reads the store before every architecture, so once they meet in the middle
# they skip what the other has stored. Either one failing stops the script before the export.
for pid in "${pids[@]}"; do wait "$pid"; done
"$zcnas" export --store "$store" --dataset "$dataset" --output "$output" --datasets "$root/Datasets"
