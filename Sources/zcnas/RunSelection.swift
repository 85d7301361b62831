import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch
import ZCTensor

/// The options that pick one kind of scoring run from a store (shared by correlate, robot, fit, search).
struct RunSelection: ParsableArguments {
  @OptionGroup var storeOption: StoreOption
  var store: String { storeOption.store }
  @Option(name: .customLong("score-seed"), parsing: .unconditional, help: "Only scores computed with this seed.") var scoreSeed: Int?
  @Option(name: .customLong("batch-size"), help: "Only scores computed with this batch size.") var batchSize: Int?
  @Option(help: "Only rows with this initialisation (pytorch-default, or weights:FILE@FINGERPRINT).") var initialisation: String?
  @Option(help: "Only rows with this precision.") var dtype: DType?

  /// Rows of one kind of run for (space, dataset); refuses to mix initialisations, minibatch sources
  /// or precisions, which must never be averaged together.
  /// - Throws: ``CLIError`` naming the store when it is missing, empty for these filters, or mixed.
  func rows(space: String, dataset: String) throws -> [ScoreRow] {
    guard FileManager.default.fileExists(atPath: store) else { throw CLIError("--store \(store): no such store; run `zcnas score` or `zcnas import` first") }
    let rows = try ScoreStore(path: store).rows(space: space, dataset: dataset, seed: scoreSeed, batchSize: batchSize)
      .filter { r in initialisation.map { r.initialisation == $0 } ?? true }.filter { r in dtype.map { r.dtype == $0.rawValue } ?? true }
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
  /// a ground-truth value in `truth`, and a description of the scoring run (seeds, batch sizes,
  /// initialisation, minibatch source, precision) for the search's record.
  /// - Throws: ``CLIError`` naming --metrics or the store.
  /// The name `ensemble` in `metrics` stands for the log-rank ensemble of `ensembleMembers`
  /// (a preset name or comma-separated proxies; default ``LogRankEnsemble/defaultMembers``) as one more column.
  func pool(space: some SearchSpace, dataset: String, metrics: String, truth: GroundTruth, ensembleMembers: String? = nil, rows stored: [ScoreRow]? = nil) throws -> (pool: ProxyPool, run: String, dropped: Int, arch: [Int: String]) {
    let names = metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) { throw CLIError("--metrics: '\(dup)' is named twice") }
    guard !names.isEmpty else { throw CLIError("--metrics: expected comma-separated proxy names, found '\(metrics)' (see `zcnas metrics`)") }
    let mine = registry.applicable(to: space.modelKind)
    var ensemble: LogRankEnsemble?
    if names.contains(LogRankEnsemble.name) {
      ensemble = try LogRankEnsemble.fromOption(ensembleMembers, kind: space.modelKind)
    } else if ensembleMembers != nil {
      throw CLIError("--ensemble: only when --metrics names 'ensemble'")
    }
    if let unknown = names.first(where: { n in n != LogRankEnsemble.name && !mine.contains { $0.name == n } }) {
      if LogRankEnsemble.preset(named: unknown) != nil { throw CLIError("--metrics: '\(unknown)' is an ensemble preset; name 'ensemble' and give --ensemble \(unknown)") }
      throw CLIError("--metrics: unknown proxy '\(unknown)' for --space \(space.name); available: \(mine.map(\.name).joined(separator: ", "))")
    }
    let rows = try stored ?? rows(space: space.name, dataset: dataset)
    let full: ProxyPool
    do { full = try ensemble.map { try $0.pool(rows: rows, metrics: names) } ?? ProxyPool(rows: rows, metrics: names) } catch let e as PoolError {
      throw CLIError("--store \(store): \(e)")
    }
    let keep = full.archIndices.indices.filter { truth.values[full.archIndices[$0]] != nil }
    guard !keep.isEmpty else { throw CLIError("--store \(store): no pool architecture has a ground-truth value (\(truth.column))") }
    let r = rows[0]
    let run = "score_seed=\(Set(rows.map(\.seed)).sorted().map(String.init).joined(separator: "+"));batch_size=\(Set(rows.map(\.batchSize)).sorted().map(String.init).joined(separator: "+"));init=\(r.initialisation);batch=\(r.batchSource);dtype=\(r.dtype)"
    let arch = Dictionary(rows.map { ($0.archIndex, $0.arch) }, uniquingKeysWith: { a, _ in a })
    return (full.subset(keep), run, full.count - keep.count, arch)
  }
}
