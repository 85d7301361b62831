import ZCEngine
import ZCTensor

/// params = number of trainable parameters (all weights, biases and batch-norm affine
/// parameters), `sum(p.numel() for p in model.parameters())`. Higher is better (a baseline).
/// Image classifiers and transformers (the BERT model: embeddings, every Linear, LayerNorm and
/// SeparableConv1D parameter; buffers excluded; Serianni & Kalita's `num_parameters`).
public struct Params: ZeroCostProxy {
  public init() {}
  public let name = "params"
  public let summary = "number of trainable parameters"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let kinds: Set<ModelKind> = [.imageClassifier, .transformer]
  public let source = "baseline (NAS-Bench-201 params column)"

  public func compute(in context: any ProxyContext) throws -> ProxyValue {
    if let c = context as? ImageProxyContext { return .value(Double(c.network.parameterCount)) }
    if let c = context as? TransformerProxyContext { return .value(Double(c.network.parameterCount)) }
    throw ProxyKindError(proxy: name, kind: context.modelKind)
  }
}
