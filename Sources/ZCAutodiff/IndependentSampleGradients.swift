import ZCTensor

/// Per-sample gradients from one batched backward pass, for graphs whose samples are independent
/// (no operation mixes samples: evaluation-mode batch norm, convolutions, pooling, linear layers).
///
/// For every sample i of `output` `[B, ...]`: ∂(Σ_j output[i, j…])/∂θ, as ``perSampleGradients(of:withRespectTo:)``,
/// but computed as follows: one backward of ones gives the cotangent of each operation that
/// consumes a parameter (because samples are independent, row i of that cotangent is the
/// cotangent of sample i's outputs alone); then each consumer's own backward function runs once
/// per sample on row i of its inputs and cotangent, giving the per-sample parameter gradient.
/// Cost: one forward, one batched backward, and the parameter-gradient kernels of one backward
/// split into B batch-of-one calls (instead of B backward passes); a parameter broadcast in a
/// `multiply` (batch norm's γ) takes one reduction for all samples.
///
/// Supported consumers of a parameter: `conv2d` (weight), `matmul` (linear weight) and `multiply`
/// (directly or through a `reshape`, as batch norm's γ); each parameter may be consumed at most
/// once. Returns nil when the graph has another consumer, so callers can fall back to an exact
/// general route. The caller guarantees sample independence; this function cannot check it.
/// - Returns: per parameter a tensor `[B] + parameter.shape` (zeros where there is no dependence), or nil.
public func independentPerSampleGradients(of output: Variable, withRespectTo parameters: [Variable]) -> [Tensor]? {
  let b = output.shape.first ?? 0
  let results = parameters.map { Tensor(zeros: [b] + $0.shape, dtype: $0.dtype) }
  let supported = visitIndependentPerSampleGradients(of: output, withRespectTo: parameters) { k, rows in
    copyRows(rows, into: results[k], count: rows.count)
  }
  return supported ? results : nil
}

/// ``independentPerSampleGradients(of:withRespectTo:)`` one parameter at a time, without holding
/// every parameter's rows at once: `body(k, rows)` receives parameter k's per-sample gradients as
/// `[B, parameter count]` (row i = sample i) in a buffer that is reused for the next parameter, so
/// `body` must consume it before returning. Parameters the output does not depend on are not
/// visited. Returns false, visiting nothing, when the graph has an unsupported parameter consumer.
public func visitIndependentPerSampleGradients(of output: Variable, withRespectTo parameters: [Variable],
                                               _ body: (_ parameter: Int, _ rows: Tensor) -> Void) -> Bool {
  precondition(output.value.rank >= 1, "per-sample gradients need an output with a batch axis, got \(output.shape)")
  let b = output.shape[0]
  let (nodes, alias) = parameterGraph(of: output, parameters: parameters)
  // The consumer of each parameter: (node, input position).
  var consumer: [Int: (node: Variable, slot: Int)] = [:]
  for n in nodes where n.operation != "reshape" || alias[ObjectIdentifier(n)] == nil {
    for (slot, c) in n.inputs.enumerated() {
      guard let k = alias[ObjectIdentifier(c)] else { continue }
      // conv2d(x, W) and matmul(x, Wᵀ) take the parameter second; multiply either way.
      guard n.inputs.count == 2, consumer[k] == nil, n.operation == "multiply" || (["conv2d", "matmul"].contains(n.operation) && slot == 1)
      else { return false }
      let other = n.inputs[1 - slot]
      guard other.shape.first == b, alias[ObjectIdentifier(other)] == nil, n.shape.first == b else { return false }
      // multiply: the parameter must broadcast over the batch (leading 1), so row i of the
      // product depends on row i of the activation only.
      if n.operation == "multiply" && !(c.value.rank == other.value.rank && c.shape.first == 1) { return false }
      consumer[k] = (n, slot)
    }
  }
  let order = consumer.keys.sorted()
  guard !order.isEmpty else { return true }
  let cotangents = gradients(of: output, withRespectTo: order.map { consumer[$0]!.node })
  // One buffer for the largest parameter's rows, reused (views of its first B·|θ| elements).
  let largest = order.map { parameters[$0].value.count }.max() ?? 0
  var buffers: [DType: Tensor] = [:]
  for (k, gy) in zip(order, cotangents) {
    guard let gy, let backward = consumer[k]!.node.backward else { continue }
    let (node, slot) = consumer[k]!
    let other = node.inputs[1 - slot], param = node.inputs[slot]
    let row = param.value.count
    if node.operation == "multiply" {
      // A parameter broadcast over the batch: row i of Σ_broadcast(gy ⊙ other) is sample i's
      // gradient, so one reduction to [B] + parameter shape gives every row at once.
      let perSample = GradMode.$isEnabled.withValue(false) {
        sum(multiply(Variable(gy.value), Variable(other.value)), toShape: [b] + Array(param.shape.dropFirst())).value
      }
      body(k, perSample.reshaped([b, row]))
      continue
    }
    let dtype = parameters[k].dtype
    let buffer = buffers[dtype] ?? Tensor(zeros: [b * largest], dtype: dtype)
    buffers[dtype] = buffer
    let dst = buffer.rows(0..<(b * row)).reshaped([b, row])
    var needs = [false, false]
    needs[slot] = true
    GradMode.$isEnabled.withValue(false) {
      for i in 0..<b {
        let sliced = Variable(other.value.rows(i..<(i + 1)))
        let ins = slot == 0 ? [param, sliced] : [sliced, param]
        let one = Variable(value: node.value.rows(i..<(i + 1)), operation: node.operation, inputs: ins, backward: backward)
        let g = backward(one, Variable(gy.value.rows(i..<(i + 1))), needs)[slot]?.value ?? Tensor(zeros: [row], dtype: dtype)
        precondition(g.count == row, "\(node.operation): per-sample gradient of \(g.shape) for a parameter of \(param.shape)")
        copyRow(g, into: dst, row: i, length: row)
      }
    }
    body(k, dst)
  }
  return true
}

