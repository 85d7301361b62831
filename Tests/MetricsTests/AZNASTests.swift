import Foundation
import Metrics
import TestSupport
import XCTest
@testable import ZCAutodiff
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// AZ-NAS and VKDNW: against the authors'-code reference values of the shared NB201 fixtures
/// (`reference_extra`, variants a and b, with the stored re-initialised weights, Gaussian input and
/// signs of `<fixture>.aznas.safetensors`; skipped when ../shared is absent), and their building
/// blocks against independent values (hand-computed, numpy, finite differences, a plain backward).
final class AZNASTests: XCTestCase {
  static let fixtureNames = ["nb201_c10_i1462_allconv3x3", "nb201_c10_i1651_allnone", "nb201_c10_i3773_rand0", "nb201_c10_i6111_best"]
  let azNAS: [any ZeroCostProxy] = [AZNASExpressivity(), AZNASProgressivity(), AZNASTrainability()]

  func sharedFixture(_ name: String) throws -> ReferenceFixture {
    let folder = try TestPaths.shared("reference/nb201")
    let f = try ReferenceFixture(jsonPath: folder + "/" + name + ".json")
    guard FileManager.default.fileExists(atPath: f.azNASTensorsPath) else { throw XCTSkip("\(f.azNASTensorsPath) is absent") }
    return f
  }

  /// Runs `proxies` on every variant of the fixture and checks each against `value_float64`
  /// with the README's tolerance for `dtype`.
  func check(_ name: String, _ proxies: [any ZeroCostProxy], dtype: DType, variants: Set<String> = ["a", "b"]) throws {
    let f = try sharedFixture(name)
    let vs = try f.azNASVariants(dtype: dtype).filter { variants.contains($0.name) }
    XCTAssertEqual(vs.count, variants.count, name)
    for v in vs {
      let make = try XCTUnwrap(v.makeContext, v.skipped ?? "")
      for r in evaluate(proxies, in: make(proxies)) {
        let ref = try XCTUnwrap(v.references[r.metric], "\(name) has no \(r.metric)[\(v.name)]")
        let c = ReferenceFixture.compare(r.metric, engine: r.value, reference: ref, dtype: dtype, snip: nil)
        XCTAssertTrue(c.passed, "\(name) \(r.metric)[\(v.name)] \(dtype): engine \(r.value), reference \(ref), rel \(c.relativeError ?? -1), tol \(c.tolerance)")
      }
    }
  }

  func testAZNASMatchesTheAuthorsCodeInFloat32() throws {
    for n in Self.fixtureNames { try check(n, azNAS, dtype: .float32) }
  }

  func testAZNASMatchesTheAuthorsCodeInFloat64() throws {
    for n in Self.fixtureNames { try check(n, azNAS, dtype: .float64) }
  }

  /// Every per-feature entropy h_k and every per-pair σ_max, not only their sums.
  func testPerFeatureEntropiesAndPairSigmasMatch() throws {
    let f = try sharedFixture("nb201_c10_i6111_best")
    let data = try Data(contentsOf: URL(fileURLWithPath: f.jsonPath))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let extra = try XCTUnwrap((json["reference_extra"] as? [String: Any])?["proxies"] as? [String: Any])
    let expr = try XCTUnwrap((extra["az_nas_expressivity"] as? [String: Any])?["a"] as? [String: Any])
    let hRef = try XCTUnwrap(expr["per_feature_entropy_float64"] as? [Double])
    let train = try XCTUnwrap((extra["az_nas_trainability"] as? [String: Any])?["a"] as? [String: Any])
    let pairs = try XCTUnwrap(train["per_pair_float64"] as? [[String: Any]])
    let s = try XCTUnwrap(try AZNASProtocol.scores(try f.azNASInputs(variant: "a", dtype: .float64), runSeed: 0))
    XCTAssertEqual(s.featureEntropies.count, 18)
    for (a, b) in zip(s.featureEntropies, hRef) { XCTAssertEqual(a, b, accuracy: 1e-9 * Swift.abs(b)) }
    XCTAssertEqual(s.pairs.count, 17)
    for (p, r) in zip(s.pairs, pairs) {
      XCTAssertEqual(p.featureIndex, r["feature_out"] as? Int)
      let sigma = try XCTUnwrap(r["sigma_max"] as? Double)
      XCTAssertEqual(try XCTUnwrap(p.sigmaMax), sigma, accuracy: 1e-8 * sigma)
    }
  }

  /// VKDNW in Float64 (its definition here) on a degenerate and a normal cell, both variants.
  func testVKDNWMatchesTheAuthorsCode() throws {
    let proxies: [any ZeroCostProxy] = [VKDNWEntropy(), VKDNWDim()]
    try check("nb201_c10_i1651_allnone", proxies, dtype: .float32)
    try check("nb201_c10_i3773_rand0", proxies, dtype: .float32, variants: ["b"])
  }

