import ZCAutodiff
import ZCNN
import ZCTensor

/// The tensors of the AZ-NAS / VKDNW protocol for one network: the re-initialised network, the
/// Gaussian input and (optionally) the Rademacher signs of AZ-NAS's trainability.
///
/// A scoring run derives them from the context's seeds (``ImageProxyContext/azNASInputs`` nil:
/// ``AZNASProtocol/prepare(network:batchSize:runSeed:networkSeed:)``); verification gives the
/// authors' stored tensors (`<fixture>.aznas.safetensors`) instead, so the comparison is exact.
public struct AZNASProtocolInputs {
  /// The network as the proxies see it: already re-initialised (or the fixture's weights),
  /// training mode, batch-norm running statistics as at construction (mean 0, var 1). It is not
  /// changed by the passes except for its running statistics; VKDNW reads a Float64 copy made
  /// before any pass.
  public var network: any ImageClassifier
  /// `[B] + inputShape` (NCHW) in the network's dtype.
  public var images: Tensor
  /// Rademacher signs (±1) of trainability by feature index i = 1…n, each shaped like F_i and in
  /// the network's dtype; nil to draw them from the run seed (``AZNASProtocol/signs(shapes:dtype:runSeed:)``).
  public var signs: [Int: Tensor]?

  public init(network: any ImageClassifier, images: Tensor, signs: [Int: Tensor]? = nil) {
    self.network = network; self.images = images; self.signs = signs
  }
}

/// The four AZ-NAS quantities of one network (Lee & Ham, CVPR 2024), as the authors' code returns
/// them: a NaN result is replaced by −∞ (`compute_az_nas_score.py` `compute_nas_score`).
public struct AZNASScores: Sendable {
  /// Σ_k h_k over the n + 1 block features.
  public let expressivity: Double
  /// min_{k ≥ 1} (h_k − h_{k−1}).
  public let progressivity: Double
  /// Mean over the n block pairs of −σ − 1/(σ + 1e-6) + 2.
  public let trainability: Double
  /// h_k, k = 0…n (Float64).
  public let featureEntropies: [Double]
  /// Per pair (F_i, F_{i−1}), i = n…1 (draw order): σ_max (nil where the block is the identity
  /// for the signs, giving a −∞ term) and the term.
  public let pairs: [(featureIndex: Int, sigmaMax: Double?, term: Double)]
}

/// VKDNW's quantities of one network (Tybl & Neumann, CVPR 2025).
public struct VKDNWScores: Sendable {
  /// −Σ t·log(t + 1e-10), t = Q / (Σ|Q| + 1e-10), Q the nine deciles of the Fisher spectrum.
  public let entropy: Double
  /// Number of parameter tensors of the network.
  public let dimension: Int
  /// Singular values of the empirical Fisher matrix F `[P, P]`, descending.
  public let spectrum: [Double]
  /// The deciles Q (q = 0.1, 0.2, …, 0.9).
  public let quantiles: [Double]
  /// P, the number of selected parameter entries.
  public let selectedEntries: Int
}

