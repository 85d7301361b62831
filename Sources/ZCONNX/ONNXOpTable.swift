/// The ONNX operators the graph network runs (default domain, ai.onnx), with the attributes it
/// reads. The table in docs/onnx.md is this one. An op outside it is refused when the network is
/// built, with the node, op type and opset.
public enum ONNXOpTable {
  /// Op type → supported attributes and inputs (documentation and `zcnas onnx-ops`).
  public static let supported: [String: String] = [
    "Conv": "2-D only; group, strides, pads (asymmetric too), dilations, kernel_shape, auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER); bias input optional",
    "BatchNormalization": "epsilon, training_mode (1: batch statistics in training mode; 0: running statistics); momentum ignored (running statistics not updated); extra outputs unused",
    "Relu": "-", "LeakyRelu": "alpha", "Sigmoid": "-", "Tanh": "-",
    "Clip": "min/max as inputs (opset >= 11) or attributes (opset < 11); gradient 1 strictly inside (lo, hi)",
    "HardSigmoid": "alpha, beta", "HardSwish": "-",
    "Add": "broadcasting", "Sub": "broadcasting", "Mul": "broadcasting", "Div": "broadcasting (integer division truncates on shape arithmetic)",
    "Pow": "exponent a constant scalar", "Sqrt": "-", "Exp": "-", "Log": "-", "Neg": "-", "Abs": "-", "Reciprocal": "-",
    "Concat": "axis", "Split": "axis, split (attribute or input), num_outputs",
    "Slice": "starts, ends, axes, steps as inputs (opset >= 10) or attributes; step 1 on float tensors",
    "MaxPool": "2-D; kernel_shape, strides, pads, dilations, ceil_mode, auto_pad NOTSET/VALID; Indices output not supported",
    "AveragePool": "2-D; square kernel_shape, equal strides, equal pads, count_include_pad, ceil_mode when it does not change the output size",
    "GlobalAveragePool": "-", "Flatten": "axis", "Reshape": "shape input, allowzero", "Transpose": "perm",
    "Squeeze": "axes (attribute or input)", "Unsqueeze": "axes (attribute or input)", "Expand": "shape input",
    "Gemm": "alpha, beta, transA, transB; C optional", "MatMul": "NumPy matmul: 1-D operands, rank-2 weights shared over batch axes, batch axes broadcast (rank >= 3)",
    "Softmax": "axis (opset >= 13: one axis, default -1; opset < 13: default 1, input coerced to 2-D)",
    "LayerNormalization": "axis (trailing axes from it are normalised), epsilon; scale, optional bias (shapes broadcasting to the normalised shape); computed in the network's dtype (stash_type unused); Mean and InvStdDev outputs",
    "Erf": "-", "Gelu": "approximate (none, tanh)",
    "ReduceMean": "axes (attribute, or input at opset >= 18), keepdims, noop_with_empty_axes",
    "Identity": "-", "Dropout": "ratio (input or attribute) must be 0 or training_mode false; mask output not supported",
    "Constant": "value, value_float, value_floats, value_int, value_ints",
    "Shape": "start, end", "Gather": "axis; integer indices", "Cast": "to: float, double (float tensors), integer and bool types",
    "ConstantOfShape": "value", "Equal": "integer tensors", "Where": "integer condition", "Mod": "integer tensors, fmod 0",
  ]

  /// The node's op outside the supported set, as a one-line message, or nil.
  public static func problem(_ n: ONNXNode, _ g: ONNXGraph) -> String? {
    if !n.domain.isEmpty { return "\(g.fileName): node \(n.label) is in domain '\(n.domain)' (opset \(g.opset) of ai.onnx); only the default domain is supported" }
    if supported[n.opType] == nil { return "\(g.fileName): node \(n.label), opset \(g.opset): op type \(n.opType) is not supported (see `zcnas onnx-ops` and docs/onnx.md)" }
    return nil
  }

  /// - Throws: ``ONNXError`` for the first node whose op is not supported.
  public static func check(_ g: ONNXGraph) throws {
    for n in g.nodes { if let p = problem(n, g) { throw ONNXError(p) } }
  }

  /// A warning when the file looks exported in evaluation mode: batch-norm nodes with
  /// `training_mode` 0 (they use running statistics, so the proxies do not see PyTorch's train-mode
  /// network), or no batch norm at all next to convolutions with biases (batch norm folded into them
  /// by an eval-mode export with constant folding). Nil otherwise.
  public static func evalModeWarning(_ g: ONNXGraph) -> String? {
    let bn = g.nodes.filter { $0.opType == "BatchNormalization" }
    let evalBN = bn.filter { $0.int("training_mode", default: 0) != 1 }.count
    if evalBN > 0 {
      return "\(g.fileName): \(evalBN) of \(bn.count) BatchNormalization nodes have training_mode 0 (an eval-mode export?): they normalise with running statistics, not the batch's; export with training=torch.onnx.TrainingMode.TRAINING (docs/onnx.md)"
    }
    let convs = g.nodes.filter { $0.opType == "Conv" }
    if bn.isEmpty && convs.count >= 2 && convs.allSatisfy({ $0.input(2) != nil }) {
      return "\(g.fileName): no BatchNormalization nodes, and every Conv has a bias: batch norm may have been folded into the convolutions by an eval-mode export; export with training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False"
    }
    return nil
  }

  /// What a file uses: each op type with its node count and whether it is supported.
  public static func usage(_ g: ONNXGraph) -> [(op: String, count: Int, supported: Bool)] {
    g.opCounts.map { ($0.op, $0.count, supported[$0.op] != nil) }
  }
}
