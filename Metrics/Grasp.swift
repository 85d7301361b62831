import ZCEngine
import ZCTensor

/// grasp = Σ −(W ⊙ H g) over conv/linear weights, g = ∂L/∂W, H the Hessian of L w.r.t. those
/// weights, computed exactly by double backward (temperature T = 1, one iteration). Signed; higher
/// is better with the reference's sign. Source: Wang et al. 2020, "Picking Winning Tickets Before
/// Training by Preserving Gradient Flow"; zero-cost-nas `foresight/pruners/measures/grasp.py`.
public struct Grasp: ImageProxy {
  public init() {}
  public let name = "grasp"
  public let summary = "sum over conv/linear weights of -(W * Hg), exact Hessian-gradient product"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward, .hessian]
  public let source = "Wang et al. 2020; zero-cost-nas grasp"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .checked(-WeightSums.products(context.weights, context.hessianTimesGradient(), absolute: false),
             ifNotFinite: "non-finite Hessian-gradient product")
  }
}
