import Foundation
import GRDB

/// One stored query of a search trajectory (`zcnas robot`), table `search_steps`.
public struct SearchStepRow: Sendable, Codable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "search_steps"
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
  }
}

extension ScoreStore {
  /// Replaces the trajectory of (`run`, seed) with `steps`, in one transaction.
  /// - Throws: ``StoreError`` when the write fails (nothing is written then).
  public func writeSearch(_ steps: [SearchStepRow]) throws {
    try writing { db in
      for key in Set(steps.map { [$0.run, String($0.seed)] }) {
        try db.execute(sql: "DELETE FROM search_steps WHERE run = ? AND seed = ?", arguments: [key[0], Int(key[1])!])
      }
      for s in steps { try s.insert(db) }
    }
  }

  /// Stored trajectories of one run (all seeds), or of every run when `run` is nil, ordered by run,
  /// seed and query.
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func searchSteps(run: String? = nil) throws -> [SearchStepRow] {
    try reading { db in
      var req = SearchStepRow.all()
      if let run { req = req.filter(Column("run") == run) }
      return try req.order(Column("run"), Column("seed"), Column("query")).fetchAll(db)
    }
  }
}
