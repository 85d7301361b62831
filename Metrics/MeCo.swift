import ZCAutodiff
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// meco (MeCo, Jiang et al. NeurIPS 2023, "MeCo: Zero-Shot NAS with One Data and Single Forward
/// Pass via Minimum Eigenvalue of Correlation"): one training-mode forward pass of **one** image
/// (the first of the minibatch, `[1, C, H, W]`; batch norm then normalises over that image's H·W
/// positions). Every module output T `[1, n, h, w]` ("firing") gives X = T[0] as n rows of h·w
/// values, R = the Pearson correlation matrix of the rows `[n, n]` (`torch.corrcoef`, entries
/// clipped to [−1, 1]); every NaN or ±inf entry of R (a row with zero variance, a single column)
/// is set to 0, diagonal included; the firing's value is the minimum eigenvalue of R.
/// meco = Σ over firings of that value (higher is better).
///
/// Which firings, and how often: the authors hook **every** module (`named_modules()`), containers
/// included, so one tensor fires once per module that returns it. The engine reads them from the
/// network's own module-output trace (``ForwardTrace/moduleOutputs``, ``firings(of:image:)``),
/// which networks that conform to `TracesEveryModule` serve (for any other network meco is missing):
/// NAS-Bench-201 (``NB201Network``, xautodl's module tree plus the two
/// containers of MeCo's own NB201 model, so the shared fixtures' values are reproduced: the stem
/// conv once and its batch norm three times; per `nor_conv` edge ReLU, conv and (three times)
/// batch norm; `avg_pool_3x3` twice; `skip_connect` once (its input); `none` once (zeros, value
/// 0); each cell output once and once more after the last cell of a stage; per reduction block
/// conv_a and conv_b as an edge, the shortcut's pool once and 1×1 conv twice, and the block
/// output once; the head's batch norm once and ReLU twice) and ONNX graphs (``ONNXNetwork``: the
/// modules are the scopes of the PyTorch exporter's node names; see docs/metrics.md for what an
/// export loses). Only outputs of rank ≥ 3 with more than one value per row are kept (n = the
/// second axis, as the reference's `fea.reshape(fea.shape[0], -1)` of the first sample; NB201
/// and the CNN exports have only NCHW maps): every other output (pooled `[1, C, 1, 1]` maps,
/// `[1, C]` vectors, logits) gives an n × 1 matrix whose correlation is all NaN, value 0 in the
/// reference.
///
/// Choices (the authors' NB201 script `correlation/NAS_Bench_201.py` `get_score`): batch 1, a real
/// training image, no re-initialisation (`--init_w_type none`: the network as built, here the
/// engine's PyTorch-default initialisation of `TinyNetwork`, whose cell convolutions have no bias
/// where MeCo's model adds one), training-mode batch norm, one pass. R and its eigenvalues are
/// computed in Float64 from the network's dtype (LAPACK `dsyevd`; the reference uses the general
/// `torch.linalg.eig` on the symmetric R, equal up to rounding). Missing when the network reports
/// no such module output or does not report every module (``TracesEveryModule``), or a value
/// is not finite.
public struct MeCo: ImageProxy {
  public init() {}
  public let name = "meco"
  public let summary = "sum over module outputs of the minimum eigenvalue of the channel correlation matrix (one image)"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  /// Its own forward pass of one image.
  public let memory = ProxyMemory(tapes: 0.05)
  public let source = "Jiang et al. 2023 (HamsterMimi/MeCo correlation/NAS_Bench_201.py get_score, measure meco)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let firings = Self.firings(of: context.network, image: context.images.rows(0..<1)) else {
      return .missing(reason: Self.noFirings(context.network))
    }
    return .checked(try Self.score(firings), ifNotFinite: "a correlation eigenvalue is not finite")
  }

  /// Why ``firings(of:image:)`` gave nil for `network`.
  static func noFirings(_ network: some Layer) -> String {
    network is any TracesEveryModule
      ? "meco: the network reported no module output of rank >= 3 with more than one value per row"
      : "meco: the network does not report every module's output (TracesEveryModule: NAS-Bench-201 and ONNX networks do), so the sum would be partial"
  }

  /// One hooked module output: the dotted module name (xautodl's on NAS-Bench-201) and its tensor
  /// `[1, n, h, w]` (several firings may share one tensor).
  public struct Firing {
    public let module: String
    public let tensor: Tensor
    /// Firings of one tensor share this index (its value is computed once).
    public let tensorIndex: Int
  }

  /// Σ over `firings` of ``minimumCorrelationEigenvalue(_:rows:)`` (each distinct tensor's value
  /// computed once), summed in Float64.
  /// - Throws: ``LinalgError`` from dsyevd.
  public static func score(_ firings: [Firing]) throws -> Double {
    var cache: [Int: Double] = [:]
    var total = 0.0
    for f in firings {
      if let v = cache[f.tensorIndex] { total += v; continue }
      let v = try minimumCorrelationEigenvalue(f.tensor, rows: nil)
      cache[f.tensorIndex] = v
      total += v
    }
    return total
  }

  /// min eigenvalue of MeCo's cleaned correlation matrix of T[0] (`[n, ...]` → n rows of the
  /// remaining values), restricted to `rows` when given (MeCo_opt's channel sample). A row whose
  /// values are all equal has an undefined correlation: its row and column of R are 0 (the
  /// reference's NaN → 0, diagonal included). One column: R = 0. Entries clipped to [−1, 1] as
  /// `torch.corrcoef`. Float64.
  /// - Throws: ``LinalgError`` from dsyevd.
  public static func minimumCorrelationEigenvalue(_ t: Tensor, rows: [Int]?) throws -> Double {
    precondition(t.rank >= 2 && t.shape[0] == 1, "MeCo reads one sample's output [1, n, ...], got \(t.shape)")
    let n = t.shape[1], m = t.count / max(n, 1)
    let picked = rows ?? Array(0..<n)
    let k = picked.count
    guard k > 0 else { return 0 }
    guard m > 1 else { return 0 }  // every entry NaN → 0, eigenvalues 0
    let all = t.doubles
    var x = [Double](repeating: 0, count: k * m)
    var constant = [Bool](repeating: false, count: k)
    for (r, row) in picked.enumerated() {
      let base = row * m
      var mean = 0.0
      for j in 0..<m { mean += all[base + j] }
      mean /= Double(m)
      var same = true
      let first = all[base]
      for j in 0..<m {
        let v = all[base + j]
        if v != first { same = false }
        x[r * m + j] = v - mean
      }
      constant[r] = same
    }
    let xt = Tensor(doubles: x, shape: [k, m], dtype: .float64)
    let c = Tensor.matmul(xt, xt, transB: true).doubles
    var r = [Double](repeating: 0, count: k * k)
    for i in 0..<k where !constant[i] {
      for j in 0..<k where !constant[j] {
        let v = c[i * k + j] / (c[i * k + i].squareRoot() * c[j * k + j].squareRoot())
        r[i * k + j] = v.isFinite ? Swift.min(1, Swift.max(-1, v)) : 0
      }
    }
    if r.contains(where: { !$0.isFinite }) { return .nan }
    return try Linalg.symmetricEigenvalues(Tensor(doubles: r, shape: [k, k], dtype: .float64)).first ?? 0
  }

  /// MeCo's hooked module outputs for one image `[1, C, H, W]`, in forward-completion order (the
  /// order the reference's hooks fire), from one forward pass of `network` in its current mode
  /// without gradient, traced by modules (``ForwardTrace/moduleOutputs``); only outputs of rank ≥ 3
  /// (`[1, n, h, w]` maps, `[1, n, d]` sequences) with more than one value per row (the others
  /// are worth 0). Nil when the network reports none, or is not ``TracesEveryModule`` (its sum
  /// would be partial).
  public static func firings(of network: some Layer, image: Tensor) -> [Firing]? {
    guard network is any TracesEveryModule else { return nil }
    let trace = ForwardTrace(reluInputs: false, layerOutputs: false, moduleOutputs: true)
    _ = GradMode.$isEnabled.withValue(false) { ForwardTrace.$current.withValue(trace) { network(Variable(image)) } }
    let out = trace.moduleOutputs.filter { o in
      let t = o.output
      return t.rank >= 3 && t.shape[0] == 1 && t.shape[1] > 0 && t.count / t.shape[1] > 1
    }
      .map { Firing(module: $0.module, tensor: $0.output, tensorIndex: $0.tensorIndex) }
    return out.isEmpty ? nil : out
  }
}
