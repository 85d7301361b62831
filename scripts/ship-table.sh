#!/usr/bin/env bash
# Builds a shipped NAS-Bench-201 score table from a (possibly partial) regeneration store, keeping
# the rows of the table now shipped for architectures the regeneration has not reached yet.
#
#   [METRICS=a,b,c] scripts/ship-table.sh cifar10|cifar100 REGEN_STORE [NUMERICS]
#
# - METRICS: the proxies taken from the store (default: the nine of scripts/score-full.sh); an
#   architecture is taken only when the store holds all of them for it. Rows of other proxies in
#   the shipped table are kept, so a store of proxies the table lacks (e.g. METRICS=meco) adds
#   them.
# - REGEN_STORE: the store scripts/score-full.sh fills (it is only read: a consistent copy is
#   taken with SQLite's .backup, so the scoring processes may keep running).
# - NUMERICS: the numerics version (zcnas's Numerics.version) of the binary that filled the store,
#   given only for rows it wrote before versions were recorded (NULL numerics); rows that carry a
#   version keep it. Omit it when every row has one.
# Result: Datasets/nb201-scores/nb201_DATASET_seed0_b64.csv.gz, every regenerated row with its
# numerics version, the others as they were (numerics empty = from earlier builds, not
# reproducible bit for bit); the script prints how many of each.
set -euo pipefail
dataset=${1:?usage: scripts/ship-table.sh cifar10|cifar100 REGEN_STORE [NUMERICS]}
regen=${2:?usage: scripts/ship-table.sh cifar10|cifar100 REGEN_STORE [NUMERICS]}
numerics=${3:-}
case "$dataset" in cifar10|cifar100) ;; *) echo "ship-table.sh: dataset must be cifar10 or cifar100, got '$dataset'" >&2; exit 2 ;; esac
# The proxies to take (checked before any work).
metrics=${METRICS:-grad_norm,snip,grasp,fisher,synflow,jacob_cov,nwot,params,flops}
[[ "$metrics" =~ ^[a-z0-9_]+(,[a-z0-9_]+)*$ ]] || { echo "ship-table.sh: METRICS must be comma-separated proxy names, got '$metrics'" >&2; exit 2; }
dup=$(tr , '\n' <<< "$metrics" | sort | uniq -d | head -1)
[ -z "$dup" ] || { echo "ship-table.sh: METRICS names '$dup' twice" >&2; exit 2; }
list="'${metrics//,/\',\'}'"
[ -f "$regen" ] || { echo "ship-table.sh: $regen: no such store" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
zcnas=${ZCNAS:-$root/.build/release/zcnas}
[ -x "$zcnas" ] || { echo "ship-table.sh: $zcnas not found; run 'swift build -c release' first (or set ZCNAS)" >&2; exit 2; }
table=$root/Datasets/nb201-scores/nb201_${dataset}_seed0_b64.csv.gz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sqlite3 -cmd '.timeout 60000' "$regen" ".backup '$tmp/regen.sqlite'"  # waits for the scoring processes' write transactions
# Opening the copy with zcnas applies the store migrations (the numerics column among them).
"$zcnas" export --store "$tmp/regen.sqlite" --dataset "$dataset" --output "$tmp/unlabelled.csv" >/dev/null
if [ -n "$numerics" ]; then
  sqlite3 "$tmp/regen.sqlite" "UPDATE scores SET numerics = '$numerics' WHERE numerics IS NULL"
fi
unlabelled=$(sqlite3 "$tmp/regen.sqlite" "SELECT COUNT(*) FROM scores WHERE numerics IS NULL")
[ "$unlabelled" = 0 ] || { echo "ship-table.sh: $unlabelled rows of $regen have no numerics version; give NUMERICS" >&2; exit 2; }
# Only the chosen proxies, and only whole architectures (all of them), are taken from the store.
count=$(awk -F, '{ print NF }' <<< "$metrics")
sqlite3 "$tmp/regen.sqlite" "DELETE FROM scores WHERE metric NOT IN ($list)"
sqlite3 "$tmp/regen.sqlite" "DELETE FROM scores WHERE arch_index IN (SELECT arch_index FROM scores GROUP BY arch_index HAVING COUNT(DISTINCT metric) < $count)"
"$zcnas" export --store "$tmp/regen.sqlite" --dataset "$dataset" --output "$tmp/regen.csv" >/dev/null
"$zcnas" import "$table" --store "$tmp/ship.sqlite" >/dev/null
"$zcnas" import "$tmp/regen.csv" --store "$tmp/ship.sqlite" --replace
"$zcnas" export --store "$tmp/ship.sqlite" --dataset "$dataset" --output "$tmp/ship.csv.gz" >/dev/null
mv "$tmp/ship.csv.gz" "$table"
sqlite3 "$tmp/ship.sqlite" "SELECT COALESCE(numerics, '(earlier builds)'), COUNT(DISTINCT arch_index), COUNT(*) FROM scores GROUP BY numerics" |
  awk -F'|' '{ printf "%s: %d architectures, %d rows\n", $1, $2, $3 }'
echo "wrote $table"
