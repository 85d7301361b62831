import ZCAutodiff
import Metrics
import XCTest
import ZCEngine
import ZCSpaces
import ZCTensor

/// grad_match has no published reference; these check properties that can fail.
final class GradMatchTests: XCTestCase {
  private func network(_ arch: String, seed: UInt64 = 3) throws -> NB201Network {
    var rng = ZCRandom(seed: seed)
    return NB201Network(try NB201Architecture(parsing: arch), channels: 4, cellsPerStage: 1, dtype: .float64, rng: &rng)
  }

  func testIdenticalHalvesGiveCosineOne() throws {
    var rng = ZCRandom(seed: 9)
    let half = Initializer.normal(mean: 0, std: 1).make(shape: [4, 3, 8, 8], dtype: .float64, rng: &rng)
    let images = Tensor.concatenate([half, half], axis: 0)
    let labels = [1, 2, 3, 4, 1, 2, 3, 4]
    let net = try network("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|")
    let r = evaluate([GradMatch()], network: net, images: images, labels: labels)
    XCTAssertEqual(try XCTUnwrap(r[0].value.number), 1, accuracy: 1e-12)
  }

  func testDifferentHalvesGiveCosineBelowOneAndAllNoneIsMissing() throws {
    var rng = ZCRandom(seed: 10)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [8, 3, 8, 8], dtype: .float64, rng: &rng)
    let labels = [0, 1, 2, 3, 4, 5, 6, 7]
    let net = try network("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|")
    let v = try XCTUnwrap(evaluate([GradMatch()], network: net, images: images, labels: labels)[0].value.number)
    XCTAssertLessThan(v, 0.999)
    XCTAssertGreaterThan(v, -1)
    // All-none cells: the logits are the classifier bias, every weight gradient is exactly zero.
    let none = try network("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    let r = evaluate([GradMatch()], network: none, images: images, labels: labels)
    guard case let .missing(reason) = r[0].value else { return XCTFail("expected a missing value, got \(r[0].value)") }
    XCTAssertTrue(reason.hasPrefix("nan:"), reason)
  }
}

/// ntk_cond_eval's batch-of-one route against the general route (B backward passes through the
/// batched evaluation-mode forward), which must agree because evaluation-mode samples are independent.
final class NTKEvalTests: XCTestCase {
  func testBatchOfOneRouteEqualsBatchedBackwardRoute() throws {
    var rng = ZCRandom(seed: 21)
    let net = NB201Network(try NB201Architecture(parsing: "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"),
                           channels: 4, cellsPerStage: 1, dtype: .float64, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [6, 3, 8, 8], dtype: .float64, rng: &rng)
    // Non-trivial running statistics, as after some training-mode passes.
    _ = net(Variable(images))
    let labels = [0, 1, 2, 3, 4, 5]
    let got = try ImageProxyContext(network: net, images: images, labels: labels, requirements: [.evaluationMode]).ntkEvaluationModeEigenvalues()
    // General route on an evaluation-mode copy.
    let copy = net.copy(dtype: .float64)
    copy.setTraining(false)
    let params = copy.namedParameters().filter { $0.0.contains("weight") }.map { $0.1.variable }
    let per = perSampleGradients(of: copy(Variable(images)), withRespectTo: params)
    var theta = [Double](repeating: 0, count: 36)
    for g in per {
      let m = g.reshaped([6, -1])
      let k = Tensor.matmul(m, m, transB: true).doubles
      for i in 0..<36 { theta[i] += k[i] }
    }
    let want = try Linalg.symmetricEigenvalues(Tensor(theta, shape: [6, 6]))
    for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-10 * max(1, Swift.abs(b))) }
    XCTAssertGreaterThan(want.last!, 0)
  }
}
