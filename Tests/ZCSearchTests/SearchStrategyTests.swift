import XCTest
import ZCSpaces
import ZCTensor
@testable import ZCSearch

/// Properties of the search strategies that fail when they are wrong: budgets, distinct queries,
/// determinism, RoBoT finding an optimum a linear combination can express, REA mutating, greedy search
/// climbing a known landscape.
final class SearchStrategyTests: XCTestCase {
  /// 400 architectures with 3 proxies; the objective is a linear combination of proxies 0 and 2.
  func syntheticPool() -> (ProxyPool, (Int) -> Double) {
    var rng = ZCRandom(seed: 5)
    let idx = Array(stride(from: 0, to: 4000, by: 10))
    var vals: [[Double?]] = idx.map { _ in (0..<3).map { _ in rng.nextUniform() } }
    vals[7][1] = nil
    let truth = Dictionary(uniqueKeysWithValues: zip(idx, vals.map { 2 * $0[0]! - $0[2]! }))
    return (ProxyPool(archIndices: idx, metrics: ["a", "b", "c"], values: vals), { truth[$0]! })
  }

  func testPoolNormalisationAndMissingValues() {
    let p = ProxyPool(archIndices: [3, 5, 9], metrics: ["a", "b"], values: [[1, nil], [3, 4], [2, 8]])
    XCTAssertEqual(p.missingCounts, [0, 1])
    XCTAssertEqual(p.minimum, [1, 4]); XCTAssertEqual(p.maximum, [3, 8])
    // Normalised: a = [0, 1, 0.5], b = [missing -> 0, 0, 1].
    XCTAssertEqual(p.scores([1, 1]), [0, 1, 1.5])
    // A missing value never helps: under a negative weight it contributes the weight itself.
    XCTAssertEqual(p.scores([1, -1]), [-1, 1, -0.5])
    XCTAssertEqual(p.ranking([1, 1]), [2, 1, 0])
    XCTAssertFalse(p.scores([0.3, -0.7]).contains { $0.isNaN })
  }

  func testRoBoTFindsTheOptimumOfALinearObjective() throws {
    let (pool, objective) = syntheticPool()
    let best = pool.archIndices.max { objective($0) < objective($1) }!
    var found = 0
    for seed in 10..<13 {
      let r = try RoBoT(pool: pool, budget: 15).run(seed: seed, objective: objective)
      XCTAssertEqual(r.steps.count, 15)
      XCTAssertEqual(Set(r.steps.map(\.archIndex)).count, 15, "queries must be distinct")
      XCTAssertEqual(r.steps.map(\.query), Array(1...15))
      for (a, b) in zip(r.steps, r.steps.dropFirst()) { XCTAssertGreaterThanOrEqual(b.bestObjective, a.bestObjective) }
      if r.bestArchIndex == best { found += 1 }
    }
    // Random search with 15 of 400 finds it with probability 3.75% per seed.
    XCTAssertGreaterThanOrEqual(found, 2)
  }

  func testRoBoTIsDeterministicAndExploitsAfterPatience() throws {
    let (pool, objective) = syntheticPool()
    let a = try RoBoT(pool: pool, budget: 12, patience: 2).run(seed: 4, objective: objective)
    let b = try RoBoT(pool: pool, budget: 12, patience: 2).run(seed: 4, objective: objective)
    XCTAssertEqual(a.steps, b.steps)
    XCTAssertEqual(a.steps.count, 12)
    // BO stopped after 2 evaluations in a row without a new architecture, before the budget was spent.
    let bo = a.steps.filter { $0.phase == "bo" }.count
    XCTAssertLessThan(bo, 12)
    XCTAssertGreaterThanOrEqual(a.boEvaluations, bo + 2, "the last two evaluations repeated known architectures")
    XCTAssertLessThan(a.boEvaluations, 12, "patience, not the BO share (12 evaluations), ended BO")
    XCTAssertGreaterThan(a.steps.filter { $0.phase == "greedy" }.count, 0)
    // Exploitation queries follow the best weights' ranking.
    let greedy = a.steps.filter { $0.phase == "greedy" }.map(\.archIndex)
    let order = pool.ranking(a.weights!).map { pool.archIndices[$0] }.filter { o in !a.steps.contains { $0.phase == "bo" && $0.archIndex == o } }
    XCTAssertEqual(greedy, Array(order.prefix(greedy.count)))
    XCTAssertThrowsError(try RoBoT(pool: pool, budget: 401).run(seed: 0, objective: objective))
  }

