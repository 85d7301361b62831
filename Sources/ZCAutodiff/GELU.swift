import Foundation
import ZCTensor

extension Tensor {
  /// Exact GELU, x·Φ(x) = ½ x (1 + erf(x/√2)) (Hendrycks & Gimpel 2016), element-wise, computed
  /// in Float64 and rounded to the tensor's dtype. PyTorch `F.gelu(approximate='none')`.
  public func geluExact() -> Tensor {
    let v = doubles.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
    return Tensor(doubles: v, shape: shape, dtype: dtype)
  }

  /// Derivative of the exact GELU, Φ(x) + x φ(x), element-wise (Float64, rounded to the dtype).
  public func geluExactDerivative() -> Tensor {
    let c = 1 / (2 * Double.pi).squareRoot()
    let v = doubles.map { 0.5 * (1 + erf($0 / 2.0.squareRoot())) + $0 * c * Foundation.exp(-0.5 * $0 * $0) }
    return Tensor(doubles: v, shape: shape, dtype: dtype)
  }

  /// Second derivative of the exact GELU, φ(x)(2 − x²), element-wise.
  public func geluExactSecondDerivative() -> Tensor {
    let c = 1 / (2 * Double.pi).squareRoot()
    let v = doubles.map { c * Foundation.exp(-0.5 * $0 * $0) * (2 - $0 * $0) }
    return Tensor(doubles: v, shape: shape, dtype: dtype)
  }
}

/// Exact (erf) GELU, element-wise, any shape: y = x·Φ(x) = ½ x (1 + erf(x/√2)). This is
/// `transformers`' `GELUActivation` (`hidden_act="gelu"`), PyTorch `F.gelu` without the tanh
/// approximation (Hendrycks & Gimpel 2016). Backward ∂x = g ⊙ (Φ(x) + x φ(x)); its own
/// derivative uses φ(x)(2 − x²), so second derivatives are exact. GELU(x) > 0 exactly when x > 0.
public func gelu(_ x: Variable) -> Variable {
  Variable.record("gelu", x.value.geluExact(), inputs: [x]) { node, g, _ in
    [multiply(g, geluDerivative(node.inputs[0]))]
  }
}

/// Φ(x) + x φ(x), the derivative of ``gelu(_:)``, as a differentiable operation of x.
public func geluDerivative(_ x: Variable) -> Variable {
  Variable.record("geluDerivative", x.value.geluExactDerivative(), inputs: [x]) { node, g, _ in
    [multiply(g, Variable(node.inputs[0].value.geluExactSecondDerivative()))]
  }
}
