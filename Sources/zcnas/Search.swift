import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch

/// `zcnas search`: training-free search; ground truth is read only to report the outcome.
struct Search: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Training-free greedy search over a space under one proxy or a saved combination; architectures are scored on the fly through the store.",
    discussion: """
      From a seeded random start, score the unscored one-edit neighbours (nb201: 24 per architecture), move to \
      the best when it beats the current architecture, restart at random from a local optimum, until --budget \
      distinct architectures are scored. A space without a neighbourhood (nbnlp: the subset's recipes are not \
      one edit apart) restarts after every architecture: the search then scores --budget random architectures \
      and returns the best-ranked one. Scores come from the store when present (e.g. after `zcnas import` of a \
      shipped table) and are otherwise computed through the scoring pipeline with the settings given \
      (--score-seed, --batch-size, float32, PyTorch-default initialisation) and stored, so a rerun costs \
      nothing. With --no-scoring, unstored architectures count as missing. Under --proxy, lower-is-better \
      proxies are negated; under --weights (from `zcnas robot` or `zcnas fit`), the combination's own \
      normalisation is used. The ground truth of the found architecture is printed for evaluation only.
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(help: "Strategy.") var strategy: FreeStrategy = .greedy
  @Option(help: "Rank by this proxy (see `zcnas metrics`), or 'ensemble' (the label-free log-rank ensemble of --ensemble, ranked against the architectures the store already holds every member for).") var proxy: String?
  @OptionGroup var ensembleOptions: EnsembleOptions
  var ensemble: String? { ensembleOptions.ensemble }
  @Option(help: "Rank by this combination JSON (from `zcnas robot --save-weights` or `zcnas fit --save-weights`).") var weights: String?
  @Option(help: "Distinct architectures scored per search.") var budget = 100
  @Option(parsing: .unconditional, help: "Search seeds: N, A..B (inclusive) or a comma-separated list.") var seeds = "0"
  @OptionGroup var storeOption: StoreOption
  @Option(name: .customLong("score-seed"), parsing: .unconditional, help: "Seed of the minibatch and initial weights for scoring.") var scoreSeed = 0
  @Option(name: .customLong("batch-size"), help: "Samples per minibatch for scoring (default: the space's).") var batchSize: Int?
  @OptionGroup var model: RecurrentModelOptions
  @OptionGroup var bert: BERTModelOptions
  @Flag(name: .customLong("no-scoring"), help: "Never score: architectures without stored scores count as missing.") var noScoring = false
  @Option(help: "Architectures scored in parallel.") var jobs = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "Write every step of every seed to this .csv file.") var output: String?

  func run() throws {
    guard (proxy == nil) != (weights == nil) else { throw CLIError("--proxy/--weights: expected exactly one of them") }
    try checkJobs(jobs)
    try search(try spaceOptions.load())
  }

  private func search<S: SearchSpace>(_ space: S) throws {
    if let output { try checkOutput("--output", output, extensions: [".csv"]) }
    let dataset = try spaceOptions.dataset(for: space)
    guard budget >= 1 && budget <= space.entryCount else { throw CLIError("--budget: expected 1...\(space.entryCount), found \(budget)") }
    let seedList = try parseSeeds(seeds)
    // The ranking: raw values of `metrics` -> score.
    let metrics: [String]
    var rank: ([Double?]) -> Double?
    let mine = registry.applicable(to: space.modelKind)
    var ensembleModel: LogRankEnsemble?
    if ensemble != nil && proxy != LogRankEnsemble.name { throw CLIError("--ensemble: only with --proxy ensemble") }
    if proxy == LogRankEnsemble.name {
      let model = try LogRankEnsemble.fromOption(ensemble, kind: space.modelKind)
      ensembleModel = model
      metrics = model.members
      rank = { _ in nil }  // set below, once the reference population is read from the store
    } else if let proxy {
      guard let p = mine.first(where: { $0.name == proxy }) else {
        if LogRankEnsemble.preset(named: proxy) != nil { throw CLIError("--proxy: '\(proxy)' is an ensemble preset; use --proxy ensemble --ensemble \(proxy)") }
        throw CLIError("--proxy: unknown proxy '\(proxy)' for --space \(space.name); available: \(mine.map(\.name).joined(separator: ", "))")
      }
      let sign: Double = p.direction == .lowerIsBetter ? -1 : 1
      metrics = [p.name]
      rank = { v in v[0].flatMap { $0.isFinite ? sign * $0 : nil } }
    } else {
      let path = weights!
      guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("--weights \(path): no such file") }
      let c: Combination
      do { c = try JSONDecoder().decode(Combination.self, from: data) } catch {
        throw CLIError("--weights \(path): expected the JSON written by `zcnas robot/fit --save-weights` (metrics, weights, minimum, maximum, source): \(describe(error))")
      }
      if let problem = c.problem() { throw CLIError("--weights \(path): \(problem)") }
      for m in c.metrics where !mine.contains(where: { $0.name == m }) { throw CLIError("--weights \(path): unknown proxy '\(m)' for --space \(space.name)") }
      metrics = c.metrics
      rank = { v in c.score(v) }
    }
    var settings = ScoringSettings(dataset: dataset, datasetsRoot: try spaceOptions.data.root())
    settings.seed = scoreSeed
    settings.batchSize = batchSize
    settings.parameters = model.parameters.merging(bert.parameters) { a, _ in a }
    let proxies = metrics.map { m in mine.first { $0.name == m }! }
    let pipeline = try cli { try ScoringPipeline(space: space, settings: settings, proxies: proxies, batch: nil, buildBatch: !noScoring) }
    let store = storeOption.store
    let st = try cli { try ScoreStore(path: store) }
    if !noScoring { try cli { try st.ensureWritable() } }
    let key = try cli { try pipeline.keyTemplate() }
    let ids = try cli { try space.allIDs() }
    if let ens = ensembleModel {
      // The reference population: every architecture the store holds all members for (this run's settings).
      let stored = try cli { try st.rows(like: key, ids: Set(ids)) }
      guard let pool = try? ProxyPool(rows: stored, metrics: ens.members) else {
        throw CLIError("--proxy ensemble: \(store) holds no \(space.unit) with scores of every member (\(ens.members.joined(separator: ","))) under these settings; import a table first (zcnas import Datasets/nb201-scores/...)")
      }
      let reference = ens.reference(pool.values)
      rank = { v in ens.score(v, against: reference) }
      print("ensemble of \(ens.members.joined(separator: ", ")): log-ranks against the \(pool.count) \(space.unit)s \(store) holds every member for")
    }
    var scoredNow = 0
    let started = Date()
    // One read of the ids' stored rows per step; a second only after scoring some of them.
    let score: ([Int]) throws -> [Double?] = { archs in
      func stored() throws -> [Int: [String: ScoreRow]] {
        var byArch: [Int: [String: ScoreRow]] = [:]
        for r in try st.rows(like: key, ids: Set(archs)) { byArch[r.archIndex, default: [:]][r.metric] = r }
        return byArch
      }
      var byArch = try stored()
      let todo = archs.filter { a in metrics.contains { byArch[a]?[$0] == nil } }
      if !todo.isEmpty && !noScoring {
        _ = try pipeline.run(try todo.map { try space.entry(token: String($0)) }, store: st, jobs: jobs)
        scoredNow += todo.count
        print("search: \(scoredNow) \(space.unit)(s) scored on the fly so far (\(String(format: "%.0f", Date().timeIntervalSince(started))) s)", to: &stderrStream)
        byArch = try stored()
      }
      return archs.map { a in
        guard let m = byArch[a], metrics.allSatisfy({ m[$0] != nil }) else { return nil }
        return rank(metrics.map { m[$0]!.value })
      }
    }
    let report = try space.reportColumns.map { c in (c.label, try cli { try space.groundTruth(c.column, dataset: dataset, option: "--target") }) }
    let neighbours: @Sendable (Int) -> [Int] = { space.neighbours(of: $0) ?? [] }
    if !space.hasNeighbourhood { print("\(space.name) has no neighbourhood: every step restarts at random (random sampling ranked by the score)") }
    print("greedy search on \(space.name) \(dataset) by \(proxy ?? "combination " + weights!); budget \(budget) scored \(space.unit)s")
    print("seed  found id     score      " + report.map { $0.0.leftPad(10) }.joined(separator: " ") + "  moves  restarts")
    var found: [Int] = []
    var csv: [[String]] = []
    for seed in seedList {
      let steps: [GreedyStep]
      do { (steps, _) = try GreedySearch(domain: ids, budget: budget, neighbours: neighbours).run(seed: seed, score: { archs in try cli { try score(archs) } }) } catch let e as SearchError {
        throw CLIError("\(e)")
      }
      guard let last = steps.last, last.bestScore.isFinite else {
        print(String(format: "%4d  no architecture with a score", seed)); continue
      }
      found.append(last.bestArchIndex)
      for s in steps { csv.append([String(seed), String(s.scored), s.event, String(s.currentArchIndex), "\(s.currentScore)", String(s.bestArchIndex), "\(s.bestScore)"]) }
      print(String(format: "%4d  %-11d  %9.4g  ", seed, last.bestArchIndex, last.bestScore) + report.map { formatTruth($0.1, last.bestArchIndex).leftPad(10) }.joined(separator: " ")
            + String(format: "  %5d  %8d", steps.filter { $0.event == "move" }.count, steps.filter { $0.event == "restart" }.count))
    }
    if found.count > 1 {
      print("greedy, \(found.count) seeds, mean ± std (population std): " + report.map { c in "\(c.0) \(meanStd(found.map { b in c.1.values[b] ?? .nan }))" }.joined(separator: ", "))
    }
    print("architectures scored during this run: \(scoredNow) (the rest came from \(store))")
    if let output {
      let header = ["seed", "scored", "event", "current_arch_index", "current_score", "best_arch_index", "best_score"]
      do { try CSVTable.write(header: header, rows: csv, to: output) } catch { throw CLIError("--output \(output): cannot write: \(error)") }
      print("steps written to \(output)")
    }
  }
}
