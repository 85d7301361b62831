import ZCEngine
import ZCTensor

/// synflow for recurrent models: the contract's synflow (Tanaka et al. 2020) carried over to the
/// language model. A float64 copy with every parameter replaced by |θ|; one sequence of T steps
/// whose embedding output is all ones `[T, emsize]` (the "input = ones" of the image version);
/// R = Σ of the last layer's outputs; score = Σ over the cells' linear weights (no biases) of
/// |W ⊙ ∂R/∂W|. The decoder does not enter (the benchmark's model returns hidden states) and the
/// embedding is bypassed. Higher is better. Missing when R overflows float64.
/// This adaptation is the project's: Serianni & Kalita's notebook `synflow` instead keeps signed
/// weights, feeds real tokens, back-propagates y itself and skips each MultiLinear's first weight.
public struct RecurrentSynflow: RecurrentProxy {
  public init() {}
  public let name = "synflow"
  public let summary = "sum of |W * dR/dW| over cell weights on the |theta| model, ones at the embedding, float64"
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Tanaka et al. 2020 (contract synflow, adapted to recurrent cells by this project)"

  public func compute(in context: RecurrentProxyContext) throws -> ProxyValue {
    let (w, g) = context.synflowGradients()
    return .checked(WeightSums.products(w, g, absolute: true), ifNotFinite: "synflow overflowed float64")
  }
}
