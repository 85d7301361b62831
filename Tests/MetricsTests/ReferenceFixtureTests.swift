import Foundation
import Metrics
import XCTest
import ZCEngine
import ZCTensor

/// Every implemented proxy against the PyTorch reference fixtures in Tests/Fixtures/nb201 (copied
/// from shared/reference with its README), in float64 and float32, at the README's tolerances.
final class ReferenceFixtureTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/nb201").path

  private func check(dtype: DType) throws {
    let fixtures = try ReferenceFixture.all(in: Self.folder)
    XCTAssertEqual(fixtures.count, 4)
    for f in fixtures {
      let net = try f.nb201Network(dtype: dtype)
      let (x, y) = try f.batch(1, dtype: dtype)
      let proxies = allProxies.filter { f.referenceValue($0.name) != nil }
      XCTAssertGreaterThanOrEqual(proxies.count, 10, "\(f.name): proxies with references")
      let results = evaluate(proxies, network: net, images: x, labels: y)
      let snip = results.first { $0.metric == "snip" }?.value.number
      for r in results {
        let c = ReferenceFixture.compare(r.metric, engine: r.value, reference: f.referenceValue(r.metric)!, dtype: dtype, snip: snip)
        XCTAssertTrue(c.passed, "\(f.name) \(dtype) \(r.metric): engine \(r.value), reference \(c.reference), rel \(c.relativeError.map { "\($0)" } ?? "-"), tol \(c.tolerance) \(c.note)")
      }
    }
  }

  func testProxiesMatchReferenceInFloat64() throws { try check(dtype: .float64) }
  func testProxiesMatchReferenceInFloat32() throws { try check(dtype: .float32) }
}
