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
                               "value", "missing_reason", "seconds", "engine_version", "numerics"]

  /// The fields of one row, in ``columns`` order.
  static func fields(_ r: ScoreRow) -> [String] {
    [r.space, r.dataset, String(r.archIndex), r.arch, r.metric, String(r.seed), String(r.batchSize), r.initialisation, r.batchSource,
     r.dtype, r.value.map { "\($0)" } ?? "", r.missingReason ?? "", String(format: "%.6f", r.seconds), r.engineVersion,
     r.numerics ?? ""]
  }

  /// CSV text (header line first) for `rows` (``CSVTable/format(header:rows:)``: RFC 4180 quoting,
  /// so an arch string, initialisation or missing reason with commas, quotes or line breaks
  /// round-trips unchanged).
  public static func csv(_ rows: [ScoreRow]) -> String {
    CSVTable.format(header: columns, rows: rows.lazy.map(fields))
  }

  /// Parses CSV text written by ``csv(_:)`` (LF or CRLF line ends).
  /// - Parameter source: the file name, for error messages.
  /// - Throws: ``TableError`` naming the line (and, for a field, the column) when the header lacks
  ///   a column, the CSV is malformed, a row has the wrong number of fields, a number does not
  ///   parse, or a row has neither a value nor a reason.
  public static func parse(_ text: String, source: String) throws -> [ScoreRow] {
    try rows(of: CSVTable.parse(text, source: source))
  }

  /// The score rows of a parsed table (the errors of ``parse(_:source:)``).
  public static func rows(of table: CSVTable) throws -> [ScoreRow] {
    // Exports of zcnas 0.1.0 have no `batch` column: their minibatches were all sampled. Tables
    // written before numerics versions were recorded have no `numerics` column (nil).
    let at = try table.columns(columns.filter { $0 != "batch" && $0 != "numerics" })
    let batch = table.index(of: "batch"), numerics = table.index(of: "numerics")
    let space = at["space"]!, dataset = at["dataset"]!, archIndex = at["arch_index"]!, arch = at["arch"]!, metric = at["metric"]!
    let seed = at["seed"]!, batchSize = at["batch_size"]!, initialisation = at["init"]!, dtype = at["dtype"]!
    let value = at["value"]!, reason = at["missing_reason"]!, seconds = at["seconds"]!, engine = at["engine_version"]!
    var rows: [ScoreRow] = []
    rows.reserveCapacity(table.rows.count)
    for (n, f) in table.rows.enumerated() {
      let v: ProxyValue
      if f[value].isEmpty {
        guard !f[reason].isEmpty else {
          throw TableError.badRow(path: table.source, line: table.lines[n], reason: "neither a value nor a missing_reason")
        }
        v = .missing(reason: f[reason])
      } else {
        // A non-finite number ("nan", "inf") is missing, as everywhere else: it never enters a
        // store as a value, so an import cannot put it over a present value.
        let x = try table.double(row: n, column: value)
        v = .checked(x, ifNotFinite: "imported as \(f[value])")
      }
      let key = ScoreKey(space: f[space], dataset: f[dataset], archIndex: try table.int(row: n, column: archIndex), metric: f[metric],
                         seed: try table.int(row: n, column: seed), batchSize: try table.int(row: n, column: batchSize),
                         initialisation: f[initialisation], batchSource: batch.map { f[$0] } ?? "sampled", dtype: f[dtype])
      rows.append(ScoreRow(key: key, arch: f[arch], value: v, seconds: try table.double(row: n, column: seconds), engineVersion: f[engine],
                           numerics: numerics.flatMap { f[$0].isEmpty ? nil : f[$0] }))
    }
    return rows
  }

  /// Reads a `.csv` or `.csv.gz` table.
  /// - Throws: ``TableError`` (missing file, header, syntax, rows) or ``GzipError``, naming the file.
  public static func read(_ path: String) throws -> [ScoreRow] {
    try rows(of: CSVTable.read(path: path))
  }

  /// Writes rows as `.csv` or, when the name ends in `.gz`, gzip-compressed CSV.
  /// - Throws: ``GzipError`` or a Foundation error when the file cannot be written.
  public static func write(_ rows: [ScoreRow], to path: String) throws {
    try CSVTable.write(header: columns, rows: rows.lazy.map(fields), to: path)
  }
}
