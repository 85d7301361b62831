import ZCAutodiff
import ZCNN
import ZCSpaces
import ZCTensor

/// The shared passes of one (BERT network, token batch) pair, each run at most once:
///
/// - ``record()``: one forward pass (no tape unless the gradient pass is also wanted) that keeps
///   what the hooks of `BERT_metrics.ipynb` keep: every GELU output, the outputs of the op
///   modules' query/key/value/weight/input Linears, every op module's softmax output.
/// - ``gradient(of:)``: the gradient of ⟨c, last_hidden_state⟩ with respect to every parameter
///   except the word embeddings, for a cotangent c `[B, T, H]`. c is N(0, 1), drawn from the run
///   seed (``ZCRandom``, row-major), or the fixture's `ref.cotangent`. This is this project's
///   correction of the notebook, which back-propagates ones: the model ends in a LayerNorm with
///   γ = 1 and β = 0, so Σ last_hidden_state is constant and that gradient is zero in exact
///   arithmetic (`shared/docs/flexibert-model.md`, section 11).
public final class TransformerProxyContext: ProxyContext, ActivationCodeSource {
  public static let kind = ModelKind.transformer
  public let network: BERTNetwork
  /// Token ids `[B, T]`, row-major, each < V.
  public let ids: [Int]
  public let batch: Int
  public let steps: Int
  /// The cotangent `[B, T, H]` of the gradient pass, in the network's dtype.
  public let cotangent: Tensor
  /// Whether ``record()`` should run the taped pass (some requested proxy needs gradients).
  public let wantsGradients: Bool

  /// - Parameters: cotangent `[B, T, H]` or nil (then N(0, 1) from `cotangentSeed`).
  /// - Precondition: ids.count == batch · steps, each id < V.
  public init(network: BERTNetwork, ids: [Int], batch: Int, steps: Int, cotangent: Tensor?, cotangentSeed: UInt64, wantsGradients: Bool) {
    precondition(ids.count == batch * steps && ids.allSatisfy { $0 >= 0 && $0 < network.size.vocabulary }, "token ids outside the vocabulary or the batch shape")
    self.network = network
    self.ids = ids
    self.batch = batch
    self.steps = steps
    let dtype = network.embeddings.layerNorm.weight.value.dtype
    if let c = cotangent {
      precondition(c.shape == [batch, steps, network.size.hiddenSize], "cotangent \(c.shape)")
      self.cotangent = c.to(dtype)
    } else {
      self.cotangent = Self.randomCotangent(shape: [batch, steps, network.size.hiddenSize], seed: cotangentSeed, dtype: dtype)
    }
    self.wantsGradients = wantsGradients
  }

  /// N(0, 1) values of `shape`, row-major, from ``ZCRandom`` seeded with `seed`.
  public static func randomCotangent(shape: [Int], seed: UInt64, dtype: DType) -> Tensor {
    var rng = ZCRandom(seed: seed)
    return Initializer.normal(mean: 0, std: 1).make(shape: shape, dtype: dtype, rng: &rng)
  }

  public var batchSize: Int { batch }
  public var sampleNoun: String { "sequences" }

  private var recordCache: BERTForwardRecord?
  private var outputCache: Tensor?
  private var gradientCache: [ObjectIdentifier: Tensor]?

  /// The parameters the gradient pass differentiates: all but the word-embedding table.
  public var gradientParameters: [(String, Parameter)] {
    network.namedParameters().filter { $0.0 != "embeddings.word_embeddings.weight" }
  }

  /// The hooked values of the forward pass.
  public func record() -> BERTForwardRecord {
    if let r = recordCache { return r }
    if wantsGradients { runGradientPass(); return recordCache! }
    let (out, rec) = GradMode.withoutRecording { network(ids: ids, batch: batch, steps: steps, record: true) }
    recordCache = rec
    outputCache = out.value
    return rec!
  }

  /// `last_hidden_state` `[B, T, H]`.
  public func lastHiddenState() -> Tensor {
    if let o = outputCache { return o }
    _ = record()
    return outputCache!
  }

  /// ∂⟨c, last_hidden_state⟩/∂p for a parameter of ``gradientParameters`` (nil for others).
  public func gradient(of p: Parameter) -> Tensor? {
    if gradientCache == nil { runGradientPass() }
    return gradientCache?[ObjectIdentifier(p)]
  }

  private var kernelCache: Tensor?

  /// NASWOT kernel `[B, B]` (Float64) over the sequences: every GELU output `[B, T, I]` of
  /// ``record()`` enters ``ActivationCodes/kernel(_:batch:)`` (a sample's code is the sign
  /// pattern of all its tokens' FFN units). The nwot proxy on transformers (a project adaptation;
  /// activation_distance is the paper's kernel over the tokens of sequence 0).
  public func activationCodeKernel() -> Tensor {
    if let k = kernelCache { return k }
    let k = ActivationCodes.kernel(record().activations, batch: batch)
    kernelCache = k
    return k
  }

  private func runGradientPass() {
    let params = gradientParameters.map(\.1)
    let (out, rec) = GradMode.$isEnabled.withValue(true) { network(ids: ids, batch: batch, steps: steps, record: true) }
    let g = gradientTensors(of: out, withRespectTo: params.map(\.variable), seed: Variable(cotangent))
    var cache: [ObjectIdentifier: Tensor] = [:]
    for (p, t) in zip(params, g) { cache[ObjectIdentifier(p)] = t }
    gradientCache = cache
    if recordCache == nil { recordCache = rec; outputCache = out.value }
  }
}
