import Foundation
import XCTest
@testable import ZCData

/// The quote-free fast path of CSVTable.parse gives what CSV.swift's reader gives (issue 16:
/// start-up cost of reading the benchmark table): same header, rows, line numbers and errors.
final class CSVUnquotedSplitTests: XCTestCase {
  static let texts: [(String, String)] = {
    let base = "index,arch,acc\n0,|a~0|+|b~0|c~1|,81.5\n1,|x~0|,\n2,,-inf\n"
    return [
      ("lf", base), ("crlf", base.replacingOccurrences(of: "\n", with: "\r\n")),
      ("cr", base.replacingOccurrences(of: "\n", with: "\r")), ("no final newline", String(base.dropLast())),
      ("blank lines", "\n\r\n" + base + "\n\n"), ("bom", "\u{FEFF}" + base), ("spaces and unicode", "a, b ,c\n é ,漢字🙂,\t\n"),
      ("trailing commas", "a,b,c\n,,\n1,2,\n"), ("header only", "a,b\n"), ("empty", ""), ("only blank lines", "\n\r\n\r"),
    ]
  }()

  func testFastPathMatchesCSVSwift() throws {
    for (name, text) in Self.texts {
      let fast = try CSVTable.parse(text, source: name, splitUnquoted: true)
      let slow = try CSVTable.parse(text, source: name, splitUnquoted: false)
      XCTAssertEqual(fast.header, slow.header, name)
      XCTAssertEqual(fast.rows, slow.rows, name)
      XCTAssertEqual(fast.lines, slow.lines, name)
    }
  }

  func testFieldCountErrorIsTheSame() {
    let text = "a,b\n1,2\n\n3\n"
    var fast: Error?, slow: Error?
    XCTAssertThrowsError(try CSVTable.parse(text, source: "t.csv", splitUnquoted: true)) { fast = $0 }
    XCTAssertThrowsError(try CSVTable.parse(text, source: "t.csv", splitUnquoted: false)) { slow = $0 }
    XCTAssertEqual(fast as? TableError, slow as? TableError)
    XCTAssertEqual(fast.map { "\($0)" }, "t.csv, line 4: 1 fields, expected 2")
  }

  func testShippedNB201TableParsesTheSame() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("Datasets/nasbench201/nb201.csv").path
    guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("Datasets/nasbench201/nb201.csv not present") }
    let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    let fast = try CSVTable.parse(text, source: path, splitUnquoted: true)
    let slow = try CSVTable.parse(text, source: path, splitUnquoted: false)
    XCTAssertEqual(fast.rows.count, 15625)
    XCTAssertEqual(fast.header, slow.header)
    XCTAssertEqual(fast.rows, slow.rows)
    XCTAssertEqual(fast.lines, slow.lines)
  }
}
