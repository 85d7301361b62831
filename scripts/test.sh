#!/usr/bin/env bash
# The project's test command: executes the notebooks headless on the committed exports, runs the Ray
# driver's tests on a local two-node Ray cluster, then the Swift test suite. Installs what a fresh
# Debian machine lacks (system libraries, Python packages).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libopenblas-dev liblapacke-dev libsqlite3-dev zlib1g-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libopenblas-dev liblapacke-dev libsqlite3-dev zlib1g-dev
fi
# The Python packages, pinned in python/requirements-ci.txt; installed only when one is missing or another version.
if ! python3 - python/requirements-ci.txt <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        try:
            have = version(name)
        except PackageNotFoundError:
            sys.exit(1)
        if have != want:
            sys.exit(1)
PY
then
  python3 -m pip install -q -r python/requirements-ci.txt
fi
# The Ray driver, from this checkout (its dependencies are the pins above).
python3 -m pip install -q --no-deps ./python
for nb in Notebooks/*.ipynb; do
  echo "+ executing $nb"
  MPLBACKEND=Agg python3 - "$nb" <<'PY'
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "Notebooks"}}).execute()
print(f"{path}: {len(nb.cells)} cells executed")
PY
done
# The Ray driver's tests on a real two-node Ray cluster on this machine (a head and a worker, one CPU
# each), with the debug zcnas that the Swift tests use too (its numeric targets are built with -O).
swift build
export ZCNAS="$PWD/.build/debug/zcnas"
export RAY_USAGE_STATS_ENABLED=0
# A loopback-only test cluster: no token, even where ~/.ray/auth_token exists (ray start --address would not send it).
export RAY_AUTH_MODE=disabled
ray_port=${ZCNAS_RAY_PORT:-6390}
# `ray stop` ends every Ray process of this machine's user: run the tests where no other Ray runs.
trap 'ray stop --force >/dev/null 2>&1 || true' EXIT
ray start --head --node-ip-address 127.0.0.1 --port "$ray_port" --num-cpus 1 --include-dashboard=false --object-store-memory 100000000 --disable-usage-stats >/dev/null
ray start --address "127.0.0.1:$ray_port" --node-ip-address 127.0.0.1 --num-cpus 1 --object-store-memory 100000000 --disable-usage-stats >/dev/null
echo "+ Ray cluster: head and one worker node at 127.0.0.1:$ray_port"
RAY_ADDRESS="127.0.0.1:$ray_port" python3 -m pytest -q -p no:cacheprovider -p no:benchmark python/tests
ray stop >/dev/null
trap - EXIT
# Test cases run in one worker process per core (each case in its own process): on a 2-core AVX2
# machine 10 min instead of 14.6 serially. The suite's cases use their own temporary folders and
# stores, so they do not interfere.
swift test --disable-swift-testing --parallel --num-workers "$(nproc)"
