import ArgumentParser
import Foundation
import ZCData
import ZCEngine
import ZCTensor

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
    abstract: "Write the scores a store holds for a space and dataset to .csv, .csv.gz or .jsonl (all importable with `zcnas import`).")

  @OptionGroup var storeOption: StoreOption
  @OptionGroup var spaceOptions: SpaceOptions
  @Option(parsing: .unconditional, help: "Only rows with this seed.") var seed: Int?
  @Option(name: .customLong("batch-size"), help: "Only rows with this batch size.") var batchSize: Int?
  @Option(help: "Only these comma-separated proxies (default: all stored).") var metrics: String?
  @Option(help: "Output file: .csv, .csv.gz or .jsonl.") var output: String
  @Flag(help: "Export the stored search trajectories (`zcnas robot`) as CSV instead of scores.") var searches = false

  var store: String { storeOption.store }

  func run() throws {
    guard FileManager.default.fileExists(atPath: store) else { throw CLIError("--store \(store): no such store") }
    try checkOutput("--output", output, extensions: searches ? [".csv"] : [".csv", ".csv.gz", ".jsonl"])
    if searches { return try exportSearches() }
    let space = try spaceOptions.load()
    let dataset = try spaceOptions.dataset(for: space)
    var rows = try cli { try ScoreStore(path: store).rows(space: space.name, dataset: dataset, seed: seed, batchSize: batchSize) }
    if let metrics {
      let wanted = Set(metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
      rows = rows.filter { wanted.contains($0.metric) }
    }
    guard !rows.isEmpty else { throw CLIError("--store \(store): no \(space.name)/\(dataset) rows for these filters") }
    try Export.write(rows, to: output)
    print("exported \(rows.count) rows (\(Set(rows.map(\.archIndex)).count) architectures) to \(output)")
  }

  private func exportSearches() throws {
    guard output.hasSuffix(".csv") else { throw CLIError("--output \(output): --searches writes a .csv file") }
    let steps = try cli { try ScoreStore(path: store).searchSteps() }
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
    abstract: "Load a .csv, .csv.gz or .jsonl score table (e.g. the precomputed tables in Datasets/nb201-scores) into a store.",
    discussion: """
      All rows are written in one transaction. A row whose key the store lacks is added; a row equal to the \
      stored one is left alone; a missing value never replaces a present one unless --replace; any other \
      difference replaces the stored row. The counts are printed. Importing the same table twice is harmless.
      """)

  @Argument(help: "Table files written by `zcnas export` or `zcnas score --output`.") var tables: [String]
  @OptionGroup var storeOption: StoreOption
  @OptionGroup var data: DatasetsOption
  @Flag(help: "Let rows with a missing value replace stored present values of the same key.") var replace = false
  @Flag(help: ArgumentHelp(
    "Import only rows computed with this engine's numerics version (\(Numerics.version)).",
    discussion: "This engine reproduces those rows bit for bit, so a store seeded with them can be continued by `zcnas score` without recomputing them (as scripts/score-full.sh does from a partially regenerated shipped table); other rows are skipped and counted."))
  var reproducibleOnly = false
  var store: String { storeOption.store }
  var datasets: String? { data.datasets }

  func run() throws {
    var paths: [String] = []
    for t in tables {
      var path = t
      if !FileManager.default.fileExists(atPath: path), let root = try? DatasetsFolder.resolve(datasets),
         FileManager.default.fileExists(atPath: root + "/" + t) { path = root + "/" + t }
      guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(t): no such table file") }
      paths.append(path)
    }
    let st = try cli { try ScoreStore(path: store) }
    for path in paths {
      print("import: reading \(path)", to: &stderrStream)
      var rows: [ScoreRow]
      do { rows = path.hasSuffix(".jsonl") ? try Self.readJSONLines(path) : try ScoreTable.read(path) } catch let e as CLIError { throw e } catch { throw CLIError("\(error)") }
      if reproducibleOnly {
        let all = rows.count
        rows = rows.filter { $0.numerics == Numerics.version }
        print("import: \(all - rows.count) of \(all) rows skipped (numerics other than \(Numerics.version), or none)", to: &stderrStream)
        if rows.isEmpty { print("imported 0 rows from \(path): none has numerics \(Numerics.version)"); continue }
      }
      print("import: \(rows.count) rows read; checking their architectures against the spaces and writing \(store)", to: &stderrStream)
      try checkArchitectures(rows, table: path)
      let sum = try cli { try st.importRows(rows, replace: replace) }
      print("imported \(rows.count) rows (\(Set(rows.map(\.archIndex)).count) architectures, metrics \(Set(rows.map(\.metric)).sorted().joined(separator: ","))) from \(path) into \(store): "
            + "\(sum.added) added, \(sum.replaced) replaced, \(sum.unchanged) unchanged"
            + (sum.keptPresent > 0 ? ", \(sum.keptPresent) missing values not imported over present ones (--replace to import them)" : ""))
    }
  }

  /// Rows from a JSON Lines export (`zcnas export --output x.jsonl`): one store row per line.
  /// - Throws: ``CLIError`` naming the file and line.
  static func readJSONLines(_ path: String) throws -> [ScoreRow] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("\(path): cannot read") }
    let dec = JSONDecoder()
    var rows: [ScoreRow] = []
    for (n, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() where !line.allSatisfy(\.isWhitespace) {
      do { rows.append(try dec.decode(ScoreRow.self, from: Data(line.utf8))) } catch {
        throw CLIError("\(path), line \(n + 1): expected a row written by `zcnas export --output x.jsonl`: \(describe(error))")
      }
      if let v = rows.last!.value, !v.isFinite { rows[rows.count - 1].value = nil; rows[rows.count - 1].missingReason = "imported as \(v)" }
      if rows.last!.value == nil && rows.last!.missingReason == nil { throw CLIError("\(path), line \(n + 1): neither a value nor a missing_reason") }
    }
    guard !rows.isEmpty else { throw CLIError("\(path): no rows") }
    return rows
  }

  /// Rows of a shipped space must name the architecture the space has at their id, so that
  /// scores are never paired with another architecture's ground truth. Rows of other spaces are
  /// taken as they are.
  private func checkArchitectures(_ rows: [ScoreRow], table path: String) throws {
    let root = try? DatasetsFolder.resolve(datasets)
    for name in Set(rows.map(\.space)).sorted() where SpaceRegistry.names.contains(name) {
      guard let root else { throw CLIError("\(path): holds \(name) rows; cannot find the Datasets folder to check them (--datasets)") }
      let space = try cli { try SpaceRegistry.make(name, datasetsRoot: root) }
      for (n, r) in rows.enumerated() where r.space == name {
        if let why = space.mismatch(id: r.archIndex, arch: r.arch) { throw CLIError("\(path): row \(n + 1): \(why)") }
      }
    }
  }
}

