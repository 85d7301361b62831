internal import CSV
import Foundation

/// Errors reading a table (CSV files: score tables, the benchmark tables). Each names the file;
/// row and field errors name the line (1-based, of the file) and field ones the column (1-based).
public enum TableError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case badHeader(path: String, missing: [String])
  case badRow(path: String, line: Int, reason: String)
  /// A field that does not hold what its column needs: column number and name, the field's text.
  case badField(path: String, line: Int, column: Int, name: String, value: String, reason: String)
  /// Malformed CSV (quoting) at a line and field number.
  case badSyntax(path: String, line: Int, column: Int, reason: String)

  public var description: String {
    switch self {
    case let .missingFile(p): return "\(p): table not found"
    case let .badHeader(p, m): return "\(p): header lacks column(s) \(m.joined(separator: ", "))"
    case let .badRow(p, l, r): return "\(p), line \(l): \(r)"
    case let .badField(p, l, c, n, v, r): return "\(p), line \(l), column \(c): \(n) is '\(v)', \(r)"
    case let .badSyntax(p, l, c, r): return "\(p), line \(l), field \(c): \(r)"
    }
  }
}

/// A CSV file as a header and rows of text fields (RFC 4180): the one reader and writer of the
/// project's tables (score tables, the NAS-Bench-201 and NAS-Bench-NLP tables, search exports).
///
/// Reading splits records with yaslab/CSV.swift's `CSVReader` after a strict syntax pass of our own
/// that gives every record its line number and rejects what CSV.swift would silently accept
/// (an unterminated quoted field, text after a closing quote, a quote inside an unquoted field).
/// Line endings may be LF, CRLF or CR; a leading UTF-8 byte-order mark is dropped; blank lines
/// are skipped; quoted fields may hold commas, doubled quotes and line breaks (kept as written).
/// The first non-blank record is the header; every row must have as many fields as the header.
///
/// Writing uses CSV.swift's `CSVWriter` quoting (a field is quoted when it holds a comma, a
/// double quote, CR or LF; quotes inside are doubled), LF line ends and a final newline. Rows with
/// no field to quote are joined directly, which is byte-for-byte what `CSVWriter` writes for them
/// and many times faster (its per-field checks dominate the cost of large tables).
public struct CSVTable: Sendable {
  /// Column names, in file order (empty for an empty file).
  public var header: [String]
  /// Data rows, each with `header.count` fields.
  public var rows: [[String]]
  /// The 1-based line of the source on which each row starts (a row with quoted line breaks
  /// spans several lines), for error messages.
  public var lines: [Int]
  /// File name (or other label) used in error messages.
  public var source: String

  /// A table built in memory; row i is said to start on line i + 2.
  public init(header: [String], rows: [[String]], source: String = "table") {
    self.header = header
    self.rows = rows
    self.lines = rows.indices.map { $0 + 2 }
    self.source = source
  }

  // MARK: reading

  /// Reads a `.csv` file, or a gzip-compressed one (any name: the gzip header decides, through ``Gzip``).
  /// - Throws: ``TableError/missingFile(_:)`` when the file does not exist; ``GzipError`` for an
  ///   unreadable or corrupt/truncated gzip file; the errors of ``parse(_:source:)``.
  public static func read(path: String) throws -> CSVTable {
    guard FileManager.default.fileExists(atPath: path) else { throw TableError.missingFile(path) }
    return try parse(String(decoding: try Gzip.read(path), as: UTF8.self), source: path)
  }

