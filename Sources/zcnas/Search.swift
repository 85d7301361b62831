import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch
import ZCSpaces

/// `zcnas search`: training-free search; ground truth is read only to report the outcome.
struct Search: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Training-free greedy search over NAS-Bench-201 under one proxy or a saved combination; architectures are scored on the fly through the store.",
    discussion: """
      From a seeded random start, score the unscored one-edit neighbours (24 per architecture), move to the \
      best when it beats the current architecture, restart at random from a local optimum, until --budget \
      distinct architectures are scored. Scores come from the store when present (e.g. after `zcnas import` of a \
      shipped table) and are otherwise computed with the scoring settings given (--score-seed, --batch-size, \
      float32, PyTorch-default initialisation) and stored, so a rerun costs nothing. With --no-scoring, \
      unstored architectures count as missing. Under --proxy, lower-is-better proxies are negated; under \
      --weights (from `zcnas robot` or `zcnas fit`), the combination's own normalisation is used. The ground \
      truth of the found architecture (test accuracy, percent) is printed for evaluation only.
      """
  )

  @Option(help: "Search space (nb201).") var space = "nb201"
  @Option(help: "Dataset to score on: cifar10, cifar100 or imagenet16-120.") var dataset = "cifar10"
  @Option(help: "Strategy: greedy.") var strategy = "greedy"
  @Option(help: "Rank by this proxy (see `zcnas metrics`).") var proxy: String?
  @Option(help: "Rank by this combination JSON (from `zcnas robot --save-weights` or `zcnas fit --save-weights`).") var weights: String?
  @Option(help: "Distinct architectures scored per search.") var budget = 100
  @Option(help: "Search seeds: N, A..B (inclusive) or a comma-separated list.") var seeds = "0"
  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
  @Option(name: .customLong("score-seed"), help: "Seed of the minibatch and initial weights for scoring.") var scoreSeed = 0
  @Option(name: .customLong("batch-size"), help: "Images per minibatch for scoring.") var batchSize = 64
  @Flag(name: .customLong("no-scoring"), help: "Never score: architectures without stored scores count as missing.") var noScoring = false
  @Option(help: "Architectures scored in parallel.") var jobs = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "Write every step of every seed to this .csv file.") var output: String?
  @Option(help: "Folder with the shipped data.") var datasets: String?

  func run() throws {
    guard space == "nb201" else { throw CLIError("--space: expected nb201, found '\(space)'") }
    guard strategy == "greedy" else { throw CLIError("--strategy: expected greedy, found '\(strategy)'") }
    guard (proxy == nil) != (weights == nil) else { throw CLIError("--proxy/--weights: expected exactly one of them") }
    guard let kind = ImageDatasetKind(rawValue: dataset) else {
      throw CLIError("--dataset: expected one of \(ImageDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(dataset)'")
    }
    let root = try DatasetsFolder.resolve(datasets)
    let table = try NB201Table(path: root + "/nasbench201/nb201.csv")
    guard budget >= 1 && budget <= table.count else { throw CLIError("--budget: expected 1...\(table.count), found \(budget)") }
    let seedList = try parseSeeds(seeds)
    // The ranking: raw values of `metrics` -> score.
    let metrics: [String]
    let rank: ([Double?]) -> Double?
    if let proxy {
      guard let p = Metrics.proxy(named: proxy) else {
        throw CLIError("--proxy: unknown proxy '\(proxy)'; available: \(allProxies.map(\.name).joined(separator: ", "))")
      }
      let sign: Double = p.direction == .lowerIsBetter ? -1 : 1
      metrics = [p.name]
      rank = { v in v[0].map { sign * $0 } }
    } else {
      let path = weights!
      guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("--weights \(path): no such file") }
      let c: Combination
      do { c = try JSONDecoder().decode(Combination.self, from: data) } catch {
        throw CLIError("--weights \(path): expected the JSON written by `zcnas robot/fit --save-weights` (metrics, weights, minimum, maximum, source): \(error)")
      }
      if let problem = c.problem() { throw CLIError("--weights \(path): \(problem)") }
      for m in c.metrics where Metrics.proxy(named: m) == nil { throw CLIError("--weights \(path): unknown proxy '\(m)'") }
      metrics = c.metrics
      rank = { v in c.score(v) }
    }
    let neighbours = nb201Neighbours(table)
    let st = try ScoreStore(path: store)
    let key = ScoreKey(space: space, dataset: kind.rawValue, archIndex: 0, metric: "", seed: scoreSeed, batchSize: batchSize,
                       initialisation: "pytorch-default", batchSource: "sampled", dtype: "float32")
    var scoredNow = 0
    let started = Date()
    let score: ([Int]) throws -> [Double?] = { archs in
      var have = try st.stored(like: key)
      let todo = archs.filter { a in metrics.contains { !have.contains([String(a), $0]) } }
      if !todo.isEmpty && !noScoring {
        let cmd = try Score.parse(["--dataset", kind.rawValue, "--archs", todo.map(String.init).joined(separator: ","), "--metrics", metrics.joined(separator: ","),
                                   "--batch-size", String(batchSize), "--seed", String(scoreSeed), "--store", store, "--jobs", String(jobs),
                                   "--datasets", root, "--quiet"])
        try cmd.run()
        scoredNow += todo.count
        print("search: \(scoredNow) architecture(s) scored on the fly so far (\(String(format: "%.0f", Date().timeIntervalSince(started))) s)", to: &stderrStream)
        have = try st.stored(like: key)
      }
      return try archs.map { a in
        let rows = try st.rows(space: space, dataset: kind.rawValue, seed: scoreSeed, batchSize: batchSize, archIndex: a)
          .filter { $0.initialisation == key.initialisation && $0.batchSource == key.batchSource && $0.dtype == key.dtype }
        var byMetric: [String: ScoreRow] = [:]
        for r in rows { byMetric[r.metric] = r }
        guard metrics.allSatisfy({ byMetric[$0] != nil }) else { return nil }
        return rank(metrics.map { byMetric[$0]!.value })
      }
    }
    print("greedy search on nb201 \(kind.rawValue) by \(proxy ?? "combination " + weights!); budget \(budget) scored architectures")
    print("seed  found index  score      C10 test  C100 test  IN16 test  moves  restarts")
    var found: [Int] = []
    var csv = "seed,scored,event,current_arch_index,current_score,best_arch_index,best_score\n"
    for seed in seedList {
      let (steps, _): ([GreedyStep], [Int: Double?])
      do { (steps, _) = try GreedySearch(spaceSize: table.count, budget: budget, neighbours: neighbours).run(seed: seed, score: score) } catch let e as SearchError {
        throw CLIError("\(e)")
      }
      guard let last = steps.last, last.bestArchIndex >= 0 else {
        print(String(format: "%4d  no architecture with a score", seed)); continue
      }
      found.append(last.bestArchIndex)
      for s in steps { csv += "\(seed),\(s.scored),\(s.event),\(s.currentArchIndex),\(s.currentScore),\(s.bestArchIndex),\(s.bestScore)\n" }
      print(String(format: "%4d  %11d  %9.4g  %8.2f  %9.2f  %9.2f  %5d  %8d", seed, last.bestArchIndex, last.bestScore, accuracy(table, "cifar10", last.bestArchIndex),
                   accuracy(table, "cifar100", last.bestArchIndex), accuracy(table, "imagenet16", last.bestArchIndex),
                   steps.filter { $0.event == "move" }.count, steps.filter { $0.event == "restart" }.count))
    }
    if found.count > 1 {
      print("greedy, \(found.count) seeds, mean ± std (population std): test accuracy C10 \(meanStd(found.map { accuracy(table, "cifar10", $0) })), "
            + "C100 \(meanStd(found.map { accuracy(table, "cifar100", $0) })), IN16 \(meanStd(found.map { accuracy(table, "imagenet16", $0) }))")
    }
    print("architectures scored during this run: \(scoredNow) (the rest came from \(store))")
    if let output {
      do { try csv.write(toFile: output, atomically: true, encoding: .utf8) } catch { throw CLIError("--output \(output): cannot write: \(error)") }
      print("steps written to \(output)")
    }
  }
}
