import Foundation

/// The NAS-Bench-NLP WikiText-2 subset (`Datasets/nasbench_nlp/nbnlp_wikitext2_subset.csv`):
/// one row per training log (345 logs, 344 recipes; see its PROVENANCE.md). Losses are per-token
/// cross-entropy in nats (lower is better).
public struct NBNLPTable: Sendable {
  public struct Row: Sendable {
    public let recipeID: Int
    public let status: String
    /// The cell recipe as canonical JSON (sorted keys).
    public let recipe: String
    public let numParams: Int?
    /// Last-epoch test loss; NaN for the diverged runs.
    public let finalTestLoss: Double
    /// Test loss at the epoch of best validation loss; NaN when absent.
    public let testLossAtBestVal: Double
    /// Last-epoch validation loss; NaN for the diverged runs.
    public let finalValLoss: Double
    /// Training wall time of the run in seconds (sum over epochs); NaN when absent.
    public var totalWallTime: Double = .nan
  }

  public let path: String
  public let rows: [Row]

  /// Distinct recipe ids in ascending order.
  public var recipeIDs: [Int] { Array(Set(rows.map(\.recipeID))).sorted() }

  /// The recipe text of an id, or nil.
  public func recipe(id: Int) -> String? { rows.first { $0.recipeID == id }?.recipe }

  /// Ground truth per recipe id: the mean of `column` over that id's finite logs (one id has two
  /// logs); ids with no finite value are absent.
  public func groundTruth(_ column: KeyPath<Row, Double>) -> [Int: Double] {
    var acc: [Int: [Double]] = [:]
    for r in rows where r[keyPath: column].isFinite { acc[r.recipeID, default: []].append(r[keyPath: column]) }
    return acc.mapValues { $0.reduce(0, +) / Double($0.count) }
  }

  /// Reads and validates the table.
  /// - Throws: ``TableError`` for a missing file, a header without the needed columns, or a row
  ///   that does not parse (with its line number).
  public init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw TableError.missingFile(path)
    }
    let records = Self.parseCSV(text)
    guard let header = records.first else { throw TableError.badHeader(path: path, missing: ["recepie_id"]) }
    let need = ["recepie_id", "status", "recipe", "num_params", "final_test_loss", "test_loss_at_best_val", "final_val_loss"]
    let missing = need.filter { !header.contains($0) }
    guard missing.isEmpty else { throw TableError.badHeader(path: path, missing: missing) }
    let col = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
    var rows: [Row] = []
    for (k, r) in records.dropFirst().enumerated() where !(r.count == 1 && r[0].isEmpty) {
      guard r.count == header.count else { throw TableError.badRow(path: path, line: k + 2, reason: "\(r.count) fields, expected \(header.count)") }
      guard let id = Int(r[col["recepie_id"]!]) else { throw TableError.badRow(path: path, line: k + 2, reason: "recepie_id '\(r[col["recepie_id"]!])' is not an integer") }
      func num(_ c: String) -> Double { Double(r[col[c]!]) ?? .nan }
      rows.append(Row(recipeID: id, status: r[col["status"]!], recipe: r[col["recipe"]!], numParams: Int(r[col["num_params"]!]),
                      finalTestLoss: num("final_test_loss"), testLossAtBestVal: num("test_loss_at_best_val"),
                      finalValLoss: num("final_val_loss"), totalWallTime: col["total_wall_time_s"] == nil ? .nan : num("total_wall_time_s")))
    }
    guard !rows.isEmpty else { throw TableError.badRow(path: path, line: 2, reason: "no rows") }
    self.path = path
    self.rows = rows
  }

  /// RFC 4180 records: fields separated by commas, quoted fields may hold commas, newlines and
  /// doubled quotes.
  static func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = [], field: [UInt8] = [], record: [String] = []
    var inQuotes = false
    let bytes = Array(text.utf8)
    var i = 0
    func endField() { record.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true) }
    while i < bytes.count {
      let c = bytes[i]
      if inQuotes {
        if c == 0x22 {
          if i + 1 < bytes.count && bytes[i + 1] == 0x22 { field.append(0x22); i += 1 } else { inQuotes = false }
        } else { field.append(c) }
      } else if c == 0x22 { inQuotes = true }
      else if c == 0x2C { endField() }
      else if c == 0x0A { endField(); records.append(record); record = [] }
      else if c != 0x0D { field.append(c) }
      i += 1
    }
    if !field.isEmpty || !record.isEmpty { endField(); records.append(record) }
    return records
  }
}