private func copyRows(_ src: Tensor, into dst: Tensor, count: Int) {
  precondition(src.count == count && dst.count == count, "per-sample gradients: \(src.shape) into \(dst.shape)")
  copyRow(src, into: dst, row: 0, length: count)
}

private func copyRow(_ src: Tensor, into dst: Tensor, row: Int, length: Int) {
  let s = src.dtype == dst.dtype ? src : src.to(dst.dtype)
  switch dst.dtype {
  case .float32: (dst.mutablePointer(Float.self) + row * length).update(from: s.pointer(Float.self), count: length)
  case .float64: (dst.mutablePointer(Double.self) + row * length).update(from: s.pointer(Double.self), count: length)
  }
}

/// The graph the per-sample routines inspect: every node reachable from `output` through inputs
/// that require gradients (each once), and each parameter as seen directly or through `reshape`
/// nodes (node id → index in `parameters`). Shared by ``visitIndependentPerSampleGradients(of:withRespectTo:_:)``
/// and ``perSampleElementJacobian(of:withRespectTo:elements:)``, which differ only in the consumers they accept.
func parameterGraph(of output: Variable, parameters: [Variable]) -> (nodes: [Variable], alias: [ObjectIdentifier: Int]) {
  let wanted = Dictionary(parameters.enumerated().map { (ObjectIdentifier($0.element), $0.offset) }, uniquingKeysWith: { a, _ in a })
  var nodes: [Variable] = []
  var seen = Set<ObjectIdentifier>([ObjectIdentifier(output)])
  var stack = [output]
  while let n = stack.popLast() {
    nodes.append(n)
    for c in n.inputs where c.requiresGrad && !seen.contains(ObjectIdentifier(c)) {
      seen.insert(ObjectIdentifier(c))
      stack.append(c)
    }
  }
  var alias = wanted
  for n in nodes where n.operation == "reshape" && n.inputs.count == 1 {
    if let k = wanted[ObjectIdentifier(n.inputs[0])] { alias[ObjectIdentifier(n)] = k }
  }
  return (nodes, alias)
}