/// The AZ-NAS / VKDNW protocol and computations, shared by the proxies of both methods (one
/// forward and n block backward passes for AZ-NAS; one Float64 evaluation-mode forward and
/// min(K, C) backward passes for VKDNW, per network: K classes, C pooled features).
///
/// Choices the papers leave open, following the authors' NB201 drivers:
/// - **Initialisation**: `init_model(model, 'kaiming_norm_fanin')`: conv and linear weights
///   N(0, 2/fan_in) (`kaiming_normal_(mode='fan_in', nonlinearity='relu')`), their biases 0,
///   batch-norm γ = 1, β = 0. The running statistics are reset to mean 0, var 1 (the authors'
///   network is fresh, so they are at those values). Drawn from ``ZCRandom`` seeded with the
///   context's network seed (so it depends on the run seed and the architecture), in module order.
/// - **Input**: Gaussian N(0, 1) images `[B] + inputShape`, B = the run's batch size (the
///   authors: 64), drawn from the run seed (the same images for every architecture of a run).
/// - **Signs**: Rademacher draws of trainability from the run seed, in the authors' order
///   (F_n first, down to F_1), row-major (the same for every architecture of a run).
/// - **Mode**: AZ-NAS in training mode (batch statistics); VKDNW in evaluation mode (running
///   statistics, mean 0 and var 1 after the re-initialisation).
/// - **Repeats**: one (the authors' drivers call each once per network).
/// - **Precision**: the covariance, its eigenvalues and the trainability matrices in Float64 from
///   the network-dtype features (the fixture README: the float32 eigenvalues of near-singular
///   stage-3 covariances come out below −1e-8·trace and turn the log into NaN); VKDNW entirely in
///   Float64 (its spectrum spans 10 to 20 decades).
public enum AZNASProtocol {
  static let initSalt: UInt64 = 0xA2_1A5_C0DE_0001
  static let inputSalt: UInt64 = 0xA2_1A5_C0DE_0002
  static let signSalt: UInt64 = 0xA2_1A5_C0DE_0003

  /// AZ-NAS's `kaiming_norm_fanin` re-initialisation in place, in module order: every conv and
  /// linear weight `kaiming_normal_(fan_in, relu)` (row-major draws from `rng`), its bias 0;
  /// every batch norm γ = 1, β = 0, running mean 0, running var 1, no batches tracked.
  public static func kaimingNormalFanInInitialise(_ net: some Module, rng: inout ZCRandom) {
    for (_, m) in net.namedModules() {
      if let w = m as? any WeightedLayer {
        w.reinitialise(weight: .kaimingNormal(mode: .fanIn), rng: &rng)
      } else if let n = m as? any NormalizationLayer {
        n.resetParameters()
      }
    }
  }

  /// The protocol's tensors derived from the seeds: a re-initialised copy of `network` (its
  /// dtype, training mode) and Gaussian images `[batchSize] + inputShape`; signs are drawn later
  /// (their shapes come from the forward pass).
  public static func prepare(network: any ImageClassifier, batchSize: Int, runSeed: UInt64, networkSeed: UInt64) -> AZNASProtocolInputs {
    let dtype = network.namedParameters().first?.1.value.dtype ?? .float32
    let net = network.copy(dtype: dtype)
    net.setTraining(true)
    var wrng = ZCRandom(seed: networkSeed ^ initSalt)
    kaimingNormalFanInInitialise(net, rng: &wrng)
    var xrng = ZCRandom(seed: runSeed ^ inputSalt)
    let x = Initializer.normal(mean: 0, std: 1).make(shape: [batchSize] + net.inputShape, dtype: dtype, rng: &xrng)
    return AZNASProtocolInputs(network: net, images: x, signs: nil)
  }

  /// Rademacher signs for feature indices n…1 (draw order) with the given shapes, row-major,
  /// from the run seed: ±1 with probability ½ each.
  public static func signs(shapes: [Int: [Int]], dtype: DType, runSeed: UInt64) -> [Int: Tensor] {
    var rng = ZCRandom(seed: runSeed ^ signSalt)
    var out: [Int: Tensor] = [:]
    for i in shapes.keys.sorted(by: >) {
      let shape = shapes[i]!
      let n = shape.reduce(1, *)
      var v = [Double](repeating: 0, count: n)
      for j in 0..<n { v[j] = rng.nextUniform() < 0.5 ? -1 : 1 }
      out[i] = Tensor(doubles: v, shape: shape, dtype: dtype)
    }
    return out
  }

