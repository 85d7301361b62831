import ZCAutodiff
import ZCNN
import ZCTensor

/// A conv or linear layer (``WeightedLayer``) whose weight the foresight-style proxies score, in module order.
public struct WeightLayer {
  /// Dotted module name (`stem.0`, `cells.0.layers.1.op.1`, `classifier`).
  public let name: String
  public let module: any WeightedLayer
  /// `module.weight`.
  public let weight: Parameter
}

/// The shared passes of one (network, minibatch) pair. Each pass runs at most once, when the first
/// proxy asks for it, and is reused by every other proxy:
///
/// - ``forward()``: one training-mode forward pass of the batch, recording the graph, the ReLU
///   inputs (nwot) and the conv/linear outputs (fisher). Input `[B, C, H, W]`, logits `[B, K]`.
/// - ``lossGradients()``: one backward of the mean cross-entropy giving dL/dW for every conv/linear
///   weight (grad_norm, snip, plain, grasp's g) and dL/da for every conv/linear output (fisher).
///   When a requested proxy needs the Hessian, this backward records its own graph and
///   ``hessianTimesGradient()`` differentiates ⟨g, stop_gradient(g)⟩ once more (GraSP's H g).
/// - ``inputJacobian()``: backward of ones from the logits to the input only (jacob_cov), `[B, C·H·W]`.
/// - ``synflowGradients()``: a float64 copy with |θ|, batch norm bypassed, input ones `[1, C, H, W]`.
///
/// Nothing here changes the network's weights, so proxies cannot see each other's side effects
/// (batch-norm running statistics change but training-mode outputs do not read them).
public final class ImageProxyContext: ProxyContext, ActivationCodeSource, SynflowSource {
  public let network: any ImageClassifier
  public let images: Tensor
  public let labels: [Int]
  /// The second minibatch (ZiCo), when the caller provided one.
  public let images2: Tensor?
  public let labels2: [Int]?
  public let requirements: ProxyRequirements
  /// Seed of the run (the same for every architecture scored in it): proxies that draw extra
  /// inputs (Zen's Gaussian images, the linear-region crops) derive them from this, so every
  /// architecture of a run sees the same inputs.
  public let runSeed: UInt64
  /// Seed of this network (the run seed mixed with the architecture index, as its initial
  /// weights): proxies that draw their own weights (Zen's re-initialisation, the thin network of
  /// linear_regions) derive them from this.
  public let networkSeed: UInt64

  /// Conv and linear layers in module order.
  public let weightLayers: [WeightLayer]
  /// The initial network in evaluation mode (a copy made before any pass), when requested.
  let evaluationNetwork: (any ImageClassifier)?
  /// The AZ-NAS / VKDNW protocol tensors (re-initialised network, Gaussian input, signs) when
  /// the caller gives them (verification with the authors' stored tensors); nil derives them
  /// from ``runSeed`` and ``networkSeed`` on first use (`AZNASProtocol.swift`).
  public var azNASInputs: AZNASProtocolInputs?
  /// The AZ-NAS / VKDNW pass state (`AZNASProtocol.swift`), created on first use.
  var azNASStorage: AnyObject?

  /// A context for one network and minibatch.
  /// - Parameters:
  ///   - network: the initialised network (training mode); its weights are never changed here.
  ///   - images: `[B, C, H, W]` in the network's dtype; labels: B integers in 0..<numClasses.
  ///   - requirements: the union of the requested proxies' requirements (decides what the shared
  ///     passes record, for example the ReLU inputs or a double-backward graph).
  ///   - images2, labels2: an optional second minibatch (ZiCo).
  ///   - runSeed, networkSeed: seeds for proxies that draw their own random numbers (see the properties).
  public init(network: any ImageClassifier, images: Tensor, labels: [Int], requirements: ProxyRequirements,
              images2: Tensor? = nil, labels2: [Int]? = nil, runSeed: UInt64 = 0, networkSeed: UInt64 = 0) {
    precondition(images.rank == 4 && images.shape[0] == labels.count, "images \(images.shape) for \(labels.count) labels")
    precondition(images2 == nil || images2!.shape[0] == labels2?.count, "second batch and labels differ in size")
    self.network = network
    self.images = images
    self.labels = labels
    self.images2 = images2
    self.labels2 = labels2
    self.requirements = requirements
    self.runSeed = runSeed
    self.networkSeed = networkSeed
    weightLayers = Self.weightLayers(of: network)
    if requirements.contains(.evaluationMode) {
      let copy = network.copy(dtype: network.namedParameters().first?.1.value.dtype ?? .float32)
      copy.setTraining(false)
      evaluationNetwork = copy
    } else {
      evaluationNetwork = nil
    }
  }

