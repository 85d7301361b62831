import ZCEngine
import ZCTensor

/// gradsign = Σ over conv/linear weight entries of |Σ_i sign(g_i)|, g_i the loss gradient of
/// sample i run alone as a batch of one (training-mode batch norm normalises over that image's
/// pixels); sign(0) = 0. An integer count. Higher is better. Cost: B single-image forward and
/// backward passes. Source: Zhang & Jia 2022, "GradSign"; GradSign `zero-cost-nas-code`
/// `grad_conflict.py` (sum variant).
public struct GradSign: ImageProxy {
  public init() {}
  public let name = "gradsign"
  public let summary = "sum over weights of |sum over samples of sign(per-sample loss gradient)|"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels]
  public let source = "Zhang & Jia 2022 (GradSign, zero-cost-nas-code variant)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .value(Double(context.perSampleGradientSignSums().reduce(0) { $0 + $1.reduce(0) { $0 + Swift.abs($1) } }))
  }
}
