import ZCEngine
import ZCTensor

/// grad_norm = Σ_l ‖∂L/∂W_l‖_F over conv/linear weights W_l; L = mean cross-entropy of the batch.
/// Higher is better. Source: Abdelfattah et al. 2021, "Zero-Cost Proxies for Lightweight NAS";
/// SamsungLabs/zero-cost-nas `foresight/pruners/measures/grad_norm.py`.
public struct GradNorm: ImageProxy {
  public init() {}
  public let name = "grad_norm"
  public let summary = "sum over conv/linear layers of the Frobenius norm of dL/dW"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward]
  public let source = "Abdelfattah et al. 2021; zero-cost-nas grad_norm"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .checked(WeightSums.frobeniusNorms(context.lossGradients().weights), ifNotFinite: "non-finite weight gradient")
  }
}
