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

  /// Reads and validates the table (``CSVTable``: the recipe column is quoted JSON with commas
  /// and doubled quotes). An empty or non-numeric loss is NaN, an empty `num_params` nil.
  /// - Throws: ``TableError`` for a missing file, a header without the needed columns, a row with
  ///   the wrong field count or a `recepie_id` that is not an integer (naming the line and
  ///   column), or a table without rows.
  public init(path: String) throws {
    let table = try CSVTable.read(path: path)
    let need = ["recepie_id", "status", "recipe", "num_params", "final_test_loss", "test_loss_at_best_val", "final_val_loss"]
    let col = try table.columns(need)
    let wallTime = table.index(of: "total_wall_time_s")
    var rows: [Row] = []
    for (k, r) in table.rows.enumerated() {
      let id = try table.int(row: k, column: col["recepie_id"]!)
      func num(_ c: String) -> Double { Double(r[col[c]!]) ?? .nan }
      rows.append(Row(recipeID: id, status: r[col["status"]!], recipe: r[col["recipe"]!], numParams: Int(r[col["num_params"]!]),
                      finalTestLoss: num("final_test_loss"), testLossAtBestVal: num("test_loss_at_best_val"),
                      finalValLoss: num("final_val_loss"), totalWallTime: wallTime.flatMap { Double(r[$0]) } ?? .nan))
    }
    guard !rows.isEmpty else { throw TableError.badRow(path: path, line: 2, reason: "no rows") }
    self.path = path
    self.rows = rows
  }
}
