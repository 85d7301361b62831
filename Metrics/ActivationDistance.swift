import ZCEngine
import ZCTensor

/// activation_distance (Serianni & Kalita 2023, a NASWOT-style kernel over tokens): for every GELU
/// call's output a `[B, T, I]`, batch element 0 only, X = (a[0] > 0) `[T, I]`, the term
/// Σ_{i,j} (X Xᵀ + (1 − X)(1 − X)ᵀ)[i, j] = Σ_units (p² + (T − p)²), p the number of tokens at
/// which the unit is positive; summed over calls (one term per call: Σ_layers nff) or averaged
/// (`activation_distance_normalized`). Exact integer counts in Float64. Forward only; higher is better.
/// Source: training-free-nas `BERT_metrics.ipynb`, `activation_distance(_normalized)`; the
/// notebook's hooks on a shared GELU module repeat each term (`shared/docs/flexibert-model.md`, 11).
public struct ActivationDistance: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "activation_distance_normalized" : "activation_distance" }
  public var summary: String { "\(normalized ? "mean" : "sum") over GELU calls of the token agreement kernel sum (sequence 0)" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb activation_distance"

  /// Σ_units (p² + (T − p)²) of one GELU output `[B, T, I]`, sequence 0.
  public static func term(_ a: Tensor) -> Double {
    let (t, units) = (a.shape[1], a.shape[2])
    let v = a.rows(0..<1).doubles
    var total = 0.0
    for u in 0..<units {
      var p = 0
      for s in 0..<t where v[s * units + u] > 0 { p += 1 }
      total += Double(p * p + (t - p) * (t - p))
    }
    return total
  }

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    let acts = context.record().activations
    let total = acts.reduce(0.0) { $0 + Self.term($1) }
    return .checked(normalized ? total / Double(acts.count) : total, ifNotFinite: "no GELU call")
  }
}
