import XCTest
import ZCEngine
import ZCTensor

/// Expected values computed with scipy 1.17.1 / numpy 2.4.6 (`spearmanr`, `kendalltau` (τ-b),
/// `corrcoef`, `eigvalsh`).
final class StatisticsTests: XCTestCase {
  func testSpearmanAndKendallWithTiesMatchScipy() {
    let a = [3.1, 2.0, 5.5, 5.5, 1.0, 7.2, 0.3, 4.4, 4.4, 9.0]
    let b = [10.0, 20, 20, 35, 5, 60, 1, 40, 30, 80]
    XCTAssertEqual(Statistics.spearman(a, b), 0.8837961815702378, accuracy: 1e-14)
    XCTAssertEqual(Statistics.kendall(a, b), 0.7816608327818949, accuracy: 1e-14)
    XCTAssertEqual(Statistics.spearman([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1.5]), -1, accuracy: 1e-14)
    XCTAssertEqual(Statistics.kendall([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1.5]), -1, accuracy: 1e-14)
  }

  func testCorrelationEigenScoreMatchesNumpy() throws {
    let j = Tensor([1.0, 2, 3, 4, 2, 1, 0, 5, 0, 0, 1, 1, 3, 1, 4, 1], shape: [4, 4])
    let c = try XCTUnwrap(Statistics.rowCorrelation(j))
    XCTAssertEqual(c[0, 1], 0.47809144373375745, accuracy: 1e-14)
    // One eigenvalue is ~0 (4 centred rows of length 4), so 1/(v + 1e-5) amplifies rounding: relative 1e-10.
    XCTAssertEqual(try Statistics.eigenScore(c), -99992.71291977726, accuracy: 1e-5)
    XCTAssertNil(Statistics.rowCorrelation(Tensor([1.0, 1, 1, 0, 2, 4], shape: [2, 3])), "a constant row has no correlation")
  }
}
