import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch

/// `zcnas correlate`: rank correlation of stored proxies with the benchmark's ground truth, for every space.
struct Correlate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Spearman rho and Kendall tau (with sign) of every stored proxy against the space's ground truth.",
    discussion: """
      nb201: test accuracy after 200 epochs, mean over seeds (<dataset>_test_acc), or validation accuracy with \
      --target valid (<dataset>_valid_acc; for cifar10 the cifar10-valid run). nbnlp: the WikiText-2 subset's \
      final test loss (--target valid: final validation loss), averaged over a recipe's logs; loss is \
      lower-is-better, so good proxies correlate negatively. Rows with a missing value, and architectures \
      without ground truth, are skipped and counted. When several seeds or batch sizes are stored for an \
      architecture, their values are averaged unless --score-seed/--batch-size select one.
      """
  )

  @OptionGroup var selection: RunSelection
  @OptionGroup var spaceOptions: SpaceOptions
  @Option(help: "Ground truth: the space's test or validation column.") var target: Target = .test
  @OptionGroup var ensembleOptions: EnsembleOptions
  var ensemble: String? { ensembleOptions.ensemble }
  @Option(help: "Ground truth from a CSV of file name, accuracy (higher is better), matched to the stored architectures by name (onnx: the .onnx file name); replaces --target.")
  var truth: String?
  @Option(name: .customLong("truth-dataset"), help: ArgumentHelp("Ground truth of this dataset instead of --dataset's (nb201: cifar10, cifar100, imagenet16-120).",
                                                                 discussion: "For proxies computed on one dataset's images and judged on another's accuracy, e.g. CIFAR-100 scores against ImageNet16-120 when no ImageNet16 images are at hand; the table's header names both."))
  var truthDataset: String?
  @Flag(help: "Print JSON instead of a table.") var json = false

  func run() throws { try correlate(try spaceOptions.load()) }

  /// The table's entries over the architectures `population` (nil: all stored).
  private func entries(_ space: some SearchSpace, dataset: String, rows allRows: [ScoreRow], truth: GroundTruth,
                       ensemble: LogRankEnsemble?, population: Set<Int>?) -> [CorrelationReport.Entry] {
    let rows = population.map { p in allRows.filter { p.contains($0.archIndex) } } ?? allRows
    var entries = CorrelationReport.make(rows: rows, truth: truth.values)
    if let ensemble, let pool = try? ProxyPool(rows: rows, metrics: ensemble.members) {
      let s = ensemble.scores(pool.values)
      let ids = pool.archIndices.indices.filter { truth.values[pool.archIndices[$0]] != nil }
      let stored = Set(rows.filter { ensemble.members.contains($0.metric) }.map(\.archIndex))
      let x = ids.map { s[$0] }, y = ids.map { truth.values[pool.archIndices[$0]]! }
      let missing = stored.count - ids.count
      entries.append(.init(metric: LogRankEnsemble.name, direction: "higher", n: ids.count, missing: missing,
                           spearman: ids.count >= 3 ? Statistics.spearman(x, y) : nil, kendall: ids.count >= 3 ? Statistics.kendall(x, y) : nil))
    }
    // Baselines from the benchmark table, over every stored architecture with ground truth.
    let scored = Set(rows.map(\.archIndex)).filter { truth.values[$0] != nil }
    for (name, values) in space.baselines(dataset: dataset) {
      let ids = scored.sorted().filter { values[$0] != nil }
      guard ids.count >= 3 else { continue }
      let x = ids.map { values[$0]! }, y = ids.map { truth.values[$0]! }
      entries.append(.init(metric: name, direction: "higher", n: ids.count, missing: scored.count - ids.count,
                           spearman: Statistics.spearman(x, y), kendall: Statistics.kendall(x, y)))
    }
    return entries
  }

  private func correlate(_ space: some SearchSpace) throws {
    let dataset = try spaceOptions.dataset(for: space)
    let rows = try selection.rows(space: space.name, dataset: dataset)
    let truth = try cli {
      if self.truth != nil && truthDataset != nil { throw CLIError("--truth-dataset: not with --truth (the CSV is the ground truth)") }
      if let file = self.truth { return try ONNXSpace.groundTruth(csv: file, stored: rows.map { ($0.archIndex, $0.arch) }) }
      if let t = truthDataset, !space.datasets.contains(t) {
        throw CLIError("--truth-dataset: expected one of \(space.datasets.joined(separator: ", ")) for --space \(space.name), found '\(t)'")
      }
      return try space.groundTruth(target.rawValue, dataset: truthDataset ?? dataset, option: "--target")
    }
    // The ensemble: the members given, or the default when the store holds them all.
    var ens: LogRankEnsemble?
    do { ens = try LogRankEnsemble.fromOption(ensemble, kind: space.modelKind) } catch { if ensemble != nil { throw error } }
    let storedMetrics = Set(rows.map(\.metric))
    if let e = ens, let absent = e.members.first(where: { !storedMetrics.contains($0) }) {
      if ensemble != nil { throw CLIError("--ensemble: the store holds no \(absent) scores for \(space.name) \(dataset)") }
      ens = nil  // the default members are not all stored: no ensemble row
    }
    let all = entries(space, dataset: dataset, rows: rows, truth: truth, ensemble: ens, population: nil)
    let subs = space.subpopulations().map { p in (p, entries(space, dataset: dataset, rows: rows, truth: truth, ensemble: ens, population: p.ids)) }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.prettyPrinted, .sortedKeys]
      let pops = subs.map { p, e in CorrelationReport.Population(name: p.name, size: p.ids.count, metrics: e) }
      print(String(decoding: try enc.encode(CorrelationReport.JSON(space: space.name, dataset: dataset, target: truth.column, ensemble: ens?.members,
                                                                   metrics: all, populations: pops)), as: UTF8.self))
      return
    }
    print("\(space.name) \(dataset): proxies against \(truth.column) (\(truth.unit))\(truthDataset.map { $0 != dataset ? ", the \($0) ground truth of proxies computed on \(dataset) images" : "" } ?? ""); n = \(space.unit)s used, missing = skipped")
    if !truth.higherIsBetter {
      print("LOWER \(truth.column) is better, so a higher-is-better proxy that ranks well has NEGATIVE ρ and τ")
    }
    CorrelationReport.printTable(all)
    if let ens { print("ensemble = Σ log(rank/L) of \(ens.label) over the \(space.unit)s that have rows of every member (missing values ranked worst)") }
    for (name, _) in space.baselines(dataset: dataset) where name.hasSuffix("*") {
      print("\(name) the benchmark table's value, a baseline over every scored \(space.unit) with ground truth")
    }
    let reasons = Dictionary(grouping: rows.compactMap { r in r.missingReason.map { (r.metric, $0) } }, by: { $0.0 })
    for (m, rs) in reasons.sorted(by: { $0.key < $1.key }) {
      print("missing \(m): \(rs.count) x \"\(rs[0].1)\"" + (Set(rs.map(\.1)).count > 1 ? " (and other reasons)" : ""))
    }
    for (p, e) in subs {
      print("")
      print("\(p.name) only: \(p.summary); \(p.ids.count) of the space's \(space.entryCount) \(space.unit)s")
      if !e.isEmpty { CorrelationReport.printTable(e) } else { print("(no stored \(space.unit) in this population)") }
    }
  }
}

