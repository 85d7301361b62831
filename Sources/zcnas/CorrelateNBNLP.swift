import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine

/// `zcnas correlate --space nbnlp`: recurrent proxies against NAS-Bench-NLP's WikiText-2 losses.
extension Correlate {
  /// Spearman ρ and Kendall τ of every stored nbnlp proxy against the WikiText-2 subset's
  /// final test loss (--target test) or final validation loss (--target valid), averaged over a
  /// recipe's logs. Loss is lower-is-better, so a useful higher-is-better proxy correlates
  /// negatively. The table's parameter count is reported on the same recipes as a baseline.
  func runNBNLP(dataset: String) throws {
    guard TextDatasetKind(rawValue: dataset) != nil else {
      throw CLIError("--dataset: expected one of \(TextDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")) for --space nbnlp, found '\(dataset)'")
    }
    guard target == "test" || target == "valid" else { throw CLIError("--target: expected test or valid, found '\(target)'") }
    let table: NBNLPTable
    do { table = try NBNLPTable(path: try DatasetsFolder.resolve(datasets) + "/nasbench_nlp/nbnlp_wikitext2_subset.csv") } catch let e as CLIError { throw e } catch { throw CLIError("\(error)") }
    let column = target == "test" ? "final_test_loss" : "final_val_loss"
    let truth = table.groundTruth(target == "test" ? \.finalTestLoss : \.finalValLoss)
    let rows = try selection.rows(space: "nbnlp", dataset: dataset)
    var values: [String: [Int: [Double]]] = [:], missing: [String: Set<Int>] = [:], reasons: [String: [String]] = [:]
    for r in rows {
      if let v = r.value { values[r.metric, default: [:]][r.archIndex, default: []].append(v) } else {
        missing[r.metric, default: []].insert(r.archIndex)
        reasons[r.metric, default: []].append(r.missingReason ?? "")
      }
    }
    let metrics = Set(values.keys).union(missing.keys)
    let order = allRecurrentProxies.map(\.name)
    var entries: [CorrelationReport.Entry] = []
    for m in metrics.sorted(by: { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }) {
      let vals = values[m] ?? [:]
      let ids = vals.keys.sorted().filter { truth[$0] != nil }
      let x = ids.map { vals[$0]!.reduce(0, +) / Double(vals[$0]!.count) }, y = ids.map { truth[$0]! }
      // Missing: no value for the recipe, or no finite ground truth (diverged or not in the table).
      let miss = (missing[m] ?? []).subtracting(vals.keys).count + (vals.count - ids.count)
      let dir = recurrentProxy(named: m)?.direction.rawValue ?? "?"
      let rho = ids.count >= 3 ? Statistics.spearman(x, y) : .nan, tau = ids.count >= 3 ? Statistics.kendall(x, y) : .nan
      entries.append(.init(metric: m, direction: dir, n: ids.count, missing: miss, spearman: rho.isFinite ? rho : nil, kendall: tau.isFinite ? tau : nil))
    }
    // Baseline: the benchmark's parameter count over the same recipes.
    let params = Dictionary(table.rows.compactMap { r in r.numParams.map { (r.recipeID, Double($0)) } }, uniquingKeysWith: { a, _ in a })
    // Over every stored recipe with ground truth, whatever the proxies' missing values.
    let scoredIDs = Set(rows.map(\.archIndex)).filter { truth[$0] != nil }
    let pids = scoredIDs.sorted().filter { params[$0] != nil }
    if pids.count >= 3 {
      let x = pids.map { params[$0]! }, y = pids.map { truth[$0]! }
      entries.append(.init(metric: "num_params*", direction: "higher", n: pids.count, missing: scoredIDs.count - pids.count,
                           spearman: Statistics.spearman(x, y), kendall: Statistics.kendall(x, y)))
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try enc.encode(CorrelationReport.JSON(space: "nbnlp", dataset: dataset, target: "nbnlp_wikitext2." + column, metrics: entries)), as: UTF8.self))
      return
    }
    print("nbnlp \(dataset): proxies against NAS-Bench-NLP WikiText-2 \(column) (nats/token; LOWER loss is better,")
    print("so a higher-is-better proxy that ranks well has NEGATIVE ρ and τ); n = recipes used, missing = skipped")
    CorrelationReport.printTable(entries)
    print("* num_params: the benchmark's parameter count (table column), a baseline over every scored recipe with ground truth")
    for (m, rs) in reasons.sorted(by: { $0.key < $1.key }) {
      print("missing \(m): \(rs.count) x \"\(rs[0])\"" + (Set(rs).count > 1 ? " (and other reasons)" : ""))
    }
  }
}
