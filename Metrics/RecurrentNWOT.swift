import ZCEngine
import ZCTensor

/// nwot for recurrent models (the activation-distance score of Serianni & Kalita 2023): one
/// forward pass; for every activation node (tanh, sigmoid, leaky ReLU) of every step and layer,
/// c = (output > 0) per sequence of the batch; K = Σ c cᵀ + (1 − c)(1 − c)ᵀ `[B, B]` (exact counts,
/// Float64); score = log|det K|. Higher is better. Missing when K is singular.
/// Source: Mellor et al. 2021 (NASWOT); aaronserianni/training-free-nas `RNN_metrics.ipynb`
/// (`calculate_activations` hooked on the cell's activation outputs, `hooklogdet`). The notebook
/// accumulates K over two identical forward passes, which adds B·log 2 to every score (same ranking).
public struct RecurrentNWOT: RecurrentProxy {
  public init() {}
  public let name = "nwot"
  public let summary = "log|det| of the Hamming-agreement kernel of the recurrent activations' sign codes"
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Mellor et al. 2021; Serianni & Kalita 2023 RNN_metrics K score"

  public func compute(in context: RecurrentProxyContext) throws -> ProxyValue {
    let (_, logAbs) = try Linalg.logAbsDeterminant(context.activationKernel())
    return .checked(logAbs, ifNotFinite: "K is singular (sequences with identical activation codes)")
  }
}
