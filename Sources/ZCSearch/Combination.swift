/// A weighted sum of min–max normalised proxies, RoBoT's combined score (He et al., ICLR 2024,
/// "Robustifying and Boosting Training-Free Neural Architecture Search", eq. 2; reference code
/// `nasbench201/search.py` of the RoBoT repository):
///
///     s(a) = Σ_m w_m (v_m(a) − min_m) / (max_m − min_m),   w ∈ [−1, 1]^M
///
/// with min_m and max_m taken over a pool of architectures. Weights are not sign-corrected: a
/// lower-is-better proxy simply receives a negative weight. A missing value contributes 0, which
/// is that proxy's normalised pool minimum (RoBoT skips missing values the same way); a proxy that
/// is constant over the pool normalises to 0 everywhere.
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

  /// The normalised value of proxy `m` (0 when missing or constant over the pool).
  @inline(__always) public func normalised(_ v: Double?, _ m: Int) -> Double {
    guard let v, v.isFinite, maximum[m] > minimum[m] else { return 0 }
    return (v - minimum[m]) / (maximum[m] - minimum[m])
  }

  /// The combined score of one architecture from its raw proxy values (`[M]`, nil = missing).
  public func score(_ values: [Double?]) -> Double {
    var s = 0.0
    for m in 0..<metrics.count { s += weights[m] * normalised(values[m], m) }
    return s
  }
}
