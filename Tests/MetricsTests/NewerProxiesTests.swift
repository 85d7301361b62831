import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// meco, meco_opt, swap and reg_swap against the values the authors' code computed on the shared
/// fixtures (`reference_extra`, shared/reference README "Newer proxies"); the variant-b values of
/// meco, swap and reg_swap are also checked by ReferenceFixtureTests and `zcnas verify`.
final class NewerProxiesTests: XCTestCase {
  static let folder = TestPaths.fixtures("nb201")

  private func extra(_ f: ReferenceFixture) throws -> [String: JSONValue] {
    let json = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: f.jsonPath)))
    return try XCTUnwrap(json.objectValue?["reference_extra"]?.objectValue?["proxies"]?.objectValue)
  }

  private func number(_ v: JSONValue?) throws -> Double {
    switch try XCTUnwrap(v) {
    case let .integer(i): return Double(i)
    case let .number(d): return d
    default: throw XCTSkip("not a number: \(String(describing: v))")
    }
  }

  /// MeCo's firing list: 447 firings on the best cell (README), and every firing's n and value
  /// against the reference's per-module list (float64 engine vs the float64 reference).
  func testMeCoFiringsMatchTheReferenceModuleList() throws {
    let f = try ReferenceFixture(jsonPath: Self.folder + "/nb201_c10_i6111_best.json")
    let b = try XCTUnwrap(try extra(f)["meco"]?.objectValue?["b"]?.objectValue)
    let perModule = try XCTUnwrap(b["per_module_float64"]?.arrayValue).map { try number($0) }
    let (x, _) = try f.batch(1, dtype: .float64)
    let firings = try XCTUnwrap(MeCo.firings(of: try f.nb201Network(dtype: .float64), image: x.rows(0..<1)))
    // The reference lists the four trailing [1, C]/[1, K] firings (value 0) that the engine leaves out.
    XCTAssertEqual(firings.count + 4, perModule.count)
    XCTAssertEqual(perModule.suffix(4), [0, 0, 0, 0])
    for (i, fi) in firings.enumerated() {
      let v = try MeCo.minimumCorrelationEigenvalue(fi.tensor, rows: nil)
      XCTAssertEqual(v, perModule[i], accuracy: 1e-9 + 1e-7 * Swift.abs(perModule[i]), "firing \(i) \(fi.module)")
    }
  }

  /// meco_opt with the reference's recorded `random.sample` picks replayed, every fixture, both dtypes.
  func testMeCoOptWithRecordedPicks() throws {
    for f in try ReferenceFixture.all(in: Self.folder) {
      let b = try XCTUnwrap(try extra(f)["meco_opt"]?.objectValue?["b"]?.objectValue)
      let picks = try XCTUnwrap(b["channel_picks"]?.arrayValue).map { p in
        try XCTUnwrap(p.objectValue?["rows"]?.arrayValue).map { try XCTUnwrap($0.intValue) }
      }
      let reference = try number(b["value_float64"])
      for dtype in [DType.float64, .float32] {
        let (x, _) = try f.batch(1, dtype: dtype)
        let firings = try XCTUnwrap(MeCo.firings(of: try f.nb201Network(dtype: dtype), image: x.rows(0..<1)))
        // Replayed picks cover the reference's trailing firings too; the engine's list stops before them (value 0).
        XCTAssertEqual(picks.count, firings.count + 4, f.name)
        let v = try MeCo.optScore(firings, picks: Array(picks.prefix(firings.count)))
        let tol = dtype == .float64 ? 1e-8 : 1e-4
        XCTAssertLessThanOrEqual(Swift.abs(v - reference), tol * Swift.abs(reference), "\(f.name) \(dtype): \(v) vs \(reference)")
      }
    }
  }

  /// The registered meco_opt draws its own picks: deterministic for a run seed, and within the
  /// spread of channel sampling of meco_opt with the reference's picks (same order of magnitude).
  func testMeCoOptOwnPicksAreDeterministic() throws {
    let f = try ReferenceFixture(jsonPath: Self.folder + "/nb201_c10_i3773_rand0.json")
    let (x, y) = try f.batch(1, dtype: .float32)
    let a = evaluate([MeCoOpt()], network: try f.nb201Network(dtype: .float32), images: x, labels: y, runSeed: 5)
    let b = evaluate([MeCoOpt()], network: try f.nb201Network(dtype: .float32), images: x, labels: y, runSeed: 5)
    XCTAssertEqual(a[0].value, b[0].value)
    XCTAssertNotNil(a[0].value.number)
  }

  /// SWAP's authors' protocol (32 N(0, 1) re-initialisations, mean count) with the engine's own
  /// random numbers: within 4·√(se_ref² + se_engine²) of the reference mean (README "Tolerances").
  func testSWAPAuthorsProtocolStatistically() throws {
    for name in ["nb201_c10_i3773_rand0", "nb201_c10_i6111_best"] {
      let f = try ReferenceFixture(jsonPath: Self.folder + "/\(name).json")
      let a = try XCTUnwrap(try extra(f)["swap"]?.objectValue?["a"]?.objectValue)
      let reference = try number(a["value_float64"]), seRef = try number(a["standard_error_float32"])
      let (x, _) = try f.batch(1, dtype: .float32)
      var rng = ZCRandom(seed: 2024)
      let counts = SWAP.authorsProtocolCounts(network: try f.nb201Network(dtype: .float32), images: x.rows(0..<16), repeats: 32, rng: &rng)
      let mean = Double(counts.reduce(0, +)) / Double(counts.count)
      let variance = counts.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(counts.count - 1)
      let se = (variance / Double(counts.count)).squareRoot()
      XCTAssertLessThanOrEqual(Swift.abs(mean - reference), 4 * (seRef * seRef + se * se).squareRoot(), "\(name): mean \(mean) ± \(se) vs \(reference) ± \(seRef)")
    }
  }

  /// reg_swap's factor against the fixture's `settings.regular_factor` (the authors' formula with
  /// the fixture's μ, σ), and the all-none cell's swap = 1.
  func testRegSWAPFactorAndAllNone() throws {
    let f = try ReferenceFixture(jsonPath: Self.folder + "/nb201_c10_i1651_allnone.json")
    let net = try f.nb201Network(dtype: .float32)
    let (x, y) = try f.batch(1, dtype: .float32)
    let r = evaluate([SWAP(), RegSWAP()], network: net, images: x, labels: y)
    XCTAssertEqual(r[0].value.number, 1)
    // exp(−(P/1000 − 1000)²/10⁶) computed independently for P = 73,306 (the README's smallest count).
    XCTAssertEqual(RegSWAP.regularFactor(parameters: 73_306, mu: 1000, sigma: 1e6), 0.4236863, accuracy: 1e-6)
    XCTAssertEqual(try XCTUnwrap(r[1].value.number), RegSWAP.regularFactor(parameters: net.parameterCount, mu: 1000, sigma: 1e6), accuracy: 1e-12)
  }
}

