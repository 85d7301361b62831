/// A weighted sum of min–max normalised proxies, RoBoT's combined score (He et al., ICLR 2024,
/// "Robustifying and Boosting Training-Free Neural Architecture Search", eq. 2; reference code
/// `nasbench201/search.py` of the RoBoT repository):
///
///     s(a) = Σ_m w_m (v_m(a) − min_m) / (max_m − min_m),   w ∈ [−1, 1]^M
///
/// with min_m and max_m taken over a pool of architectures. Weights are not sign-corrected: a
/// lower-is-better proxy simply receives a negative weight. A missing value never helps: it
/// contributes min(0, w_m), the worst a present value could contribute (as if it were the pool's
/// minimum under a positive weight, its maximum under a negative one). Missing values come from
/// degenerate cells (an output that ignores the input, a singular kernel), so they should not be
/// promoted. This differs from RoBoT's code, which skips them (contribution 0, which a negative weight
/// turns into the best possible). A proxy that is constant over the pool normalises to 0 everywhere.
///
/// Codable, so `zcnas robot --save-weights` and `zcnas fit --save-weights` write it as JSON and
/// `zcnas search --weights` reads it back.
public struct Combination: Codable, Equatable, Sendable {
  /// Proxy names, in weight order.
  public var metrics: [String]
  /// `[M]` weights in [−1, 1].
  public var weights: [Double]
  /// `[M]` pool minima and maxima used for normalisation.
  public var minimum: [Double]
  public var maximum: [Double]
  /// Where the weights came from (command and settings), for the record.
  public var source: String

  public init(metrics: [String], weights: [Double], minimum: [Double], maximum: [Double], source: String) {
    self.metrics = metrics; self.weights = weights; self.minimum = minimum; self.maximum = maximum; self.source = source
  }

  /// Proxy `m`'s contribution w_m (v − min_m) / (max_m − min_m); min(0, w_m) when the value is
  /// missing; 0 when the proxy is constant over the pool.
  @inline(__always) public func contribution(_ v: Double?, _ m: Int) -> Double {
    guard let v, v.isFinite else { return Swift.min(0, weights[m]) }
    guard maximum[m] > minimum[m] else { return 0 }
    return weights[m] * (v - minimum[m]) / (maximum[m] - minimum[m])
  }

  /// The combined score of one architecture from its raw proxy values (`[M]`, nil = missing).
  public func score(_ values: [Double?]) -> Double {
    var s = 0.0
    for m in 0..<metrics.count { s += contribution(values[m], m) }
    return s
  }

  /// Checks that the arrays have one entry per proxy, weights are finite and in [−1, 1], and
  /// minimum ≤ maximum. - Returns: a description of the first problem, or nil.
  public func problem() -> String? {
    let m = metrics.count
    if m == 0 { return "no proxies" }
    if weights.count != m || minimum.count != m || maximum.count != m {
      return "metrics, weights, minimum and maximum have \(m), \(weights.count), \(minimum.count) and \(maximum.count) entries"
    }
    if let i = weights.firstIndex(where: { !$0.isFinite || abs($0) > 1 }) { return "weight of \(metrics[i]) is \(weights[i]), expected a number in [-1, 1]" }
    if let i = (0..<m).first(where: { !(minimum[$0] <= maximum[$0]) }) { return "minimum \(minimum[i]) of \(metrics[i]) exceeds its maximum \(maximum[i])" }
    return nil
  }
}
