import ArgumentParser
import Foundation
import ZCData
import Metrics
import ZCEngine
import ZCSearch

/// `zcnas robot`: RoBoT and the baselines that share its budget and query signal, for every space.
struct Robot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Search a space with a budget of ground-truth queries: RoBoT (BO over proxy weights + greedy exploitation), random search or regularised evolution.",
    discussion: """
      The pool is every architecture the store holds scores of all --metrics for (the full space after \
      `zcnas import Datasets/nb201-scores/...`, or a scored sample); all strategies search that pool. Each \
      query reveals the --objective column of the space's table (nb201 default: RoBoT's signal, \
      cifar10_valid_acc_12ep, CIFAR-10 validation accuracy after 12 epochs; nbnlp default: final_test_loss, \
      lower is better, which the search minimises). The budget counts distinct architectures. The answer is \
      the queried architecture with the best objective; its report columns are printed (nb201: test accuracy \
      on CIFAR-10, CIFAR-100, ImageNet16-120; nbnlp: final test and validation loss), and the search cost is \
      the sum of the space's cost column over the queries (nb201: cost_12ep_cifar10valid_s; nbnlp: \
      total_wall_time_s of the benchmark's training runs). Proxies are min-max normalised over the pool; a \
      missing value contributes min(0, w), the worst a present value could, and missing counts are reported. \
      Trajectories go to the store (table search_steps; objective stored oriented, higher is better, so a \
      loss is stored negated) and to --output. REA needs a neighbourhood: nbnlp has none.
      """
  )

  @OptionGroup var selection: RunSelection
  @OptionGroup var spaceOptions: SpaceOptions
  @Option(help: "Strategy.") var strategy: QueryStrategy = .robot
  @Option(help: "Comma-separated proxies to combine (robot; default nb201: RoBoT's six, and 'ensemble' when the store holds its members; nbnlp: every recurrent proxy); 'ensemble' adds the label-free log-rank ensemble of --ensemble as one candidate.") var metrics: String?
  @OptionGroup var ensembleOptions: EnsembleOptions
  var ensemble: String? { ensembleOptions.ensemble }
  @Option(help: ArgumentHelp("RoBoT: the first weight vector BO evaluates.", discussion: "ensemble: weight 1 on the 'ensemble' candidate and 0 on the others, so the ensemble's top architecture is the first query (used when 'ensemble' is among --metrics); random: uniform in [-1, 1] from the seed, as in RoBoT's code (with --metrics grad_norm,snip,grasp,fisher,synflow,jacob_cov it is the published RoBoT).")) var prior: RoBoTPrior = .ensemble
  @Option(help: "Distinct architectures queried.") var budget = 20
  @Option(parsing: .unconditional, help: "Search seeds: N, A..B (inclusive) or a comma-separated list.") var seeds = "10..19"
  @Option(help: "Query signal: a numeric column of the space's table (default: nb201 cifar10_valid_acc_12ep, nbnlp final_test_loss).") var objective: String?
  @Option(name: .customLong("bo-iterations"), help: "RoBoT: evaluations of f(w) in the BO phase (default: the budget).") var boIterations: Int?
  @Option(help: "RoBoT: start exploitation after this many BO evaluations in a row find no new architecture (default: never).") var patience: Int?
  @Option(help: "RoBoT: acquisition function.") var acquisition: AcquisitionName = .ucb
  @Option(help: "RoBoT: UCB exploration weight κ.") var kappa = 2.576
  @Option(help: "RoBoT: EI improvement margin ξ.") var xi = 0.0
  @Option(help: "REA: population size.") var population = 10
  @Option(name: .customLong("sample-size"), help: "REA: tournament sample size.") var sampleSize = 3
  @Option(help: "Write the trajectories (every query of every seed) to this .csv file.") var output: String?
  @Option(name: .customLong("save-weights"), help: "RoBoT: write the best seed's combination (weights + normalisation) as JSON, for `zcnas search --weights`.")
  var saveWeights: String?

  func run() throws {
    guard budget >= 1 else { throw CLIError("--budget: expected at least 1, found \(budget)") }
    guard kappa >= 0 else { throw CLIError("--kappa: expected a non-negative number, found \(kappa)") }
    guard xi >= 0 else { throw CLIError("--xi: expected a non-negative number, found \(xi)") }
    if let b = boIterations, b < 1 { throw CLIError("--bo-iterations: expected at least 1, found \(b)") }
    if let p = patience, p < 1 { throw CLIError("--patience: expected at least 1, found \(p)") }
    guard population >= 1, sampleSize >= 1, sampleSize <= population else {
      throw CLIError("--population/--sample-size: expected 1 <= sample size <= population, found population \(population) and sample size \(sampleSize)")
    }
    try search(try spaceOptions.load())
  }

  private func search(_ space: some SearchSpace) throws {
    if let output { try checkOutput("--output", output, extensions: [".csv"]) }
    if let saveWeights { try checkOutput("--save-weights", saveWeights) }
    let dataset = try spaceOptions.dataset(for: space)
    let seedList = try parseSeeds(seeds)
    let objectiveName = objective ?? space.defaultObjective
    let truth = try cli { try space.groundTruth(objectiveName, dataset: dataset, option: "--objective") }
    var metrics = self.metrics ?? space.defaultCombination.joined(separator: ",")
    var stored: [ScoreRow]?  // read once, for the default's check and the pool
    if self.metrics == nil && space.robotAddsEnsemble && strategy == .robot {
      // The default adds the ensemble when the store holds its members for every architecture
      // that has RoBoT's six (so the pool does not shrink to the architectures a partial run of a
      // member reached); otherwise RoBoT's own combination, with a note.
      let members = LogRankEnsemble.members(of: ensemble)
      let rows = try selection.rows(space: space.name, dataset: dataset)
      stored = rows
      let archs = Dictionary(grouping: rows, by: \.metric).mapValues { Set($0.map(\.archIndex)) }
      let withSix = space.defaultCombination.dropFirst().reduce(archs[space.defaultCombination.first ?? ""] ?? []) { $0.intersection(archs[$1] ?? []) }
      if ensemble == nil, let short = members.first(where: { !withSix.isSubset(of: archs[$0] ?? []) }) {
        let held = withSix.intersection(archs[short] ?? []).count
        print("note: the ensemble (\(members.joined(separator: ", "))) is not added to the default proxies: the store holds "
              + (held == 0 ? "no \(short) scores" : "\(short) scores for \(held) of the \(withSix.count) \(space.unit)s with RoBoT's six"))
      } else {
        metrics += ",\(LogRankEnsemble.name)"
      }
    }
    let (pool, scoreRun, dropped, archText) = try selection.pool(space: space, dataset: dataset, metrics: metrics, truth: truth, ensembleMembers: ensemble, rows: stored)
    guard budget <= pool.count else { throw CLIError("--budget: expected at most the pool size \(pool.count), found \(budget)") }
    let objectiveOf: (Int) -> Double = { truth.oriented($0) ?? .nan }
    let sign: Double = truth.higherIsBetter ? 1 : -1
    let report = try space.reportColumns.map { c in (c.label, try cli { try space.groundTruth(c.column, dataset: dataset, option: "--objective") }) }
    let cost = try space.costColumn.map { c in try cli { try space.groundTruth(c, dataset: dataset, option: "--objective") } }
    func costOf(_ r: SearchResult) -> Double { r.steps.reduce(0) { $0 + (cost?.values[$1.archIndex] ?? .nan) } }
    if strategy == .rea && !space.hasNeighbourhood {
      throw CLIError("--strategy rea: --space \(space.name) has no neighbourhood (REA mutates an architecture by one edit); use robot or random")
    }
    print("\(space.name) \(dataset) pool: \(pool.count) \(space.unit)s\(dropped > 0 ? " (\(dropped) without a finite \(truth.column) left out)" : ""); strategy \(strategy.rawValue); budget \(budget); objective \(truth.column)\(truth.higherIsBetter ? "" : " (lower is better)")")
    if strategy == .robot {
      let miss = zip(pool.metrics, pool.missingCounts).filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
      print("proxies \(pool.metrics.joined(separator: ",")); missing values (each contributes min(0, w)): \(miss.isEmpty ? "none" : miss.joined(separator: ", "))")
    }
    let runID = "strategy=\(strategy.rawValue);space=\(space.name);dataset=\(dataset);objective=\(truth.column);budget=\(budget);pool=\(pool.count)"
      + ";\(scoreRun)"
      + (strategy == .robot ? ";metrics=\(pool.metrics.joined(separator: ","))\(pool.metrics.contains("ensemble") ? ";prior=\(prior.rawValue)" : "");bo=\(boIterations ?? budget);patience=\(patience.map(String.init) ?? "none")"
         + (acquisition == .ucb ? ";ucb_kappa=\(kappa)" : ";ei_xi=\(xi)") : "")
      + (strategy == .rea ? ";population=\(population);sample=\(sampleSize)" : "")
    let st = try cli { try ScoreStore(path: selection.store) }
    try cli { try st.ensureWritable() }  // before the search, so its results are never lost
    var results: [SearchResult] = []
    let neighbours: @Sendable (Int) -> [Int] = { space.neighbours(of: $0) ?? [] }
    print("seed  best id     objective  " + report.map { $0.0.leftPad(10) }.joined(separator: " ") + "  cost (s)  T0")
    for seed in seedList {
      let r: SearchResult
      do {
        switch strategy {
        case .robot:
          var s = RoBoT(pool: pool, budget: budget, boIterations: boIterations, patience: patience)
          s.acquisition = acquisition == .ucb ? .ucb(kappa: kappa) : .expectedImprovement(xi: xi)
          if prior == .ensemble, let e = pool.metrics.firstIndex(of: "ensemble") { s.initialWeights = pool.metrics.indices.map { $0 == e ? 1 : 0 } }
          r = try s.run(seed: seed, objective: objectiveOf)
        case .random: r = try RandomSearch(domain: pool.archIndices, budget: budget).run(seed: seed, objective: objectiveOf)
        case .rea:
          r = try RegularisedEvolution(domain: pool.archIndices, budget: budget, population: population, sampleSize: sampleSize, neighbours: neighbours)
            .run(seed: seed, objective: objectiveOf)
        }
      } catch let e as SearchError { throw CLIError("\(e)") }
      results.append(r)
      try cli {
        try st.writeSearch(r.steps.map {
          SearchStepRow(run: runID, strategy: strategy.rawValue, seed: seed, query: $0.query, archIndex: $0.archIndex, arch: archText[$0.archIndex] ?? "",
                        objective: $0.objective, bestObjective: $0.bestObjective, bestArchIndex: $0.bestArchIndex, phase: $0.phase, weights: $0.weights)
        })
      }
      let b = r.bestArchIndex
      let t0 = r.steps.filter { $0.phase == "bo" }.count
      print(String(format: "%4d  %-10d  %9.3f  ", seed, b, sign * r.steps.last!.bestObjective) + report.map { formatTruth($0.1, b).leftPad(10) }.joined(separator: " ")
            + String(format: "  %8.0f  %@", costOf(r), strategy == .robot ? "\(t0)" : "-"))
    }
    let bests = results.map(\.bestArchIndex)
    let summary = report.map { c in "\(c.0) \(meanStd(bests.map { b in c.1.values[b] ?? .nan }))" }.joined(separator: ", ")
    print("\(strategy.rawValue), \(results.count) seeds, mean ± std (population std): \(summary); search cost \(meanStd(results.map(costOf))) s")
    if strategy == .rea {
      let mutations = results.flatMap(\.steps).filter { $0.phase.hasPrefix("rea") && $0.phase != "rea-init" }
      let fallback = mutations.filter { $0.phase == "rea-random" }.count
      if fallback > 0 { print("rea: \(fallback) of \(mutations.count) children were random (no unqueried one-edit neighbour in the pool)") }
    }
    print("trajectories stored in \(selection.store) (search_steps, run '\(runID)')")
    if let output { try writeTrajectories(results, report: report, arch: archText, sign: sign, to: output) }
    if let saveWeights, strategy == .robot {
      let best = results.max { $0.steps.last!.bestObjective < $1.steps.last!.bestObjective }!
      let c = pool.combination(best.weights ?? [], source: "zcnas robot seed \(best.seed); \(runID)")
      try writeCombination(c, to: saveWeights)
      print("weights of seed \(best.seed) written to \(saveWeights)")
    }
  }

  func writeTrajectories(_ results: [SearchResult], report: [(String, GroundTruth)], arch: [Int: String], sign: Double, to path: String) throws {
    let header = ["strategy", "seed", "query", "arch_index", "arch", "objective", "best_objective", "best_arch_index"]
      + report.map { "best_" + $0.1.column } + ["phase", "weights"]
    var rows: [[String]] = []
    for r in results {
      for s in r.steps {
        rows.append([r.strategy, String(r.seed), String(s.query), String(s.archIndex), arch[s.archIndex] ?? "", "\(sign * s.objective)",
                     "\(sign * s.bestObjective)", String(s.bestArchIndex)]
                    + report.map { g in g.1.values[s.bestArchIndex].map { "\($0)" } ?? "" }
                    + [s.phase, s.weights.map { $0.map { String(format: "%.6f", $0) }.joined(separator: " ") } ?? ""])
      }
    }
    do { try CSVTable.write(header: header, rows: rows, to: path) } catch { throw CLIError("--output \(path): cannot write: \(error)") }
    print("trajectories written to \(path)")
  }
}

