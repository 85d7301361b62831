import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch

/// The options that pick one kind of scoring run from a store (shared by correlate, robot, fit, search).
struct RunSelection: ParsableArguments {
  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
  @Option(name: .customLong("score-seed"), help: "Only scores computed with this seed.") var scoreSeed: Int?
  @Option(name: .customLong("batch-size"), help: "Only scores computed with this batch size.") var batchSize: Int?
  @Option(help: "Only rows with this initialisation (pytorch-default, or weights:FILE@FINGERPRINT).") var initialisation: String?
  @Option(help: "Only rows with this precision (float32 or float64).") var dtype: String?

  /// Rows of one kind of run for (space, dataset); refuses to mix initialisations, minibatch sources
  /// or precisions, which must never be averaged together.
  /// - Throws: ``CLIError`` naming the store when it is missing, empty for these filters, or mixed.
  func rows(space: String, dataset: String) throws -> [ScoreRow] {
    guard FileManager.default.fileExists(atPath: store) else { throw CLIError("--store \(store): no such store; run `zcnas score` or `zcnas import` first") }
    let rows = try ScoreStore(path: store).rows(space: space, dataset: dataset, seed: scoreSeed, batchSize: batchSize)
      .filter { r in initialisation.map { r.initialisation == $0 } ?? true }.filter { r in dtype.map { r.dtype == $0 } ?? true }
    guard !rows.isEmpty else { throw CLIError("--store \(store): no \(space)/\(dataset) scores stored for these filters") }
    let groups = Set(rows.map { "--initialisation \($0.initialisation), batch \($0.batchSource), --dtype \($0.dtype)" })
    guard groups.count == 1 else {
      throw CLIError("--store \(store) holds \(groups.count) kinds of run (\(groups.sorted().joined(separator: "; "))); select one with --initialisation and --dtype")
    }
    return rows
  }
}

extension RunSelection {
  /// The pool of architectures with stored scores of all `metrics` (comma-separated) that also have
  /// a finite value in `truth` (the ground truth column used), and a description of the scoring run
  /// (seeds, batch sizes, initialisation, minibatch source, precision) for the search's record.
  /// - Throws: ``CLIError`` naming --metrics, --dataset or the store (also for architecture indices
  ///   outside the table).
  func pool(space: String, dataset: String, metrics: String, truth: [Double]) throws -> (pool: ProxyPool, run: String, dropped: Int) {
    guard ImageDatasetKind(rawValue: dataset) != nil else {
      throw CLIError("--dataset: expected one of \(ImageDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(dataset)'")
    }
    let names = metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !names.isEmpty else { throw CLIError("--metrics: no proxy named") }
    if let unknown = names.first(where: { Metrics.proxy(named: $0) == nil }) {
      throw CLIError("--metrics: unknown proxy '\(unknown)'; available: \(allProxies.map(\.name).joined(separator: ", "))")
    }
    let rows = try rows(space: space, dataset: dataset)
    if let bad = rows.first(where: { $0.archIndex < 0 || $0.archIndex >= truth.count }) {
      throw CLIError("--store \(store): architecture index \(bad.archIndex) is outside the NAS-Bench-201 table (0..<\(truth.count))")
    }
    let full: ProxyPool
    do { full = try ProxyPool(rows: rows, metrics: names) } catch let e as PoolError { throw CLIError("--store \(store): \(e)") }
    let keep = full.archIndices.indices.filter { truth[full.archIndices[$0]].isFinite }
    guard !keep.isEmpty else { throw CLIError("--store \(store): no pool architecture has a ground-truth value") }
    let r = rows[0]
    let run = "score_seed=\(Set(rows.map(\.seed)).sorted().map(String.init).joined(separator: "+"));batch_size=\(Set(rows.map(\.batchSize)).sorted().map(String.init).joined(separator: "+"));init=\(r.initialisation);batch=\(r.batchSource);dtype=\(r.dtype)"
    return (full.subset(keep), run, full.count - keep.count)
  }
}

/// A numeric column of the NAS-Bench-201 table, named by the option `option`.
/// - Throws: ``CLIError`` listing the numeric columns when there is no such column.
func tableColumn(_ table: NB201Table, _ name: String, option: String) throws -> [Double] {
  guard let c = table.columns[name] else {
    throw CLIError("\(option): the NAS-Bench-201 table has no column '\(name)'; numeric columns: \(table.columns.keys.sorted().joined(separator: ", "))")
  }
  return c
}
