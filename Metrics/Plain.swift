import ZCEngine
import ZCTensor

/// plain = Σ W ⊙ ∂L/∂W over conv/linear weights, signed (a first-order Taylor term). No
/// declared direction. Source: zero-cost-nas `foresight/pruners/measures/plain.py`.
public struct Plain: ImageProxy {
  public init() {}
  public let name = "plain"
  public let summary = "sum over conv/linear weights of W * dL/dW, with sign"
  public let direction = ProxyDirection.unspecified
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward]
  public let source = "zero-cost-nas plain"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .checked(WeightSums.products(context.weights, context.lossGradients().weights, absolute: false),
             ifNotFinite: "non-finite weight gradient")
  }
}
