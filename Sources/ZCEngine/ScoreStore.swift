import Foundation
import GRDB

/// What identifies one stored score.
public struct ScoreKey: Hashable, Sendable {
  public var space: String
  public var dataset: String
  public var archIndex: Int
  public var metric: String
  public var seed: Int
  public var batchSize: Int
  /// How the network was initialised: "pytorch-default" (seeded), or "weights:<file name>@<sha256 prefix>".
  public var initialisation: String
  /// Where the minibatch came from: "sampled" (from the dataset with the seed) or "file:<name>@<sha256 prefix>".
  public var batchSource: String
  /// Network precision ("float32" or "float64").
  public var dtype: String

  public init(space: String, dataset: String, archIndex: Int, metric: String, seed: Int, batchSize: Int,
              initialisation: String, batchSource: String, dtype: String) {
    self.space = space; self.dataset = dataset; self.archIndex = archIndex; self.metric = metric
    self.seed = seed; self.batchSize = batchSize; self.initialisation = initialisation
    self.batchSource = batchSource; self.dtype = dtype
  }
}

/// One row of the store: a value or a missing-value reason, the wall seconds it took, the engine
/// version and the numerics version (``Numerics/version``) that computed it.
public struct ScoreRow: Sendable, Codable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "scores"
  public var space: String
  public var dataset: String
  public var archIndex: Int
  public var arch: String
  public var metric: String
  public var seed: Int
  public var batchSize: Int
  public var initialisation: String
  public var batchSource: String
  public var dtype: String
  /// The proxy value (nil when missing).
  public var value: Double?
  /// Why the value is missing (nil when present).
  public var missingReason: String?
  /// Wall-clock seconds of this proxy on this architecture (shared passes counted once, by the
  /// first proxy that needed them).
  public var seconds: Double
  public var engineVersion: String
  /// The numerics version that computed the value (``Numerics/version``): rows with the same
  /// version, key and inputs are bit-identical. Nil for rows written before it was recorded
  /// (zcnas stores and tables of 2026-11 and earlier).
  public var numerics: String?
  /// ISO-8601 time of writing.
  public var createdAt: String

  enum CodingKeys: String, CodingKey {
    case space, dataset, archIndex = "arch_index", arch, metric, seed, batchSize = "batch_size"
    case initialisation = "init", batchSource = "batch", dtype, value, missingReason = "missing_reason", seconds
    case engineVersion = "engine_version", numerics, createdAt = "created_at"
  }

  public init(key: ScoreKey, arch: String, value: ProxyValue, seconds: Double, engineVersion: String, numerics: String? = nil) {
    space = key.space; dataset = key.dataset; archIndex = key.archIndex; self.arch = arch; metric = key.metric
    seed = key.seed; batchSize = key.batchSize; initialisation = key.initialisation; batchSource = key.batchSource; dtype = key.dtype
    if case let .missing(r) = value { self.value = nil; missingReason = r } else { self.value = value.number; missingReason = nil }
    self.seconds = seconds; self.engineVersion = engineVersion; self.numerics = numerics
    createdAt = Date().formatted(.iso8601)  // the same text as ISO8601DateFormatter, without building one per row (44 µs each)
  }
}

/// The SQLite store of scores (GRDB). One row per (space, dataset, architecture index, metric,
/// seed, batch size, initialisation, batch source, dtype). Each architecture's rows are written in one transaction, so
/// an interrupted run loses at most the architecture in progress and a re-run skips what is stored.
public final class ScoreStore: @unchecked Sendable {
  public let path: String
  let db: DatabaseQueue

