import XCTest
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
      ScoreRow(key: key(6, "plain"), arch: "a", value: .value(-.infinity), seconds: 0, engineVersion: "0.1.0"),
    ]
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString).csv.gz").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try ScoreTable.write(rows, to: path)
    let head = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2)
    XCTAssertEqual(Array(head), [0x1f, 0x8b], "gzip magic")
    let back = try ScoreTable.read(path)
    XCTAssertEqual(back.count, 4)
    // A non-finite number is missing everywhere (issue 15): it reads back as missing, raw value first.
    XCTAssertEqual(back[3].value, nil)
    XCTAssertEqual(back[3].missingReason, "-inf: imported as -inf")
    XCTAssertEqual(back[0].value, 0.30000000000000004)
    XCTAssertEqual(back[1].value, nil)
    XCTAssertEqual(back[1].missingReason, "singular K, \"log|det|\" = -inf")
    XCTAssertEqual(back[1].initialisation, "weights:w,1.safetensors@ab")
    XCTAssertEqual(back[2].value, -1.2345678901234567e-300)
  }

  /// Fields with commas, quotes and line breaks come back unchanged (line breaks used to become
  /// spaces), and CRLF line ends read the same as LF (they used to read as one long line).
  func testQuotingAndLineEnds() throws {
    let rows = [
      ScoreRow(key: key(1, "nwot"), arch: "a,b", value: .missing(reason: "two\nlines, \"quoted\"\r\nand CRLF"), seconds: 0.5, engineVersion: "0.1.0"),
      ScoreRow(key: key(2, "snip"), arch: "|none~0|", value: .value(1e-7), seconds: 2, engineVersion: "0.1.0"),
    ]
    let text = ScoreTable.csv(rows)
    XCTAssertEqual(text.split(separator: "\n", omittingEmptySubsequences: false).first, Substring(ScoreTable.columns.joined(separator: ",")))
    for (name, t) in [("lf", text), ("crlf", text.replacingOccurrences(of: "\n", with: "\r\n"))] {
      let back = try ScoreTable.parse(t, source: name)
      XCTAssertEqual(back.count, 2, name)
      XCTAssertEqual(back[0].arch, "a,b", name)
      XCTAssertEqual(back[1].value, 1e-7, name)
      XCTAssertEqual(back[1].seconds, 2, name)
      XCTAssertEqual(back[1].initialisation, "weights:w,1.safetensors@ab", name)
    }
    XCTAssertEqual(try ScoreTable.parse(text, source: "lf")[0].missingReason, "two\nlines, \"quoted\"\r\nand CRLF")
  }

  /// created_at keeps the ISO8601DateFormatter form (`2026-12-01T09:58:29Z`), now written without one per row.
  func testCreatedAtIsISO8601() throws {
    let before = Date()
    let r = ScoreRow(key: key(1, "nwot"), arch: "a", value: .value(1), seconds: 0, engineVersion: "0.1.0")
    let parsed = try XCTUnwrap(ISO8601DateFormatter().date(from: r.createdAt), r.createdAt)
    XCTAssertEqual(ISO8601DateFormatter().string(from: parsed), r.createdAt)
    XCTAssertLessThan(abs(parsed.timeIntervalSince(before)), 5)
  }

  func testBadTablesNameTheLine() {
    let header = ScoreTable.columns.joined(separator: ",")
    XCTAssertThrowsError(try ScoreTable.parse("index,arch\n", source: "t.csv")) { XCTAssertTrue("\($0)".contains("header lacks")) }
    XCTAssertThrowsError(try ScoreTable.parse(header + "\nnb201,cifar10,1,a,synflow,0,64,x,sampled,float32,abc,,0.1,0.1.0,\n", source: "t.csv")) {
      XCTAssertEqual("\($0)", "t.csv, line 2, column 11: value is 'abc', not a number")
    }
    XCTAssertThrowsError(try ScoreTable.parse(header + "\nnb201,cifar10,1,a,synflow,0,64,x,sampled,float32,,,0.1,0.1.0,\n", source: "t.csv")) {
      XCTAssertTrue("\($0)".contains("neither a value nor a missing_reason"), "\($0)")
    }
    let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("c-\(UUID().uuidString).csv.gz").path
    defer { try? FileManager.default.removeItem(atPath: corrupt) }
    _ = FileManager.default.createFile(atPath: corrupt, contents: Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]))
    XCTAssertThrowsError(try ScoreTable.read(corrupt))
  }

  /// A gzip file cut short is an error, wherever the cut falls, never a shorter table.
  func testTruncatedGzipIsAnError() throws {
    let rows = (0..<2000).map { i in
      ScoreRow(key: key(i, "synflow"), arch: "a", value: .value(Double(i) * 1.1), seconds: 0.5, engineVersion: "0.1.0")
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("g-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let full = dir.appendingPathComponent("t.csv.gz").path
    try ScoreTable.write(rows, to: full)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
    XCTAssertEqual(try ScoreTable.read(full).count, 2000)
    for cut in [bytes.count / 3, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
      let part = dir.appendingPathComponent("cut\(cut).csv.gz").path
      try bytes.prefix(cut).write(to: URL(fileURLWithPath: part))
      XCTAssertThrowsError(try ScoreTable.read(part), "cut at \(cut) of \(bytes.count)") { XCTAssertTrue("\($0)".contains("truncated") || "\($0)".contains("corrupt"), "\($0)") }
    }
  }
}
