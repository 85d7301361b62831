import Foundation

/// Errors reading a benchmark table.
public enum TableError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case badHeader(path: String, missing: [String])
  case badRow(path: String, line: Int, reason: String)

  public var description: String {
    switch self {
    case let .missingFile(p): return "\(p): benchmark table not found"
    case let .badHeader(p, m): return "\(p): header lacks column(s) \(m.joined(separator: ", "))"
    case let .badRow(p, l, r): return "\(p), line \(l): \(r)"
    }
  }
}

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

  /// Reads and validates the table: 15,625 rows with indices 0..<15625 in order.
  public init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw TableError.missingFile(path)
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    guard !lines.isEmpty else { throw TableError.badHeader(path: path, missing: ["index", "arch"]) }
    let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    let required = ["index", "arch", "cifar10_test_acc", "cifar100_test_acc", "imagenet16_test_acc"]
    let missing = required.filter { !header.contains($0) }
    guard missing.isEmpty, header[0] == "index", header[1] == "arch" else { throw TableError.badHeader(path: path, missing: missing.isEmpty ? ["index", "arch"] : missing) }
    var archs: [String] = []
    var cols = [[Double]](repeating: [], count: header.count)
    for (n, line) in lines.enumerated() {
      let f = line.split(separator: ",", omittingEmptySubsequences: false)
      guard f.count == header.count else {
        throw TableError.badRow(path: path, line: n + 2, reason: "\(f.count) fields, expected \(header.count)")
      }
      guard Int(f[0]) == n else { throw TableError.badRow(path: path, line: n + 2, reason: "index \(f[0]), expected \(n)") }
      archs.append(String(f[1]))
      for c in 2..<header.count {
        if f[c].isEmpty { cols[c].append(.nan); continue }
        guard let v = Double(f[c]) else { throw TableError.badRow(path: path, line: n + 2, reason: "column \(header[c]) is '\(f[c])', not a number") }
        cols[c].append(v)
      }
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
