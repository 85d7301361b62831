import ZCEngine
import ZCTensor

/// l2_norm = Σ_l ‖W_l‖_F over conv/linear weights (data-free). Higher is better.
/// Source: NASLib `predictors/utils/pruners/measures/l2_norm.py`; zero-cost-nas `l2_norm.py`.
public struct L2Norm: ImageProxy {
  public init() {}
  public let name = "l2_norm"
  public let summary = "sum over conv/linear layers of the Frobenius norm of W"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let source = "NASLib l2_norm"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .checked(WeightSums.frobeniusNorms(context.weights), ifNotFinite: "non-finite weight")
  }
}
