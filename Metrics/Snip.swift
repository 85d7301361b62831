import ZCEngine
import ZCTensor

/// snip = Σ |W ⊙ ∂L/∂W| over conv/linear weights (connection sensitivity). Higher is better.
/// Source: Lee et al. 2019, SNIP; zero-cost-nas `foresight/pruners/measures/snip.py`.
public struct Snip: ImageProxy {
  public init() {}
  public let name = "snip"
  public let summary = "sum over conv/linear weights of |W * dL/dW|"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward]
  public let source = "Lee et al. 2019; zero-cost-nas snip"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .checked(WeightSums.products(context.weights, context.lossGradients().weights, absolute: true),
             ifNotFinite: "non-finite weight gradient")
  }
}
