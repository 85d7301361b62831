import ZCEngine
import ZCTensor

/// Mean over every axis but 1 of the maximum over axis 1 of `o` `[B, N, ...]`, in Float64:
/// (1/(B·R)) Σ_b Σ_r max_n o[b, n, r] (`torch.max(o, 1)` then `mean`).
func meanOfMaxOverAxis1(_ o: Tensor) -> Double {
  let b = o.shape[0], n = o.shape[1], r = o.count / max(b * n, 1)
  let v = o.doubles
  var total = 0.0
  for i in 0..<b {
    for j in 0..<r {
      var m = -Double.infinity
      for k in 0..<n { m = Swift.max(m, v[(i * n + k) * r + j]) }
      total += m
    }
  }
  return total / Double(b * r)
}

/// head_confidence (Serianni & Kalita 2023, "attention confidence" of the hooked projections):
/// for every output o `[B, T, D]` of an op module's query, key, value, weight (SA-WMA) and input
/// (LT) Linear, the mean over b and D of max over tokens t of o[b, t, D]; summed over outputs
/// (`head_confidence`) or averaged (`head_confidence_normalized`). One forward pass, no gradient.
/// Higher is better. Missing (nan) when there is no output (normalised: 0/0).
/// Source: training-free-nas `BERT_metrics.ipynb`, `attention_condfidence(_normalized)` on
/// `head_outputs` (`shared/docs/flexibert-model.md`, section 11).
public struct HeadConfidence: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "head_confidence_normalized" : "head_confidence" }
  public var summary: String { "\(normalized ? "mean" : "sum") over the op modules' query/key/value/weight/input outputs of mean_b,D max_t" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb attention_condfidence"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    let outs = context.record().headOutputs
    let total = outs.reduce(0.0) { $0 + meanOfMaxOverAxis1($1) }
    return .checked(normalized ? total / Double(outs.count) : total, ifNotFinite: "no hooked projection output")
  }
}