/// `zcnas merge`: several stores (for example the shards of a cluster run) into one.
struct Merge: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Merge score stores (and their search trajectories) into --store, in one transaction.",
    discussion: """
      Rows with the same key (space, dataset, architecture, metric, seed, batch size, initialisation, batch, \
      dtype) and the same value are taken once; rows with the same key and different values are an error \
      naming the first keys and both values, and nothing is written, unless --prefer existing (keep the \
      output's or the earlier input's row) or --prefer incoming (take the later input's). Search \
      trajectories merge the same way by (run, seed, query).
      """)

  @OptionGroup var storeOption: StoreOption
  @Option(help: "Resolve different values under one key.") var prefer: MergePreferenceArgument?
  @Argument(help: "Input stores.") var inputs: [String]

  func run() throws {
    guard !inputs.isEmpty else { throw CLIError("merge: expected one or more input stores") }
    for i in inputs {
      guard FileManager.default.fileExists(atPath: i) else { throw CLIError("\(i): no such store") }
      guard URL(fileURLWithPath: i).standardizedFileURL != URL(fileURLWithPath: storeOption.store).standardizedFileURL else {
        throw CLIError("\(i): is the output --store; name it only once")
      }
    }
    let ins = try cli { try inputs.map { try ScoreStore(path: $0) } }
    let out = try cli { try ScoreStore(path: storeOption.store) }
    let s = try cli { try out.merge(ins, prefer: prefer?.value) }
    print("merged \(inputs.count) store(s) into \(storeOption.store): \(s.added) rows added, \(s.duplicates) already present"
          + (s.conflicts > 0 ? ", \(s.conflicts) different values resolved by --prefer \(prefer!.value.rawValue)" : "")
          + "; search steps \(s.stepsAdded) added, \(s.stepsDuplicate) already present")
  }
}

/// `--prefer` values.
struct MergePreferenceArgument: ExpressibleByArgument {
  let value: MergePreference
  init?(argument: String) {
    guard let v = MergePreference(rawValue: argument) else { return nil }
    value = v
  }
  static var allValueStrings: [String] { MergePreference.allCases.map(\.rawValue) }
}
