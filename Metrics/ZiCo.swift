import ZCEngine
import ZCTensor

/// zico: with the loss gradients g¹, g² of two minibatches, per conv/linear layer
/// S_l = Σ over entries with std ≠ 0 of mean(|g|)/std(g) (population std over the two batches,
/// = |g¹ − g²|/2); score = Σ over layers with S_l ≠ 0 of log S_l. Higher is better.
/// Source: Li et al. 2023, "ZiCo: Zero-shot NAS via inverse Coefficient of Variation on
/// Gradients"; ZiCo `ZeroShotProxy/compute_zico.py` (`getgrad`, `caculate_zico`).
public struct ZiCo: ImageProxy {
  public init() {}
  public let name = "zico"
  public let summary = "sum over layers of log of sum of mean|g|/std(g) across two batches"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward, .secondBatch]
  public let source = "Li et al. 2023 (ZiCo compute_zico.py)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let g2 = context.secondBatchWeightGradients() else { return .missing(reason: "zico needs a second minibatch") }
    let g1 = context.lossGradients().weights
    var score = 0.0
    for (a, b) in zip(g1, g2) {
      let x = a.doubles, y = b.doubles
      var s = 0.0
      for j in 0..<x.count {
        let mean = (x[j] + y[j]) / 2
        let std = ((x[j] - mean) * (x[j] - mean) + (y[j] - mean) * (y[j] - mean)) / 2
        if std != 0 { s += (Swift.abs(x[j]) + Swift.abs(y[j])) / 2 / std.squareRoot() }
      }
      if s != 0 { score += Double.log(s) }
    }
    return .checked(score, ifNotFinite: "non-finite gradient")
  }
}
