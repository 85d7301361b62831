import ZCEngine
import ZCTensor

/// grasp = Σ −(W ⊙ H g) over conv/linear weights, g = ∂L/∂W, H the Hessian of L w.r.t. those
/// weights, computed exactly by double backward (temperature T = 1, one iteration). Signed; higher
/// is better with the reference's sign. Source: Wang et al. 2020, "Picking Winning Tickets Before
/// Training by Preserving Gradient Flow"; zero-cost-nas `foresight/pruners/measures/grasp.py`.
public struct Grasp: ZeroCostProxy {
  public init() {}
  public let name = "grasp"
  public let summary = "sum over conv/linear weights of -(W * Hg), exact Hessian-gradient product"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward, .hessian]
  public let source = "Wang et al. 2020; zero-cost-nas grasp"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let hg = context.hessianTimesGradient()
    let v = zip(context.weightLayers, hg).reduce(0.0) { acc, p in
      acc - zip(p.0.weight.value.doubles, p.1.doubles).reduce(0) { $0 + $1.0 * $1.1 }
    }
    return .checked(v, ifNotFinite: "non-finite Hessian-gradient product")
  }
}
