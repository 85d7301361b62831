import Foundation
import GRDB
import TestSupport
import XCTest
import ZCEngine

/// Search trajectories: the run description is stored once (search_runs), steps refer to it by an
/// integer id; stores written before that layout are migrated without losing a step.
final class SearchStoreTests: XCTestCase {
  func steps(run: String, seed: Int, n: Int) -> [SearchStepRow] {
    (1...n).map { q in
      SearchStepRow(run: run, strategy: "robot", seed: seed, query: q, archIndex: 100 + q, arch: "|a~\(q)|", objective: Double(q),
                    bestObjective: Double(q), bestArchIndex: 100 + q, phase: "bo", weights: q == 1 ? nil : [0.5, -0.25])
    }
  }

  func testRoundTripStoresEachRunOnce() throws {
    let path = try temporaryFolder("zc-steps").appendingPathComponent("s.sqlite").path
    let store = try ScoreStore(path: path)
    let long = String(repeating: "strategy=robot;space=nb201;", count: 12)
    try store.writeSearch(steps(run: long, seed: 1, n: 5) + steps(run: long, seed: 2, n: 3))
    try store.writeSearch(steps(run: "other", seed: 1, n: 2))
    try store.writeSearch(steps(run: long, seed: 1, n: 4))  // replaces seed 1 of that run only
    let back = try store.searchSteps(run: long)
    XCTAssertEqual(back.map(\.seed), [1, 1, 1, 1, 2, 2, 2])
    XCTAssertEqual(back.first?.weights, nil)
    XCTAssertEqual(back[1].weights, "[0.500000,-0.250000]")
    XCTAssertEqual(try store.searchSteps().count, 9)
    let q = try DatabaseQueue(path: path)
    XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM search_runs") }, 2)
    XCTAssertFalse(try q.read { try $0.columns(in: "search_steps").map(\.name) }.contains("run"), "no run text in the steps")
  }

  /// A store in the earlier layout (run text in every step) opens, migrates, and keeps every step.
  func testEarlierLayoutIsMigrated() throws {
    let path = try temporaryFolder("zc-migrate").appendingPathComponent("old.sqlite").path
    let old = try DatabaseQueue(path: path)
    try old.write { db in
      try db.execute(sql: """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1'), ('v2-search-steps');
        CREATE TABLE scores (space TEXT NOT NULL, dataset TEXT NOT NULL, arch_index INTEGER NOT NULL, arch TEXT NOT NULL,
          metric TEXT NOT NULL, seed INTEGER NOT NULL, batch_size INTEGER NOT NULL, init TEXT NOT NULL, batch TEXT NOT NULL,
          dtype TEXT NOT NULL, value DOUBLE, missing_reason TEXT, seconds DOUBLE NOT NULL, engine_version TEXT NOT NULL,
          created_at TEXT NOT NULL, PRIMARY KEY (space, dataset, arch_index, metric, seed, batch_size, init, batch, dtype));
        CREATE TABLE search_steps (run TEXT NOT NULL, strategy TEXT NOT NULL, seed INTEGER NOT NULL, query INTEGER NOT NULL,
          arch_index INTEGER NOT NULL, arch TEXT NOT NULL, objective DOUBLE NOT NULL, best_objective DOUBLE NOT NULL,
          best_arch_index INTEGER NOT NULL, phase TEXT NOT NULL, weights TEXT, created_at TEXT NOT NULL, PRIMARY KEY (run, seed, query));
        """)
      for (run, strategy, seed) in [("r1", "robot", 10), ("r1", "robot", 11), ("r2", "rea", 10)] {
        for q in 1...3 {
          try db.execute(sql: "INSERT INTO search_steps VALUES (?, ?, ?, ?, ?, '|x|', ?, ?, ?, 'bo', NULL, 't')",
                         arguments: [run, strategy, seed, q, 7 * q, Double(q), Double(q), 7 * q])
        }
      }
    }
    try old.close()
    let store = try ScoreStore(path: path)
    let steps = try store.searchSteps()
    XCTAssertEqual(steps.count, 9)
    XCTAssertEqual(steps.filter { $0.run == "r2" }.map(\.strategy), ["rea", "rea", "rea"])
    XCTAssertEqual(steps.filter { $0.run == "r1" && $0.seed == 11 }.map(\.archIndex), [7, 14, 21])
  }

  /// Trajectories merge by (run, seed, query): new ones are added, equal ones taken once, and a
  /// step that differs is refused (nothing written) unless a preference is given.
  func testTrajectoriesMerge() throws {
    let dir = try temporaryFolder("zc-merge")
    let a = try ScoreStore(path: dir.appendingPathComponent("a.sqlite").path)
    let b = try ScoreStore(path: dir.appendingPathComponent("b.sqlite").path)
    try a.writeSearch(steps(run: "r1", seed: 1, n: 3))
    try b.writeSearch(steps(run: "r1", seed: 1, n: 3) + steps(run: "r2", seed: 5, n: 2))
    let out = try ScoreStore(path: dir.appendingPathComponent("out.sqlite").path)
    let s = try out.merge([a, b], prefer: nil)
    XCTAssertEqual(s.stepsAdded, 5)
    XCTAssertEqual(s.stepsDuplicate, 3)
    XCTAssertEqual(try out.searchSteps().count, 5)
    var changed = steps(run: "r2", seed: 5, n: 2)
    changed[1].archIndex = 999
    let c = try ScoreStore(path: dir.appendingPathComponent("c.sqlite").path)
    try c.writeSearch(changed)
    XCTAssertThrowsError(try out.merge([c], prefer: nil)) { XCTAssertTrue("\($0)".contains("arch 102 vs 999"), "\($0)") }
    XCTAssertEqual(try out.searchSteps(run: "r2").map(\.archIndex), [101, 102], "nothing written")
    _ = try out.merge([c], prefer: .incoming)
    XCTAssertEqual(try out.searchSteps(run: "r2").map(\.archIndex), [101, 999])
  }
}
