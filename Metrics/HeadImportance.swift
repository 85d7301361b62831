import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// head_importance (Serianni & Kalita 2023, after Michel et al. 2019's head importance): the sum
/// over the Linear modules inside every op module (`layer.operation.operation`: query, key,
/// value, weight, input, conv_kernel_layer, conv_out_layer) whose weight has at least 128 output
/// rows, of Σ |W ⊙ ∂L/∂W|; `…_normalized` divides by the number of terms (no term: the sum is 0
/// and the normalised value is missing, 0/0). L = ⟨c, last_hidden_state⟩ with the seeded N(0, 1)
/// cotangent of ``TransformerProxyContext``. Higher is better.
/// Source: training-free-nas `BERT_metrics.ipynb`, `head_importance(_normalized)` (`weight.shape[0] >= 128`).
public struct HeadImportance: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "head_importance_normalized" : "head_importance" }
  public var summary: String { "\(normalized ? "mean" : "sum") over op-module Linears with >= 128 outputs of sum |W * dW|" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb head_importance (N(0,1) cotangent: this project's correction)"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    var terms: [Double] = []
    for layer in context.network.encoder.layers {
      for (_, l) in layer.operation.operation.linears where l.weight.shape[0] >= 128 {
        if let t = saliencyTerm(l, context) { terms.append(t) }
      }
    }
    let total = terms.reduce(0, +)
    if normalized && terms.isEmpty { return .missing(reason: "nan: no op-module Linear with at least 128 outputs (0/0)") }
    return .checked(normalized ? total / Double(terms.count) : total, ifNotFinite: "non-finite gradient")
  }
}