  /// The evaluation-mode copy of the initial network (batch norm with its running statistics,
  /// taken before any pass), when `.evaluationMode` was requested; nil otherwise. Proxies that
  /// need per-sample gradients of their own (grad_match_per_sample) run it; it is not changed here.
  public var evaluationModeNetwork: (any ImageClassifier)? { evaluationNetwork }

  /// The weighted (conv and linear) layers of `network` in module order (PyTorch's `net.modules()` order).
  public static func weightLayers(of network: some Module) -> [WeightLayer] {
    network.namedModules().compactMap { name, m in
      (m as? any WeightedLayer).map { WeightLayer(name: name, module: $0, weight: $0.weight) }
    }
  }

  public static let kind = ModelKind.imageClassifier
  public var batchSize: Int { images.shape[0] }
  public var sampleNoun: String { "images" }

  private var kernelCache: Tensor?

  /// NASWOT kernel `[B, B]` of the ReLU input signs of the shared forward pass (hooks on ReLU
  /// modules only, as NASLib's nwot). Needs `.reluCodes` in ``requirements``.
  public func activationCodeKernel() -> Tensor {
    if let k = kernelCache { return k }
    let pass = PassTimer.begin("nwot kernel"); defer { pass.end() }
    precondition(requirements.contains(.reluCodes), "activationCodeKernel needs the .reluCodes requirement")
    let k = ActivationCodes.kernel(forward().trace.reluInputs, batch: images.shape[0])
    kernelCache = k
    return k
  }

  // MARK: forward

  /// The recorded forward pass.
  public struct Forward {
    public let input: Variable
    public let logits: Variable
    public let trace: ForwardTrace
  }

  private var forwardCache: Forward?

  /// The shared training-mode forward pass (run on first use): logits `[B, K]`, with the input as
  /// a leaf that requires a gradient when `.inputJacobian` is requested. It records the graph
  /// (for the backward passes) unless ``forwardRecordsGraph`` is false.
  public func forward() -> Forward {
    if let f = forwardCache { return f }
    let pass = PassTimer.begin("forward"); defer { pass.end() }
    let f = runForward(recordingGraph: forwardRecordsGraph)
    forwardCache = f
    return f
  }

  /// Whether ``forward()`` records the graph: false only when the requested proxies need the
  /// ReLU codes and nothing that differentiates the shared forward pass (requirements within
  /// labels, forward, reluCodes, float64, evaluationMode: nwot, alone or with proxies that run
  /// their own passes), so its activations are freed as it goes (issue 16: nwot's memory and
  /// system time). The values are the same either way. ``ntkEigenvalues()`` runs its own
  /// recorded forward pass when this is false.
  public var forwardRecordsGraph: Bool {
    !(requirements.contains(.reluCodes) && requirements.isSubset(of: [.labels, .forward, .reluCodes, .float64, .evaluationMode]))
  }

  private func runForward(recordingGraph: Bool) -> Forward {
    let input = Variable(images, requiresGrad: requirements.contains(.inputJacobian))
    let trace = ForwardTrace(reluInputs: requirements.contains(.reluCodes), layerOutputs: requirements.contains(.layerActivations))
    let logits = GradMode.$isEnabled.withValue(recordingGraph) { ForwardTrace.$current.withValue(trace) { network(input) } }
    return Forward(input: input, logits: logits, trace: trace)
  }

  // MARK: loss backward

  /// Loss gradients, aligned with ``weightLayers``.
  public struct LossGradients {
    /// Mean cross-entropy of the batch.
    public let loss: Double
    /// dL/dW per weight layer (zeros where the loss does not depend on it).
    public let weights: [Tensor]
    /// (activation a, dL/da) per weight layer, when activations were traced.
    public let activations: [(Tensor, Tensor)?]
  }

