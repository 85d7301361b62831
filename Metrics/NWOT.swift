import ZCEngine
import ZCTensor

/// nwot (NASWOT): one forward pass; K `[B, B]` = the Hamming-agreement kernel of the samples'
/// binary activation codes (``ActivationCodes``), score = log|det K|. Higher is better. Missing
/// when K is singular (log|det K| = −∞: two samples with identical codes, or no unit hooked at all,
/// K = 0, as for an image network without ReLU, where NASLib's hooks never fire either).
///
/// One definition for every model kind, through ``ActivationCodeSource``:
/// - image classifiers: the codes are the signs of every ReLU module's input (NASLib
///   `predictors/utils/pruners/measures/nwot.py`, hooks on ReLU modules only);
/// - recurrent language models: the signs of every activation node's output (tanh, sigmoid,
///   leaky ReLU) at every step and layer (the activation-distance score of Serianni & Kalita 2023,
///   training-free-nas `RNN_metrics.ipynb`; that notebook accumulates K over two identical forward
///   passes, which adds B·log 2 to every score and leaves the ranking unchanged).
/// - transformers (the BERT benchmark): the signs of every FFN GELU output, all tokens of a
///   sequence forming its code (a project adaptation; not in Serianni & Kalita's BERT metrics).
/// Source: Mellor et al. 2021, "Neural Architecture Search without Training".
public struct NWOT: ZeroCostProxy {
  public init() {}
  public let name = "nwot"
  public let summary = "log|det| of the Hamming-agreement kernel of the samples' activation codes"
  public let direction = ProxyDirection.higherIsBetter
  public let kinds: Set<ModelKind> = [.imageClassifier, .recurrentLanguageModel, .transformer]
  public let requirements: ProxyRequirements = [.forward, .reluCodes]
  public let source = "Mellor et al. 2021; NASLib nwot; Serianni & Kalita 2023 RNN_metrics K score"

  public func compute(in context: any ProxyContext) throws -> ProxyValue {
    guard let c = context as? any ActivationCodeSource else { throw ProxyKindError(proxy: name, kind: context.modelKind) }
    let k = c.activationCodeKernel()
    let (_, logAbs) = try Linalg.logAbsDeterminant(k)
    // K's diagonal counts every recorded unit, so K = 0 exactly when no activation was hooked
    // (an image network without ReLU: the reference's hooks never fire, K = 0, slogdet −∞).
    if k.doubles.allSatisfy({ $0 == 0 }) { return .checked(logAbs, ifNotFinite: "K = 0: no activation to hook (an image network without ReLU)") }
    return .checked(logAbs, ifNotFinite: "K is singular (\(c.sampleNoun) with identical activation codes)")
  }
}
