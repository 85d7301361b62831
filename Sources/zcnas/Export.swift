import ArgumentParser
import Foundation
import ZCData
import ZCEngine

/// CSV (optionally gzip-compressed) or JSON-lines export of store rows, chosen by the file extension.
enum Export {
  static func write(_ rows: [ScoreRow], to path: String) throws {
    do {
      if path.hasSuffix(".csv") || path.hasSuffix(".csv.gz") {
        try ScoreTable.write(rows, to: path)
      } else if path.hasSuffix(".jsonl") {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var out = ""
        for r in rows { out += String(decoding: try enc.encode(r), as: UTF8.self) + "\n" }
        try out.write(toFile: path, atomically: true, encoding: .utf8)
      } else {
        throw CLIError("--output \(path): expected a .csv, .csv.gz or .jsonl file name")
      }
    } catch let e as CLIError { throw e } catch {
      throw CLIError("--output \(path): cannot write: \(error)")
    }
  }
}

/// `zcnas export`: store rows to a file.
struct ExportTable: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write the scores a store holds for a space and dataset to .csv, .csv.gz or .jsonl (importable with `zcnas import`).")

  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
  @Option(help: "Search space.") var space = "nb201"
  @Option(help: "Dataset.") var dataset = "cifar10"
  @Option(help: "Only rows with this seed.") var seed: Int?
  @Option(name: .customLong("batch-size"), help: "Only rows with this batch size.") var batchSize: Int?
  @Option(help: "Only these comma-separated proxies (default: all stored).") var metrics: String?
  @Option(help: "Output file: .csv, .csv.gz or .jsonl.") var output: String
  @Flag(help: "Export the stored search trajectories (`zcnas robot`) as CSV instead of scores.") var searches = false

  func run() throws {
    guard FileManager.default.fileExists(atPath: store) else { throw CLIError("--store \(store): no such store") }
    if searches { return try exportSearches() }
    var rows = try ScoreStore(path: store).rows(space: space, dataset: dataset, seed: seed, batchSize: batchSize)
    if let metrics {
      let wanted = Set(metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
      rows = rows.filter { wanted.contains($0.metric) }
    }
    guard !rows.isEmpty else { throw CLIError("--store \(store): no \(space)/\(dataset) rows for these filters") }
    try Export.write(rows, to: output)
    print("exported \(rows.count) rows (\(Set(rows.map(\.archIndex)).count) architectures) to \(output)")
  }

  private func exportSearches() throws {
    guard output.hasSuffix(".csv") else { throw CLIError("--output \(output): --searches writes a .csv file") }
    let steps = try ScoreStore(path: store).searchSteps()
    guard !steps.isEmpty else { throw CLIError("--store \(store): no search trajectories stored; run `zcnas robot` first") }
    let header = ["run", "strategy", "seed", "query", "arch_index", "arch", "objective", "best_objective", "best_arch_index", "phase", "weights"]
    let rows = steps.lazy.map { s in
      [s.run, s.strategy, String(s.seed), String(s.query), String(s.archIndex), s.arch, "\(s.objective)", "\(s.bestObjective)",
       String(s.bestArchIndex), s.phase, s.weights ?? ""]
    }
    do { try CSVTable.write(header: header, rows: rows, to: output) } catch { throw CLIError("--output \(output): cannot write: \(error)") }
    print("exported \(steps.count) search steps (\(Set(steps.map(\.run)).count) runs) to \(output)")
  }
}

/// `zcnas import`: rows from an exported table into a store.
struct ImportTable: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Load a .csv or .csv.gz score table (e.g. the precomputed tables in Datasets/nb201-scores) into a store.",
    discussion: "All rows are written in one transaction; rows with the same key are replaced. Importing the same table twice is harmless.")

  @Argument(help: "Table files written by `zcnas export` or `zcnas score --output`.") var tables: [String]
  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
  @Option(help: "Folder with the shipped data, for table names relative to it.") var datasets: String?

  func run() throws {
    var paths: [String] = []
    for t in tables {
      var path = t
      if !FileManager.default.fileExists(atPath: path), let root = try? DatasetsFolder.resolve(datasets),
         FileManager.default.fileExists(atPath: root + "/" + t) { path = root + "/" + t }
      guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(t): no such table file") }
      paths.append(path)
    }
    let st = try ScoreStore(path: store)
    for path in paths {
      let rows: [ScoreRow]
      do { rows = try ScoreTable.read(path) } catch { throw CLIError("\(error)") }
      try checkArchitectures(rows, table: path)
      try st.write(rows)
      print("imported \(rows.count) rows (\(Set(rows.map(\.archIndex)).count) architectures, metrics \(Set(rows.map(\.metric)).sorted().joined(separator: ","))) from \(path) into \(store)")
    }
  }

  /// NAS-Bench-201 rows must name the architecture the table has at their index, so that scores
  /// are never paired with another architecture's ground truth.
  private func checkArchitectures(_ rows: [ScoreRow], table path: String) throws {
    let nb201 = rows.filter { $0.space == "nb201" }
    if nb201.isEmpty { return }
    let table = try NB201Table(path: try DatasetsFolder.resolve(datasets) + "/nasbench201/nb201.csv")
    for (n, r) in nb201.enumerated() {
      guard r.archIndex >= 0 && r.archIndex < table.count else {
        throw CLIError("\(path): row \(n + 1): arch_index \(r.archIndex) is outside the NAS-Bench-201 table (0..<\(table.count))")
      }
      guard table.archs[r.archIndex] == r.arch else {
        throw CLIError("\(path): row \(n + 1): arch_index \(r.archIndex) is \(table.archs[r.archIndex]) in the NAS-Bench-201 table, not \(r.arch)")
      }
    }
  }
}