  private var lossCache: LossGradients?
  private var lossGraph: (loss: Variable, grads: [Variable?])?

  /// The shared loss backward (run on first use): mean cross-entropy of the batch and its
  /// gradients w.r.t. the conv/linear weights (and their outputs, for Fisher). The calling proxy
  /// declares `.lossBackward` (or `.hessian`), so that the shared forward records its graph
  /// (``forwardRecordsGraph``).
  public func lossGradients() -> LossGradients {
    if let g = lossCache { return g }
    let pass = PassTimer.begin("loss backward"); defer { pass.end() }
    precondition(forwardRecordsGraph, "lossGradients needs a recorded forward (forwardRecordsGraph): declare .lossBackward in the proxy's requirements")
    let f = forward()
    let loss = GradMode.$isEnabled.withValue(true) { crossEntropy(f.logits, labels: labels) }
    let weightVars = weightLayers.map { $0.weight.variable }
    var actVars: [Variable?] = weightLayers.map { _ in nil }
    if requirements.contains(.layerActivations) {
      let byLayer = Dictionary(f.trace.layerOutputs.map { ($0.layer, $0.output) }, uniquingKeysWith: { a, _ in a })
      actVars = weightLayers.map { byLayer[ObjectIdentifier($0.module)] }
    }
    let extra = actVars.compactMap { $0 }
    let createGraph = requirements.contains(.hessian)
    let g = gradients(of: loss, withRespectTo: weightVars + extra, createGraph: createGraph)
    let weightGrads = zip(g.prefix(weightVars.count), weightVars).map { $0?.value ?? Tensor(zeros: $1.shape, dtype: $1.dtype) }
    var acts: [(Tensor, Tensor)?] = []
    var k = weightVars.count
    for a in actVars {
      guard let a else { acts.append(nil); continue }
      acts.append((a.value, g[k]?.value ?? Tensor(zeros: a.shape, dtype: a.dtype)))
      k += 1
    }
    if createGraph {
      lossGraph = (loss, Array(g.prefix(weightVars.count)))
      // Free the first-order graph's values that the Hessian–vector product will not read
      // (convolutions' input gradients, partial sums of gradient accumulation): same arithmetic,
      // a smaller peak (issue 16).
      releaseUnreadValues(reachableFrom: g.compactMap { $0 }, keeping: [f.logits, f.input])
    }
    let result = LossGradients(loss: loss.value.scalarValue, weights: weightGrads, activations: acts)
    lossCache = result
    return result
  }

  private var hgCache: [Tensor]?

  /// H·g per weight layer, where H is the Hessian of the loss w.r.t. the conv/linear weights and
  /// g = dL/dW (exact double backward; GraSP, Wang et al. 2020, foresight `grasp` with T = 1).
  /// Requires `.hessian` in ``requirements``.
  public func hessianTimesGradient() -> [Tensor] {
    if let h = hgCache { return h }
    let pass = PassTimer.begin("hessian-vector (grasp)"); defer { pass.end() }
    precondition(requirements.contains(.hessian), "hessianTimesGradient needs the .hessian requirement")
    let lg = lossGradients()
    guard let graph = lossGraph else { preconditionFailure("loss graph not recorded") }
    let weightVars = weightLayers.map { $0.weight.variable }
    var z: Variable?
    GradMode.$isEnabled.withValue(true) {
      for (k, gk) in graph.grads.enumerated() {
        guard let gk, gk.requiresGrad else { continue }
        let term = sum(multiply(gk, Variable(lg.weights[k])))
        z = z.map { add($0, term) } ?? term
      }
    }
    var result = weightVars.map { Tensor(zeros: $0.shape, dtype: $0.dtype) }
    if let z {
      // The double-backward graph has no later use: free it as the pass goes (the shared
      // forward graph stays for the passes that may follow, such as the input Jacobian).
      let f = forward()
      let hv = gradientsReleasingGraph(of: z, withRespectTo: weightVars, keeping: [f.logits, f.input])
      result = zip(hv, result).map { $0?.value ?? $1 }
    }
    lossGraph = nil  // release the double-backward graph
    hgCache = result
    return result
  }

  // MARK: input Jacobian

  private var jacobianCache: Tensor?

