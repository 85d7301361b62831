import TestSupport
import XCTest

final class ScoringOrderTests: XCTestCase {
  /// Against values CPython 3.11 computed (`random.Random(2026).shuffle(list(range(15625)))`): its
  /// first and last five entries. Their ends are also the reproduction test's sample
  /// (`ShippedTableReproductionTests.sample`).
  func testOrderIsPythonsShuffle() {
    let o = ScoringOrder.indices
    XCTAssertEqual(Array(o.prefix(5)), [13393, 10576, 7618, 6485, 6297])
    XCTAssertEqual(Array(o.suffix(5)), [8385, 15586, 8233, 5234, 1951])
    XCTAssertEqual(Set(o), Set(0..<15_625))
  }

  func testPrefixAndSuffix() {
    let o = ScoringOrder.indices
    XCTAssertTrue(ScoringOrder.isPrefixAndSuffix(Set(o.prefix(10)).union(o.suffix(7))))
    XCTAssertTrue(ScoringOrder.isPrefixAndSuffix(Set(o)))
    XCTAssertTrue(ScoringOrder.isPrefixAndSuffix([]))
    XCTAssertFalse(ScoringOrder.isPrefixAndSuffix(Set(o.prefix(10)).union([o[11]])), "a gap after the prefix")
    XCTAssertFalse(ScoringOrder.isPrefixAndSuffix(Set(o.prefix(10)).subtracting([o[3]])), "a hole in the prefix")
  }
}
