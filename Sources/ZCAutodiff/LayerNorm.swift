import ZCTensor

/// Layer normalisation over the last axis (PyTorch `nn.LayerNorm(n)`, Ba et al. 2016):
/// y = (x − mean) / √(var + ε) · γ + β, with the biased variance over the last axis.
///
/// Shapes: x `[..., n]`, γ and β `[n]` (or nil: no affine part) → `[..., n]`. ε is 1e-12 in
/// BERT/ELECTRA (`layer_norm_eps`), 1e-5 in PyTorch's default. Written with differentiable
/// primitives (mean, square, rsqrt), so its gradient and second derivatives are exact; in
/// particular Σ_n y = Σ_n β for γ = 1, whose gradient is exactly zero in exact arithmetic.
public func layerNorm(_ x: Variable, gamma: Variable?, beta: Variable?, eps: Double) -> Variable {
  precondition(x.value.rank >= 1, "layerNorm of a scalar")
  var rowShape = x.shape
  rowShape[rowShape.count - 1] = 1
  let mu = mean(x, toShape: rowShape)
  let xc = subtract(x, mu)
  let variance = mean(square(xc), toShape: rowShape)
  var y = multiply(xc, rsqrt(addScalar(variance, eps)))
  if let gamma { y = multiply(y, gamma) }
  if let beta { y = add(y, beta) }
  return y
}
