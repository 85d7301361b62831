import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// Σ |W ⊙ ∂W| of a Linear's weight (Float64), or nil when the context has no gradient for it.
func saliencyTerm(_ l: TokenLinear, _ c: TransformerProxyContext) -> Double? {
  guard let g = c.gradient(of: l.weight) else { return nil }
  let (w, d) = (l.weight.value.doubles, g.doubles)
  var s = 0.0
  for i in 0..<w.count { s += Swift.abs(w[i] * d[i]) }
  return s
}

/// synaptic_saliency (Serianni & Kalita 2023, after SNIP/synflow's |θ ⊙ ∂L/∂θ|): the sum over
/// the Linear modules of every layer's FFN (`intermediate.dense_in`, `intermediate.dense_list.*`,
/// `output.dense`; nff + 1 per layer) of Σ |W ⊙ ∂L/∂W|, weights only; `…_normalized` divides by
/// the number of terms. L = ⟨c, last_hidden_state⟩ with this project's seeded N(0, 1) cotangent c
/// (``TransformerProxyContext``), not the notebook's ones, whose gradient is zero in exact
/// arithmetic. Higher is better. Source: training-free-nas `BERT_metrics.ipynb`, `synaptic_saliency(_normalized)`.
public struct SynapticSaliency: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "synaptic_saliency_normalized" : "synaptic_saliency" }
  public var summary: String { "\(normalized ? "mean" : "sum") over FFN Linears of sum |W * dW| (random cotangent on the last hidden state)" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb synaptic_saliency (N(0,1) cotangent: this project's correction)"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    var terms: [Double] = []
    for layer in context.network.encoder.layers {
      for l in [layer.intermediate.denseIn] + layer.intermediate.denseList + [layer.output.dense] {
        if let t = saliencyTerm(l, context) { terms.append(t) }
      }
    }
    let total = terms.reduce(0, +)
    return .checked(normalized ? total / Double(terms.count) : total, ifNotFinite: "no FFN Linear with a gradient")
  }
}
