import ZCEngine
import ZCTensor

/// Fits combination weights to ground truth on a training split: Bayesian optimisation (the same
/// GP-UCB as ``RoBoT``) of the Spearman ρ between the combined score (``Combination``, normalised
/// over the training split) and the target, w ∈ [−1, 1]^M. Where RoBoT optimises the objective of
/// the single top architecture, this optimises the whole ranking, as a predictor would
/// (`zcnas fit`). Ours; the ranking objective follows the evaluation protocol of Abdelfattah et al.
/// (ICLR 2021, "Zero-Cost Proxies for Lightweight NAS").
public struct CombinationFit: Sendable {
  public var iterations: Int
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
    guard train.count >= 3, targets.count == train.count else { throw SearchError("fit: need at least 3 training architectures with ground truth, found \(train.count)") }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    let m = train.metrics.count
    let lower = [Double](repeating: -1, count: m), upper = [Double](repeating: 1, count: m)
    func rho(_ w: [Double]) -> Double {
      let r = Statistics.spearman(train.scores(w), targets)
      return r.isFinite ? r : -1
    }
    var xs: [[Double]] = [], ys: [Double] = []
    for _ in 0..<max(1, initialPoints) { let w = (0..<m).map { _ in rng.nextUniform(-1, 1) }; xs.append(w); ys.append(rho(w)) }
    while xs.count < max(iterations, initialPoints) {
      let gp = try GaussianProcess.fit(x: xs, y: ys, restarts: gpRestarts, rng: &rng)
      let w = try Acquisition.ucb(kappa: 2.576).maximise(gp, lower: lower, upper: upper, candidates: candidates, rng: &rng).x
      xs.append(w); ys.append(rho(w))
    }
    let b = ys.indices.max { ys[$0] < ys[$1] }!
    return (train.combination(xs[b]), ys[b])
  }
}
