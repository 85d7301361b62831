#!/usr/bin/env bash
# Regenerates the committed search trajectories read by Notebooks/search.ipynb from the shipped
# score table. CLITests (SearchCommandTests.testCommittedTrajectoriesAreReproduced) runs the same
# commands and requires identical files, so the committed data never goes stale.
# Usage: scripts/search-data.sh [path/to/zcnas]
set -euo pipefail
cd "$(dirname "$0")/.."
zcnas=${1:-.build/release/zcnas}
tmp=$(mktemp -d)
store=$tmp/search.sqlite
"$zcnas" import Datasets/nb201-scores/nb201_cifar10_seed0_b64.csv.gz --store "$store"
for s in robot rea random; do
  "$zcnas" robot --store "$store" --dataset cifar10 --strategy "$s" --seeds 10..19 --budget 20 --output "Notebooks/data/search_cifar10_$s.csv"
done
rm -rf "$tmp"
