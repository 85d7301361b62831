import ZCTensor

/// Per-sample derivatives of every output column with respect to single parameter entries, for
/// graphs whose samples are independent (evaluation-mode batch norm, convolutions, pooling,
/// linear layers; VKDNW's Jacobian, Tybl & Neumann 2025).
///
/// For `output` `[B, K]`, parameters θ_1…θ_P (distinct leaves) and one flat index e_j per parameter,
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
/// A linear head narrower than the output: when `output` is z = h·Wᵀ (+ c) (``linear(_:weight:bias:)``:
/// a `matmul` with `transB` of h `[B, C]` and a leaf W `[K, C]`, plus optionally a leaf c `[K]`)
/// and C < K, the Jacobian of h is computed instead (C backward passes, recursively) and
/// J_z[b] = W·J_h[b] `[K, C]·[C, P]` per sample, plus the direct terms ∂z[b, k]/∂W[k, c] = h[b, c]
/// and ∂z[b, k]/∂c[k] = 1 for selected entries of W or c (the chain rule; W or c may also occur
/// upstream of h; h itself must not be a trainable leaf). The same derivatives in another rounding
/// order: VKDNW on a CIFAR-100 NAS-Bench-201 network (K = 100, C = 64) takes 64 backward passes
/// instead of 100 (ImageNet16-120: 64 instead of 120). With C ≥ K (CIFAR-10: K = 10) the
/// per-column path above runs, bit for bit as before.
///
/// Supported consumers of a parameter (directly or through `reshape`): `conv2d` and `matmul`
/// with the parameter second, and `multiply`/`add` where the parameter broadcasts over the batch
/// (its rank is lower, or its first dimension is 1). A parameter may have several consumers (their
/// contributions add). Returns nil when the graph consumes a parameter any other way; the caller
/// guarantees sample independence (this function cannot check it).
public func perSampleElementJacobian(of output: Variable, withRespectTo parameters: [Variable], elements: [Int]) -> [Double]? {
  precondition(output.value.rank == 2, "perSampleElementJacobian needs an output [B, K], got \(output.shape)")
  precondition(parameters.count == elements.count, "one element index per parameter")
  precondition(Set(parameters.map(ObjectIdentifier.init)).count == parameters.count, "perSampleElementJacobian needs distinct parameters (one entry each)")
  let b = output.shape[0], k = output.shape[1], p = parameters.count
  for (param, e) in zip(parameters, elements) { precondition(e >= 0 && e < param.value.count, "element \(e) outside a parameter of \(param.shape)") }
  guard output.requiresGrad, p > 0, b > 0, k > 0 else { return [Double](repeating: 0, count: b * k * p) }
  if let head = narrowLinearHead(of: output) {
    return jacobianThroughLinearHead(head, output: output, parameters: parameters, elements: elements)
  }
  var jac = [Double](repeating: 0, count: b * k * p)
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

/// z = h·Wᵀ (+ c) with h `[B, C]` narrower than z `[B, K]` (C < K), W `[K, C]` and c `[K]` leaves.
struct LinearHead {
  let input: Variable
  let weight: Variable
  let bias: Variable?
}

/// The linear head of `output` when it is narrower than the output (see
/// ``perSampleElementJacobian(of:withRespectTo:elements:)``), else nil.
func narrowLinearHead(of output: Variable) -> LinearHead? {
  let k = output.shape[1]
  var product = output
  var bias: Variable?
  if output.operation == "add", output.inputs.count == 2 {
    guard let m = output.inputs.firstIndex(where: { $0.operation == "matmul" }) else { return nil }
    let c = output.inputs[1 - m]
    guard c.inputs.isEmpty, c.shape == [k] else { return nil }
    product = output.inputs[m]
    bias = c
  }
  guard product.operation == "matmul", product.inputs.count == 2,
        let t = product.attributes as? MatmulTransposition, !t.transA, t.transB else { return nil }
  let h = product.inputs[0], w = product.inputs[1]
  guard w.inputs.isEmpty, h.value.rank == 2, h.shape[0] == output.shape[0], w.shape == [k, h.shape[1]],
        h.shape[1] < k else { return nil }
  // h computed from the batch, not a trainable leaf (directly or through reshape): the per-sample
  // Jacobian of h is then the inner call's, whereas a leaf h (a parameter) is the per-column path's
  // to refuse (its `alias` guard).
  var source = h
  while source.operation == "reshape", source.inputs.count == 1 { source = source.inputs[0] }
  guard !(source.inputs.isEmpty && source.requiresGrad) else { return nil }
  return LinearHead(input: h, weight: w, bias: bias)
}

/// J_z from J_h through a narrow linear head (the chain rule; see
/// ``perSampleElementJacobian(of:withRespectTo:elements:)``). Nil when J_h is not supported.
private func jacobianThroughLinearHead(_ head: LinearHead, output: Variable, parameters: [Variable], elements: [Int]) -> [Double]? {
  let b = output.shape[0], k = output.shape[1], c = head.input.shape[1], p = parameters.count
  guard let inner = perSampleElementJacobian(of: head.input, withRespectTo: parameters, elements: elements) else { return nil }
  // J_z[b] = W·J_h[b] `[K, C]·[C, P]`, sample after sample (row-major, as `jac`).
  let w = head.weight.value.to(.float64)
  var jac: [Double] = []
  jac.reserveCapacity(b * k * p)
  for row in 0..<b {
    let jh = Tensor(doubles: Array(inner[(row * c * p)..<((row + 1) * c * p)]), shape: [c, p], dtype: .float64)
    jac += Tensor.matmul(w, jh).doubles
  }
  let h = head.input.value.doubles
  for (j, (param, e)) in zip(parameters, elements).enumerated() {
    if param === head.weight {
      let (kk, cc) = (e / c, e % c)
      for row in 0..<b { jac[(row * k + kk) * p + j] += h[row * c + cc] }
    }
    if let bias = head.bias, param === bias {
      for row in 0..<b { jac[(row * k + e) * p + j] += 1 }
    }
  }
  return jac
}
