import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// The BERT model and metrics against the PyTorch reference fixtures in `../shared/reference/bert`
/// (too large to copy; skipped when absent): forward metrics against `reference`, gradient metrics
/// against `reference_random_cotangent`, at the fixture README's tolerances; and the degeneracy of
/// the notebook's backward of ones, shown in float64.
final class BERTFixtureTests: XCTestCase {
  func fixtures() throws -> [ReferenceFixture] {
    let all = try ReferenceFixture.all(in: try TestPaths.shared("reference/bert"))
    XCTAssertGreaterThanOrEqual(all.count, 4)
    return all
  }

  func space() throws -> BERTSpace { try BERTSpace(datasetsRoot: TestPaths.datasets) }

  private func check(dtype: DType) throws {
    let space = try space()
    for f in try fixtures() {
      let refs = space.references(f)
      XCTAssertEqual(refs.count, 15, "\(f.name): every metric has a reference")
      let proxies = registry.applicable(to: .transformer).filter { refs[$0.name] != nil }
      XCTAssertEqual(proxies.count, 15, f.name)
      let (net, batch) = try space.fixtureInputs(f, dtype: dtype)
      let context = space.context(network: net, batch: batch, proxies: proxies, runSeed: 0, networkSeed: 0)
      for r in evaluate(proxies, in: context) {
        let c = space.compare(r.metric, engine: r.value, reference: refs[r.metric]!, dtype: dtype, results: [])
        XCTAssertTrue(c.passed, "\(f.name) \(dtype) \(r.metric): engine \(r.value), reference \(c.reference), rel \(c.relativeError.map { "\($0)" } ?? "-"), tol \(c.tolerance)")
      }
      let extra = space.extraChecks(f, context: context, dtype: dtype)
      XCTAssertEqual(extra.count, 2, f.name)
      for c in extra { XCTAssertTrue(c.passed, "\(f.name) \(dtype) \(c.metric): \(c.engine)") }
    }
  }

  func testFixturesFloat32() throws { try check(dtype: .float32) }
  func testFixturesFloat64() throws { try check(dtype: .float64) }

  /// The notebook's `last_hidden_state.backward(ones)`: in float64 every gradient upstream of the
  /// final LayerNorm is rounding noise, below 1e-10 of the gradient of the fixture's N(0, 1)
  /// cotangent (the fixture README's magnitude check), and so are the gradient metrics.
  func testOnesCotangentGradientIsZeroToRoundingInFloat64() throws {
    let space = try space()
    let f = try fixtures()[0]
    let (net, batch) = try space.fixtureInputs(f, dtype: .float64)
    let ones = Tensor(repeating: 1, shape: [batch.batch, batch.steps, net.size.hiddenSize], dtype: .float64)
    let cOnes = TransformerProxyContext(network: net, ids: batch.ids, batch: batch.batch, steps: batch.steps, cotangent: ones, cotangentSeed: 0, wantsGradients: true)
    let cRand = TransformerProxyContext(network: net, ids: batch.ids, batch: batch.batch, steps: batch.steps, cotangent: batch.cotangent, cotangentSeed: 0, wantsGradients: true)
    let last = net.encoder.layers.last!.output.layerNorm
    var worstOnes = 0.0, worstRand = 0.0
    for (name, p) in cOnes.gradientParameters where p !== last.weight && p !== last.bias {
      let a = cOnes.gradient(of: p)!.doubles.map { Swift.abs($0) }.max() ?? 0
      let b = cRand.gradient(of: p)!.doubles.map { Swift.abs($0) }.max() ?? 0
      worstOnes = max(worstOnes, a); worstRand = max(worstRand, b)
      XCTAssertLessThan(a, 1e-10 * max(b, 1), name)
    }
    XCTAssertGreaterThan(worstRand, 1)  // the random cotangent's gradients are far from zero
    XCTAssertLessThan(worstOnes, 1e-12)
    for p in [SynapticSaliency(), HeadImportance()] as [any ZeroCostProxy] {
      let a = try p.compute(in: cOnes).number!, b = try p.compute(in: cRand).number!
      XCTAssertLessThan(Swift.abs(a) / Swift.abs(b), 1e-10, p.name)
    }
  }

