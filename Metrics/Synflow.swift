import ZCEngine
import ZCTensor

/// synflow = Σ |W ⊙ ∂R/∂W| over conv/linear weights, where R = Σ outputs of the network with
/// every parameter replaced by |θ|, batch norm removed, on an all-ones input `[1, C, H, W]`, in
/// float64 (values reach 1e51, beyond float32). Higher is better. Source: Tanaka et al. 2020,
/// "Pruning neural networks without any data by iteratively conserving synaptic flow";
/// zero-cost-nas `foresight/pruners/measures/synflow.py` (bn=False).
public struct Synflow: ZeroCostProxy {
  public init() {}
  public let name = "synflow"
  public let summary = "sum of |W * dR/dW| on the |theta| network without batch norm, ones input, float64"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.float64]
  public let source = "Tanaka et al. 2020; zero-cost-nas synflow (bn=False)"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let (w, g) = context.synflowGradients()
    return .checked(WeightSums.products(w, g, absolute: true), ifNotFinite: "synflow overflowed float64")
  }
}
