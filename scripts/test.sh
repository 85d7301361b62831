#!/usr/bin/env bash
# The project's test command: executes the notebooks headless on the committed exports, then runs
# the Swift test suite. Installs what a fresh Debian machine lacks (system libraries, Python packages).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libopenblas-dev liblapacke-dev libsqlite3-dev zlib1g-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libopenblas-dev liblapacke-dev libsqlite3-dev zlib1g-dev
fi
if ! python3 -c "import nbclient, nbformat, ipykernel, matplotlib, scipy, numpy" >/dev/null 2>&1; then
  python3 -m pip install -q nbclient nbformat ipykernel matplotlib scipy numpy
fi
# The ONNX export check (Tests/MetricsTests/ONNXExportTests, scripts/check_onnx_export.py), pinned as the ONNX fixtures' generator.
if ! python3 -c "import onnx, onnxruntime" >/dev/null 2>&1; then
  python3 -m pip install -q onnx==1.23.2 onnxruntime==1.32.0
fi
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
swift test --disable-swift-testing
