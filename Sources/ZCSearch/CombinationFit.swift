import ZCEngine
import ZCTensor

/// Fits combination weights to ground truth on a training split: Bayesian optimisation (the same
/// GP-UCB as ``RoBoT``) of the Spearman ρ between the combined score (``Combination``, normalised
/// over the training split) and the target, w ∈ [−1, 1]^M. Where RoBoT optimises the objective of
/// the single top architecture, this optimises the whole ranking, as a predictor would
/// (`zcnas fit`). Ours; the ranking objective follows the evaluation protocol of Abdelfattah et al.
/// (ICLR 2021, "Zero-Cost Proxies for Lightweight NAS").
public struct CombinationFit: Sendable {
  /// Evaluations of the training ρ in all; at least 2M + `initialPoints` (the starts) are made.
  public var iterations: Int
  /// Random starting points, besides the 2M single-proxy starts (±1 on one proxy).
  public var initialPoints: Int
  public var candidates = 2000
  public var gpRestarts = 3

  public init(iterations: Int = 60, initialPoints: Int = 8) { self.iterations = iterations; self.initialPoints = initialPoints }

  /// - Parameters:
  ///   - train: the training pool (raw values).
  ///   - targets: `[N]` ground truth for the pool's architectures, in pool order.
  /// - Returns: the fitted combination (normalised over `train`) and its training ρ.
  /// - Throws: ``SearchError`` when the split is too small; GP errors.
  public func fit(train: ProxyPool, targets: [Double], seed: Int) throws -> (combination: Combination, trainRho: Double) {
    guard targets.count == train.count else { throw SearchError("fit: \(targets.count) targets for \(train.count) training architectures") }
    guard train.count >= 3 else { throw SearchError("fit: need at least 3 training architectures with ground truth, found \(train.count)") }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    let m = train.metrics.count
    let lower = [Double](repeating: -1, count: m), upper = [Double](repeating: 1, count: m)
    func rho(_ w: [Double]) -> Double {
      let r = Statistics.spearman(train.scores(w), targets)
      return r.isFinite ? r : -1
    }
    var xs: [[Double]] = [], ys: [Double] = []
    // Start from every single proxy with either sign (one-hot weights), so the fit is never worse on
    // the training split than the best single proxy under the combination's missing-value rule,
    // then from random points.
    for j in 0..<m {
      for sign in [1.0, -1.0] { let w = (0..<m).map { $0 == j ? sign : 0 }; xs.append(w); ys.append(rho(w)) }
    }
    for _ in 0..<max(1, initialPoints) { let w = (0..<m).map { _ in rng.nextUniform(-1, 1) }; xs.append(w); ys.append(rho(w)) }
    while xs.count < max(iterations, 2 * m + initialPoints) {
      let gp = try GaussianProcess.fit(x: xs, y: ys, restarts: gpRestarts, rng: &rng)
      let w = try Acquisition.ucb(kappa: 2.576).maximise(gp, lower: lower, upper: upper, candidates: candidates, rng: &rng).x
      xs.append(w); ys.append(rho(w))
    }
    let b = ys.indices.max { ys[$0] < ys[$1] }!
    return (train.combination(xs[b]), ys[b])
  }
}