  /// Parses CSV text.
  /// - Parameter source: the file name, for error messages.
  /// - Throws: ``TableError/badSyntax(path:line:column:reason:)`` for malformed quoting (with the
  ///   line and field number); ``TableError/badRow(path:line:reason:)`` for a row whose field
  ///   count differs from the header's.
  public static func parse(_ text: String, source: String) throws -> CSVTable {
    var text = text.hasPrefix("\u{FEFF}") ? String(text.unicodeScalars.dropFirst()) : text
    text.makeContiguousUTF8()
    guard let spans = try text.utf8.withContiguousStorageIfAvailable({ try scan($0, source: source) }) else {
      preconditionFailure("a contiguous UTF-8 string has contiguous storage")
    }
    let reader: CSVReader
    do { reader = try CSVReader(string: text, hasHeaderRow: false) } catch {
      throw TableError.badSyntax(path: source, line: 1, column: 1, reason: "\(error)")
    }
    var header: [String]? = nil
    var rows: [[String]] = [], lines: [Int] = []
    rows.reserveCapacity(spans.count)
    lines.reserveCapacity(spans.count)
    var k = 0
    while let record = reader.next() {
      guard k < spans.count else {
        throw TableError.badSyntax(path: source, line: spans.last?.line ?? 1, column: 1, reason: "the CSV reader found more records than lines")
      }
      let span = spans[k]
      k += 1
      if span.blank { continue }
      guard let h = header else { header = record; continue }
      guard record.count == h.count else {
        throw TableError.badRow(path: source, line: span.line, reason: "\(record.count) fields, expected \(h.count)")
      }
      rows.append(record)
      lines.append(span.line)
    }
    if let error = reader.error { throw TableError.badSyntax(path: source, line: spans.last?.line ?? 1, column: 1, reason: "\(error)") }
    guard k == spans.count else {
      throw TableError.badSyntax(path: source, line: spans[k].line, column: 1, reason: "the CSV reader stopped before this record")
    }
    var table = CSVTable(header: header ?? [], rows: [], source: source)
    table.rows = rows
    table.lines = lines
    return table
  }

  /// Where one record starts, and whether it is a blank line.
  struct RecordSpan { var line: Int; var blank: Bool }

  /// The syntax pass: one span per record as CSV.swift splits them (records end at LF, CRLF or
  /// CR outside quotes; no record after a final line end), checking RFC 4180 quoting.
  static func scan(_ b: UnsafeBufferPointer<UInt8>, source: String) throws -> [RecordSpan] {
    let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
    enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
    var spans: [RecordSpan] = []
    var state = State.fieldStart
    var line = 1, recordLine = 1, field = 1, openedLine = 1, recordBytes = 0
    var i = 0
    let n = b.count
    func error(_ reason: String, line: Int? = nil) -> TableError {
      TableError.badSyntax(path: source, line: line ?? recordLine, column: field, reason: reason)
    }
    while i < n {
      let c = b[i]
      i += 1
      if c == lf || c == cr {
        if c == cr && i < n && b[i] == lf { i += 1 }
        if state == .quoted { line += 1; recordBytes += 1; continue }
        spans.append(RecordSpan(line: recordLine, blank: recordBytes == 0))
        line += 1
        recordLine = line
        field = 1
        recordBytes = 0
        state = .fieldStart
        continue
      }
      recordBytes += 1
      switch state {
      case .fieldStart:
        if c == quote { state = .quoted; openedLine = line } else if c == comma { field += 1 } else { state = .unquoted }
      case .unquoted:
        if c == comma { field += 1; state = .fieldStart } else if c == quote { throw error("a double quote inside an unquoted field (quote the field and double the quote)") }
      case .quoted:
        if c == quote { state = .quoteInQuoted }
      case .quoteInQuoted:
        if c == quote { state = .quoted } else if c == comma { field += 1; state = .fieldStart } else {
          throw error("text after the closing quote of a quoted field", line: line)
        }
      }
    }
    if state == .quoted { throw error("quoted field not closed before the end of the file", line: openedLine) }
    if recordBytes > 0 { spans.append(RecordSpan(line: recordLine, blank: false)) }
    return spans
  }

  // MARK: columns and typed fields

  /// Position of a column, or nil.
  public func index(of column: String) -> Int? { header.firstIndex(of: column) }

  /// Positions of the named columns.
  /// - Throws: ``TableError/badHeader(path:missing:)`` listing every name the header lacks.
  public func columns(_ names: [String]) throws -> [String: Int] {
    let missing = names.filter { !header.contains($0) }
    guard missing.isEmpty else { throw TableError.badHeader(path: source, missing: missing) }
    return Dictionary(names.map { ($0, header.firstIndex(of: $0)!) }, uniquingKeysWith: { a, _ in a })
  }

