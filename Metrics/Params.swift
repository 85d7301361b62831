import ZCEngine
import ZCTensor

/// params = number of trainable parameters (all weights, biases and batch-norm affine
/// parameters), `sum(p.numel() for p in model.parameters())`. Higher is better (a baseline).
public struct Params: ImageProxy {
  public init() {}
  public let name = "params"
  public let summary = "number of trainable parameters"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let source = "baseline (NAS-Bench-201 params column)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue { .value(Double(context.network.parameterCount)) }
}
