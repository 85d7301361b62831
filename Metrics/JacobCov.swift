import ZCEngine
import ZCTensor

/// jacob_cov: J = ∂(Σ logits)/∂input, one row per sample `[B, C·H·W]`; C = correlation matrix of
/// the rows `[B, B]` (float64); v = eigenvalues of C; score = −Σ (log(v + 1e-5) + 1/(v + 1e-5)).
/// Higher is better. Missing when a row of J is constant (the correlation is undefined).
/// Source: Mellor et al. 2021 (NASWOT v1, arXiv 2006.04647v1); zero-cost-nas `jacob_cov.py`.
public struct JacobCov: ImageProxy {
  public init() {}
  public let name = "jacob_cov"
  public let summary = "eigenvalue score of the correlation matrix of per-sample input Jacobians"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.forward, .inputJacobian]
  public let source = "Mellor et al. 2021 v1; zero-cost-nas jacob_cov"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let c = Statistics.rowCorrelation(context.inputJacobian()) else {
      return .missing(reason: "nan: a row of the input Jacobian is constant (the output does not depend on that image)")
    }
    return .checked(try Statistics.eigenScore(c), ifNotFinite: "an eigenvalue of the correlation matrix is below -1e-5")
  }
}