/// grad_match_per_sample against an independent computation: per-sample gradients from B
/// batch-of-one backward passes of the evaluation-mode network, and the explicit B(B − 1)/2
/// pairwise cosines.
final class GradMatchPerSampleTests: XCTestCase {
  func testMeanPairwiseCosineByHand() throws {
    // Rows (1,0), (0,1), (1,1) and a zero row: cosines 0, 1/√2, 1/√2 → mean √2/3; the zero row is left out.
    let rows = Tensor(doubles: [1, 0, 0, 1, 1, 1, 0, 0], shape: [4, 2], dtype: .float64)
    XCTAssertEqual(try XCTUnwrap(GradMatchPerSample.meanPairwiseCosine(rows)), 2.0.squareRoot() / 3, accuracy: 1e-15)
    // Float32 rows are read in place, widened entry by entry: exactly the Float64 result here.
    XCTAssertEqual(GradMatchPerSample.meanPairwiseCosine(rows.to(.float32)), GradMatchPerSample.meanPairwiseCosine(rows))
    XCTAssertNil(GradMatchPerSample.meanPairwiseCosine(Tensor(doubles: [1, 2, 0, 0], shape: [2, 2], dtype: .float64)))
  }

  func testAgainstExplicitPairwiseCosines() throws {
    var rng = ZCRandom(seed: 31)
    let arch = try NB201Architecture(parsing: "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    let net = NB201Network(arch, channels: 4, cellsPerStage: 1, dtype: .float64, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [6, 3, 8, 8], dtype: .float64, rng: &rng)
    let labels = [0, 3, 1, 7, 3, 9]
    // Non-trivial running statistics, as after some training-mode passes.
    _ = GradMode.$isEnabled.withValue(false) { net(Variable(images)) }
    let engine = try XCTUnwrap(evaluate([GradMatchPerSample()], network: net, images: images, labels: labels)[0].value.number)

    let eval = net.copy(dtype: .float64)
    eval.setTraining(false)
    let weights = ImageProxyContext.weightLayers(of: eval).map { $0.weight.variable }
    let per = (0..<6).map { i in
      gradientTensors(of: GradMode.$isEnabled.withValue(true) { crossEntropy(eval(Variable(images.rows(i..<(i + 1)))), labels: [labels[i]]) },
                      withRespectTo: weights).map(\.doubles)
    }
    var layerMeans: [Double] = []
    for k in weights.indices {
      let g = per.map { $0[k] }.filter { $0.contains { $0 != 0 } }
      guard g.count >= 2 else { continue }
      var total = 0.0, pairs = 0
      for i in 0..<g.count {
        for j in (i + 1)..<g.count {
          var d = 0.0, a = 0.0, b = 0.0
          for t in 0..<g[i].count { d += g[i][t] * g[j][t]; a += g[i][t] * g[i][t]; b += g[j][t] * g[j][t] }
          total += d / (a.squareRoot() * b.squareRoot()); pairs += 1
        }
      }
      layerMeans.append(total / Double(pairs))
    }
    let expected = layerMeans.reduce(0, +) / Double(layerMeans.count)
    XCTAssertEqual(engine, expected, accuracy: 1e-10)
    XCTAssertGreaterThan(layerMeans.count, 3)
  }

  func testAllNoneIsMissing() throws {
    var rng = ZCRandom(seed: 4)
    let net = NB201Network(try NB201Architecture(parsing: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), channels: 4, cellsPerStage: 1, dtype: .float64, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [4, 3, 8, 8], dtype: .float64, rng: &rng)
    let r = evaluate([GradMatchPerSample()], network: net, images: images, labels: [0, 1, 2, 3])
    // Every cell output is 0 and so are the features (evaluation-mode batch norm of 0 with running
    // mean 0 is 0): the logits are the classifier bias and every weight gradient is exactly 0.
    guard case let .missing(reason) = r[0].value else { return XCTFail("expected a missing value, got \(r[0].value)") }
    XCTAssertTrue(reason.hasPrefix("nan:"), reason)
  }
}
