#!/usr/bin/env bash
# Engine vs the PyTorch reference, side by side, in one run (issue 16). Not part of CI: it needs a
# PyTorch environment outside the repository (../shared/tools/README.md):
#   python3 -m venv /opt/zcref && /opt/zcref/bin/pip install torch==2.15.0 numpy==2.4.6 \
#     && /opt/zcref/bin/pip install --no-deps xautodl==1.0.0
# and the zero-cost-nas repository (SamsungLabs/zero-cost-nas) as a git directory, whose
# `foresight` folder is extracted to a temporary folder.
#
# Engine side: the whole `zcnas score` process for one architecture (fresh store, batch 64, seed 0),
# median of --reps runs, wall/user/system seconds and peak RSS from /usr/bin/time. PyTorch side:
# ../shared/tools/zc_baseline.py (in-process medians after warm-up, --threads 2).
#
# Usage: scripts/bench-vs-pytorch.sh [--archs best_c10,pool_1x1_skip,all_conv3x3] [--reps 3] [--ntk]
#        [--threads N (engine threads per network; default: the cores)]
# Env: ZCNAS (default .build/release/zcnas), ZCREF_PYTHON (/opt/zcref/bin/python),
#      ZC_GIT_DIR (the zero-cost-nas git directory), SHARED (../shared), DATASETS (Datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHS=best_c10,pool_1x1_skip,all_conv3x3
REPS=3
NTK=0
THREADS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --archs) ARCHS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --ntk) NTK=1; shift ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "bench-vs-pytorch.sh: unknown argument '$1' (expected --archs, --reps, --ntk, --threads)" >&2; exit 2 ;;
  esac
done
ZCNAS=${ZCNAS:-.build/release/zcnas}
PY=${ZCREF_PYTHON:-/opt/zcref/bin/python}
SHARED=${SHARED:-../shared}
DATASETS=${DATASETS:-Datasets}
ZC_GIT_DIR=${ZC_GIT_DIR:-/work/.mirror/SamsungLabs+zero-cost-nas/repo}
[ -x "$ZCNAS" ] || { echo "bench-vs-pytorch.sh: $ZCNAS: not found; run 'swift build -c release' first" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench-vs-pytorch.sh: ZCREF_PYTHON=$PY: no PyTorch environment (see the header of this script)" >&2; exit 1; }
[ -f "$SHARED/tools/zc_baseline.py" ] || { echo "bench-vs-pytorch.sh: SHARED=$SHARED: tools/zc_baseline.py not found" >&2; exit 1; }
[ -d "$ZC_GIT_DIR" ] || { echo "bench-vs-pytorch.sh: ZC_GIT_DIR=$ZC_GIT_DIR: not a git directory" >&2; exit 1; }
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git --git-dir="$ZC_GIT_DIR" archive HEAD foresight | tar -x -C "$TMP"

arch_string() {
  case "$1" in
    best_c10) echo '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|' ;;
    all_conv3x3) echo '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|' ;;
    pool_1x1_skip) echo '|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|' ;;
    with_none) echo '|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|' ;;
    *) echo "bench-vs-pytorch.sh: --archs: unknown name '$1' (best_c10, all_conv3x3, pool_1x1_skip, with_none)" >&2; exit 2 ;;
  esac
}

# engine_run NAME METRICS -> "wall user sys maxrss_kb" medians (by wall) of REPS whole-process runs
engine_run() {
  local arch metrics=$2 out="$TMP/engine-$1-${2//,/_}.txt"
  arch=$(arch_string "$1")
  : > "$out"
  for _ in $(seq "$REPS"); do
    rm -f "$TMP/store.sqlite"
    # A failed run must not enter the median as a timing (this runs inside $(...), where set -e is off).
    if ! /usr/bin/time -f "%e %U %S %M" -o "$TMP/time.txt" "$ZCNAS" score --dataset cifar10 --archs "$arch" --metrics "$metrics" \
      --batch-size 64 --seed 0 --store "$TMP/store.sqlite" --datasets "$DATASETS" ${THREADS:+--threads "$THREADS"} --quiet > /dev/null; then
      echo "bench-vs-pytorch.sh: zcnas score failed on $1 ($metrics); see above" >&2; return 1
    fi
    tail -1 "$TMP/time.txt" >> "$out"
  done
  sort -n "$out" | sed -n "$(( (REPS + 1) / 2 ))p"
}

# Unknown names fail here, in the script's own shell (inside $(...) an exit would only end the subshell).
for a in ${ARCHS//,/ }; do arch_string "$a" > /dev/null; done
echo "load before: $(uptime)"
SUITE=grad_norm,snip,grasp,fisher,synflow,jacob_cov,nwot
RESULTS="$TMP/engine.tsv"
: > "$RESULTS"
for a in ${ARCHS//,/ }; do
  r=$(engine_run "$a" "$SUITE") || exit 1; echo -e "$a\tsuite\t$r" >> "$RESULTS"
  r=$(engine_run "$a" nwot) || exit 1; echo -e "$a\tnwot\t$r" >> "$RESULTS"
  if [ "$NTK" = 1 ]; then r=$(REPS=1 engine_run "$a" ntk_cond) || exit 1; echo -e "$a\tntk_cond\t$r" >> "$RESULTS"; fi
done
echo "engine (architecture, work, median wall s, user s, sys s, peak KiB):"
cat "$RESULTS"
echo "PyTorch reference (this can take several minutes; its log: $TMP/torch.log) ..."
PYARGS=(--zc-path "$TMP" --threads 2 --archs "$ARCHS" --no-layer-bench --reps "$REPS" --slow-reps "$REPS" --json "$TMP/torch.json")
[ "$NTK" = 1 ] && PYARGS+=(--ntk-reps 1) || PYARGS+=(--no-ntk)
"$PY" "$SHARED/tools/zc_baseline.py" "${PYARGS[@]}" > "$TMP/torch.log" 2>&1 || { cat "$TMP/torch.log" >&2; exit 1; }
echo "load after:  $(uptime)"
python3 - "$RESULTS" "$TMP/torch.json" <<'PY'
import json, sys
torch = json.load(open(sys.argv[2]))
names = {"suite": "all_zc+naswot", "nwot": "naswot", "ntk_cond": "ntk_cond"}
print(f"{'architecture':<15} {'work':<10} {'engine s':>9} {'user':>7} {'sys':>7} {'peak MiB':>8} {'PyTorch s':>10} {'ratio':>6}")
for line in open(sys.argv[1]):
    arch, work, rest = line.rstrip("\n").split("\t")
    wall, user, sys_, rss = rest.split()
    t = torch.get("archs", {}).get(arch, {}).get("timings", {}).get("threads=2", {}).get(names[work], {}).get("median")
    ratio = f"{float(wall) / t:.2f}" if t else "n/a"
    ts = f"{t:.2f}" if t else "n/a"
    print(f"{arch:<15} {work:<10} {float(wall):9.2f} {float(user):7.2f} {float(sys_):7.2f} {int(rss)/1024:8.0f} {ts:>10} {ratio:>6}")
PY