  /// An error about field `column` of row `row`: names the file, the row's line, the column
  /// (1-based number and name) and the field's text.
  public func fieldError(row: Int, column: Int, reason: String) -> TableError {
    TableError.badField(path: source, line: lines[row], column: column + 1, name: header[column], value: rows[row][column], reason: reason)
  }

  /// Field `column` of row `row` as an integer.
  /// - Throws: ``TableError/badField(path:line:column:name:value:reason:)`` when it is not one.
  public func int(row: Int, column: Int) throws -> Int {
    guard let v = Int(rows[row][column]) else { throw fieldError(row: row, column: column, reason: "not an integer") }
    return v
  }

  /// Field `column` of row `row` as a number (Swift's `Double(String)`: decimal, `inf`, `nan`, …);
  /// an empty field gives `empty` when that is set.
  /// - Throws: ``TableError/badField(path:line:column:name:value:reason:)`` when it is not one.
  public func double(row: Int, column: Int, empty: Double? = nil) throws -> Double {
    let s = rows[row][column]
    if s.isEmpty, let empty { return empty }
    guard let v = Double(s) else { throw fieldError(row: row, column: column, reason: "not a number") }
    return v
  }

  // MARK: writing

  /// `field` as written in a CSV record: unchanged, or quoted with inner quotes doubled when it
  /// holds a comma, a double quote, CR or LF (CSV.swift's `CSVWriter` rule).
  public static func quoted(_ field: String) -> String {
    needsQuoting(field) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
  }

  static func needsQuoting(_ field: String) -> Bool {
    field.utf8.contains { $0 == 0x22 || $0 == 0x2C || $0 == 0x0A || $0 == 0x0D }
  }

  /// CSV text of a header and rows: one record per line (LF), RFC 4180 quoting, final newline.
  /// A record that is one empty field is written `""`, so that it is not read back as a blank line.
  public static func format(header: [String], rows: some Sequence<[String]>) -> String {
    var out = ""
    appendRecord(header, to: &out)
    for r in rows { appendRecord(r, to: &out) }
    return out
  }

  /// This table's CSV text (``format(header:rows:)``).
  public func formatted() -> String { Self.format(header: header, rows: rows) }

  /// Writes a header and rows as CSV to `path`, gzip-compressed when the name ends in `.gz`
  /// (through ``Gzip/write(_:to:)``), otherwise as text; either way atomically (a temporary file
  /// renamed into place).
  /// - Throws: ``GzipError`` or a Foundation error when the file cannot be written.
  public static func write(header: [String], rows: some Sequence<[String]>, to path: String) throws {
    let text = format(header: header, rows: rows)
    if path.hasSuffix(".gz") { try Gzip.write(Data(text.utf8), to: path) } else { try text.write(toFile: path, atomically: true, encoding: .utf8) }
  }

  /// Writes this table to `path` (``write(header:rows:to:)``).
  public func write(to path: String) throws { try Self.write(header: header, rows: rows, to: path) }

  private static func appendRecord(_ fields: [String], to out: inout String) {
    let single = fields.count == 1 && fields[0].isEmpty
    if !single && !fields.contains(where: needsQuoting) {
      // Nothing to quote: CSVWriter would write the fields as they are, joined by commas.
      var first = true
      for f in fields {
        if !first { out += "," }
        out += f
        first = false
      }
      out += "\n"
      return
    }
    let stream = OutputStream(toMemory: ())
    do {
      let writer = try CSVWriter(stream: stream)
      try writer.write(row: fields, quotedAtIndex: { single || needsQuoting(fields[$0]) })
    } catch {
      preconditionFailure("CSVWriter failed on an in-memory stream: \(error)")
    }
    let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data()
    out += String(decoding: data, as: UTF8.self)
    out += "\n"
  }
}