/// Seeds from "N", "A..B" (inclusive) or "A,B,C".
func parseSeeds(_ spec: String) throws -> [Int] {
  if spec.contains("..") {
    let p = spec.components(separatedBy: "..")
    guard p.count == 2, let a = Int(p[0]), let b = Int(p[1]), a <= b else { throw CLIError("--seeds: expected N, A..B with A <= B, or a list, found '\(spec)'") }
    return Array(a...b)
  }
  let v = spec.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
  guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { throw CLIError("--seeds: expected N, A..B or a comma-separated list of integers, found '\(spec)'") }
  var seen = Set<Int>()
  for s in v.map({ $0! }) where !seen.insert(s).inserted { throw CLIError("--seeds: seed \(s) is given twice in '\(spec)'") }
  return v.map { $0! }
}

/// "mean ± std" (population standard deviation, as RoBoT's script reports), two decimals.
func meanStd(_ v: [Double]) -> String {
  let m = v.reduce(0, +) / Double(v.count)
  let s = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
  return String(format: "%.2f ± %.2f", m, s)
}

/// Writes a combination as the JSON `zcnas search --weights` reads.
/// - Throws: ``CLIError`` naming --save-weights when the file cannot be written.
func writeCombination(_ c: Combination, to path: String) throws {
  let enc = JSONEncoder()
  enc.outputFormatting = [.prettyPrinted, .sortedKeys]
  do { try enc.encode(c).write(to: URL(fileURLWithPath: path)) } catch { throw CLIError("--save-weights \(path): cannot write: \(error)") }
}