  /// Unpacks `numpy.packbits` bytes (most significant bit first) of `count` bits into ±1
  /// (bit 1 → +1, bit 0 → −1), shaped `shape`: the fixture's `aznas.gout_bits.fNN` tensors.
  /// Returns nil when the bytes hold fewer than `count` bits or a value outside 0…255.
  public static func unpackSigns(_ bytes: [Int], shape: [Int], dtype: DType) -> Tensor? {
    let count = shape.reduce(1, *)
    guard bytes.count == (count + 7) / 8, bytes.allSatisfy({ (0...255).contains($0) }) else { return nil }
    var v = [Double](repeating: 0, count: count)
    for j in 0..<count { v[j] = (bytes[j >> 3] >> (7 - (j & 7))) & 1 == 1 ? 1 : -1 }
    return Tensor(doubles: v, shape: shape, dtype: dtype)
  }

  // MARK: AZ-NAS

  /// Channel-major Float64 matrix `[C·s², B·H'·W']` of a feature `[B, C, H, W]`: row c·s² + dy·s + dx,
  /// column (b·H' + h)·W' + w holds x[b, c, h·s + dy, w·s + dx] (H' = H/s; s = 1: the features
  /// as `[B·H·W, C]` rows in (b, h, w) order, transposed; s = 2: `PixelUnshuffle(2)`).
  static func channelMajor(_ t: Tensor, unshuffle s: Int = 1) -> (rows: Int, columns: Int, values: [Double]) {
    let b = t.shape[0], c = t.shape[1], h = t.shape[2], w = t.shape[3]
    let ho = h / s, wo = w / s
    let x = t.doubles
    let rows = c * s * s, cols = b * ho * wo
    var out = [Double](repeating: 0, count: rows * cols)
    for bi in 0..<b {
      for ci in 0..<c {
        let src = (bi * c + ci) * h * w
        for dy in 0..<s {
          for dx in 0..<s {
            let r = ci * s * s + dy * s + dx
            var dst = r * cols + bi * ho * wo
            for oh in 0..<ho {
              let line = src + (oh * s + dy) * w + dx
              for ow in 0..<wo { out[dst] = x[line + ow * s]; dst += 1 }
            }
          }
        }
      }
    }
    return (rows, cols, out)
  }

  /// h = Σ −p·log(p + 1e-8), p = s/Σs, s the eigenvalues of the biased channel covariance of a
  /// feature `[B, C, H, W]` over its B·H·W positions (AZ-NAS expressivity of one feature).
  /// NaN when Σs = 0 (0/0) or an eigenvalue is below −1e-8·Σs (log of a negative number), as the
  /// reference. - Throws: ``LinalgError`` from dsyevd (a non-finite covariance).
  public static func featureEntropy(_ feature: Tensor) throws -> Double {
    let (c, n, x) = channelMajor(feature)
    let sigma = Statistics.centeredGram(x, rows: c, columns: n).map { $0 / Double(n) }
    guard sigma.allSatisfy(\.isFinite) else { return .nan }
    let s = try Linalg.symmetricEigenvalues(Tensor(sigma, shape: [c, c]))
    let total = s.reduce(0, +)
    var h = 0.0
    for v in s {
      let p = v / total
      h += -p * Double.log(p + 1e-8)
    }
    return h
  }

