import ZCEngine
import ZCTensor

/// synflow = Σ |W ⊙ ∂R/∂W| over the scored weights, where R = Σ outputs of a Float64 copy of the
/// model with every parameter replaced by |θ| on an all-ones input (values reach 1e51, beyond
/// float32). Higher is better. Missing when R overflows Float64.
///
/// One definition for every model kind, through ``SynflowSource``:
/// - image classifiers: conv/linear weights, batch norm removed, input ones `[1, C, H, W]`
///   (zero-cost-nas `foresight/pruners/measures/synflow.py`, bn=False);
/// - recurrent language models: the cells' linear weights (no biases), one sequence of T steps
///   whose embedding output is ones `[T, emsize]`, R = Σ of the last layer's outputs, decoder and
///   embedding not entered. This carry-over is the project's: Serianni & Kalita's notebook
///   `synflow` keeps signed weights, feeds real tokens, back-propagates the output y with itself
///   as the seed, scores every `nn.Linear` (the tied decoder too) and skips each MultiLinear's
///   first weight (docs/metrics.md, synflow).
/// Source: Tanaka et al. 2020, "Pruning neural networks without any data by iteratively
/// conserving synaptic flow".
public struct Synflow: ZeroCostProxy {
  public init() {}
  public let name = "synflow"
  public let summary = "sum of |W * dR/dW| on the |theta| model (no batch norm), ones input, float64"
  public let direction = ProxyDirection.higherIsBetter
  public let kinds: Set<ModelKind> = [.imageClassifier, .recurrentLanguageModel]
  public let requirements: ProxyRequirements = [.float64]
  public let source = "Tanaka et al. 2020; zero-cost-nas synflow (bn=False); recurrent carry-over by this project"

  public func compute(in context: any ProxyContext) throws -> ProxyValue {
    guard let c = context as? any SynflowSource else { throw ProxyKindError(proxy: name, kind: context.modelKind) }
    let (w, g) = c.synflowGradients()
    return .checked(WeightSums.products(w, g, absolute: true), ifNotFinite: "synflow overflowed float64")
  }
}
