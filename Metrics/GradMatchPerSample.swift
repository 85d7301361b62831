import ZCAutodiff
import ZCEngine
import ZCNN
import ZCTensor

/// grad_match_per_sample: the mean pairwise cosine of the B per-sample loss gradients, per
/// conv/linear weight, averaged over those layers. On the initial network in evaluation mode
/// (batch norm with its running statistics, so the samples are independent), g_i = ∂L_i/∂W with
/// L_i the cross-entropy of sample i; per layer, with u_i = g_i/‖g_i‖ over the m samples whose
/// gradient is not zero,
///
///   mean_{i<j} cos(g_i, g_j) = (‖Σ_i u_i‖² − Σ_i ‖u_i‖²) / (m(m − 1)),  Σ_i ‖u_i‖² = m,
///
/// computed from the normalised per-sample gradients without the B × B Gram matrix (Float64
/// sums). Layers with m < 2 are left out; score = the mean over the remaining layers. Missing
/// when no layer remains (for example an all-`none` cell gives zero cell gradients and a
/// classifier alone) or a value is not finite. Lower is better, the sign measured on CIFAR-10
/// validation accuracy: on 193 NAS-Bench-201 architectures with a value (`sample:200:1`, batch 64,
/// seed 0; 7 missing) Spearman ρ = −0.38, Kendall τ = −0.25 against `cifar10_valid_acc` (−0.39 /
/// −0.26 against test accuracy; −0.56 on the 129 valid cells among them).
///
/// Per-sample gradients: one batched forward and backward of Σ_i ⟨z_i, stop_gradient(softmax(z_i)
/// − onehot(y_i))⟩ (whose gradient w.r.t. W is Σ_i ∂L_i/∂W), then each layer's per-sample weight
/// gradient from its input and output cotangent (``visitIndependentPerSampleGradients(of:withRespectTo:_:)``);
/// one batch-of-one backward per sample when the graph has a consumer that route does not support.
///
/// Defined by this project (issue 19, item 5): the per-sample form of ``GradMatch``'s gradient
/// agreement (Hu et al. 2022 compare gradients by cosine; here across samples of one batch on the
/// untrained network). No published reference value.
public struct GradMatchPerSample: ImageProxy {
  public init() {}
  public let name = "grad_match_per_sample"
  public let summary = "mean pairwise cosine of the per-sample loss gradients per conv/linear layer (evaluation mode; project-defined)"
  public let direction = ProxyDirection.lowerIsBetter
  public let requirements: ProxyRequirements = [.labels, .evaluationMode]
  /// One forward and backward of the evaluation-mode copy, and one layer's per-sample rows.
  public let memory = ProxyMemory(tapes: 1.25, parameterCopies: 0.2)
  public let source = "this project (per-sample form of grad_match; Hu et al. 2022 gradient matching)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let net = context.evaluationModeNetwork else { preconditionFailure("grad_match_per_sample needs .evaluationMode") }
    let b = context.images.shape[0]
    guard b >= 2 else { return .missing(reason: "grad_match_per_sample needs at least 2 images") }
    let weights = ImageProxyContext.weightLayers(of: net).map { $0.weight.variable }
    var cosines: [Double?] = weights.map { _ in nil }
    let logits = GradMode.$isEnabled.withValue(true) { net(Variable(context.images)) }
    let target = GradMode.$isEnabled.withValue(true) { multiply(logits, Variable(Self.lossCotangent(logits.value, labels: context.labels))) }
    let batched = visitIndependentPerSampleGradients(of: target, withRespectTo: weights) { k, rows in
      cosines[k] = Self.meanPairwiseCosine(rows)
    }
    if !batched {
      let perSample = (0..<b).map { i -> [Tensor] in
        let loss = GradMode.$isEnabled.withValue(true) {
          crossEntropy(net(Variable(context.images.rows(i..<(i + 1)))), labels: [context.labels[i]])
        }
        return gradientTensors(of: loss, withRespectTo: weights)
      }
      for k in weights.indices {
        cosines[k] = Self.meanPairwiseCosine(Tensor.concatenate(perSample.map { $0[k].reshaped([1, -1]) }, axis: 0))
      }
    }
    let present = cosines.compactMap { $0 }
    guard !present.isEmpty else { return .missing(reason: "nan: no layer has a non-zero loss gradient for 2 or more images") }
    return .checked(present.reduce(0, +) / Double(present.count), ifNotFinite: "non-finite per-sample gradient")
  }

  /// softmax(z_i) − onehot(y_i) per row of logits `[B, K]`, in the logits' dtype: the gradient of
  /// sample i's cross-entropy w.r.t. its logits.
  public static func lossCotangent(_ logits: Tensor, labels: [Int]) -> Tensor {
    let (n, k) = (logits.shape[0], logits.shape[1])
    let z = logits.doubles
    var c = [Double](repeating: 0, count: n * k)
    for i in 0..<n {
      let row = z[(i * k)..<((i + 1) * k)]
      let top = row.max() ?? 0
      var total = 0.0
      for j in 0..<k { let e = Double.exp(z[i * k + j] - top); c[i * k + j] = e; total += e }
      for j in 0..<k { c[i * k + j] /= total }
      c[i * k + labels[i]] -= 1
    }
    return Tensor(doubles: c, shape: [n, k], dtype: logits.dtype)
  }

  /// Mean over pairs i < j of cos(g_i, g_j) for the rows g_i of `rows` `[B, P]` whose norm is not
  /// zero, from ‖Σ u_i‖² and Σ ‖u_i‖² = m (u_i = g_i/‖g_i‖), in Float64; nil when m < 2.
  public static func meanPairwiseCosine(_ rows: Tensor) -> Double? {
    let b = rows.shape[0], p = rows.count / Swift.max(b, 1)
    // Read in place (no Float64 copy of the B × P rows: for NB201 that was about 0.5 GB of fresh
    // memory per network); each entry is widened to Float64 where it is used, so the sums are
    // the same as on a Float64 copy.
    switch rows.dtype {
    case .float32: return meanPairwiseCosine(rows.pointer(Float.self), rows: b, columns: p)
    case .float64: return meanPairwiseCosine(rows.pointer(Double.self), rows: b, columns: p)
    }
  }

  /// The same mean on `b` rows of `p` entries stored row-major at `v` (the B × P buffer of
  /// ``meanPairwiseCosine(_:)``'s tensor, read in place): with u_i = g_i/‖g_i‖ over the m rows of
  /// non-zero norm, Σ_{i<j} cos(g_i, g_j) = (‖Σ u_i‖² − m)/2, so the mean over the m(m − 1)/2
  /// pairs is (‖Σ u_i‖² − m)/(m(m − 1)). Each entry is widened to Float64 before it is squared or
  /// summed; memory: one Float64 vector of length p. nil when m < 2.
  static func meanPairwiseCosine<T: BinaryFloatingPoint>(_ v: UnsafePointer<T>, rows b: Int, columns p: Int) -> Double? {
    var s = [Double](repeating: 0, count: p)
    var m = 0
    for i in 0..<b {
      let row = v + i * p
      var nn = 0.0
      for j in 0..<p { let x = Double(row[j]); nn += x * x }
      guard nn > 0 else { continue }
      let inv = 1 / nn.squareRoot()
      for j in 0..<p { s[j] += Double(row[j]) * inv }
      m += 1
    }
    guard m >= 2 else { return nil }
    var ss = 0.0
    for x in s { ss += x * x }
    return (ss - Double(m)) / Double(m * (m - 1))
  }
}