  // MARK: building blocks

  func testSingularValuesOfAHandComputedMatrix() throws {
    // A = [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]], eigenvalues 45 and 5.
    let s = try Linalg.singularValues(Tensor([3.0, 0, 4, 5], shape: [2, 2]))
    XCTAssertEqual(s[0], 45.0.squareRoot(), accuracy: 1e-14)
    XCTAssertEqual(s[1], 5.0.squareRoot(), accuracy: 1e-14)
    // A wide and a tall matrix have the same singular values as their transposes: [[1, 0, 0], [0, 2, 0]] → 2, 1.
    XCTAssertEqual(try Linalg.singularValues(Tensor([1.0, 0, 0, 0, 2, 0], shape: [2, 3])), [2, 1])
    XCTAssertEqual(try Linalg.singularValues(Tensor([1.0, 0, 0, 2, 0, 0], shape: [3, 2])), [2, 1])
    XCTAssertThrowsError(try Linalg.singularValues(Tensor([1.0, .nan], shape: [1, 2])))
  }

  func testQuantileIsNumpysLinearInterpolation() {
    // numpy.quantile([1, 2, 3, 4, 10], q) (method "linear"): 1.4 (0.1), 3.0 (0.5), 7.6 (0.9).
    let v: [Double] = [10, 2, 1, 4, 3]
    XCTAssertEqual(AZNASProtocol.quantile(v, 0.1), 1.4, accuracy: 1e-15)
    XCTAssertEqual(AZNASProtocol.quantile(v, 0.5), 3.0, accuracy: 1e-15)
    XCTAssertEqual(AZNASProtocol.quantile(v, 0.9), 7.6, accuracy: 1e-14)
  }

  func testSmoothingConstantsAreTheFloat16OnesOfTheReadme() {
    let c10 = AZNASProtocol.vkdnwSmoothing(classes: 10), c100 = AZNASProtocol.vkdnwSmoothing(classes: 100)
    XCTAssertEqual(c10.scale, 0.9501953125)
    XCTAssertEqual(c10.floor, 0.00499725341796875)
    XCTAssertEqual(c100.floor, 0.000499725341796875)
  }

  /// L Lᵀ = diag(π) − ππᵀ for probabilities that sum to 1 (the factor's defining property).
  func testCholeskyFactorReproducesTheMultinomialCovariance() {
    let pi: [Double] = [0.1, 0.25, 0.05, 0.4, 0.2]
    let k = pi.count
    let l = AZNASProtocol.choleskyFactor(pi)
    for i in 0..<k {
      for j in 0..<k {
        var llt = 0.0
        for m in 0..<k { llt += l[i * k + m] * l[j * k + m] }
        let cov = (i == j ? pi[i] : 0) - pi[i] * pi[j]
        XCTAssertEqual(llt, cov, accuracy: 1e-14, "(\(i), \(j))")
        if j > i { XCTAssertEqual(l[i * k + j], 0) }
      }
    }
  }

  func testUnpackSignsIsMostSignificantBitFirst() throws {
    // 0b1010_0000, 0b1000_0000: bits 1 0 1 0 0 0 0 0 1 → + − + − − − − − +.
    let t = try XCTUnwrap(AZNASProtocol.unpackSigns([0xA0, 0x80], shape: [9], dtype: .float32))
    XCTAssertEqual(t.doubles, [1, -1, 1, -1, -1, -1, -1, -1, 1])
    XCTAssertNil(AZNASProtocol.unpackSigns([0xA0], shape: [9], dtype: .float32), "too few bytes")
    XCTAssertNil(AZNASProtocol.unpackSigns([0xA0, 256], shape: [9], dtype: .float32), "not a byte")
  }

  /// A small NB201 network in evaluation mode (Float64).
  func smallEvalNetwork(_ arch: String, classes: Int = 3) throws -> (NB201Network, Tensor) {
    var rng = ZCRandom(seed: 7)
    let net = NB201Network(try NB201Architecture(parsing: arch), channels: 2, cellsPerStage: 1, numClasses: classes, imageSize: 8, dtype: .float64, rng: &rng)
    for (_, p) in net.namedParameters() where p.shape.count == 1 {  // non-trivial BN affine parameters
      p.value = Initializer.normal(mean: 1, std: 0.3).make(shape: p.shape, dtype: .float64, rng: &rng)
    }
    net.setTraining(false)
    let x = Initializer.normal(mean: 0, std: 1).make(shape: [3, 3, 8, 8], dtype: .float64, rng: &rng)
    return (net, x)
  }

