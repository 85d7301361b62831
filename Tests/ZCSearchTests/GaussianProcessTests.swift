import XCTest
import ZCTensor
@testable import ZCSearch

/// The Gaussian process and acquisition against values computed independently with numpy/scipy
/// (Tests/Fixtures/gp/gp_reference.py: dense inverse, not our Cholesky path), and optimisation
/// properties that fail when the fit or the maximiser is wrong.
final class GaussianProcessTests: XCTestCase {
  let x: [[Double]] = [[0.0, 0.1], [0.5, -0.4], [1.2, 0.3], [-0.7, 0.9]]
  let y: [Double] = [1.0, -0.3, 0.7, 0.2]
  let h = GPHyperparameters(lengthScales: [0.7, 1.1], signalVariance: 1.3, noiseVariance: 0.01)

  func testPosteriorMatchesDenseReference() throws {
    let gp = try GaussianProcess(x: x, y: y, hyperparameters: h)
    let p = try gp.predict([[0.3, 0.0], [2.0, -1.0]])
    let mean = [0.4331802542157223, 0.42299663194745873], variance = [0.029181485305937907, 0.30113359736587497]
    for i in 0..<2 {
      XCTAssertEqual(p[i].mean, mean[i], accuracy: 1e-10)
      XCTAssertEqual(p[i].variance, variance[i], accuracy: 1e-10)
    }
    XCTAssertEqual(gp.logMarginalLikelihood, -8.850986454773405, accuracy: 1e-9)
  }

  func testExpectedImprovementAndUCBClosedForm() {
    XCTAssertEqual(Acquisition.expectedImprovement(xi: 0).value(mean: 1, variance: 4, best: 0.5), 1.0726893964471604, accuracy: 1e-12)
    XCTAssertEqual(Acquisition.expectedImprovement(xi: 0).value(mean: 1, variance: 0, best: 0.5), 0.5)
    XCTAssertEqual(Acquisition.ucb(kappa: 2.576).value(mean: 1, variance: 4, best: 0), 1 + 2 * 2.576, accuracy: 1e-12)
  }

  /// The fitted hyperparameters reach the likelihood maximum that scipy's L-BFGS-B finds from a grid
  /// of starts (gp_reference.py: max log marginal likelihood 3.92598 at ℓ 0.984, σ_f² 22.8, σ_n² 1e-6).
  func testFitReachesTheIndependentLikelihoodMaximum() throws {
    let xs = (0..<12).map { [Double($0) / 11] }
    let ys = xs.map { sin(6 * $0[0]) }
    var rng = ZCRandom(seed: 3)
    let gp = try GaussianProcess.fit(x: xs, y: ys, restarts: 5, rng: &rng)
    XCTAssertEqual(gp.logMarginalLikelihood, 3.9259768176843384, accuracy: 0.02)
    XCTAssertEqual(gp.hyperparameters.lengthScales[0], 0.984, accuracy: 0.05)
    XCTAssertLessThan(gp.hyperparameters.noiseVariance, 1e-4)
    let p = try gp.predict([[0.5 / 11], [0.5]])
    XCTAssertEqual(p[0].mean, sin(6 * 0.5 / 11), accuracy: 0.05)
    XCTAssertEqual(p[1].mean, sin(3.0), accuracy: 0.05)
  }

  /// GP-EI and GP-UCB (RoBoT's κ = 2.576) find the maximum of a smooth 2-D function on [−1, 1]²
  /// within 25 evaluations.
  func testBayesianOptimisationFindsKnownOptimum() throws {
    func f(_ p: [Double]) -> Double { -((p[0] - 0.3) * (p[0] - 0.3) + (p[1] + 0.5) * (p[1] + 0.5)) }
    for acquisition in [Acquisition.expectedImprovement(xi: 0.01), .ucb(kappa: 2.576)] {
      var rng = ZCRandom(seed: 11)
      var xs = [[-0.9, 0.9]], ys = [f([-0.9, 0.9])]
      for _ in 0..<24 {
        let gp = try GaussianProcess.fit(x: xs, y: ys, restarts: 2, rng: &rng)
        let next = try acquisition.maximise(gp, lower: [-1, -1], upper: [1, 1], candidates: 1000, rng: &rng).x
        xs.append(next); ys.append(f(next))
      }
      let best = xs[ys.indices.max { ys[$0] < ys[$1] }!]
      XCTAssertEqual(best[0], 0.3, accuracy: 0.1, "\(acquisition)")
      XCTAssertEqual(best[1], -0.5, accuracy: 0.1, "\(acquisition)")
    }
  }

  /// With one length scale per dimension, the fit finds that the target ignores the second input.
  func testARDLengthScalesSeparateRelevantInputs() throws {
    var rng = ZCRandom(seed: 2)
    let xs = (0..<30).map { _ in [rng.nextUniform(-1, 1), rng.nextUniform(-1, 1)] }
    let ys = xs.map { sin(3 * $0[0]) }
    let gp = try GaussianProcess.fit(x: xs, y: ys, ard: true, restarts: 4, rng: &rng)
    XCTAssertEqual(gp.hyperparameters.lengthScales.count, 2)
    XCTAssertGreaterThan(gp.hyperparameters.lengthScales[1], 5 * gp.hyperparameters.lengthScales[0])
  }

  /// Duplicate inputs with no noise make K singular; the jitter path still gives a posterior.
  func testDuplicateInputsUseJitter() throws {
    let gp = try GaussianProcess(x: [[0.2], [0.2], [0.8]], y: [1, 1, 0],
                                 hyperparameters: GPHyperparameters(lengthScales: [0.5], signalVariance: 1, noiseVariance: 0))
    XCTAssertEqual(try gp.predict([[0.2]])[0].mean, 1, accuracy: 1e-4)
  }

  func testNelderMeadStaysInBoxAndFindsRosenbrockMinimum() {
    let r = NelderMead.minimise({ p in 100 * pow(p[1] - p[0] * p[0], 2) + pow(1 - p[0], 2) }, start: [-1.2, 1], lower: [-2, -2], upper: [2, 2],
                                maxEvaluations: 4000, tolerance: 1e-14)
    XCTAssertEqual(r.x[0], 1, accuracy: 1e-3)
    XCTAssertEqual(r.x[1], 1, accuracy: 1e-3)
    let boxed = NelderMead.minimise({ p in p[0] }, start: [0.5], lower: [0.2], upper: [1])
    XCTAssertEqual(boxed.x[0], 0.2, accuracy: 1e-12)
  }

  func testBadInputIsAnError() {
    XCTAssertThrowsError(try GaussianProcess(x: [], y: [], hyperparameters: h))
    XCTAssertThrowsError(try GaussianProcess(x: x, y: [1], hyperparameters: h))
    XCTAssertThrowsError(try GaussianProcess(x: [[1, 2, 3]], y: [1], hyperparameters: h))
    XCTAssertThrowsError(try GaussianProcess(x: x, y: [1, .nan, 2, 3], hyperparameters: h)) { XCTAssertEqual($0 as? GPError, .nonFinite("target 1 is nan")) }
    var rng = ZCRandom(seed: 0)
    XCTAssertThrowsError(try GaussianProcess.fit(x: x, y: [1, -.infinity, 2, 3], rng: &rng))
  }
}
