import XCTest
import ZCData
import ZCEngine

/// Score tables: export/import is lossless (values, missing reasons, quoting), gzip round-trips,
/// and bad files give errors that name the line.
final class ScoreTableTests: XCTestCase {
  func key(_ a: Int, _ m: String) -> ScoreKey {
    ScoreKey(space: "nb201", dataset: "cifar10", archIndex: a, metric: m, seed: 0, batchSize: 64, initialisation: "weights:w,1.safetensors@ab",
             batchSource: "sampled", dtype: "float32")
  }

  func testRoundTripThroughGzip() throws {
    let rows = [
      ScoreRow(key: key(3, "synflow"), arch: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", value: .value(0.1 + 0.2), seconds: 1.5, engineVersion: "0.1.0"),
      ScoreRow(key: key(4, "nwot"), arch: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", value: .missing(reason: "singular K, \"log|det|\" = -inf"),
               seconds: 0.25, engineVersion: "0.1.0"),
      ScoreRow(key: key(5, "grasp"), arch: "a", value: .value(-1.2345678901234567e-300), seconds: 0, engineVersion: "0.1.0"),
    ]
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString).csv.gz").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try ScoreTable.write(rows, to: path)
    let head = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2)
    XCTAssertEqual(Array(head), [0x1f, 0x8b], "gzip magic")
    let back = try ScoreTable.read(path)
    XCTAssertEqual(back.count, 3)
    XCTAssertEqual(back[0].value, 0.30000000000000004)
    XCTAssertEqual(back[1].value, nil)
    XCTAssertEqual(back[1].missingReason, "singular K, \"log|det|\" = -inf")
    XCTAssertEqual(back[1].initialisation, "weights:w,1.safetensors@ab")
    XCTAssertEqual(back[2].value, -1.2345678901234567e-300)
  }

  func testBadTablesNameTheLine() {
    let header = ScoreTable.columns.joined(separator: ",")
    XCTAssertThrowsError(try ScoreTable.parse("index,arch\n", source: "t.csv")) { XCTAssertTrue("\($0)".contains("header lacks")) }
    XCTAssertThrowsError(try ScoreTable.parse(header + "\nnb201,cifar10,1,a,synflow,0,64,x,sampled,float32,abc,,0.1,0.1.0\n", source: "t.csv")) {
      XCTAssertTrue("\($0)".contains("line 2") && "\($0)".contains("value is 'abc'"), "\($0)")
    }
    XCTAssertThrowsError(try ScoreTable.parse(header + "\nnb201,cifar10,1,a,synflow,0,64,x,sampled,float32,,,0.1,0.1.0\n", source: "t.csv")) {
      XCTAssertTrue("\($0)".contains("neither a value nor a missing_reason"), "\($0)")
    }
    let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("c-\(UUID().uuidString).csv.gz").path
    defer { try? FileManager.default.removeItem(atPath: corrupt) }
    FileManager.default.createFile(atPath: corrupt, contents: Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]))
    XCTAssertThrowsError(try ScoreTable.read(corrupt))
  }
}
