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

  /// The named presets against scipy (Tests/Fixtures/tools/ensemble_presets.py, scipy 1.17.1:
  /// `rankdata` of each member, missing values as −inf, Σ log(rank / L)), missing values included.
  func testPresetsMatchScipy() throws {
    let union = ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops", "vkdnw_entropy", "jacob_cov"]
    let rows: [[Double?]] = [
      [310.5, 0.81, -1.9, 120.0, 1.52, -65.0],
      [305.0, nil, -2.4, 80.5, 1.61, -63.0],
      [298.2, 0.77, -1.9, 120.0, nil, -70.0],
      [nil, nil, -5.0, 15.6, 1.40, -80.0],
      [312.9, 0.92, -1.2, 153.0, 1.58, nil],
      [301.4, 0.55, -3.3, 80.5, 1.61, -66.5],
      [305.0, 0.60, -2.0, 46.8, 1.33, -64.1],
    ]
    let expected: [String: [Double]] = [
      "az_nas": [-0.7906254732882929, -3.5227228341733374, -2.0715593187503574, -7.378175488113089, 0.0, -3.640505869829721, -2.8138272966452527],
      "vkdnw_agg": [-1.5325628180176702, -2.0563857653799102, -4.528295091571661, -7.937791276048512, -2.2823823856765264, -3.4269317695316617, -3.661125157032456],
    ]
    XCTAssertEqual(LogRankEnsemble.presets.map(\.name), ["az_nas", "vkdnw_agg"])
    for preset in LogRankEnsemble.presets {
      let members = LogRankEnsemble.members(of: " \(preset.name) ")
      XCTAssertEqual(members, preset.members)
      let e = try LogRankEnsemble(members: members, direction: { union.contains($0) ? .higherIsBetter : nil })
      let cols = members.map { union.firstIndex(of: $0)! }
      let s = e.scores(rows.map { r in cols.map { r[$0] } })
      for (x, y) in zip(s, try XCTUnwrap(expected[preset.name])) { XCTAssertEqual(x, y, accuracy: 1e-13, preset.name) }
      XCTAssertTrue(e.label.hasPrefix(preset.name + " = "))
    }
    XCTAssertEqual(LogRankEnsemble.members(of: "a, b,,c"), ["a", "b", "c"])
    XCTAssertEqual(LogRankEnsemble.members(of: nil), LogRankEnsemble.defaultMembers)
  }
}
