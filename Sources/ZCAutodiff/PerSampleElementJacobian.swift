import ZCTensor

/// Per-sample derivatives of every output column with respect to single parameter entries, for
/// graphs whose samples are independent (evaluation-mode batch norm, convolutions, pooling,
/// linear layers; VKDNW's Jacobian, Tybl & Neumann 2025).
///
/// For `output` `[B, K]`, parameters θ_1…θ_P (each a leaf) and one flat index e_j per parameter,
/// returns J with J[b, k, j] = ∂ output[b, k] / ∂ θ_j.flat[e_j], as a row-major `[B·K·P]` Float64
/// array. Computed per column k: one backward of the one-hot seed (column k of every row) to the
/// operations that consume a parameter, then each consumer's own backward function once per
/// sample on row b of its batch input and cotangent (sample independence makes row b of the
/// cotangent sample b's alone), keeping entry e_j of the parameter's gradient. A convolution's
/// entry is computed directly instead (``Convolution/weightElementGradientPerSample(_:_:weightShape:element:_:)``,
/// H_out·W_out multiply–adds per sample, summed in Float64). Cost: K batched backward passes plus,
/// per column, H_out·W_out·B per convolution and the other consumers' parameter-gradient kernels
/// split into B batch-of-one calls.
///
/// Supported consumers of a parameter (directly or through `reshape`): `conv2d` and `matmul`
/// with the parameter second, and `multiply`/`add` where the parameter broadcasts over the batch
/// (its rank is lower, or its first dimension is 1). A parameter may have several consumers (their
/// contributions add). Returns nil when the graph consumes a parameter any other way; the caller
/// guarantees sample independence (this function cannot check it).
public func perSampleElementJacobian(of output: Variable, withRespectTo parameters: [Variable], elements: [Int]) -> [Double]? {
  precondition(output.value.rank == 2, "perSampleElementJacobian needs an output [B, K], got \(output.shape)")
  precondition(parameters.count == elements.count, "one element index per parameter")
  let b = output.shape[0], k = output.shape[1], p = parameters.count
  for (param, e) in zip(parameters, elements) { precondition(e >= 0 && e < param.value.count, "element \(e) outside a parameter of \(param.shape)") }
  var jac = [Double](repeating: 0, count: b * k * p)
  guard output.requiresGrad, p > 0, b > 0, k > 0 else { return jac }
  let (nodes, alias) = parameterGraph(of: output, parameters: parameters)
  var consumers: [(node: Variable, slot: Int, parameter: Int)] = []
  for n in nodes where n.operation != "reshape" || alias[ObjectIdentifier(n)] == nil {
    for (slot, c) in n.inputs.enumerated() {
      guard let j = alias[ObjectIdentifier(c)] else { continue }
      guard n.inputs.count == 2, n.shape.first == b else { return nil }
      let other = n.inputs[1 - slot]
      guard other.shape.first == b, alias[ObjectIdentifier(other)] == nil else { return nil }
      switch n.operation {
      case "conv2d", "matmul":
        guard slot == 1 else { return nil }
      case "multiply", "add":
        guard c.value.rank < other.value.rank || (c.value.rank == other.value.rank && c.shape.first == 1) else { return nil }
      default:
        return nil
      }
      consumers.append((n, slot, j))
    }
  }
  guard !consumers.isEmpty else { return jac }
  // One node per consumer (deduplicated) for the backward to stop at.
  var targetIDs: [ObjectIdentifier: Int] = [:]
  var targets: [Variable] = []
  for c in consumers where targetIDs[ObjectIdentifier(c.node)] == nil {
    targetIDs[ObjectIdentifier(c.node)] = targets.count
    targets.append(c.node)
  }
  for col in 0..<k {
    var seed = [Double](repeating: 0, count: b * k)
    for row in 0..<b { seed[row * k + col] = 1 }
    let cot = gradients(of: output, withRespectTo: targets, seed: Variable(Tensor(doubles: seed, shape: [b, k], dtype: output.dtype)))
    GradMode.$isEnabled.withValue(false) {
      for c in consumers {
        guard let gy = cot[targetIDs[ObjectIdentifier(c.node)]!], let backward = c.node.backward else { continue }
        let other = c.node.inputs[1 - c.slot], param = c.node.inputs[c.slot]
        var needs = [false, false]
        needs[c.slot] = true
        let e = elements[c.parameter]
        if c.node.operation == "conv2d", let geometry = c.node.attributes as? Conv2DGeometry {
          // The one entry directly (H_out·W_out multiply–adds per sample), not the whole
          // per-sample weight gradient.
          let g = Convolution.weightElementGradientPerSample(other.value, gy.value, weightShape: param.shape, element: e, geometry)
          for row in 0..<b { jac[(row * k + col) * p + c.parameter] += g[row] }
          continue
        }
        for row in 0..<b {
          let sliced = Variable(other.value.rows(row..<(row + 1)))
          let ins = c.slot == 0 ? [param, sliced] : [sliced, param]
          let one = Variable(value: c.node.value.rows(row..<(row + 1)), operation: c.node.operation, inputs: ins, backward: backward)
          guard let g = backward(one, Variable(gy.value.rows(row..<(row + 1))), needs)[c.slot]?.value else { continue }
          precondition(g.count == param.value.count, "\(c.node.operation): per-sample gradient \(g.shape) for a parameter of \(param.shape)")
          jac[(row * k + col) * p + c.parameter] += g.dtype == .float64 ? g.pointer(Double.self)[e] : Double(g.pointer(Float.self)[e])
        }
      }
    }
  }
  return jac
}