  /// Opens (creating if needed) the store at `path` and applies migrations.
  /// - Throws: a `StoreError` naming the file when the path is empty or a folder, when it cannot be
  ///   opened, when it is not an SQLite file, or when it is an SQLite database of another program
  ///   (tables but no zcnas `scores` table: zcnas adds its tables only to its own stores and to
  ///   empty databases).
  public init(path: String) throws {
    self.path = path
    guard !path.isEmpty else { throw StoreError(path: "''", reason: "expected a file path, found an empty string (SQLite would use a throwaway temporary database)") }
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
      throw StoreError(path: path, reason: "is a folder; expected a store file such as \(path)/zcnas.sqlite")
    }
    do {
      var config = Configuration()
      config.busyMode = .timeout(10)
      db = try DatabaseQueue(path: path, configuration: config)
      let tables = try db.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") }
      let foreign = "is an SQLite database of another program (tables \(tables.sorted().prefix(5).joined(separator: ", "))); zcnas writes only to its own stores or to new or empty files"
      if !tables.isEmpty {
        guard tables.contains("scores"), tables.contains("grdb_migrations") else { throw StoreError(path: path, reason: foreign) }
        let cols = Set(try db.read { db in try db.columns(in: "scores").map(\.name) })
        guard cols.isSuperset(of: ["space", "dataset", "arch_index", "arch", "metric", "seed", "batch_size", "init", "value", "missing_reason"]) else {
          throw StoreError(path: path, reason: foreign)
        }
      }
      var migrator = DatabaseMigrator()
      migrator.registerMigration("v1") { db in
        try db.create(table: "scores") { t in
          t.column("space", .text).notNull()
          t.column("dataset", .text).notNull()
          t.column("arch_index", .integer).notNull()
          t.column("arch", .text).notNull()
          t.column("metric", .text).notNull()
          t.column("seed", .integer).notNull()
          t.column("batch_size", .integer).notNull()
          t.column("init", .text).notNull()
          t.column("batch", .text).notNull()
          t.column("dtype", .text).notNull()
          t.column("value", .double)
          t.column("missing_reason", .text)
          t.column("seconds", .double).notNull()
          t.column("engine_version", .text).notNull()
          t.column("created_at", .text).notNull()
          t.primaryKey(["space", "dataset", "arch_index", "metric", "seed", "batch_size", "init", "batch", "dtype"])
        }
      }
      SearchStepRow.migrate(&migrator)
      migrator.registerMigration("v4-numerics") { db in
        // Rows stored before keep NULL: their numerics version was not recorded.
        try db.alter(table: "scores") { t in t.add(column: "numerics", .text) }
      }
      let applied = try db.read { try migrator.appliedIdentifiers($0) }
      try migrator.migrate(db)
      // The v3 migration moves trajectories out of a table that may hold hundreds of MB: give
      // the space back to the file system (VACUUM runs outside any transaction).
      if !applied.isEmpty && !applied.contains("v3-search-runs") { try db.vacuum() }
      let columns = try db.read { db in try db.columns(in: "scores").map(\.name) }
      guard columns.contains("batch") && columns.contains("dtype") else {
        throw StoreError(path: path, reason: "written by an earlier development version of zcnas (no batch/dtype key columns); score into a new store")
      }
    } catch let e as StoreError {
      throw e
    } catch {
      throw StoreError(path: path, reason: "\(error)")
    }
  }

  /// The run settings of a score's key (all of it but the architecture and the metric) as an SQL
  /// condition, with its arguments from ``settingsArguments(_:)`` in the same order.
  private static let settings = "space = ? AND dataset = ? AND seed = ? AND batch_size = ? AND init = ? AND batch = ? AND dtype = ?"

  private static func settingsArguments(_ key: ScoreKey) -> StatementArguments {
    [key.space, key.dataset, key.seed, key.batchSize, key.initialisation, key.batchSource, key.dtype]
  }

  /// (architecture index, metric) pairs already stored for the settings of `key` (its
  /// architecture and metric are ignored).
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func stored(like key: ScoreKey) throws -> Set<[String]> {
    try reading { db in
      let rows = try Row.fetchAll(db, sql: """
        SELECT arch_index, metric FROM scores
        WHERE \(Self.settings)
        """, arguments: Self.settingsArguments(key))
      return Set(rows.map { [String(($0["arch_index"] as Int?) ?? -1), ($0["metric"] as String?) ?? ""] })
    }
  }

  /// Rows stored under the settings of `key` (its architecture and metric are ignored) for the
  /// architectures `ids` only, read by index (cheap for a few ids in a store of the full space).
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func rows(like key: ScoreKey, ids: Set<Int>) throws -> [ScoreRow] {
    if ids.isEmpty { return [] }
    return try reading { db in
      try ScoreRow.fetchAll(db, sql: """
        SELECT * FROM scores
        WHERE \(Self.settings)
        AND arch_index IN (\(ids.sorted().map(String.init).joined(separator: ",")))
        ORDER BY arch_index, metric
        """, arguments: Self.settingsArguments(key))
    }
  }

  /// Metrics stored for one architecture (or recipe) under the settings of `key` (its architecture
  /// and metric are ignored).
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func storedMetrics(like key: ScoreKey, archIndex: Int) throws -> Set<String> {
    try reading { db in
      Set(try String.fetchAll(db, sql: """
        SELECT metric FROM scores
        WHERE \(Self.settings) AND arch_index = ?
        """, arguments: Self.settingsArguments(key) + [archIndex]))
    }
  }

  /// Fails unless the store can be written now (a read-only file or folder, a locked database):
  /// commands call it before long work so results are never computed and then lost.
  /// - Throws: ``StoreError`` naming the store.
  public func ensureWritable() throws {
    try writing { db in try db.execute(sql: "CREATE TABLE IF NOT EXISTS zcnas_write_check (x INTEGER); DROP TABLE zcnas_write_check") }
  }

  /// What an import did: rows added, replaced with a different value, already equal, and present
  /// values kept because the imported row had a missing value (without `replace`).
  public struct ImportSummary: Sendable, Equatable {
    public var added = 0, replaced = 0, unchanged = 0, keptPresent = 0
    public init() {}
  }

  /// Imports rows in one transaction. A row whose key is new is added; a row equal in value (bit
  /// for bit) and missing reason to the stored one is left alone, except that a stored row
  /// without a numerics version takes the imported row's; a missing value never replaces a present
  /// one unless `replace` (it is counted in `keptPresent`); any other difference replaces.
  /// - Throws: ``StoreError`` (nothing is written then).
  public func importRows(_ rows: [ScoreRow], replace: Bool) throws -> ImportSummary {
    var out = ImportSummary()
    try writing { db in
      let stmt = try db.makeStatement(sql: """
        SELECT value, missing_reason, numerics FROM scores WHERE \(Self.settings) AND arch_index = ? AND metric = ?
        """)
      let label = try db.makeStatement(sql: """
        UPDATE scores SET numerics = ? WHERE \(Self.settings) AND arch_index = ? AND metric = ?
        """)
      for r in rows {
        let where_: StatementArguments = [r.space, r.dataset, r.seed, r.batchSize, r.initialisation, r.batchSource, r.dtype, r.archIndex, r.metric]
        let old = try Row.fetchOne(stmt, arguments: where_)
        guard let old else { try r.insert(db); out.added += 1; continue }
        let (v, why, numerics): (Double?, String?, String?) = (old["value"], old["missing_reason"], old["numerics"])
        if v?.bitPattern == r.value?.bitPattern && why == r.missingReason {
          // The same value, bit for bit: a row without a numerics version learns the engine that reproduces it.
          if numerics == nil, let n = r.numerics { try label.execute(arguments: [n] + where_) }
          out.unchanged += 1
          continue
        }
        if v != nil && r.value == nil && !replace { out.keptPresent += 1; continue }
        try r.insert(db, onConflict: .replace)
        out.replaced += 1
      }
    }
    return out
  }

  /// How many of the rows stored under the settings of `key` for the architectures `ids` were
  /// computed with a numerics version other than `current` (nil versions, from stores written
  /// before versions were recorded, count as other), by version ("unrecorded" for nil).
  /// - Throws: ``StoreError`` when the database cannot be read.
  public func otherNumerics(like key: ScoreKey, ids: Set<Int>, current: String) throws -> [String: Int] {
    if ids.isEmpty { return [:] }
    // One GROUP BY query: the row count of every numerics version (NULL: "unrecorded").
    return try reading { db in
      var out: [String: Int] = [:]
      for row in try Row.fetchAll(db, sql: """
        SELECT numerics, COUNT(*) AS n FROM scores
        WHERE \(Self.settings)
        AND arch_index IN (\(ids.sorted().map(String.init).joined(separator: ",")))
        GROUP BY numerics
        """, arguments: Self.settingsArguments(key)) {
        let version: String? = row["numerics"]
        guard version != current else { continue }
        out[version ?? "unrecorded", default: 0] += row["n"] as Int
      }
      return out
    }
  }

  /// Writes rows in one transaction (all or nothing), replacing rows with the same key.
  /// - Throws: ``StoreError`` when the write fails (nothing is written then).
  public func write(_ rows: [ScoreRow]) throws {
    try writing { db in for r in rows { try r.insert(db, onConflict: .replace) } }
  }

  /// Rows for a space and dataset, optionally only one seed, batch size and architecture, ordered by
  /// architecture and metric. - Throws: ``StoreError`` when the database cannot be read.
  public func rows(space: String, dataset: String, seed: Int? = nil, batchSize: Int? = nil, archIndex: Int? = nil) throws -> [ScoreRow] {
    try reading { db in
      var req = ScoreRow.filter(Column("space") == space && Column("dataset") == dataset)
      if let archIndex { req = req.filter(Column("arch_index") == archIndex) }
      if let seed { req = req.filter(Column("seed") == seed) }
      if let batchSize { req = req.filter(Column("batch_size") == batchSize) }
      return try req.order(Column("arch_index"), Column("metric")).fetchAll(db)
    }
  }
}

extension ScoreStore {
  /// Runs `body` in one read transaction; any failure (GRDB's or one `body` throws) becomes a
  /// ``StoreError`` naming this store.
  func reading<T>(_ body: (Database) throws -> T) throws -> T {
    do { return try db.read(body) } catch { throw StoreError(path: path, reason: "\(error)") }
  }

  /// Runs `body` in one write transaction (all or nothing); any failure (GRDB's or one `body`
  /// throws) becomes a ``StoreError`` naming this store, and nothing is written.
  func writing(_ body: (Database) throws -> Void) throws {
    do { try db.write(body) } catch { throw StoreError(path: path, reason: "\(error)") }
  }
}

/// A store that cannot be opened, read or written.
public struct StoreError: Error, CustomStringConvertible {
  public let path: String
  public let reason: String
  public var description: String { "store \(path): \(reason)" }
}
