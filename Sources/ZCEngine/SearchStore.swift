import Foundation
import GRDB

/// One stored query of a search trajectory (`zcnas robot`): table `search_steps`, whose `run_id`
/// refers to the run's description in `search_runs`.
public struct SearchStepRow: Sendable, Codable, Equatable, FetchableRecord {
  /// The run's settings (strategy, space, dataset, objective, budget, proxies, pool), one string.
  public var run: String
  public var strategy: String
  public var seed: Int
  /// 1-based count of distinct architectures queried.
  public var query: Int
  public var archIndex: Int
  public var arch: String
  /// Objective of this architecture and the best so far (percent for accuracies).
  public var objective: Double
  public var bestObjective: Double
  public var bestArchIndex: Int
  public var phase: String
  /// Weights as a JSON array, or nil.
  public var weights: String?
  public var createdAt: String

  enum CodingKeys: String, CodingKey {
    case run, strategy, seed, query, archIndex = "arch_index", arch, objective, bestObjective = "best_objective"
    case bestArchIndex = "best_arch_index", phase, weights, createdAt = "created_at"
  }

  public init(run: String, strategy: String, seed: Int, query: Int, archIndex: Int, arch: String, objective: Double,
              bestObjective: Double, bestArchIndex: Int, phase: String, weights: [Double]?) {
    self.run = run; self.strategy = strategy; self.seed = seed; self.query = query; self.archIndex = archIndex; self.arch = arch
    self.objective = objective; self.bestObjective = bestObjective; self.bestArchIndex = bestArchIndex; self.phase = phase
    self.weights = weights.map { "[" + $0.map { String(format: "%.6f", $0) }.joined(separator: ",") + "]" }
    createdAt = Date().formatted(.iso8601)  // the same text as ISO8601DateFormatter, without building one per row (44 µs each)
  }

  static func migrate(_ migrator: inout DatabaseMigrator) {
    migrator.registerMigration("v2-search-steps") { db in
      try db.create(table: "search_steps") { t in
        t.column("run", .text).notNull()
        t.column("strategy", .text).notNull()
        t.column("seed", .integer).notNull()
        t.column("query", .integer).notNull()
        t.column("arch_index", .integer).notNull()
        t.column("arch", .text).notNull()
        t.column("objective", .double).notNull()
        t.column("best_objective", .double).notNull()
        t.column("best_arch_index", .integer).notNull()
        t.column("phase", .text).notNull()
        t.column("weights", .text)
        t.column("created_at", .text).notNull()
        t.primaryKey(["run", "seed", "query"])
      }
    }
    // The run description (about 300 characters) was repeated in every step and its key: runs get a
    // table of their own with an integer id, and steps refer to it. Existing trajectories are kept.
    migrator.registerMigration("v3-search-runs") { db in
      try db.create(table: "search_runs") { t in
        t.autoIncrementedPrimaryKey("id")
        t.column("run", .text).notNull().unique()
        t.column("strategy", .text).notNull()
      }
      try db.create(table: "search_steps_v3") { t in
        t.column("run_id", .integer).notNull().references("search_runs", onDelete: .cascade)
        t.column("seed", .integer).notNull()
        t.column("query", .integer).notNull()
        t.column("arch_index", .integer).notNull()
        t.column("arch", .text).notNull()
        t.column("objective", .double).notNull()
        t.column("best_objective", .double).notNull()
        t.column("best_arch_index", .integer).notNull()
        t.column("phase", .text).notNull()
        t.column("weights", .text)
        t.column("created_at", .text).notNull()
        t.primaryKey(["run_id", "seed", "query"])
      }
      try db.execute(sql: "INSERT INTO search_runs (run, strategy) SELECT run, MIN(strategy) FROM search_steps GROUP BY run ORDER BY MIN(rowid)")
      try db.execute(sql: """
        INSERT INTO search_steps_v3 (run_id, seed, query, arch_index, arch, objective, best_objective, best_arch_index, phase, weights, created_at)
        SELECT r.id, s.seed, s.query, s.arch_index, s.arch, s.objective, s.best_objective, s.best_arch_index, s.phase, s.weights, s.created_at
        FROM search_steps s JOIN search_runs r ON r.run = s.run
        """)
      try db.drop(table: "search_steps")
      try db.rename(table: "search_steps_v3", to: "search_steps")
    }
  }
}

extension ScoreStore {
  /// Replaces the trajectory of (`run`, seed) with `steps`, in one transaction. The run's
  /// description is stored once (table `search_runs`), the steps under its integer id.
  /// - Throws: ``StoreError`` when the write fails (nothing is written then).
  public func writeSearch(_ steps: [SearchStepRow]) throws {
    try writing { db in try Self.insertSearch(steps, db) }
  }

  /// ``writeSearch(_:)``'s work inside a caller's transaction.
  static func insertSearch(_ steps: [SearchStepRow], _ db: Database) throws {
    do {
      var ids: [String: Int64] = [:]
      for s in steps where ids[s.run] == nil {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM search_runs WHERE run = ?", arguments: [s.run]) {
          ids[s.run] = id
        } else {
          try db.execute(sql: "INSERT INTO search_runs (run, strategy) VALUES (?, ?)", arguments: [s.run, s.strategy])
          ids[s.run] = db.lastInsertedRowID
        }
      }
      for key in Set(steps.map { [$0.run, String($0.seed)] }) {
        try db.execute(sql: "DELETE FROM search_steps WHERE run_id = ? AND seed = ?", arguments: [ids[key[0]]!, Int(key[1])!])
      }
      for s in steps {
        try db.execute(sql: """
          INSERT INTO search_steps (run_id, seed, query, arch_index, arch, objective, best_objective, best_arch_index, phase, weights, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """, arguments: [ids[s.run]!, s.seed, s.query, s.archIndex, s.arch, s.objective, s.bestObjective, s.bestArchIndex, s.phase, s.weights, s.createdAt])
      }
    }
  }

  /// Stored trajectories of one run (all seeds), or of every run when `run` is nil, ordered by run,
  /// seed and query.
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func searchSteps(run: String? = nil) throws -> [SearchStepRow] {
    try reading { db in
      var sql = """
        SELECT r.run AS run, r.strategy AS strategy, s.seed, s.query, s.arch_index, s.arch, s.objective, s.best_objective,
               s.best_arch_index, s.phase, s.weights, s.created_at
        FROM search_steps s JOIN search_runs r ON r.id = s.run_id
        """
      var args: StatementArguments = []
      if let run { sql += " WHERE r.run = ?"; args = [run] }
      sql += " ORDER BY r.run, s.seed, s.query"
      return try SearchStepRow.fetchAll(db, sql: sql, arguments: args)
    }
  }
}
