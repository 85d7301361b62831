import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine

/// `zcnas correlate`: rank correlation of stored proxies with the benchmark's ground truth.
struct Correlate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Spearman rho and Kendall tau (with sign) of every stored proxy against NAS-Bench-201 accuracy.",
    discussion: """
      Ground truth: test accuracy after 200 epochs, mean over seeds (<dataset>_test_acc), or validation \
      accuracy with --target valid (<dataset>_valid_acc; for cifar10 the cifar10-valid run). Rows with a \
      missing value are skipped and counted. When several seeds or batch sizes are stored for an architecture, \
      their values are averaged unless --score-seed/--batch-size select one.

      --space nbnlp: against the NAS-Bench-NLP WikiText-2 subset's final test loss (--target valid: final \
      validation loss), averaged over a recipe's logs; loss is lower-is-better, so good proxies correlate negatively.
      """
  )

  @OptionGroup var selection: RunSelection
  @Option(help: "Search space: nb201 or nbnlp.") var space = "nb201"
  @Option(help: "Dataset: cifar10, cifar100 or imagenet16-120 (default cifar10); for nbnlp the text the scores used, wikitext2 or ptb (default wikitext2).") var dataset: String?
  @Option(help: "Ground truth: test or valid.") var target = "test"
  @Flag(help: "Print JSON instead of a table.") var json = false
  @Option(help: "Folder with the shipped data.") var datasets: String?

  func run() throws {
    if space == "nbnlp" { return try runNBNLP(dataset: dataset ?? "wikitext2") }
    guard space == "nb201" else { throw CLIError("--space: expected nb201 or nbnlp, found '\(space)'") }
    let dataset = self.dataset ?? "cifar10"
    guard let kind = ImageDatasetKind(rawValue: dataset) else {
      throw CLIError("--dataset: expected one of \(ImageDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(dataset)'")
    }
    guard target == "test" || target == "valid" else { throw CLIError("--target: expected test or valid, found '\(target)'") }
    let table = try NB201Table(path: try DatasetsFolder.resolve(datasets) + "/nasbench201/nb201.csv")
    let prefix = kind == .imagenet16 ? "imagenet16" : kind.rawValue
    let column = "\(prefix)_\(target)_acc"
    guard let truth = table.columns[column] else { throw CLIError("the NAS-Bench-201 table has no column \(column)") }
    let rows = try selection.rows(space: space, dataset: kind.rawValue)
    let store = selection.store
    if let bad = rows.first(where: { $0.archIndex < 0 || $0.archIndex >= truth.count }) {
      throw CLIError("--store \(store): architecture index \(bad.archIndex) is outside the NAS-Bench-201 table (0..<\(truth.count))")
    }
    let report = CorrelationReport.make(rows: rows, truth: truth)
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try enc.encode(CorrelationReport.JSON(space: space, dataset: kind.rawValue, target: column, metrics: report)), as: UTF8.self))
      return
    }
    print("\(space) \(kind.rawValue): proxies against \(column) (percent); n = architectures used, missing = skipped")
    CorrelationReport.printTable(report)
    let reasons = Dictionary(grouping: rows.compactMap { r in r.missingReason.map { (r.metric, $0) } }, by: { $0.0 })
    for (m, rs) in reasons.sorted(by: { $0.key < $1.key }) {
      print("missing \(m): \(rs.count) x \"\(rs[0].1)\"" + (Set(rs.map(\.1)).count > 1 ? " (and other reasons)" : ""))
    }
  }
}

/// Correlations per metric.
enum CorrelationReport {
  /// Prints the proxy / direction / n / missing / Spearman ρ / Kendall τ table.
  static func printTable(_ entries: [Entry]) {
    print("proxy          higher?     n  missing  Spearman ρ  Kendall τ")
    for e in entries {
      let rho = (e.spearman.map { String(format: "%+.4f", $0) } ?? "-"), tau = (e.kendall.map { String(format: "%+.4f", $0) } ?? "-")
      print(e.metric.padding(toLength: 14, withPad: " ", startingAt: 0) + " " + e.direction.padding(toLength: 7, withPad: " ", startingAt: 0)
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
    let metrics: [Entry]
  }

  static func make(rows: [ScoreRow], truth: [Double]) -> [Entry] {
    var byMetric: [String: [Int: [Double]]] = [:]
    var missing: [String: Set<Int>] = [:]
    for r in rows {
      if let v = r.value { byMetric[r.metric, default: [:]][r.archIndex, default: []].append(v) } else { missing[r.metric, default: []].insert(r.archIndex) }
    }
    let metrics = Set(byMetric.keys).union(missing.keys)
    let order = allProxies.map(\.name)
    return metrics.sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }.map { m in
      let vals = byMetric[m] ?? [:]
      let idx = vals.keys.sorted().filter { truth[$0].isFinite }
      let x = idx.map { vals[$0]!.reduce(0, +) / Double(vals[$0]!.count) }, y = idx.map { truth[$0] }
      let miss = (missing[m] ?? []).subtracting(vals.keys).count
      let dir = proxy(named: m)?.direction.rawValue ?? "?"
      guard idx.count >= 3 else { return Entry(metric: m, direction: dir, n: idx.count, missing: miss, spearman: nil, kendall: nil) }
      let rho = Statistics.spearman(x, y), tau = Statistics.kendall(x, y)
      return Entry(metric: m, direction: dir, n: idx.count, missing: miss, spearman: rho.isFinite ? rho : nil, kendall: tau.isFinite ? tau : nil)
    }
  }
}

/// `zcnas metrics`: the registry.
struct MetricsList: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "metrics", abstract: "List the zero-cost proxies the engine implements.")

  func run() {
    print("proxy          higher?  needs                                  source")
    for p in allProxies {
      print("\(p.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(p.direction.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(p.requirements.names.joined(separator: ",").padding(toLength: 38, withPad: " ", startingAt: 0)) \(p.source)")
      print("               \(p.summary)")
    }
    print("recurrent proxies (--space nbnlp):")
    for p in allRecurrentProxies {
      print("\(p.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(p.direction.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(p.source)")
      print("               \(p.summary)")
    }
  }
}

extension String {
  /// Right-aligned in a field of `n` characters.
  func leftPad(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