/// Correlations per metric.
enum CorrelationReport {
  /// Prints the proxy / direction / n / missing / Spearman ρ / Kendall τ table.
  static func printTable(_ entries: [Entry]) {
    let width = max(14, entries.map(\.metric.count).max() ?? 0)
    print("proxy".padding(toLength: width, withPad: " ", startingAt: 0) + " higher?     n  missing  Spearman ρ  Kendall τ")
    for e in entries {
      let rho = (e.spearman.map { String(format: "%+.4f", $0) } ?? "-"), tau = (e.kendall.map { String(format: "%+.4f", $0) } ?? "-")
      print(e.metric.padding(toLength: width, withPad: " ", startingAt: 0) + " " + e.direction.padding(toLength: 7, withPad: " ", startingAt: 0)
            + String(format: " %5d %8d  ", e.n, e.missing) + rho.leftPad(10) + " " + tau.leftPad(10))
    }
  }

  struct Entry: Codable {
    let metric: String
    /// "higher", "lower" or "-" (from the registry).
    let direction: String
    let n: Int
    let missing: Int
    let spearman: Double?
    let kendall: Double?
  }
  struct JSON: Codable {
    let space: String
    let dataset: String
    let target: String
    /// The ensemble's members, when the table has an `ensemble` row.
    let ensemble: [String]?
    let metrics: [Entry]
    /// The same table on each of the space's sub-populations (NAS-Bench-201: the valid cells).
    let populations: [Population]
  }
  struct Population: Codable {
    let name: String
    /// Architectures in the population (in the whole space).
    let size: Int
    let metrics: [Entry]
  }