  /// AZ-NAS's expressivity, progressivity and trainability of `inputs.network` on `inputs.images`
  /// (training-mode batch norm). The network must expose its block features (``BlockFeatures``).
  ///
  /// - Features F_0 = stem(x), F_k = block_k(F_{k−1}), k = 1…n.
  /// - h_k: ``featureEntropy(_:)``; expressivity = Σ h_k; progressivity = min_k (h_k − h_{k−1}).
  /// - For i = n…1: G = Rᵀ·∂F_i/∂F_{i−1} (the block's vector–Jacobian product for signs R shaped
  ///   like F_i). If G equals R exactly the term is −∞. Otherwise, when the block halves the
  ///   spatial size, G = PixelUnshuffle(s)(G); M = Gᵀ R / (B·H·W) with both as `[B·H·W, channels]`;
  ///   σ = the largest singular value of M; term = −σ − 1/(σ + 1e-6) + 2. Trainability = mean of
  ///   the terms.
  /// - Each result is −∞ where it is NaN.
  /// - Parameter signs: ±1 per feature index 1…n (shaped like F_i), or nil to draw from `runSeed`.
  /// - Returns: nil when the network does not expose block features.
  /// - Throws: ``LinalgError`` from the eigen or singular value routines; ``AZNASError`` for
  ///   signs of the wrong shape.
  public static func scores(_ inputs: AZNASProtocolInputs, runSeed: UInt64) throws -> AZNASScores? {
    guard let blocks = inputs.network as? BlockFeatures else { return nil }
    let (features, leaves) = GradMode.$isEnabled.withValue(true) { blocks.blockFeatures(Variable(inputs.images)) }
    let entropies = try features.map { try featureEntropy($0.value) }
    let expressivity = entropies.reduce(0, +)
    var progressivity = Double.infinity
    for k in 1..<max(1, entropies.count) {
      let d = entropies[k] - entropies[k - 1]
      if d.isNaN || progressivity.isNaN { progressivity = .nan } else { progressivity = Swift.min(progressivity, d) }
    }
    if entropies.count < 2 { progressivity = .nan }
    let n = features.count - 1
    var shapes: [Int: [Int]] = [:]
    for i in 1...max(1, n) where i <= n { shapes[i] = features[i].shape }
    let dtype = inputs.images.dtype
    let signs = inputs.signs ?? Self.signs(shapes: shapes, dtype: dtype, runSeed: runSeed)
    var pairs: [(featureIndex: Int, sigmaMax: Double?, term: Double)] = []
    for i in stride(from: n, through: 1, by: -1) {
      let fOut = features[i], fIn = leaves[i - 1]
      guard let r = signs[i], r.shape == fOut.shape else {
        throw AZNASError(reason: "trainability: signs for F_\(i) have shape \(signs[i]?.shape ?? []), expected \(fOut.shape)")
      }
      let rv = r.dtype == fOut.dtype ? r : r.to(fOut.dtype)
      let g = gradients(of: fOut, withRespectTo: [fIn], seed: Variable(rv))[0]?.value ?? Tensor(zeros: fIn.shape, dtype: fIn.dtype)
      if g.shape == rv.shape && g.doubles == rv.doubles {
        pairs.append((i, nil, -.infinity))
        continue
      }
      let stride = g.shape[2] / rv.shape[2]
      guard stride >= 1, g.shape[2] == rv.shape[2] * stride, g.shape[3] == rv.shape[3] * stride else {
        throw AZNASError(reason: "trainability: block \(i) maps \(g.shape) to \(rv.shape), not an integer spatial reduction")
      }
      let gm = channelMajor(g, unshuffle: stride), rm = channelMajor(rv)
      let m = Tensor.matmul(Tensor(gm.values, shape: [gm.rows, gm.columns]), Tensor(rm.values, shape: [rm.rows, rm.columns]), transB: true)
        .doubles.map { $0 / Double(rm.columns) }
      guard m.allSatisfy(\.isFinite) else { pairs.append((i, .nan, .nan)); continue }
      let sigma = try Linalg.singularValues(Tensor(m, shape: [gm.rows, rm.rows])).max() ?? 0
      pairs.append((i, sigma, -sigma - 1 / (sigma + 1e-6) + 2))
    }
    let trainability = pairs.isEmpty ? Double.nan : pairs.map(\.term).reduce(0, +) / Double(pairs.count)
    func finite(_ v: Double) -> Double { v.isNaN ? -.infinity : v }
    return AZNASScores(expressivity: finite(expressivity), progressivity: finite(progressivity), trainability: finite(trainability),
                       featureEntropies: entropies, pairs: pairs)
  }

  // MARK: VKDNW

  /// Parameter tensors whose first entry VKDNW differentiates (`params_grad_len`).
  public static let vkdnwParameterTensors = 128

