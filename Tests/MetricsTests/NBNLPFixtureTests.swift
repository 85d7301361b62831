import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// The NAS-Bench-NLP model and the recurrent proxies against the PyTorch reference fixtures in
/// Tests/Fixtures/nbnlp (nas-bench-nlp `AWDRNNModel` + Serianni & Kalita's hidden covariance).
final class NBNLPFixtureTests: XCTestCase {
  static let folder = TestPaths.fixtures("nbnlp")

  /// The reference's hidden states `ref.hidden_l1..3` (the metric's input), reproduced from the
  /// fixture's weights and tokens.
  func testHiddenStatesMatchReference() throws {
    let fixtures = try ReferenceFixture.all(in: Self.folder)
    XCTAssertEqual(fixtures.count, 2)
    for f in fixtures {
      let net = try f.nbnlpNetwork(dtype: .float32)
      let tokens = try f.tokenBatch()
      let fwd = GradMode.withoutRecording { net(tokens) }
      for l in 1...3 {
        let ref = try f.tensors.floatTensor("ref.hidden_l\(l)")
        XCTAssertEqual(fwd.incomingHidden[l - 1].shape, ref.shape, "\(f.name) layer \(l)")
        let a = fwd.incomingHidden[l - 1].doubles, b = ref.doubles
        let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, "\(f.name) layer \(l): max |engine - reference| = \(worst)")
        XCTAssertEqual(b.prefix(ref.shape[1] * ref.shape[2]).allSatisfy { $0 == 0 }, true, "row 0 is zeros")
      }
    }
  }

  private func checkHiddenCov(dtype: DType) throws {
    for f in try ReferenceFixture.all(in: Self.folder) {
      let refs = f.recurrentReferences
      XCTAssertEqual(refs.count, 3, "\(f.name): per-layer references")
      let proxies = registry.applicable(to: .recurrentLanguageModel).filter { refs[$0.name] != nil }
      XCTAssertEqual(proxies.count, 3)
      let results = evaluate(proxies, in: RecurrentProxyContext(network: try f.nbnlpNetwork(dtype: dtype), tokens: try f.tokenBatch()))
      for r in results {
        let c = ReferenceFixture.compareRecurrent(r.metric, engine: r.value, reference: refs[r.metric]!, dtype: dtype)
        XCTAssertTrue(c.passed, "\(f.name) \(dtype) \(r.metric): engine \(r.value), reference \(c.reference), rel \(c.relativeError.map { "\($0)" } ?? "-"), tol \(c.tolerance)")
      }
    }
  }

  func testHiddenCovMatchesReferenceInFloat64() throws { try checkHiddenCov(dtype: .float64) }
  func testHiddenCovMatchesReferenceInFloat32() throws { try checkHiddenCov(dtype: .float32) }

  /// Strict loading: the file's keys are exactly the model's (the tied decoder weight included).
  func testStateDictKeysEqualFixtureKeys() throws {
    for f in try ReferenceFixture.all(in: Self.folder) {
      let net = try f.nbnlpNetwork(dtype: .float32)
      XCTAssertEqual(Set(net.stateDictKeys()), Set(f.stateKeys), f.name)
      XCTAssertEqual(f.document.hiddenTupleSize?.value, try f.nbnlpRecipe().hiddenTupleSize, f.name)
    }
  }
}

