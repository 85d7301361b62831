import ZCEngine
import ZCTensor

/// snip = Σ |W ⊙ ∂L/∂W| over conv/linear weights (connection sensitivity). Higher is better.
/// Source: Lee et al. 2019, SNIP; zero-cost-nas `foresight/pruners/measures/snip.py`.
public struct Snip: ZeroCostProxy {
  public init() {}
  public let name = "snip"
  public let summary = "sum over conv/linear weights of |W * dL/dW|"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward]
  public let source = "Lee et al. 2019; zero-cost-nas snip"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let g = context.lossGradients().weights
    let v = zip(context.weightLayers, g).reduce(0.0) { acc, p in
      acc + zip(p.0.weight.value.doubles, p.1.doubles).reduce(0) { $0 + Swift.abs($1.0 * $1.1) }
    }
    return .checked(v, ifNotFinite: "non-finite weight gradient")
  }
}
