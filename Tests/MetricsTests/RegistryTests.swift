import Metrics
import XCTest
import ZCEngine

/// The one proxy registry: unique names across every model kind, each kind's context offers what
/// its proxies read.
final class RegistryTests: XCTestCase {
  func testDuplicateNameIsAnError() {
    XCTAssertThrowsError(try ProxyRegistry([GradNorm(), Snip(), GradNorm()])) { e in
      XCTAssertTrue("\(e)".contains("grad_norm"), "\(e)")
    }
    var r = try! ProxyRegistry([NWOT()])
    XCTAssertThrowsError(try r.register(NWOT()))
    XCTAssertNoThrow(try r.register(Synflow()))
  }

  func testShippedRegistryIsValidAndSharedProxiesServeBothKinds() throws {
    let names = registry.proxies.map(\.name)
    XCTAssertEqual(Set(names).count, names.count)
    XCTAssertNoThrow(try ProxyRegistry(registry.proxies))
    let image = Set(registry.applicable(to: .imageClassifier).map(\.name))
    let recurrent = Set(registry.applicable(to: .recurrentLanguageModel).map(\.name))
    XCTAssertEqual(image.intersection(recurrent), ["nwot", "synflow"], "one definition each, for both kinds")
    XCTAssertEqual(recurrent, ["nwot", "synflow", "hidden_cov", "hidden_cov_l2", "hidden_cov_l3"])
    XCTAssertTrue(registry.proxies.allSatisfy { !$0.kinds.isEmpty })
  }
}
