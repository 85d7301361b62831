import ZCTensor

/// Exact GELU subgraphs of a graph, run as one ``gelu(_:)`` (ZCAutodiff) instead of node by node.
///
/// PyTorch's exporter writes `F.gelu(x)` (approximate = 'none') below opset 20 as
/// `Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)` (torch/onnx `symbolic_opset9.gelu`), with √2 stored
/// in the input's dtype: 1.41421353816986 in a float32 graph, 1.7e-8 away from √2. PyTorch itself
/// computed the exact GELU, so a float64 engine that ran the nodes literally would differ from the
/// reference's float64 values by about that much (measured on `onnx_vit_tiny`: zico 4e-7, the
/// other proxies 1e-9, where the reference's float64 spread is 1e-12). A match needs: the divisor a
/// constant within 1e-6 of √2 (or a multiplier within 1e-6 of 1/√2), the constants 1 and 0.5
/// exactly, either operand order in Add and Mul, both Mul's reading the same x, and every
/// intermediate value read by the next node of the pattern only (not a graph output).
struct GELUFusion {
  /// Node index of the final `Mul` → the name of x.
  var geluAt: [Int: String] = [:]
  /// The pattern's other nodes (Div or Mul, Erf, Add, inner Mul), not run.
  var skipped: Set<Int> = []

  init(_ g: ONNXGraph) {
    var producerIndex: [String: Int] = [:]
    for (k, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty && producerIndex[o] == nil { producerIndex[o] = k } }
    var uses: [String: Int] = [:]
    for n in g.nodes { for i in n.inputs where !i.isEmpty { uses[i, default: 0] += 1 } }
    for o in g.outputs { uses[o.name, default: 0] += 1 }

    func scalar(_ name: String) -> Double? {
      func one(_ t: ONNXTensorValue) -> Double? {
        switch t {
        case let .float(v): return v.count == 1 ? v.doubles[0] : nil
        case let .int(d, _): return d.count == 1 ? Double(d[0]) : nil
        }
      }
      if let t = g.initializers[name] { return one(t) }
      guard let k = producerIndex[name], g.nodes[k].opType == "Constant" else { return nil }
      switch g.nodes[k].attributes["value"] {
      case let .tensor(t)?: return one(t)
      default: return g.nodes[k].attributes["value_float"].flatMap { if case let .float(f) = $0 { return f } else { return nil } }
      }
    }
    /// The node producing `name` when it is `op`, read once, in the default domain.
    func single(_ name: String, _ op: String) -> (Int, ONNXNode)? {
      guard uses[name] == 1, let k = producerIndex[name], g.nodes[k].opType == op, g.nodes[k].domain.isEmpty,
            g.nodes[k].inputs.count == 2 || op == "Erf" else { return nil }
      return (k, g.nodes[k])
    }
    /// (the other operand, the constant) of a binary node with one constant operand.
    func withConstant(_ n: ONNXNode, _ value: (Double) -> Bool) -> String? {
      guard n.inputs.count == 2 else { return nil }
      if let c = scalar(n.inputs[1]), value(c) { return n.inputs[0] }
      if let c = scalar(n.inputs[0]), value(c) { return n.inputs[1] }
      return nil
    }
    let root2 = 2.0.squareRoot()
    for (k, outer) in g.nodes.enumerated() where outer.opType == "Mul" && outer.domain.isEmpty && !(outer.outputs.first ?? "").isEmpty {
      guard let mName = withConstant(outer, { $0 == 0.5 }), let (km, m) = single(mName, "Mul") else { continue }
      for (xName, aName) in [(m.inputs[0], m.inputs[1]), (m.inputs[1], m.inputs[0])] {
        guard let (ka, a) = single(aName, "Add"), let eName = withConstant(a, { $0 == 1 }),
              let (ke, e) = single(eName, "Erf"), e.inputs.count == 1, let (kd, d) = producerIndex[e.inputs[0]].map({ ($0, g.nodes[$0]) }),
              uses[e.inputs[0]] == 1, d.domain.isEmpty, d.inputs.count == 2 else { continue }
        let scaled: Bool
        switch d.opType {
        case "Div": scaled = d.inputs[0] == xName && scalar(d.inputs[1]).map { Swift.abs($0 - root2) < 1e-6 } == true
        case "Mul": scaled = withConstant(d, { Swift.abs($0 - 1 / root2) < 1e-6 }) == xName
        default: scaled = false
        }
        guard scaled, xName != aName else { continue }
        geluAt[k] = xName
        skipped.formUnion([km, ka, ke, kd])
        break
      }
    }
  }
}
