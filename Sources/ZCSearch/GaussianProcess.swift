import Foundation
import ZCTensor

/// Hyperparameters of a Matérn 5/2 Gaussian process on normalised targets.
public struct GPHyperparameters: Equatable, Sendable {
  /// One length scale (isotropic) or one per input dimension (ARD), in input units.
  public var lengthScales: [Double]
  /// Signal variance σ_f² (of the normalised targets).
  public var signalVariance: Double
  /// Observation-noise variance σ_n² (of the normalised targets).
  public var noiseVariance: Double

  public init(lengthScales: [Double], signalVariance: Double, noiseVariance: Double) {
    self.lengthScales = lengthScales; self.signalVariance = signalVariance; self.noiseVariance = noiseVariance
  }
}

/// The Matérn 5/2 covariance
///
///     k(x, x') = σ_f² (1 + √5 r + 5 r² / 3) exp(−√5 r),   r² = Σ_i (x_i − x'_i)² / ℓ_i²
///
/// (Rasmussen & Williams, *Gaussian Processes for Machine Learning*, 2006, eq. 4.17; the kernel
/// RoBoT uses through the BayesianOptimization package, which takes scikit-learn's `Matern(nu=2.5)`).
public func matern52(_ a: [Double], _ b: [Double], lengthScales: [Double], signalVariance: Double) -> Double {
  var r2 = 0.0
  for i in 0..<a.count {
    let l = lengthScales.count == 1 ? lengthScales[0] : lengthScales[i]
    let d = (a[i] - b[i]) / l
    r2 += d * d
  }
  let s5r = (5 * r2).squareRoot()
  return signalVariance * (1 + s5r + 5 * r2 / 3) * Foundation.exp(-s5r)
}

/// Errors of Gaussian-process fitting and prediction.
public enum GPError: Error, CustomStringConvertible, Equatable {
  case noData
  case shapeMismatch(String)
  case notPositiveDefinite
  case nonFinite(String)

  public var description: String {
    switch self {
    case .noData: return "Gaussian process: no observations"
    case let .shapeMismatch(s): return "Gaussian process: \(s)"
    case .notPositiveDefinite: return "Gaussian process: the covariance matrix is not positive definite even with jitter"
    case let .nonFinite(s): return "Gaussian process: \(s)"
    }
  }
}

/// Exact Gaussian-process regression in Float64 with a Matérn 5/2 kernel, normalised targets
/// (mean 0, standard deviation 1; predictions are returned in the original units) and LAPACK
/// Cholesky factorisation (`dpotrf`/`dpotrs`, ``Linalg``).
///
/// Posterior at test points X*, with K = k(X, X) + σ_n² I = L Lᵀ and α = K⁻¹ y:
///
///     μ(x*) = k(x*, X) α,    σ²(x*) = k(x*, x*) − k(x*, X) K⁻¹ k(X, x*)
///
/// (Rasmussen & Williams 2006, Algorithm 2.1.) ``fit(x:y:ard:restarts:rng:)`` chooses the
/// hyperparameters by maximising the log marginal likelihood
///
///     log p(y | X) = −½ yᵀ α − Σ_i log L_ii − (n/2) log 2π
///
/// with Nelder–Mead in log space from a default start and `restarts` random starts.
public struct GaussianProcess: Sendable {
  /// `[n][d]` inputs.
  public let x: [[Double]]
  /// `[n]` targets in original units.
  public let y: [Double]
  public let hyperparameters: GPHyperparameters
  /// Target normalisation: y_normalised = (y − mean) / scale.
  public let mean: Double
  public let scale: Double
  /// Log marginal likelihood of the normalised targets under ``hyperparameters``.
  public let logMarginalLikelihood: Double
  let cholesky: Tensor
  let alpha: [Double]

