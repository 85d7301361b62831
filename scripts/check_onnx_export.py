#!/usr/bin/env python3
"""Checks an ONNX file written by `zcnas export-onnx` with the ONNX tools themselves.

Usage: check_onnx_export.py MODEL.onnx INPUT.f32 EXPECTED.f32 N C H W K

* onnx.checker.check_model(full_check=True) and strict shape inference must pass;
* onnxruntime (graph optimisations off: with its defaults onnxruntime 1.32 computes wrong
  training-mode BatchNormalization outputs, see shared/reference/README.md) runs the model on
  INPUT (float32 raw, [N, C, H, W]) and its logits must match EXPECTED (float32 raw, [N, K], the
  engine's) to 1e-4 relative to the largest logit.

Needs onnx==1.23.2, onnxruntime==1.32.0, numpy (pinned as the reference fixtures' generator).
Prints one line and exits 0 on success, 1 on a mismatch.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> int:
    path, xin, yexp = sys.argv[1:4]
    n, c, h, w, k = (int(v) for v in sys.argv[4:9])
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    x = np.fromfile(xin, dtype=np.float32).reshape(n, c, h, w)
    expected = np.fromfile(yexp, dtype=np.float32).reshape(n, k)
    name = sess.get_inputs()[0].name
    y = sess.run(None, {name: x.astype(np.float32 if sess.get_inputs()[0].type == "tensor(float)" else np.float64)})[0]
    err = float(np.max(np.abs(y - expected)) / max(float(np.max(np.abs(expected))), 1e-30))
    ok = y.shape == expected.shape and err < 1e-4
    print(f"{path}: onnx checker ok, onnxruntime logits {y.shape} vs engine: max relative error {err:.2e} {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
