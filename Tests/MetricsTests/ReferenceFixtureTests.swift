import Foundation
import Metrics
import TestSupport
import XCTest
import ZCEngine
import ZCTensor

/// Every implemented proxy against the PyTorch reference fixtures in Tests/Fixtures/nb201 (copied
/// from shared/reference with its README), in float64 and float32, at the README's tolerances.
final class ReferenceFixtureTests: XCTestCase {
  static let folder = TestPaths.fixtures("nb201")

  /// `skipPerSampleOnLarge`: leave out the B-backward-pass proxies (ntk_cond, gradsign) on the two
  /// networks above 1M parameters, to keep the float64 run short; float32 checks them everywhere.
  private func check(dtype: DType, skipPerSampleOnLarge: Bool = false) throws {
    let fixtures = try ReferenceFixture.all(in: Self.folder)
    XCTAssertEqual(fixtures.count, 4)
    for f in fixtures {
      let net = try f.nb201Network(dtype: dtype)
      let (x, y) = try f.batch(1, dtype: dtype)
      let (x2, y2) = try f.batch(2, dtype: dtype)
      var proxies = allProxies.filter { f.referenceValue($0.name) != nil }
      XCTAssertEqual(proxies.count, 17, "\(f.name): proxies with references (14, plus meco, swap, reg_swap from reference_extra)")
      if skipPerSampleOnLarge && net.parameterCount > 1_000_000 { proxies.removeAll { ["ntk_cond", "gradsign"].contains($0.name) } }
      let results = evaluate(proxies, network: net, images: x, labels: y, images2: x2, labels2: y2)
      let snip = results.first { $0.metric == "snip" }?.value.number
      for r in results {
        let c = ReferenceFixture.compare(r.metric, engine: r.value, reference: f.referenceValue(r.metric)!, dtype: dtype, snip: snip)
        XCTAssertTrue(c.passed, "\(f.name) \(dtype) \(r.metric): engine \(r.value), reference \(c.reference), rel \(c.relativeError.map { "\($0)" } ?? "-"), tol \(c.tolerance) \(c.note)")
      }
    }
  }

  func testProxiesMatchReferenceInFloat64() throws { try check(dtype: .float64, skipPerSampleOnLarge: true) }

  /// ntk_trace = √(Σλ/B) from the fixture's own float64 NTK eigenvalues (TE-NAS procedure in PyTorch).
  func testNTKTraceFromReferenceEigenvalues() throws {
    let f = try ReferenceFixture(jsonPath: Self.folder + "/nb201_c10_i3773_rand0.json")
    let eig = try XCTUnwrap(f.document.ntkEigenvaluesFloat64).map(\.value)
    let expected = (eig.reduce(0, +) / Double(eig.count)).squareRoot()
    let (x, y) = try f.batch(1, dtype: .float64)
    let r = evaluate([NTKTrace()], network: try f.nb201Network(dtype: .float64), images: x, labels: y)
    XCTAssertEqual(try XCTUnwrap(r[0].value.number), expected, accuracy: 1e-9 * expected)
  }
  func testProxiesMatchReferenceInFloat32() throws { try check(dtype: .float32) }
}
