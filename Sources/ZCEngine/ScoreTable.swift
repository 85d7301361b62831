import Foundation
import ZCData

/// The CSV form of store rows: what `zcnas score --output`, `zcnas export` write and `zcnas import`
/// reads, and the format of the precomputed tables in `Datasets/nb201-scores/` (gzip-compressed).
///
/// One row per stored score, columns ``columns``. `value` is written in Swift's shortest round-trip
/// decimal form, so an export and re-import is lossless; a missing value has an empty `value` and
/// its `missing_reason`. `seconds` is the wall time the proxy took when it was scored.
public enum ScoreTable {
  public static let columns = ["space", "dataset", "arch_index", "arch", "metric", "seed", "batch_size", "init", "batch", "dtype",
                               "value", "missing_reason", "seconds", "engine_version"]

  /// CSV text (header line first) for `rows`.
  public static func csv(_ rows: [ScoreRow]) -> String {
    var out = columns.joined(separator: ",") + "\n"
    out.reserveCapacity(rows.count * 160)
    for r in rows {
      let fields: [String] = [r.space, r.dataset, String(r.archIndex), quote(r.arch), r.metric, String(r.seed), String(r.batchSize),
                              quote(r.initialisation), quote(r.batchSource), r.dtype, r.value.map { "\($0)" } ?? "",
                              quote(r.missingReason ?? ""), String(format: "%.6f", r.seconds), r.engineVersion]
      out += fields.joined(separator: ",") + "\n"
    }
    return out
  }

  /// Parses CSV text written by ``csv(_:)``.
  /// - Parameter source: the file name, for error messages.
  /// - Throws: ``TableError`` naming the line and column when the header lacks a column, a row has the
  ///   wrong number of fields, a number does not parse, or a row has neither a value nor a reason.
  public static func parse(_ text: String, source: String) throws -> [ScoreRow] {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    guard !lines.isEmpty else { throw TableError.badHeader(path: source, missing: columns) }
    let header = splitFields(lines.removeFirst())
    // Exports of zcnas 0.1.0 have no `batch` column: their minibatches were all sampled.
    let missing = columns.filter { !header.contains($0) && $0 != "batch" }
    guard missing.isEmpty else { throw TableError.badHeader(path: source, missing: missing) }
    let at = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    var rows: [ScoreRow] = []
    rows.reserveCapacity(lines.count)
    for (n, line) in lines.enumerated() {
      let f = splitFields(line)
      let lineNo = n + 2
      guard f.count == header.count else {
        throw TableError.badRow(path: source, line: lineNo, reason: "\(f.count) fields, expected \(header.count)")
      }
      func field(_ c: String) -> String { at[c].map { f[$0] } ?? "sampled" }
      func int(_ c: String) throws -> Int {
        guard let v = Int(field(c)) else { throw TableError.badRow(path: source, line: lineNo, reason: "\(c) is '\(field(c))', not an integer") }
        return v
      }
      func double(_ c: String) throws -> Double {
        guard let v = Double(field(c)) else { throw TableError.badRow(path: source, line: lineNo, reason: "\(c) is '\(field(c))', not a number") }
        return v
      }
      let value: ProxyValue
      if field("value").isEmpty {
        guard !field("missing_reason").isEmpty else {
          throw TableError.badRow(path: source, line: lineNo, reason: "neither a value nor a missing_reason")
        }
        value = .missing(reason: field("missing_reason"))
      } else {
        value = .value(try double("value"))
      }
      let key = ScoreKey(space: field("space"), dataset: field("dataset"), archIndex: try int("arch_index"), metric: field("metric"),
                         seed: try int("seed"), batchSize: try int("batch_size"), initialisation: field("init"),
                         batchSource: field("batch"), dtype: field("dtype"))
      rows.append(ScoreRow(key: key, arch: field("arch"), value: value, seconds: try double("seconds"), engineVersion: field("engine_version")))
    }
    return rows
  }

  /// Reads a `.csv` or `.csv.gz` table.
  /// - Throws: ``GzipError`` or ``TableError`` naming the file.
  public static func read(_ path: String) throws -> [ScoreRow] {
    let data = try Gzip.read(path)
    return try parse(String(decoding: data, as: UTF8.self), source: path)
  }

  /// Writes rows as `.csv` or, when the name ends in `.gz`, gzip-compressed CSV.
  /// - Throws: ``GzipError`` or a Foundation error when the file cannot be written.
  public static func write(_ rows: [ScoreRow], to path: String) throws {
    let text = csv(rows)
    if path.hasSuffix(".gz") { try Gzip.write(Data(text.utf8), to: path) } else { try text.write(toFile: path, atomically: true, encoding: .utf8) }
  }

  /// `s` as one CSV field on one line: line breaks become spaces (every field is one line in these
  /// tables); quoted, with doubled quotes, when it holds a comma or a quote.
  public static func quote(_ s: String) -> String {
    let s = s.contains(where: \.isNewline) ? String(s.map { $0.isNewline ? " " : $0 }) : s
    return s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
  }

  /// Splits one CSV line, honouring double-quoted fields with doubled quotes inside.
  static func splitFields(_ line: Substring) -> [String] {
    var out: [String] = []
    var cur = ""
    var inQuotes = false
    var it = line.makeIterator()
    var pending: Character? = nil
    while let c = pending ?? it.next() {
      pending = nil
      if inQuotes {
        if c == "\"" {
          if let d = it.next() {
            if d == "\"" { cur.append("\"") } else { inQuotes = false; pending = d }
          } else { inQuotes = false }
        } else { cur.append(c) }
      } else if c == "\"" { inQuotes = true
      } else if c == "," { out.append(cur); cur = ""
      } else if c != "\r" { cur.append(c) }
    }
    out.append(cur)
    return out
  }
}
