import ArgumentParser
import Foundation
import ZCData
import ZCEngine
import ZCSearch
import ZCSpaces

/// `zcnas robot`: RoBoT and the baselines that share its budget and query signal.
struct Robot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Search NAS-Bench-201 with a budget of ground-truth queries: RoBoT (BO over proxy weights + greedy exploitation), random search or regularised evolution.",
    discussion: """
      The pool is every architecture the store holds scores of all --metrics for (the full space after \
      `zcnas import Datasets/nb201-scores/...`, or a scored sample); all strategies search that pool. Each \
      query reveals the --objective column of the NAS-Bench-201 table (default RoBoT's signal, \
      cifar10_valid_acc_12ep: CIFAR-10 validation accuracy after 12 epochs). The budget counts distinct \
      architectures. The answer is the queried architecture with the best objective; its test accuracy on \
      CIFAR-10, CIFAR-100 and ImageNet16-120 (percent, 200 epochs, mean over seeds) is reported, and the \
      search cost is the sum of cost_12ep_cifar10valid_s (seconds of benchmark training) over the queries. \
      Proxies are min-max normalised over the pool; a missing value contributes min(0, w), the worst a present \
      value could, and missing counts are reported. Trajectories go to the store (table search_steps) and to --output.
      """
  )

  @OptionGroup var selection: RunSelection
  @Option(help: "Search space (nb201).") var space = "nb201"
  @Option(help: "Dataset whose stored proxy scores form the pool: cifar10, cifar100 or imagenet16-120.") var dataset = "cifar10"
  @Option(help: "Strategy: robot, random or rea.") var strategy = "robot"
  @Option(help: "Comma-separated proxies to combine (robot).") var metrics = "grad_norm,snip,grasp,fisher,synflow,jacob_cov"
  @Option(help: "Distinct architectures queried.") var budget = 20
  @Option(help: "Search seeds: N, A..B (inclusive) or a comma-separated list.") var seeds = "10..19"
  @Option(help: "Query signal: a numeric column of the NAS-Bench-201 table (higher is better).") var objective = "cifar10_valid_acc_12ep"
  @Option(name: .customLong("bo-iterations"), help: "RoBoT: evaluations of f(w) in the BO phase (default: the budget).") var boIterations: Int?
  @Option(help: "RoBoT: start exploitation after this many BO evaluations in a row find no new architecture (default: never).") var patience: Int?
  @Option(help: "RoBoT: acquisition function, ucb or ei.") var acquisition = "ucb"
  @Option(help: "RoBoT: UCB exploration weight κ.") var kappa = 2.576
  @Option(help: "RoBoT: EI improvement margin ξ.") var xi = 0.0
  @Option(help: "REA: population size.") var population = 10
  @Option(name: .customLong("sample-size"), help: "REA: tournament sample size.") var sampleSize = 3
  @Option(help: "Write the trajectories (every query of every seed) to this .csv file.") var output: String?
  @Option(name: .customLong("save-weights"), help: "RoBoT: write the best seed's combination (weights + normalisation) as JSON, for `zcnas search --weights`.")
  var saveWeights: String?
  @Option(help: "Folder with the shipped data.") var datasets: String?

  func run() throws {
    guard space == "nb201" else { throw CLIError("--space: expected nb201, found '\(space)'") }
    guard ["robot", "random", "rea"].contains(strategy) else { throw CLIError("--strategy: expected robot, random or rea, found '\(strategy)'") }
    guard budget >= 1 else { throw CLIError("--budget: expected at least 1, found \(budget)") }
    guard kappa >= 0 else { throw CLIError("--kappa: expected a non-negative number, found \(kappa)") }
    guard xi >= 0 else { throw CLIError("--xi: expected a non-negative number, found \(xi)") }
    guard acquisition == "ucb" || acquisition == "ei" else { throw CLIError("--acquisition: expected ucb or ei, found '\(acquisition)'") }
    if let b = boIterations, b < 1 { throw CLIError("--bo-iterations: expected at least 1, found \(b)") }
    if let p = patience, p < 1 { throw CLIError("--patience: expected at least 1, found \(p)") }
    guard population >= 1, sampleSize >= 1, sampleSize <= population else {
      throw CLIError("--population/--sample-size: expected 1 <= sample size <= population, found \(sampleSize) and \(population)")
    }
    let seedList = try parseSeeds(seeds)
    let table = try NB201Table(path: try DatasetsFolder.resolve(datasets) + "/nasbench201/nb201.csv")
    let truth = try tableColumn(table, objective, option: "--objective")
    let (pool, scoreRun, dropped) = try selection.pool(space: space, dataset: dataset, metrics: metrics, truth: truth)
    guard budget <= pool.count else { throw CLIError("--budget: expected at most the pool size \(pool.count), found \(budget)") }
    let objectiveOf: (Int) -> Double = { truth[$0] }
    let neighbours = nb201Neighbours(table)
    print("nb201 \(dataset) pool: \(pool.count) architectures\(dropped > 0 ? " (\(dropped) without a finite \(objective) left out)" : ""); strategy \(strategy); budget \(budget); objective \(objective)")
    if strategy == "robot" {
      let miss = zip(pool.metrics, pool.missingCounts).filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
      print("proxies \(pool.metrics.joined(separator: ",")); missing values (each contributes min(0, w)): \(miss.isEmpty ? "none" : miss.joined(separator: ", "))")
    }
    let runID = "strategy=\(strategy);space=\(space);dataset=\(dataset);objective=\(objective);budget=\(budget);pool=\(pool.count)"
      + ";\(scoreRun)"
      + (strategy == "robot" ? ";metrics=\(pool.metrics.joined(separator: ","));bo=\(boIterations ?? budget);patience=\(patience.map(String.init) ?? "none")"
         + (acquisition == "ucb" ? ";ucb_kappa=\(kappa)" : ";ei_xi=\(xi)") : "")
      + (strategy == "rea" ? ";population=\(population);sample=\(sampleSize)" : "")
    let st = try ScoreStore(path: selection.store)
    var results: [SearchResult] = []
    print("seed  best index  objective  C10 test  C100 test  IN16 test  cost (s)  T0")
    for seed in seedList {
      let r: SearchResult
      do {
        switch strategy {
        case "robot":
          var s = RoBoT(pool: pool, budget: budget, boIterations: boIterations, patience: patience)
          s.acquisition = acquisition == "ucb" ? .ucb(kappa: kappa) : .expectedImprovement(xi: xi)
          r = try s.run(seed: seed, objective: objectiveOf)
        case "random": r = try RandomSearch(domain: pool.archIndices, budget: budget).run(seed: seed, objective: objectiveOf)
        default:
          r = try RegularisedEvolution(domain: pool.archIndices, budget: budget, population: population, sampleSize: sampleSize, neighbours: neighbours)
            .run(seed: seed, objective: objectiveOf)
        }
      } catch let e as SearchError { throw CLIError("\(e)") }
      results.append(r)
      try st.writeSearch(r.steps.map {
        SearchStepRow(run: runID, strategy: strategy, seed: seed, query: $0.query, archIndex: $0.archIndex, arch: table.archs[$0.archIndex],
                      objective: $0.objective, bestObjective: $0.bestObjective, bestArchIndex: $0.bestArchIndex, phase: $0.phase, weights: $0.weights)
      })
      let b = r.bestArchIndex
      let t0 = r.steps.filter { $0.phase == "bo" }.count
      print(String(format: "%4d  %10d  %9.3f  %8.2f  %9.2f  %9.2f  %8.0f  %@", seed, b, r.steps.last!.bestObjective, accuracy(table, "cifar10", b),
                   accuracy(table, "cifar100", b), accuracy(table, "imagenet16", b), cost(table, r), strategy == "robot" ? "\(t0)" : "-"))
    }
    let bests = results.map(\.bestArchIndex)
    print("\(strategy), \(results.count) seeds, mean ± std (population std): test accuracy C10 \(meanStd(bests.map { accuracy(table, "cifar10", $0) })), "
          + "C100 \(meanStd(bests.map { accuracy(table, "cifar100", $0) })), IN16 \(meanStd(bests.map { accuracy(table, "imagenet16", $0) })); "
          + "search cost \(meanStd(results.map { cost(table, $0) })) s")
    if strategy == "rea" {
      let mutations = results.flatMap(\.steps).filter { $0.phase.hasPrefix("rea") && $0.phase != "rea-init" }
      let fallback = mutations.filter { $0.phase == "rea-random" }.count
      if fallback > 0 { print("rea: \(fallback) of \(mutations.count) children were random (no unqueried one-edit neighbour in the pool)") }
    }
    print("trajectories stored in \(selection.store) (search_steps, run '\(runID)')")
    if let output { try writeTrajectories(results, table: table, to: output) }
    if let saveWeights, strategy == "robot" {
      let best = results.max { $0.steps.last!.bestObjective < $1.steps.last!.bestObjective }!
      let c = pool.combination(best.weights ?? [], source: "zcnas robot seed \(best.seed); \(runID)")
      try writeCombination(c, to: saveWeights)
      print("weights of seed \(best.seed) written to \(saveWeights)")
    }
  }

  func writeTrajectories(_ results: [SearchResult], table: NB201Table, to path: String) throws {
    var out = "strategy,seed,query,arch_index,arch,objective,best_objective,best_arch_index,best_cifar10_test_acc,best_cifar100_test_acc,best_imagenet16_test_acc,phase,weights\n"
    for r in results {
      for s in r.steps {
        let w = s.weights.map { "\"" + $0.map { String(format: "%.6f", $0) }.joined(separator: " ") + "\"" } ?? ""
        out += "\(r.strategy),\(r.seed),\(s.query),\(s.archIndex),\(table.archs[s.archIndex]),\(s.objective),\(s.bestObjective),\(s.bestArchIndex),"
          + "\(accuracy(table, "cifar10", s.bestArchIndex)),\(accuracy(table, "cifar100", s.bestArchIndex)),\(accuracy(table, "imagenet16", s.bestArchIndex)),\(s.phase),\(w)\n"
      }
    }
    do { try out.write(toFile: path, atomically: true, encoding: .utf8) } catch { throw CLIError("--output \(path): cannot write: \(error)") }
    print("trajectories written to \(path)")
  }
}