  /// J = d(Σ logits)/d(input), one row per sample: `[B, C·H·W]` (jacob_cov, epe_nas).
  public func inputJacobian() -> Tensor {
    if let j = jacobianCache { return j }
    let pass = PassTimer.begin("input jacobian"); defer { pass.end() }
    precondition(requirements.contains(.inputJacobian), "inputJacobian needs the .inputJacobian requirement")
    let f = forward()
    let g = gradients(of: f.logits, withRespectTo: [f.input])[0]?.value ?? Tensor(zeros: images.shape, dtype: images.dtype)
    let j = g.reshaped([images.shape[0], -1])
    jacobianCache = j
    return j
  }

  // MARK: second batch

  private var secondCache: [Tensor]?

  /// dL/dW per weight layer for the second minibatch (its own training-mode forward and backward),
  /// or nil when no second batch was given.
  public func secondBatchWeightGradients() -> [Tensor]? {
    if let s = secondCache { return s }
    guard let x2 = images2, let y2 = labels2 else { return nil }
    let weightVars = weightLayers.map { $0.weight.variable }
    let loss = GradMode.$isEnabled.withValue(true) { crossEntropy(network(Variable(x2)), labels: y2) }
    let g = gradientTensors(of: loss, withRespectTo: weightVars)
    secondCache = g
    return g
  }

  private var halvesCache: ([Tensor], [Tensor])?

  /// dL/dW per weight layer for each half of the batch (samples 0..<B/2 and B/2..<B), each half
  /// run as its own minibatch (training-mode batch norm uses that half's statistics).
  public func halfBatchWeightGradients() -> ([Tensor], [Tensor]) {
    if let h = halvesCache { return h }
    let b = images.shape[0], half = b / 2
    let weightVars = weightLayers.map { $0.weight.variable }
    func grads(_ r: Range<Int>) -> [Tensor] {
      let loss = GradMode.$isEnabled.withValue(true) { crossEntropy(network(Variable(images.rows(r))), labels: Array(labels[r])) }
      return gradientTensors(of: loss, withRespectTo: weightVars)
    }
    let h = (grads(0..<half), grads(half..<(2 * half)))
    halvesCache = h
    return h
  }

  // MARK: per-sample passes

  private var ntkCache: [Double]?

  /// Eigenvalues (ascending) of the empirical NTK Θ = G Gᵀ `[B, B]`, where row i of G is the
  /// gradient of the sum of sample i's logits w.r.t. every parameter whose name contains
  /// "weight" (conv, linear and batch-norm weights; no biases), from the shared training-mode
  /// forward pass (TE-NAS `get_ntk_n`, Chen et al. 2021). Cost: B backward passes (batch norm
  /// couples the samples, so no cheaper exact route exists). Θ accumulates in Float64.
  /// - Throws: ``LinalgError`` from dsyevd (for example a non-finite Θ).
  public func ntkEigenvalues() throws -> [Double] {
    if let e = ntkCache { return e }
    let pass = PassTimer.begin("ntk per-sample backward"); defer { pass.end() }
    let f = forwardRecordsGraph ? forward() : runForward(recordingGraph: true)
    let params = network.namedParameters().filter { $0.0.contains("weight") }.map { $0.1.variable }
    // The B passes differentiate through the same forward activations: pack each convolution
    // input once for the weight-gradient kernel (a copy; same values).
    let per = Convolution.$packedInputs.withValue(Convolution.PackedInputCache()) {
      perSampleGradients(of: f.logits, withRespectTo: params)
    }
    let b = images.shape[0]
    var theta = [Double](repeating: 0, count: b * b)
    for g in per {
      let m = g.reshaped([b, -1])
      let k = Tensor.matmul(m, m, transB: true).doubles
      for i in 0..<(b * b) { theta[i] += k[i] }
    }
    let e = try Linalg.symmetricEigenvalues(Tensor(theta, shape: [b, b]))
    ntkCache = e
    return e
  }

  private var ntkEvalCache: [Double]?

