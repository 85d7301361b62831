import CSV
import Foundation
import XCTest
import ZCData

/// The one CSV reader and writer: RFC 4180 round trips (commas, quotes, line breaks inside quoted
/// fields), LF / CRLF / CR line ends, the same bytes as CSV.swift's CSVWriter, and errors that
/// name the file, line and column.
final class CSVTableTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  private var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("csvtable-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  /// Fields that need quoting, and some that look as if they might.
  static let tricky: [[String]] = [
    ["plain", "with,comma", "with \"quotes\"", "\"", "\"\""],
    ["line\nbreak", "crlf\r\nbreak", "cr\rbreak", "", " spaced "],
    ["", "", "", "", ""],
    ["é ü 漢字 🙂", "trailing,", ",leading", "a\"b,c\nd", "{\"op\": \"linear\", \"input\": [\"x\", \"h_prev_0\"]}"],
    ["\n", "\r\n", ",", "'single'", "tab\there"],
  ]

  func testQuotedFieldsRoundTripThroughTextFileAndGzip() throws {
    let header = ["a", "b,c", "d\"e", "f\ng", "h"]
    let text = CSVTable.format(header: header, rows: Self.tricky)
    let back = try CSVTable.parse(text, source: "t.csv")
    XCTAssertEqual(back.header, header)
    XCTAssertEqual(back.rows, Self.tricky)
    for name in ["t.csv", "t.csv.gz"] {
      let path = dir.appendingPathComponent(name).path
      try CSVTable.write(header: header, rows: Self.tricky, to: path)
      let head = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2)
      XCTAssertEqual(Array(head) == [0x1f, 0x8b], name.hasSuffix(".gz"), "gzip magic only for .gz")
      let read = try CSVTable.read(path: path)
      XCTAssertEqual(read.header, header, name)
      XCTAssertEqual(read.rows, Self.tricky, name)
      XCTAssertEqual(read.source, path)
    }
  }

  func testOneEmptyFieldIsARecordNotABlankLine() throws {
    let text = CSVTable.format(header: ["only"], rows: [["x"], [""], ["y"]])
    XCTAssertEqual(text, "only\nx\n\"\"\ny\n")
    XCTAssertEqual(try CSVTable.parse(text, source: "t").rows, [["x"], [""], ["y"]])
  }

  /// The direct path for rows without a field to quote and CSVWriter's own output agree byte for byte.
  func testFormatMatchesCSVWriter() throws {
    let rows = Self.tricky + [["nb201", "cifar10", "0", "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|", "0.004374555963009652", "", "0.041233"],
                              ["x"], ["-inf", "nan", "1e-300"]]
    let stream = OutputStream(toMemory: ())
    let writer = try CSVWriter(stream: stream)
    try writer.write(row: ["h1", "h2"])
    for r in rows { try writer.write(row: r) }
    let expected = String(decoding: stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self) + "\n"
    XCTAssertEqual(CSVTable.format(header: ["h1", "h2"], rows: rows), expected)
    // quoted(_:) is the same rule for one field (a lone empty field aside: format writes it `""`).
    for f in rows.joined() where !f.isEmpty { XCTAssertEqual(CSVTable.format(header: [f], rows: [[String]]()), CSVTable.quoted(f) + "\n", f) }
  }

  func testLineEndingsLFCRLFAndCRParseTheSame() throws {
    let lf = CSVTable.format(header: ["a", "b"], rows: [["1", "x,y"], ["2", "q\"uote"], ["3", ""]])
    for (name, text) in [("lf", lf), ("crlf", lf.replacingOccurrences(of: "\n", with: "\r\n")), ("cr", lf.replacingOccurrences(of: "\n", with: "\r")),
                         ("no final newline", String(lf.dropLast())), ("bom and blank lines", "\u{FEFF}\n" + lf + "\n\r\n")] {
      let t = try CSVTable.parse(text, source: name)
      XCTAssertEqual(t.header, ["a", "b"], name)
      XCTAssertEqual(t.rows, [["1", "x,y"], ["2", "q\"uote"], ["3", ""]], name)
    }
  }

  /// nb201.csv with CRLF line ends used to read as a header and no rows; now it reads as with LF.
  func testNB201TableWithCRLFLineEnds() throws {
    let path = Self.root.appendingPathComponent("Datasets/nasbench201/nb201.csv").path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertFalse(text.contains("\r"), "the shipped table has LF line ends")
    let crlfPath = dir.appendingPathComponent("nb201.csv").path
    try text.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: crlfPath, atomically: true, encoding: .utf8)
    let a = try NB201Table(path: path), b = try NB201Table(path: crlfPath)
    XCTAssertEqual(a.count, 15_625)
    XCTAssertEqual(b.count, 15_625)
    XCTAssertEqual(b.archs, a.archs)
    XCTAssertEqual(Set(b.columns.keys), Set(a.columns.keys))
    for (k, v) in a.columns { XCTAssertEqual(b.columns[k]!.map(\.bitPattern), v.map(\.bitPattern), k) }
    XCTAssertEqual(b.index(of: a.archs[1234]), 1234)
  }

  func testNBNLPTableWithCRLFLineEnds() throws {
    let path = Self.root.appendingPathComponent("Datasets/nasbench_nlp/nbnlp_wikitext2_subset.csv").path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let crlfPath = dir.appendingPathComponent("nbnlp.csv").path
    try text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").write(toFile: crlfPath, atomically: true, encoding: .utf8)
    let a = try NBNLPTable(path: path), b = try NBNLPTable(path: crlfPath)
    XCTAssertEqual(a.rows.count, 345)
    XCTAssertEqual(a.recipeIDs.count, 344)
    XCTAssertEqual(b.rows.map(\.recipe), a.rows.map(\.recipe))
    XCTAssertEqual(b.rows.map(\.recipeID), a.rows.map(\.recipeID))
    XCTAssertEqual(b.rows.map(\.finalTestLoss.bitPattern), a.rows.map(\.finalTestLoss.bitPattern))
    XCTAssertTrue(a.rows[0].recipe.contains("\"") && a.rows[0].recipe.contains(","), "the recipe column is quoted JSON")
  }

  func testLineNumbersCountLineBreaksInsideQuotedFields() throws {
    let text = "id,note\n1,\"two\nlines\"\n2,plain\n\n3,\"a\r\nb\r\nc\"\n4,x\n"
    let t = try CSVTable.parse(text, source: "t.csv")
    XCTAssertEqual(t.rows.map { $0[0] }, ["1", "2", "3", "4"])
    XCTAssertEqual(t.lines, [2, 4, 6, 9])
    XCTAssertEqual(t.rows[2][1], "a\r\nb\r\nc")
    XCTAssertThrowsError(try CSVTable.parse(text + "5,\"y\nz\",extra\n", source: "t.csv")) {
      XCTAssertEqual($0 as? TableError, .badRow(path: "t.csv", line: 10, reason: "3 fields, expected 2"))
    }
  }

  func testErrorsNameFileLineAndColumn() throws {
    func syntax(_ text: String) -> TableError? {
      do { _ = try CSVTable.parse(text, source: "s.csv"); return nil } catch { return error as? TableError }
    }
    XCTAssertEqual(syntax("a,b\n1,\"open\n2,3\n"), .badSyntax(path: "s.csv", line: 2, column: 2, reason: "quoted field not closed before the end of the file"))
    XCTAssertEqual(syntax("a,b\n1,2\n3,\"x\"y\n"), .badSyntax(path: "s.csv", line: 3, column: 2, reason: "text after the closing quote of a quoted field"))
    XCTAssertEqual(syntax("a,b\n1,2\n3,4\nab\"c,5\n"),
                   .badSyntax(path: "s.csv", line: 4, column: 1, reason: "a double quote inside an unquoted field (quote the field and double the quote)"))
    XCTAssertEqual("\(syntax("a,b\n1,\"x\"y\n")!)", "s.csv, line 2, field 2: text after the closing quote of a quoted field")

    let t = try CSVTable.parse("id,value,name\n1,2.5,a\n\n2,abc,b\n", source: "v.csv")
    XCTAssertEqual(try t.int(row: 0, column: 0), 1)
    XCTAssertEqual(try t.double(row: 0, column: 1), 2.5)
    XCTAssertThrowsError(try t.double(row: 1, column: 1)) {
      XCTAssertEqual($0 as? TableError, .badField(path: "v.csv", line: 4, column: 2, name: "value", value: "abc", reason: "not a number"))
      XCTAssertEqual("\($0)", "v.csv, line 4, column 2: value is 'abc', not a number")
    }
    XCTAssertThrowsError(try t.int(row: 1, column: 2)) { XCTAssertTrue("\($0)".contains("line 4, column 3: name is 'b', not an integer"), "\($0)") }
    XCTAssertThrowsError(try t.columns(["id", "seed", "value", "batch"])) {
      XCTAssertEqual($0 as? TableError, .badHeader(path: "v.csv", missing: ["seed", "batch"]))
    }
    XCTAssertEqual(try t.columns(["name", "id"]), ["name": 2, "id": 0])
    let missing = dir.appendingPathComponent("absent.csv.gz").path
    XCTAssertThrowsError(try CSVTable.read(path: missing)) { XCTAssertEqual($0 as? TableError, .missingFile(missing)) }
    let empty = try CSVTable.parse("", source: "e.csv")
    XCTAssertEqual(empty.header, [])
    XCTAssertEqual(empty.rows.count, 0)
  }
}