  /// Conditions the process on (x, y) with fixed hyperparameters.
  /// - Parameters:
  ///   - x: `[n][d]` inputs, n ≥ 1.
  ///   - y: `[n]` targets.
  ///   - normalise: standardise the targets (default); otherwise mean 0, scale 1.
  /// - Throws: ``GPError`` for empty, ragged or non-finite input, or a covariance that stays
  ///   indefinite after jitter.
  public init(x: [[Double]], y: [Double], hyperparameters h: GPHyperparameters, normalise: Bool = true) throws {
    guard !x.isEmpty else { throw GPError.noData }
    guard x.count == y.count else { throw GPError.shapeMismatch("\(x.count) inputs but \(y.count) targets") }
    let d = x[0].count
    guard x.allSatisfy({ $0.count == d }) else { throw GPError.shapeMismatch("inputs of different lengths") }
    if let i = y.firstIndex(where: { !$0.isFinite }) { throw GPError.nonFinite("target \(i) is \(y[i])") }
    if let i = x.firstIndex(where: { $0.contains { !$0.isFinite } }) { throw GPError.nonFinite("input \(i) has a non-finite coordinate") }
    guard h.lengthScales.count == 1 || h.lengthScales.count == d else {
      throw GPError.shapeMismatch("\(h.lengthScales.count) length scales for \(d) input dimensions")
    }
    let n = y.count
    var m = 0.0, s = 1.0
    if normalise {
      m = y.reduce(0, +) / Double(n)
      let v = y.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)
      s = v > 0 ? v.squareRoot() : 1
    }
    let yn = y.map { ($0 - m) / s }
    var k = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0...i {
        let v = matern52(x[i], x[j], lengthScales: h.lengthScales, signalVariance: h.signalVariance)
        k[i * n + j] = v; k[j * n + i] = v
      }
      k[i * n + i] += h.noiseVariance
    }
    var l: Tensor? = nil
    var jitter = 0.0
    for _ in 0..<6 {
      var kj = k
      if jitter > 0 { for i in 0..<n { kj[i * n + i] += jitter } }
      if let f = try? Linalg.cholesky(Tensor(kj, shape: [n, n])) { l = f; break }
      jitter = jitter == 0 ? 1e-10 * h.signalVariance : jitter * 10
    }
    guard let l else { throw GPError.notPositiveDefinite }
    let a = try Linalg.choleskySolve(l, Tensor(yn, shape: [n])).doubles
    var logDiag = 0.0
    let lp = l.doubles
    for i in 0..<n { logDiag += Foundation.log(lp[i * n + i]) }
    var quad = 0.0
    for i in 0..<n { quad += yn[i] * a[i] }
    self.x = x; self.y = y; hyperparameters = h; mean = m; scale = s
    cholesky = l; alpha = a
    logMarginalLikelihood = -0.5 * quad - logDiag - 0.5 * Double(n) * Foundation.log(2 * Double.pi)
  }

  /// Posterior mean and variance (original units) at each of `points` (`[m][d]`).
  /// - Throws: ``GPError/shapeMismatch(_:)`` for points of the wrong dimension; ``LinalgError`` from dpotrs.
  public func predict(_ points: [[Double]]) throws -> [(mean: Double, variance: Double)] {
    let n = x.count, mcount = points.count, d = x[0].count
    guard points.allSatisfy({ $0.count == d }) else { throw GPError.shapeMismatch("test points must have \(d) dimensions") }
    if mcount == 0 { return [] }
    let h = hyperparameters
    var ks = [Double](repeating: 0, count: n * mcount)  // [n, m]
    for j in 0..<mcount { for i in 0..<n { ks[i * mcount + j] = matern52(x[i], points[j], lengthScales: h.lengthScales, signalVariance: h.signalVariance) } }
    let v = try Linalg.choleskySolve(cholesky, Tensor(ks, shape: [n, mcount])).doubles
    var out: [(mean: Double, variance: Double)] = []
    out.reserveCapacity(mcount)
    for j in 0..<mcount {
      var mu = 0.0, q = 0.0
      for i in 0..<n { mu += ks[i * mcount + j] * alpha[i]; q += ks[i * mcount + j] * v[i * mcount + j] }
      let variance = Swift.max(h.signalVariance - q, 0)
      out.append((mean + scale * mu, scale * scale * variance))
    }
    return out
  }

  /// Bounds of the hyperparameter search (normalised targets, inputs in the units given).
  public struct Bounds: Sendable {
    public var lengthScale: ClosedRange<Double> = 1e-2...1e2
    public var signalVariance: ClosedRange<Double> = 1e-2...1e2
    public var noiseVariance: ClosedRange<Double> = 1e-6...1
    public init() {}
  }

  /// Fits hyperparameters by maximising the log marginal likelihood, then conditions on the data.
  /// - Parameters:
  ///   - ard: one length scale per input dimension (else one shared length scale).
  ///   - restarts: random restarts besides the default start (ℓ = 1, σ_f² = 1, σ_n² = 1e-4).
  ///   - rng: the seeded generator for the restarts.
  /// - Throws: ``GPError`` as ``init(x:y:hyperparameters:normalise:)``.
  public static func fit(x: [[Double]], y: [Double], ard: Bool = false, restarts: Int = 5, bounds: Bounds = Bounds(),
                         rng: inout ZCRandom) throws -> GaussianProcess {
    guard !x.isEmpty else { throw GPError.noData }
    // Validate once, so that a bad input is an error rather than a fit that silently failed everywhere.
    _ = try GaussianProcess(x: x, y: y, hyperparameters: GPHyperparameters(lengthScales: [1], signalVariance: 1, noiseVariance: 1e-4))
    let d = x[0].count
    let nl = ard ? d : 1
    let lo = [Double](repeating: Foundation.log(bounds.lengthScale.lowerBound), count: nl)
      + [Foundation.log(bounds.signalVariance.lowerBound), Foundation.log(bounds.noiseVariance.lowerBound)]
    let hi = [Double](repeating: Foundation.log(bounds.lengthScale.upperBound), count: nl)
      + [Foundation.log(bounds.signalVariance.upperBound), Foundation.log(bounds.noiseVariance.upperBound)]
    func hyper(_ t: [Double]) -> GPHyperparameters {
      GPHyperparameters(lengthScales: t[0..<nl].map { Foundation.exp($0) }, signalVariance: Foundation.exp(t[nl]), noiseVariance: Foundation.exp(t[nl + 1]))
    }
    func negLML(_ t: [Double]) -> Double {
      guard let gp = try? GaussianProcess(x: x, y: y, hyperparameters: hyper(t)) else { return .infinity }
      return -gp.logMarginalLikelihood
    }
    var starts = [[Double](repeating: 0, count: nl) + [0, Foundation.log(1e-4)]]
    for _ in 0..<restarts { starts.append((0..<(nl + 2)).map { lo[$0] + rng.nextUniform() * (hi[$0] - lo[$0]) }) }
    var best: (x: [Double], value: Double)? = nil
    for s in starts {
      let r = NelderMead.minimise(negLML, start: s, lower: lo, upper: hi, step: 0.1, maxEvaluations: 150 * (nl + 2), tolerance: 1e-7)
      if best == nil || r.value < best!.value { best = r }
    }
    return try GaussianProcess(x: x, y: y, hyperparameters: hyper(best!.x))
  }
}