  /// A prior first point: the first query is the pool's best architecture under those weights
  /// (found here by brute force over the pool), whatever the seed; bad weights are refused.
  func testRoBoTStartsAtItsInitialWeights() throws {
    let (pool, objective) = syntheticPool()
    let w0: [Double] = [0, 0, 1]
    let top = pool.archIndices[pool.archIndices.indices.max { pool.values[$0][2] ?? -1 < pool.values[$1][2] ?? -1 }!]
    for seed in [1, 2, 3] {
      var s = RoBoT(pool: pool, budget: 6)
      s.initialWeights = w0
      let r = try s.run(seed: seed, objective: objective)
      XCTAssertEqual(r.steps.first?.archIndex, top, "seed \(seed)")
      XCTAssertEqual(r.steps.first?.weights, w0)
      XCTAssertEqual(r.steps.count, 6)
    }
    for bad in [[0.0, 1], [0, 0, 2]] {
      var s = RoBoT(pool: pool, budget: 6)
      s.initialWeights = bad
      XCTAssertThrowsError(try s.run(seed: 0, objective: objective)) { XCTAssertTrue("\($0)".contains("initial weights"), "\($0)") }
    }
  }

  func testRandomSearchAndREA() throws {
    let all = NB201Architecture.all
    let index = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1.description, $0) })
    let neighbours: @Sendable (Int) -> [Int] = { i in all[i].neighbours.map { index[$0.description]! } }
    let convs: (Int) -> Double = { Double(all[$0].edges.filter { $0 == .conv3x3 }.count) }
    let domain = Array(0..<all.count)
    let r = try RandomSearch(domain: domain, budget: 50).run(seed: 1, objective: convs)
    XCTAssertEqual(Set(r.steps.map(\.archIndex)).count, 50)
    XCTAssertEqual(try RandomSearch(domain: domain, budget: 50).run(seed: 1, objective: convs).steps, r.steps)
    let e = try RegularisedEvolution(domain: domain, budget: 120, neighbours: neighbours).run(seed: 2, objective: convs)
    XCTAssertEqual(Set(e.steps.map(\.archIndex)).count, 120)
    XCTAssertEqual(e.steps.filter { $0.phase == "rea-init" }.count, 10)
    // Every child is a one-edit neighbour of an earlier query.
    for (k, s) in e.steps.enumerated() where s.phase == "rea" {
      XCTAssertTrue(e.steps[..<k].contains { neighbours($0.archIndex).contains(s.archIndex) })
    }
    // Evolution climbs this landscape; 120 random queries rarely reach 5 of 6 conv edges.
    XCTAssertGreaterThanOrEqual(e.steps.last!.bestObjective, 5)
    XCTAssertFalse(e.steps.contains { $0.phase == "rea-random" })
    // In a sparse domain most parents have no unqueried neighbour: those children are random and say so.
    let sparse = Array(stride(from: 0, to: all.count, by: 97))
    let s = try RegularisedEvolution(domain: sparse, budget: 40, neighbours: neighbours).run(seed: 2, objective: convs)
    XCTAssertEqual(Set(s.steps.map(\.archIndex)).count, 40)
    XCTAssertTrue(s.steps.allSatisfy { Set(sparse).contains($0.archIndex) })
    XCTAssertGreaterThan(s.steps.filter { $0.phase == "rea-random" }.count, 0)
  }

  func testGreedySearchClimbsToTheGlobalOptimum() throws {
    let all = NB201Architecture.all
    let index = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1.description, $0) })
    let neighbours: @Sendable (Int) -> [Int] = { i in all[i].neighbours.map { index[$0.description]! } }
    var calls = 0
    let (steps, scores) = try GreedySearch(spaceSize: all.count, budget: 200, neighbours: neighbours).run(seed: 7) { archs in
      calls += archs.count
      return archs.map { a in a == 0 ? nil : Double(all[a].edges.filter { $0 == .conv3x3 }.count) }
    }
    XCTAssertEqual(calls, scores.count, "each architecture is scored once")
    XCTAssertLessThanOrEqual(scores.count, 200)
    XCTAssertEqual(steps.last!.bestScore, 6)
    XCTAssertEqual(all[steps.last!.bestArchIndex].edges, Array(repeating: .conv3x3, count: 6))
    for s in steps where s.event == "move" { XCTAssertGreaterThan(s.currentScore, 0) }
  }

  func testCombinationFitIsNoWorseThanBestSingleProxyOnTraining() throws {
    let (pool, objective) = syntheticPool()
    let y = pool.archIndices.map(objective)
    let (c, rho) = try CombinationFit(iterations: 30).fit(train: pool, targets: y, seed: 0)
    XCTAssertGreaterThan(rho, 0.95, "2a - c is expressible exactly")
    XCTAssertGreaterThan(c.weights[0], 0); XCTAssertLessThan(c.weights[2], 0)
  }
}