/// Test accuracy (percent) of an architecture on a dataset prefix (cifar10, cifar100, imagenet16).
func accuracy(_ table: NB201Table, _ prefix: String, _ index: Int) -> Double { table.columns["\(prefix)_test_acc"]?[index] ?? .nan }

/// RoBoT's search cost: 12-epoch training seconds summed over the queried architectures.
func cost(_ table: NB201Table, _ r: SearchResult) -> Double {
  let c = table.columns["cost_12ep_cifar10valid_s"] ?? []
  return r.steps.reduce(0) { $0 + (c.isEmpty ? .nan : c[$1.archIndex]) }
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
  return v.map { $0! }
}

/// "mean ± std" (population standard deviation, as RoBoT's script reports), two decimals.
func meanStd(_ v: [Double]) -> String {
  let m = v.reduce(0, +) / Double(v.count)
  let s = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
  return String(format: "%.2f ± %.2f", m, s)
}

/// One-edit neighbours (24 per architecture) of a NAS-Bench-201 index, as table indices.
func nb201Neighbours(_ table: NB201Table) -> @Sendable (Int) -> [Int] {
  { i in (try? NB201Architecture(parsing: table.archs[i]))?.neighbours.compactMap { table.index(of: $0.description) } ?? [] }
}

/// Writes a combination as the JSON `zcnas search --weights` reads.
/// - Throws: ``CLIError`` naming --save-weights when the file cannot be written.
func writeCombination(_ c: Combination, to path: String) throws {
  let enc = JSONEncoder()
  enc.outputFormatting = [.prettyPrinted, .sortedKeys]
  do { try enc.encode(c).write(to: URL(fileURLWithPath: path)) } catch { throw CLIError("--save-weights \(path): cannot write: \(error)") }
}