  /// The per-sample entry Jacobian against one ordinary backward per (sample, class) and against
  /// central finite differences, with 3 classes (fewer than the 8 pooled features: one backward
  /// per class) and 20 (more: through the linear head, the Jacobian of the 8 features times W,
  /// plus the classifier's own entries, as CIFAR-100's 100 classes on 64 features).
  func testPerSampleElementJacobianMatchesBackwardAndFiniteDifferences() throws {
    for classes in [3, 20] { try checkPerSampleElementJacobian(classes: classes) }
  }

  func checkPerSampleElementJacobian(classes: Int) throws {
    let (net, x) = try smallEvalNetwork("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|", classes: classes)
    let params = net.namedParameters().map { $0.1 }
    let elements = params.map { $0.value.count / 2 }  // a middle entry, not only entry 0
    let logits = GradMode.$isEnabled.withValue(true) { net(Variable(x)) }
    // The linear-head path runs exactly when the classes outnumber the 8 pooled features.
    XCTAssertEqual(narrowLinearHead(of: logits) != nil, classes > 8, "classes \(classes)")
    let (b, k, p) = (logits.shape[0], logits.shape[1], params.count)
    let jac = try XCTUnwrap(perSampleElementJacobian(of: logits, withRespectTo: params.map(\.variable), elements: elements))
    for bi in 0..<b {
      for ki in 0..<k {
        var seed = [Double](repeating: 0, count: b * k)
        seed[bi * k + ki] = 1
        let g = gradientTensors(of: logits, withRespectTo: params.map(\.variable), seed: Variable(Tensor(seed, shape: [b, k])))
        for j in 0..<p {
          XCTAssertEqual(jac[(bi * k + ki) * p + j], g[j].doubles[elements[j]], accuracy: 1e-12, "classes \(classes) b \(bi) k \(ki) parameter \(j)")
        }
      }
    }
    // Finite differences on a few parameters (classifier bias, a BN bias, a conv weight, stem weight).
    for j in [0, 1, 2, p - 1, p - 2] {
      let param = params[j]
      let base = param.value
      func logitsWith(_ delta: Double) -> [Double] {
        var v = base.doubles
        v[elements[j]] += delta
        param.value = Tensor(v, shape: base.shape)
        defer { param.value = base }
        return GradMode.withoutRecording { net(Variable(x)).value.doubles }
      }
      let h = 1e-6
      let plus = logitsWith(h), minus = logitsWith(-h)
      for i in 0..<(b * k) {
        XCTAssertEqual(jac[i * p + j], (plus[i] - minus[i]) / (2 * h), accuracy: 1e-6, "classes \(classes) parameter \(j) output \(i)")
      }
    }
  }

  // MARK: protocol from seeds

  /// The seeded protocol: deterministic, does not touch the shared network's weights, draws
  /// kaiming-normal fan-in weights, and another network seed gives other weights.
  func testSeededProtocolIsDeterministicAndLeavesTheNetworkAlone() throws {
    var rng = ZCRandom(seed: 3)
    let arch = try NB201Architecture(parsing: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
    let net = NB201Network(arch, channels: 8, cellsPerStage: 2, numClasses: 10, imageSize: 16, rng: &rng)
    let before = net.namedParameters().map { $0.1.value.doubles }
    let x = Tensor(zeros: [8, 3, 16, 16]), y = [Int](repeating: 0, count: 8)
    func run(_ networkSeed: UInt64) -> [ProxyValue] {
      evaluate(azNAS, network: net, images: x, labels: y, runSeed: 5, networkSeed: networkSeed).map(\.value)
    }
    let a = run(11), again = run(11), other = run(12)
    XCTAssertEqual(a, again)
    XCTAssertNotEqual(a, other)
    XCTAssertTrue(a.allSatisfy { $0.number != nil }, "\(a)")
    XCTAssertEqual(net.namedParameters().map { $0.1.value.doubles }, before)
    // The re-initialised conv weights have std √(2/fan_in).
    let inputs = AZNASProtocol.prepare(network: net, batchSize: 8, runSeed: 5, networkSeed: 11)
    let w = try XCTUnwrap(inputs.network.parameter(named: "cells.7.layers.0.op.1.weight")).value  // [32, 32, 3, 3]
    let v = w.doubles
    let mean = v.reduce(0, +) / Double(v.count)
    let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
    XCTAssertEqual(std, (2.0 / Double(32 * 9)).squareRoot(), accuracy: 0.03 * (2.0 / Double(32 * 9)).squareRoot())
    XCTAssertEqual(inputs.images.shape, [8, 3, 16, 16])
  }
}
