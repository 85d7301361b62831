import ZCEngine
import ZCTensor

/// head_softmax_confidence (Serianni & Kalita 2023): for every op module's softmax output
/// (`[B, h, T, T]` attention probabilities of SA and DSC, `[B, h, T, d]` for LT, whose softmax the
/// model never uses), the mean over b and the last two axes of the maximum over the head axis
/// (dim 1); summed over outputs (`head_softmax_confidence`) or averaged (`…_normalized`). A
/// one-head module (DSC with h = 2) contributes mean(probabilities) = 1/T. Forward only; higher
/// is better. Source: training-free-nas `BERT_metrics.ipynb`, `attention_condfidence(_normalized)`
/// on `softmax_outputs` (`shared/docs/flexibert-model.md`, section 11).
public struct HeadSoftmaxConfidence: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public let normalized: Bool
  public init(normalized: Bool = false) { self.normalized = normalized }
  public var name: String { normalized ? "head_softmax_confidence_normalized" : "head_softmax_confidence" }
  public var summary: String { "\(normalized ? "mean" : "sum") over the op modules' softmax outputs of mean max over heads" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb attention_condfidence on softmax outputs"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    let outs = context.record().softmaxOutputs
    let total = outs.reduce(0.0) { $0 + meanOfMaxOverAxis1($1) }
    return .checked(normalized ? total / Double(outs.count) : total, ifNotFinite: "no softmax output")
  }
}
