import ZCTensor

/// Exact Hessian–vector product H·v of a scalar `loss` w.r.t. `parameters` by double backward
/// (Pearlmutter 1994): g = ∂L/∂θ recorded with `createGraph`, then H v = ∂(Σ_i ⟨g_i, v_i⟩)/∂θ.
/// This is what GraSP needs (Wang et al. 2020; zero-cost-nas `grasp` uses `torch.autograd.grad`
/// with `create_graph=True` the same way).
///
/// - Parameters:
///   - loss: a recorded scalar (shape `[]` or one element).
///   - parameters: leaves the loss depends on.
///   - vector: one tensor per parameter, same shapes and dtype.
/// - Returns: (g, H v): the gradient and the product, one tensor per parameter (zeros where the
///   loss does not depend on a parameter).
public func hessianVectorProduct(of loss: Variable, withRespectTo parameters: [Variable], vector: [Tensor]) -> (gradient: [Tensor], hvp: [Tensor]) {
  precondition(loss.value.count == 1, "Hessian-vector product of a non-scalar of shape \(loss.shape)")
  precondition(vector.count == parameters.count, "\(vector.count) vector parts for \(parameters.count) parameters")
  let g = GradMode.$isEnabled.withValue(true) { gradients(of: loss, withRespectTo: parameters, createGraph: true) }
  var terms: [Variable] = []
  for (k, gk) in g.enumerated() {
    guard let gk else { continue }
    precondition(vector[k].shape == parameters[k].shape, "vector part \(k) has shape \(vector[k].shape), parameter \(parameters[k].shape)")
    terms.append(GradMode.$isEnabled.withValue(true) { sum(multiply(gk, Variable(vector[k]))) })
  }
  let zeros = parameters.map { Tensor(zeros: $0.shape, dtype: $0.dtype) }
  guard var dot = terms.first else { return (zeros, zeros) }
  GradMode.$isEnabled.withValue(true) { for t in terms.dropFirst() { dot = add(dot, t) } }
  let hv = gradients(of: dot, withRespectTo: parameters)
  return (zip(g, zeros).map { $0?.value ?? $1 }, zip(hv, zeros).map { $0?.value ?? $1 })
}

/// Per-sample gradients: for every sample i of `output` `[B, ...]`, the gradient of the sum of
/// that sample's outputs, ∂(Σ_j output[i, j…])/∂θ.
///
/// The forward graph is recorded once and reused: the cost is one forward plus B backward passes
/// (not B full passes). This is exact when samples interact, as they do through training-mode
/// batch norm (TE-NAS `get_ntk_n` computes the same thing with B calls of `backward`).
/// - Returns: per parameter a tensor `[B] + parameter.shape` (zeros where there is no dependence).
public func perSampleGradients(of output: Variable, withRespectTo parameters: [Variable]) -> [Tensor] {
  precondition(output.value.rank >= 1, "per-sample gradients need an output with a batch axis, got \(output.shape)")
  let b = output.shape[0]
  let rowCount = output.value.count / max(b, 1)
  let results = parameters.map { Tensor(zeros: [b] + $0.shape, dtype: $0.dtype) }
  for i in 0..<b {
    var seed = [Double](repeating: 0, count: output.value.count)
    for j in 0..<rowCount { seed[i * rowCount + j] = 1 }
    let s = Variable(Tensor(doubles: seed, shape: output.shape, dtype: output.dtype))
    let g = gradientTensors(of: output, withRespectTo: parameters, seed: s)
    for (k, gk) in g.enumerated() {
      let dst = results[k].rows(i..<(i + 1))
      copyElements(gk, into: dst)
    }
  }
  return results
}

private func copyElements(_ src: Tensor, into dst: Tensor) {
  precondition(src.count == dst.count && src.dtype == dst.dtype)
  switch src.dtype {
  case .float32: dst.mutablePointer(Float.self).update(from: src.pointer(Float.self), count: src.count)
  case .float64: dst.mutablePointer(Double.self).update(from: src.pointer(Double.self), count: src.count)
  }
}
