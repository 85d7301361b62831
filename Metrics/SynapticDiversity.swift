import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// synaptic_diversity (Serianni & Kalita 2023, after Zhou et al. 2022's synaptic diversity):
/// the sum over the Linear modules inside every layer's `operation` block (the op module's
/// query, key, value, weight, input, conv_kernel_layer, conv_out_layer, and the self-output
/// `operation.output.dense`; convolutions excluded) of |‖W‖_* · ‖∂L/∂W‖_*|, ‖·‖_* the nuclear norm
/// (sum of singular values, LAPACK dgesdd in Float64); `…_normalized` divides by the number of
/// terms. L = ⟨c, last_hidden_state⟩ with the seeded N(0, 1) cotangent of ``TransformerProxyContext``.
/// Higher is better. Source: training-free-nas `BERT_metrics.ipynb`, `synaptic_diversity(_normalized)`.
/// - Throws: ``LinalgError`` when dgesdd fails.
public struct SynapticDiversity: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "synaptic_diversity_normalized" : "synaptic_diversity" }
  public var summary: String { "\(normalized ? "mean" : "sum") over operation-block Linears of nuc(W) * nuc(dW)" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb synaptic_diversity (N(0,1) cotangent: this project's correction)"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    var terms: [Double] = []
    for layer in context.network.encoder.layers {
      let block = layer.operation
      let linears = block.operation.linears.map(\.1) + (block.output.map { [$0.dense] } ?? [])
      for l in linears {
        guard let g = context.gradient(of: l.weight) else { continue }
        if g.doubles.contains(where: { !$0.isFinite }) { return .missing(reason: "nan: non-finite gradient") }
        terms.append(Swift.abs(try Linalg.nuclearNorm(l.weight.value) * Linalg.nuclearNorm(g)))
      }
    }
    let total = terms.reduce(0, +)
    return .checked(normalized ? total / Double(terms.count) : total, ifNotFinite: "no operation-block Linear with a gradient")
  }
}
