import ZCTensor

/// Sums over aligned lists of tensors (one per conv/linear layer), accumulated in Double: the
/// building blocks of the foresight-style proxies (zero-cost-nas `sum_arr` of per-layer arrays).
public enum WeightSums {
  /// Σ_layers Σ_entries a·b (signed), or Σ |a·b| when `absolute`.
  public static func products(_ a: [Tensor], _ b: [Tensor], absolute: Bool) -> Double {
    precondition(a.count == b.count, "\(a.count) and \(b.count) layers")
    var total = 0.0
    for (x, y) in zip(a, b) {
      let u = x.doubles, v = y.doubles
      precondition(u.count == v.count, "layer shapes \(x.shape) and \(y.shape) differ")
      if absolute { for i in u.indices { total += Swift.abs(u[i] * v[i]) } } else { for i in u.indices { total += u[i] * v[i] } }
    }
    return total
  }

  /// Σ_layers ‖t‖_F (Frobenius norm per layer, then summed).
  public static func frobeniusNorms(_ t: [Tensor]) -> Double {
    t.reduce(0.0) { acc, x in acc + x.doubles.reduce(0) { $0 + $1 * $1 }.squareRoot() }
  }
}

extension ImageProxyContext {
  /// The conv/linear weights W, aligned with ``weightLayers``.
  public var weights: [Tensor] { weightLayers.map { $0.weight.value } }
}
