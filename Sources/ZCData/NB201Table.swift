import Foundation

/// The NAS-Bench-201 ground-truth table (`Datasets/nasbench201/nb201.csv`): one row per
/// architecture in official index order (row i is index i), accuracies in percent.
/// See Datasets/nasbench201/PROVENANCE.md for every column.
public struct NB201Table: Sendable {
  public let path: String
  /// Arch strings by index.
  public let archs: [String]
  /// Numeric columns by name; each has one value per index (NaN where empty).
  public let columns: [String: [Double]]
  public var count: Int { archs.count }

  /// Reads and validates the table (``CSVTable``, so LF or CRLF line ends): the first two
  /// columns are `index` and `arch`, row i has index i, the other columns are numbers (empty: NaN).
  /// - Throws: ``TableError``: the file is missing, the header lacks `index`, `arch` or a test
  ///   accuracy, a row has the wrong field count, an index is out of order, a value is not a number
  ///   (naming the line and column).
  public init(path: String) throws {
    let table = try CSVTable.read(path: path)
    let header = table.header
    let required = ["index", "arch", "cifar10_test_acc", "cifar100_test_acc", "imagenet16_test_acc"]
    let missing = required.filter { !header.contains($0) }
    guard missing.isEmpty, header[0] == "index", header[1] == "arch" else { throw TableError.badHeader(path: path, missing: missing.isEmpty ? ["index", "arch"] : missing) }
    var archs: [String] = []
    archs.reserveCapacity(table.rows.count)
    var cols = [[Double]](repeating: [], count: header.count)
    for (n, f) in table.rows.enumerated() {
      guard try table.int(row: n, column: 0) == n else { throw table.fieldError(row: n, column: 0, reason: "expected \(n) (rows in index order)") }
      archs.append(f[1])
      for c in 2..<header.count { cols[c].append(try table.double(row: n, column: c, empty: .nan)) }
    }
    self.path = path
    self.archs = archs
    indexByArch = Dictionary(archs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    var dict: [String: [Double]] = [:]
    for c in 2..<header.count { dict[header[c]] = cols[c] }
    columns = dict
  }

  /// Index of an arch string, or nil.
  public func index(of arch: String) -> Int? { indexByArch[arch] }

  private let indexByArch: [String: Int]
}
