import Foundation
import ZCTensor

/// Acquisition functions on a Gaussian-process posterior (maximisation).
public enum Acquisition: Sendable, Equatable {
  /// Upper confidence bound μ + κ σ (Srinivas et al., ICML 2010). RoBoT uses κ = 2.576, the
  /// BayesianOptimization package's default.
  case ucb(kappa: Double)
  /// Expected improvement over the best observation y⁺ (Jones et al. 1998):
  /// with z = (μ − y⁺ − ξ) / σ, EI = (μ − y⁺ − ξ) Φ(z) + σ φ(z), and max(μ − y⁺ − ξ, 0) where σ = 0.
  case expectedImprovement(xi: Double)

  /// The acquisition value for posterior mean `mean`, variance `variance`, best observation `best`.
  public func value(mean: Double, variance: Double, best: Double) -> Double {
    let sigma = variance.squareRoot()
    switch self {
    case let .ucb(kappa): return mean + kappa * sigma
    case let .expectedImprovement(xi):
      let imp = mean - best - xi
      guard sigma > 0 else { return Swift.max(imp, 0) }
      let z = imp / sigma
      let cdf = 0.5 * Foundation.erfc(-z / 2.0.squareRoot())
      let pdf = Foundation.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
      return imp * cdf + sigma * pdf
    }
  }

  /// Maximises the acquisition over the box [lower, upper]: `candidates` uniform random points,
  /// then Nelder–Mead refinement from the `refine` best of them (the BayesianOptimization package
  /// does the same with L-BFGS-B). Deterministic for a given `rng` state.
  /// - Returns: the maximising point (`[d]`) and its acquisition value.
  /// - Throws: errors of ``GaussianProcess/predict(_:)``.
  public func maximise(_ gp: GaussianProcess, lower: [Double], upper: [Double], candidates: Int = 5000, refine: Int = 5,
                       rng: inout ZCRandom) throws -> (x: [Double], value: Double) {
    let d = lower.count
    let best = gp.y.max() ?? 0
    var points: [[Double]] = []
    points.reserveCapacity(candidates)
    for _ in 0..<Swift.max(candidates, 1) { points.append((0..<d).map { lower[$0] + rng.nextUniform() * (upper[$0] - lower[$0]) }) }
    let post = try gp.predict(points)
    let vals = post.map { value(mean: $0.mean, variance: $0.variance, best: best) }
    let top = vals.indices.sorted { vals[$0] > vals[$1] }.prefix(Swift.max(refine, 1))
    var result = (x: points[top.first!], value: vals[top.first!])
    for i in top {
      let r = NelderMead.minimise({ p in
        guard let q = try? gp.predict([p]) else { return .infinity }
        return -self.value(mean: q[0].mean, variance: q[0].variance, best: best)
      }, start: points[i], lower: lower, upper: upper, step: 0.05, maxEvaluations: 60 * (d + 1), tolerance: 1e-9)
      if -r.value > result.value { result = (r.x, -r.value) }
    }
    return result
  }
}
