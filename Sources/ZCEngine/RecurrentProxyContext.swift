import ZCAutodiff
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// The shared passes of one (recurrent network, token batch) pair; each runs at most once, when
/// the first proxy asks for it:
///
/// - ``forward()``: one evaluation-mode forward pass without a tape, recording the hidden state
///   entering every step of every layer (hidden_cov) and every activation node's output (nwot).
/// - ``synflowGradients()``: a float64 copy with |θ|, ones in place of the embedding output.
///
/// Nothing here changes the network's weights.
public final class RecurrentProxyContext: ProxyContext, ActivationCodeSource, SynflowSource {
  public let network: NBNLPNetwork
  /// `[T, B]` token ids, each < the network's vocabulary.
  public let tokens: TokenBatch

  public init(network: NBNLPNetwork, tokens: TokenBatch) {
    precondition(tokens.ids.allSatisfy { $0 >= 0 && $0 < network.size.vocabulary }, "token id outside the vocabulary")
    self.network = network
    self.tokens = tokens
  }

  private var forwardCache: NBNLPForward?

  /// The shared forward pass (no gradient tape; activations recorded).
  public func forward() -> NBNLPForward {
    if let f = forwardCache { return f }
    let f = GradMode.withoutRecording { network(tokens, recordActivations: true) }
    forwardCache = f
    return f
  }

  /// Hidden state h_prev_0 entering each step of layer `layer` (1-based), as the matrix
  /// X `[H, B·T]` of units × samples in Float64, column b·T + t (Serianni & Kalita's layout);
  /// nil when the network has fewer layers.
  public func hiddenStateMatrix(layer: Int) -> Tensor? {
    let f = forward()
    guard layer >= 1 && layer <= f.incomingHidden.count else { return nil }
    let h = f.incomingHidden[layer - 1]  // [T, B, H]
    let (t, b, n) = (h.shape[0], h.shape[1], h.shape[2])
    let v = h.doubles
    var x = [Double](repeating: 0, count: n * b * t)
    for s in 0..<t { for j in 0..<b { for u in 0..<n { x[u * (b * t) + j * t + s] = v[(s * b + j) * n + u] } } }
    return Tensor(x, shape: [n, b * t])
  }

  public static let kind = ModelKind.recurrentLanguageModel
  public var batchSize: Int { tokens.batch }
  public var sampleNoun: String { "sequences" }

  private var kernelCache: Tensor?

  /// NASWOT kernel of the recurrent activations, `[B, B]` Float64: every activation node output
  /// `[B, H]` (every node, step and layer) enters ``ActivationCodes/kernel(_:batch:)``.
  public func activationCodeKernel() -> Tensor {
    if let k = kernelCache { return k }
    let t = ActivationCodes.kernel(forward().trace.activations, batch: tokens.batch)
    kernelCache = t
    return t
  }

  private var synflowCache: (weights: [Tensor], grads: [Tensor])?

  /// Synflow's pass for the recurrent model: a float64 copy with every parameter replaced by
  /// |θ|, a batch of one sequence whose embedding output is ones `[T, emsize]` (T = the token
  /// batch's steps), R = Σ of the last layer's outputs. Returns |W| and dR/dW for every cell
  /// weight (``NBNLPNetwork/cellWeights``). The weight gradients are assembled from the
  /// gradients of the per-step products (one GEMM per weight; same values as differentiating
  /// w.r.t. W directly, which sums one outer product per step).
  public func synflowGradients() -> (weights: [Tensor], grads: [Tensor]) {
    if let s = synflowCache { return s }
    let copy = network.recurrentCopy(dtype: .float64, transform: { $0.map(.abs) })
    let steps = tokens.steps
    let ones = Variable(Tensor(repeating: 1, shape: [steps, network.size.embeddingSize], dtype: .float64))
    let weights = copy.cellWeights.map(\.1)
    let (out, terms) = GradMode.$isEnabled.withValue(true) {
      let f = copy(TokenBatch(ids: [Int](repeating: 0, count: steps), steps: steps, batch: 1), embedded: ones, recordLinearTerms: true)
      return (sum(f.output), f.trace.linearTerms)
    }
    // dR/dW = Σ over W's terms y = a·Wᵀ of (∂R/∂y)ᵀ a: one GEMM per weight over all steps.
    let g = gradients(of: out, withRespectTo: terms.map(\.output))
    var cotangents: [ObjectIdentifier: [Tensor]] = [:], inputs: [ObjectIdentifier: [Tensor]] = [:]
    for (t, gt) in zip(terms, g) {
      guard let gt else { continue }
      cotangents[t.weight, default: []].append(gt.value)
      inputs[t.weight, default: []].append(t.input)
    }
    let grads = weights.map { w -> Tensor in
      let id = ObjectIdentifier(w)
      guard let gs = cotangents[id], let xs = inputs[id] else { return Tensor(zeros: w.shape, dtype: .float64) }
      return Tensor.matmul(Tensor.concatenate(gs, axis: 0), Tensor.concatenate(xs, axis: 0), transA: true)
    }
    let s = (weights.map(\.value), grads)
    synflowCache = s
    return s
  }
}