  /// torch.quantile(values, q) with linear interpolation (ascending sort; rank q·(n − 1);
  /// torch.lerp's two-sided formula).
  public static func quantile(_ values: [Double], _ q: Double) -> Double {
    let s = values.sorted()
    let rank = q * Double(s.count - 1)
    let lo = Int(rank.rounded(.down)), hi = Int(rank.rounded(.up))
    let w = rank - Double(lo)
    let a = s[lo], b = s[hi]
    return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w)
  }

  /// VKDNW's label smoothing constants (1 − α, α/K) for α = 0.05 held as a float16 tensor, as
  /// the authors' `cholesky_covariance` computes them: both in float16 arithmetic, then used in
  /// the network dtype (K = 10: 0.9501953125 and 0.00499725341796875).
  public static func vkdnwSmoothing(classes k: Int) -> (scale: Double, floor: Double) {
    let alpha = Float16(0.05)
    return (Double(Float16(1) - alpha), Double(alpha / Float16(Float(k))))
  }

  /// VKDNW's lower-triangular factor L `[K, K]` of one sample's smoothed probabilities π (the
  /// authors' `cholesky_covariance`): q_j = 1 − Σ_{k≤j} π_k with q_{K−1} = 0, q′_0 = 1,
  /// q′_j = q_{j−1}, d_j = √(π_j q_j / q′_j); L_jj = d_j, L_ij = −(π_i/q_j)·d_j for i > j
  /// (−∞ and NaN quotients are 0, +∞ the largest finite number, as `torch.nan_to_num`).
  public static func choleskyFactor(_ pi: [Double]) -> [Double] {
    let k = pi.count
    var q = [Double](repeating: 0, count: k)
    var acc = 0.0
    for j in 0..<k { acc += pi[j]; q[j] = 1 - acc }
    q[k - 1] = 0
    var l = [Double](repeating: 0, count: k * k)
    for j in 0..<k {
      let qs = j == 0 ? 1 : q[j - 1]
      let d = (pi[j] * q[j] / qs).squareRoot()
      l[j * k + j] = d
      for i in (j + 1)..<max(k, j + 1) {
        var v = -(pi[i] * (1 / q[j]))
        if v.isNaN || v == -.infinity { v = 0 } else if v == .infinity { v = .greatestFiniteMagnitude }
        l[i * k + j] = v * d
      }
    }
    return l
  }

  /// VKDNW of `inputs.network` on `inputs.images`, in Float64 and evaluation mode (a Float64
  /// copy `evaluationCopy` made before any training-mode pass), following the authors'
  /// `compute_vkdnw_score.py` `compute_nas_score` (`params_grad_len` 128, p = 1):
  ///
  /// - θ: entry 0 of each of the first 128 parameter tensors (named-parameter order); P = |θ|.
  /// - J_b = ∂z_b/∂θ `[K, P]` per sample (``perSampleElementJacobian(of:withRespectTo:elements:)``).
  /// - π_b = softmax(z_b)·(1 − α) + α/K with α the float16 0.05 (constants rounded to float16:
  ///   0.9501953125 and, for K = 10, 0.00499725341796875); L_b = ``choleskyFactor(_:)``.
  /// - F = (1/B) Σ_b (L_b J_b)ᵀ (L_b J_b) `[P, P]`; λ = its singular values.
  /// - Q = the deciles of λ (``quantile(_:_:)``, q = 0.1 + 0.1·i, i = 0…8), t = Q/(Σ|Q| + 1e-10),
  ///   entropy = −Σ t·log(t + 1e-10); dimension = the number of parameter tensors.
  /// - Returns: nil when the graph consumes a selected parameter in a way the per-sample Jacobian
  ///   does not support.
  /// - Throws: ``LinalgError`` from dgesdd (for example a non-finite F).
  public static func vkdnw(evaluationCopy net: any ImageClassifier, images: Tensor) throws -> VKDNWScores? {
    let x = images.to(.float64)
    let named = net.namedParameters()
    let selected = Array(named.prefix(vkdnwParameterTensors)).map { $0.1.variable }
    let logits = GradMode.$isEnabled.withValue(true) { net(Variable(x)) }
    let b = logits.shape[0], k = logits.shape[1], p = selected.count
    guard let jac = perSampleElementJacobian(of: logits, withRespectTo: selected, elements: selected.map { _ in 0 }) else { return nil }
    let (oneMinus, floor) = vkdnwSmoothing(classes: k)
    let z = logits.value.doubles
    var fisher = [Double](repeating: 0, count: p * p)
    for bi in 0..<b {
      let row = Array(z[(bi * k)..<((bi + 1) * k)])
      let mx = row.max() ?? 0
      let e = row.map { Double.exp($0 - mx) }
      let se = e.reduce(0, +)
      let pi = e.map { $0 / se * oneMinus + floor }
      let l = choleskyFactor(pi)
      let jb = Tensor(Array(jac[(bi * k * p)..<((bi + 1) * k * p)]), shape: [k, p])
      let a = Tensor.matmul(Tensor(l, shape: [k, k]), jb)
      let f = Tensor.matmul(a, a, transA: true).doubles
      for j in 0..<(p * p) { fisher[j] += f[j] }
    }
    for j in 0..<(p * p) { fisher[j] /= Double(b) }
    let lambda = try Linalg.singularValues(Tensor(fisher, shape: [p, p]))
    let qs = (0..<9).map { quantile(lambda, 0.1 + 0.1 * Double($0)) }
    let norm = qs.reduce(0) { $0 + Swift.abs($1) }
    var entropy = 0.0
    for q in qs {
      let t = q / (norm + 1e-10)
      entropy += t * Double.log(t + 1e-10)
    }
    return VKDNWScores(entropy: -entropy, dimension: named.count, spectrum: lambda, quantiles: qs, selectedEntries: p)
  }
}