  /// One entry per stored metric, in registry order. `n` counts architectures with a value and
  /// ground truth; `missing` those with a missing value or without ground truth.
  static func make(rows: [ScoreRow], truth: [Int: Double]) -> [Entry] {
    var byMetric: [String: [Int: [Double]]] = [:]
    var missing: [String: Set<Int>] = [:]
    for r in rows {
      // One rule everywhere (correlate, robot, fit): a non-finite value counts as missing.
      if let v = r.value, v.isFinite { byMetric[r.metric, default: [:]][r.archIndex, default: []].append(v) } else { missing[r.metric, default: []].insert(r.archIndex) }
    }
    let metrics = Set(byMetric.keys).union(missing.keys)
    return metrics.sorted { (registry.position(of: $0) ?? 999, $0) < (registry.position(of: $1) ?? 999, $1) }.map { m in
      let vals = byMetric[m] ?? [:]
      let idx = vals.keys.sorted().filter { truth[$0] != nil }
      let x = idx.map { vals[$0]!.reduce(0, +) / Double(vals[$0]!.count) }, y = idx.map { truth[$0]! }
      let miss = (missing[m] ?? []).subtracting(vals.keys).count + (vals.count - idx.count)
      let dir = proxy(named: m)?.direction.rawValue ?? "?"
      guard idx.count >= 3 else { return Entry(metric: m, direction: dir, n: idx.count, missing: miss, spearman: nil, kendall: nil) }
      let rho = Statistics.spearman(x, y), tau = Statistics.kendall(x, y)
      return Entry(metric: m, direction: dir, n: idx.count, missing: miss, spearman: rho.isFinite ? rho : nil, kendall: tau.isFinite ? tau : nil)
    }
  }
}

/// `zcnas metrics`: the registry.
struct MetricsList: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "metrics", abstract: "List the zero-cost proxies the engine implements, with the model kinds they apply to.")

  func run() {
    print("proxy          higher?  kinds                          needs                                  source")
    for p in allProxies {
      let kinds = p.kinds.map(\.rawValue).sorted().joined(separator: ",")
      print("\(p.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(p.direction.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(kinds.padding(toLength: 30, withPad: " ", startingAt: 0)) \(p.requirements.names.joined(separator: ",").padding(toLength: 38, withPad: " ", startingAt: 0)) \(p.source)")
      print("               \(p.summary)")
    }
    print("spaces: " + SpaceRegistry.spaces.map { "\($0.name) (\($0.summary))" }.joined(separator: "; "))
  }
}

extension String {
  /// Right-aligned in a field of `n` characters.
  func leftPad(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
