import XCTest
import ZCSpaces

/// NASLib's "valid" cells (every operation on a path from the cell input to its output), on
/// arch strings checked by hand, and the count over the space against an independent Python
/// derivation (set reachability on the 15,625 strings of nb201.csv: 9,444).
final class NB201ValidCellTests: XCTestCase {
  private func valid(_ s: String) throws -> Bool { try NB201Architecture(parsing: s).everyOperationOnInputOutputPath }

  func testHandCheckedCells() throws {
    // A conv 0→1 that ends at node 1, which reaches nothing: dead; and no input-output path.
    XCTAssertFalse(try valid("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    // 0→1→2→3 chain: every op on the path.
    XCTAssertTrue(try valid("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"))
    // Only the direct skip 0→3.
    XCTAssertTrue(try valid("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    // conv 0→2 with node 2 not feeding the output: dead op.
    XCTAssertFalse(try valid("|none~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"))
    // pool 2→3 with nothing entering node 2: dead op (and conv 0→1 leads nowhere).
    XCTAssertFalse(try valid("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"))
    // Every edge none: no path at all.
    XCTAssertFalse(try valid("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    // Every edge an operation: all on paths.
    XCTAssertTrue(try valid("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"))
    // 0→1 and 1→3, plus 0→2 that dies at node 2.
    XCTAssertFalse(try valid("|skip_connect~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_1x1~1|none~2|"))
    XCTAssertTrue(try valid("|skip_connect~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"))
  }

  func testCountOverTheSpace() {
    XCTAssertEqual(NB201Architecture.all.filter(\.everyOperationOnInputOutputPath).count, 9444)
  }
}