  /// Eigenvalues (ascending) of the NTK of the initial network in evaluation mode (batch norm
  /// with running statistics, so samples are independent): row i of G is the gradient of the sum
  /// of sample i's logits w.r.t. every parameter named "weight". Computed with one batched forward
  /// and one batched backward, then per-sample weight gradients from each layer's input and output
  /// cotangent (``independentPerSampleGradients(of:withRespectTo:)``); when the graph has a
  /// parameter consumer that route does not support, one batch-of-one forward and backward per
  /// sample instead. Θ = Σ over parameters of G_p G_pᵀ (GEMMs in the network's dtype, summed in
  /// Float64), eigenvalues in Float64. Requires `.evaluationMode`.
  /// - Throws: ``LinalgError`` from dsyevd.
  public func ntkEvaluationModeEigenvalues() throws -> [Double] {
    if let e = ntkEvalCache { return e }
    guard let net = evaluationNetwork else { preconditionFailure("ntkEvaluationModeEigenvalues needs .evaluationMode") }
    let params = net.namedParameters().filter { $0.0.contains("weight") }.map { $0.1.variable }
    let b = images.shape[0]
    let logits = GradMode.$isEnabled.withValue(true) { net(Variable(images)) }
    let perParameter: [Tensor] = independentPerSampleGradients(of: logits, withRespectTo: params) ?? {
      let rows = (0..<b).map { i -> [Tensor] in
        let out = GradMode.$isEnabled.withValue(true) { sum(net(Variable(images.rows(i..<(i + 1))))) }
        return gradientTensors(of: out, withRespectTo: params).map { $0.reshaped([1, -1]) }
      }
      return params.indices.map { k in Tensor.concatenate(rows.map { $0[k] }, axis: 0) }
    }()
    var theta = [Double](repeating: 0, count: b * b)
    for g in perParameter {
      let m = g.reshaped([b, -1])
      let k = Tensor.matmul(m, m, transB: true).doubles
      for i in 0..<(b * b) { theta[i] += k[i] }
    }
    let e = try Linalg.symmetricEigenvalues(Tensor(theta, shape: [b, b]))
    ntkEvalCache = e
    return e
  }

  private var signCache: [[Int]]?

  /// Per conv/linear weight entry, Σ_i sign(∂L_i/∂W) over the samples, where L_i is the
  /// cross-entropy of sample i run alone as a batch of one (training-mode batch norm then uses
  /// that image's own statistics). GradSign (Zhang & Jia 2022, zero-cost-nas-code variant).
  public func perSampleGradientSignSums() -> [[Int]] {
    if let s = signCache { return s }
    let weightVars = weightLayers.map { $0.weight.variable }
    var sums = weightVars.map { [Int](repeating: 0, count: $0.value.count) }
    for i in 0..<images.shape[0] {
      let loss = GradMode.$isEnabled.withValue(true) { crossEntropy(network(Variable(images.rows(i..<(i + 1)))), labels: [labels[i]]) }
      let g = gradientTensors(of: loss, withRespectTo: weightVars)
      for (k, gk) in g.enumerated() {
        let v = gk.doubles
        for j in 0..<v.count where v[j] != 0 && !v[j].isNaN { sums[k][j] += v[j] > 0 ? 1 : -1 }
      }
    }
    signCache = sums
    return sums
  }

  // MARK: synflow

  private var synflowCache: (weights: [Tensor], grads: [Tensor])?

  /// Synflow's pass (Tanaka et al. 2020; zero-cost-nas `synflow`, bn=False): a float64 copy of
  /// the network with every parameter replaced by its absolute value and batch norm bypassed,
  /// input ones `[1, C, H, W]`, R = Σ logits. Returns |W| and dR/dW per weight layer.
  public func synflowGradients() -> (weights: [Tensor], grads: [Tensor]) {
    if let s = synflowCache { return s }
    let pass = PassTimer.begin("synflow pass"); defer { pass.end() }
    let copy = network.copy(dtype: .float64)
    for (_, p) in copy.namedParameters() { p.value = p.value.map(.abs) }
    for (_, m) in copy.namedModules() { (m as? any BypassableLayer)?.bypassed = true }
    let layers = Self.weightLayers(of: copy)
    let ones = Variable(Tensor(repeating: 1, shape: [1] + network.inputShape, dtype: .float64))
    let out = GradMode.$isEnabled.withValue(true) { sum(copy(ones)) }
    let grads = gradientTensors(of: out, withRespectTo: layers.map { $0.weight.variable })
    let s = (layers.map { $0.weight.value }, grads)
    synflowCache = s
    return s
  }
}
