import Foundation

/// The BERT benchmark of Serianni & Kalita (ACL 2023), `Datasets/bert_benchmark/bert_benchmark.csv`:
/// 500 FlexiBERT/ELECTRA architectures (ids 0…499), each pre-trained and fine-tuned on GLUE, with
/// the eight task scores and their mean `glue` (higher is better), the pre-training time in
/// seconds, the benchmark's `hidden_size` and the `encoder_layers` as canonical JSON (see the
/// folder's PROVENANCE.md).
public struct BERTBenchmarkTable: Sendable {
  public struct Row: Sendable {
    public let id: Int
    /// Score by column name: `glue` and the tasks, and `time_to_train` (seconds).
    public let scores: [String: Double]
    public let hiddenSize: Int
    /// `encoder_layers` as canonical compact JSON.
    public let encoderLayers: String
  }

  /// The GLUE task columns, in the CSV's order.
  public static let tasks = ["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst", "sts"]
  /// Every numeric score column: glue, the tasks, time_to_train.
  public static let scoreColumns = ["glue"] + tasks + ["time_to_train"]

  public let path: String
  public let rows: [Row]
  private let byID: [Int: Int]

  /// The row of an id, or nil.
  public func row(id: Int) -> Row? { byID[id].map { rows[$0] } }

  /// Column values by id (finite values only).
  public func column(_ name: String) -> [Int: Double] {
    var out: [Int: Double] = [:]
    for r in rows { if let v = r.scores[name], v.isFinite { out[r.id] = v } }
    return out
  }

  /// Reads and validates the table.
  /// - Throws: ``TableError`` for a missing file, a header without the needed columns, a
  ///   non-numeric field (naming line and column), a repeated id, or no rows.
  public init(path: String) throws {
    let table = try CSVTable.read(path: path)
    let col = try table.columns(["id", "hidden_size", "encoder_layers"] + Self.scoreColumns)
    var rows: [Row] = []
    var byID: [Int: Int] = [:]
    for k in 0..<table.rows.count {
      let id = try table.int(row: k, column: col["id"]!)
      guard byID[id] == nil else { throw table.fieldError(row: k, column: col["id"]!, reason: "id \(id) appears twice") }
      var scores: [String: Double] = [:]
      for c in Self.scoreColumns { scores[c] = try table.double(row: k, column: col[c]!) }
      byID[id] = rows.count
      rows.append(Row(id: id, scores: scores, hiddenSize: try table.int(row: k, column: col["hidden_size"]!), encoderLayers: table.rows[k][col["encoder_layers"]!]))
    }
    guard !rows.isEmpty else { throw TableError.badRow(path: path, line: 2, reason: "no rows") }
    self.path = path
    self.rows = rows
    self.byID = byID
  }
}