  /// head_importance has no term when every op-module Linear has fewer than 128 outputs (DSC at
  /// H = 128: A = 64): the sum is 0 and the normalised value is missing (0/0), as in the reference.
  func testHeadImportanceWithoutTermsIsMissing() throws {
    let dsc = BERTLayerSpec(operation: .dsc(kernel: 5), heads: 2, feedForwardDimension: 512, feedForwardCount: 1)
    let a = BERTArchitecture(hiddenSize: 128, layers: [dsc, dsc])
    var rng = ZCRandom(seed: 1)
    let net = BERTNetwork(a, size: BERTModelSize.of(a, mode: .benchmark), dtype: .float32, rng: &rng)
    let c = TransformerProxyContext(network: net, ids: (0..<32).map { 1000 + $0 }, batch: 2, steps: 16, cotangent: nil, cotangentSeed: 3, wantsGradients: true)
    XCTAssertEqual(try HeadImportance().compute(in: c), .value(0))
    guard case let .missing(reason) = try HeadImportance(normalized: true).compute(in: c) else { return XCTFail("expected missing") }
    XCTAssertTrue(reason.hasPrefix("nan:"))
  }

  /// Scores are deterministic: the same network seed, batch and run seed give the same values,
  /// and another run seed changes only the gradient metrics (through the cotangent).
  func testDeterministicAndCotangentSeeded() throws {
    let space = try space()
    var s = ScoringSettings(dataset: "wikitext2", datasetsRoot: TestPaths.datasets)
    s.batchSize = 2; s.parameters = ["seq_len": 32]
    let (_, arch) = try space.entry(at: 7)
    let batch = try space.makeBatch(s, proxies: [])
    let proxies = registry.applicable(to: .transformer)
    func run(_ runSeed: UInt64) throws -> [String: ProxyValue] {
      let net = try space.makeNetwork(arch, seed: 42, dtype: .float32, settings: s)
      let r = evaluate(proxies, in: space.context(network: net, batch: batch, proxies: proxies, runSeed: runSeed, networkSeed: 42))
      return Dictionary(uniqueKeysWithValues: r.map { ($0.metric, $0.value) })
    }
    let (a, b, c) = (try run(0), try run(0), try run(1))
    XCTAssertEqual(a, b)
    XCTAssertEqual(a["head_confidence"], c["head_confidence"])
    XCTAssertEqual(a["activation_distance"], c["activation_distance"])
    XCTAssertNotEqual(a["synaptic_saliency"], c["synaptic_saliency"])
  }
}

/// nwot on a transformer: K [B, B] from the GELU outputs' signs, checked against a direct count.
final class BERTNWOTTests: XCTestCase {
  func testKernelEqualsDirectAgreementCounts() throws {
    let space = try BERTSpace(datasetsRoot: TestPaths.datasets)
    var s = ScoringSettings(dataset: "wikitext2", datasetsRoot: TestPaths.datasets)
    s.batchSize = 3; s.parameters = ["seq_len": 16]
    let batch = try space.makeBatch(s, proxies: [])
    let net = try space.makeNetwork(try space.entry(at: 11).architecture, seed: 5, dtype: .float32, settings: s)
    let c = space.context(network: net, batch: batch, proxies: [NWOT()], runSeed: 0, networkSeed: 5) as! TransformerProxyContext
    let acts = c.record().activations
    var want = [Double](repeating: 0, count: 9)
    for a in acts {
      let v = a.doubles, u = a.count / 3
      for i in 0..<3 { for j in 0..<3 {
        var agree = 0
        for k in 0..<u where (v[i * u + k] > 0) == (v[j * u + k] > 0) { agree += 1 }
        want[i * 3 + j] += Double(agree)
      } }
    }
    XCTAssertEqual(c.activationCodeKernel().doubles, want)
    let total = Double(acts.reduce(0) { $0 + $1.count / 3 })
    for i in 0..<3 { XCTAssertEqual(want[i * 4], total) }  // a sequence agrees with itself everywhere
    guard case .value = try NWOT().compute(in: c) else { return XCTFail("nwot missing for distinct sequences") }
  }
}