/// An AZ-NAS input that does not fit the network (signs of the wrong shape).
public struct AZNASError: Error, CustomStringConvertible {
  public let reason: String
  public var description: String { reason }
}

/// The AZ-NAS / VKDNW pass of one context, computed once for all their proxies.
final class AZNASState {
  let inputs: AZNASProtocolInputs
  let evaluationCopy: any ImageClassifier
  var azNAS: Result<AZNASScores?, Error>?
  var vkdnw: Result<VKDNWScores?, Error>?

  init(_ inputs: AZNASProtocolInputs) {
    self.inputs = inputs
    let copy = inputs.network.copy(dtype: .float64)
    copy.setTraining(false)
    evaluationCopy = copy
  }
}

extension ImageProxyContext {
  private var azNASState: AZNASState {
    if let s = azNASStorage as? AZNASState { return s }
    let inputs = azNASInputs ?? AZNASProtocol.prepare(network: network, batchSize: batchSize, runSeed: runSeed, networkSeed: networkSeed)
    let s = AZNASState(inputs)
    azNASStorage = s
    return s
  }

  /// AZ-NAS's scores on this context's protocol tensors (``azNASInputs``, or derived from the
  /// seeds), computed on first use. Nil when the network does not expose block features.
  /// - Throws: as ``AZNASProtocol/scores(_:runSeed:)``.
  public func azNASScores() throws -> AZNASScores? {
    let s = azNASState
    if let r = s.azNAS { return try r.get() }
    let r = Result { try AZNASProtocol.scores(s.inputs, runSeed: runSeed) }
    s.azNAS = r
    return try r.get()
  }

  /// VKDNW's scores on this context's protocol tensors, computed on first use (Float64,
  /// evaluation mode). Nil when the graph is not supported by the per-sample Jacobian.
  /// - Throws: as ``AZNASProtocol/vkdnw(evaluationCopy:images:)``.
  public func vkdnwScores() throws -> VKDNWScores? {
    let s = azNASState
    if let r = s.vkdnw { return try r.get() }
    let r = Result { try AZNASProtocol.vkdnw(evaluationCopy: s.evaluationCopy, images: s.inputs.images) }
    s.vkdnw = r
    return try r.get()
  }
}
