import Foundation
import XCTest
import ZCEngine
import ZCSearch

/// The log-rank ensemble on hand-made tables; expected values from scipy 1.17.1
/// (`np.log(stats.rankdata(x) / L)` summed over members, missing values as −inf).
final class LogRankEnsembleTests: XCTestCase {
  private let directions: [String: ProxyDirection] = ["a": .higherIsBetter, "b": .lowerIsBetter, "c": .unspecified]

  private func make(_ members: [String]) throws -> LogRankEnsemble {
    try LogRankEnsemble(members: members, direction: { self.directions[$0] })
  }

  func testScoresMatchScipy() throws {
    // a (higher is better) with one missing value; b (lower is better), negated before ranking.
    let values: [[Double?]] = [[3, 0.5], [1, 0.1], [2, 0.3], [2, 0.9], [nil, 0.2]]
    let expected = [-0.916290731874155, -0.916290731874155, -0.8675005677047232, -1.9661128563728327, -1.83258146374831]
    let s = try make(["a", "b"]).scores(values)
    for (x, y) in zip(s, expected) { XCTAssertEqual(x, y, accuracy: 1e-14) }
  }

  func testMissingValuesTieAtTheBottom() throws {
    // Two missing values share ranks 1 and 2 (average 1.5), below every present value; NaN counts as missing.
    let s = try make(["a"]).scores([[3], [nil], [2], [.nan], [1]])
    let expected = [0.0, -1.2039728043259361, -0.2231435513142097, -1.2039728043259361, -0.5108256237659907]
    for (x, y) in zip(s, expected) { XCTAssertEqual(x, y, accuracy: 1e-14) }
  }

  func testAverageRanksAsRankdata() {
    XCTAssertEqual(Statistics.ranks([10, 20, 10, 30, 20, 20]), [1.5, 4, 1.5, 6, 4, 4])
  }

  func testReferenceInsertion() throws {
    let e = try make(["a", "b"])
    let ref = e.reference([[1, 5], [2, 4], [3, 3], [nil, 2]])
    // a = 2.5 lies above 2 of the 3 present values: r = 3; b = 4 equals one value and lies below
    // (after negation) two: r = 1 + 1 + 1/2 = 2.5; L + 1 = 5.
    XCTAssertEqual(e.score([2.5, 4], against: ref), Foundation.log(3.0 / 5) + Foundation.log(2.5 / 5), accuracy: 1e-14)
    // A missing value ranks below every present one (r = 1/2).
    XCTAssertEqual(e.score([nil, 1], against: ref), Foundation.log(0.5 / 5) + Foundation.log(5.0 / 5), accuracy: 1e-14)
    XCTAssertLessThan(e.score([nil, 1], against: ref), e.score([0, 1], against: ref))
  }

  func testBadMembersAreRefused() {
    XCTAssertThrowsError(try make(["a", "c"])) { XCTAssertTrue("\($0)".contains("no declared direction"), "\($0)") }
    XCTAssertThrowsError(try make(["a", "a"])) { XCTAssertTrue("\($0)".contains("twice"), "\($0)") }
    XCTAssertThrowsError(try make(["a", "zz"])) { XCTAssertTrue("\($0)".contains("unknown proxy 'zz'"), "\($0)") }
    XCTAssertThrowsError(try make([]))
  }

  func testPoolColumn() throws {
    let pool = ProxyPool(archIndices: [7, 8, 9], metrics: ["a", "b"], values: [[1, 3], [2, 2], [3, nil]])
    let p = try make(["a", "b"]).appended(to: pool)
    XCTAssertEqual(p.metrics, ["a", "b", "ensemble"])
    // a ranks 1, 2, 3; −b ranks 1 (−3), 2 (−2), missing lowest → ranks of (−3, −2, −inf) = 2, 3, 1.
    let expected = [Foundation.log(1.0 / 3) + Foundation.log(2.0 / 3), Foundation.log(2.0 / 3) + Foundation.log(1.0), Foundation.log(1.0) + Foundation.log(1.0 / 3)]
    for (row, y) in zip(p.values, expected) { XCTAssertEqual(try XCTUnwrap(row[2]), y, accuracy: 1e-14) }
    XCTAssertEqual(p.missingCounts, [0, 1, 0])
  }
}
