import Foundation
import GRDB
import TestSupport
import XCTest
import ZCEngine
import ZCTensor

/// The numerics version (issue 15, item 10) is recorded in every row: stores migrate with it
/// unrecorded (NULL) for earlier rows, tables carry it in a `numerics` column, and tables
/// written before it existed still read.
final class NumericsVersionTests: XCTestCase {
  func key(_ a: Int, _ m: String) -> ScoreKey {
    ScoreKey(space: "nb201", dataset: "cifar10", archIndex: a, metric: m, seed: 0, batchSize: 64, initialisation: "pytorch-default",
             batchSource: "sampled", dtype: "float32")
  }

  /// The version names the revision, the convolution path and the BLAS core, in that order, and
  /// the core is the one OpenBLAS reports (which `OPENBLAS_CORETYPE` chooses when set).
  func testVersionFormat() {
    let parts = Numerics.version.split(separator: "-").map(String.init)
    XCTAssertEqual(parts.count, 4, Numerics.version)
    XCTAssertEqual(parts[0], "n\(Numerics.revision)")
    XCTAssertTrue(["avx512", "portable"].contains(parts[1]), Numerics.version)
    XCTAssertTrue(parts[2].hasPrefix("openblas0."), Numerics.version)
    XCTAssertEqual(parts[3], OpenBLAS.coreName.lowercased())
    if let core = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !core.isEmpty {
      XCTAssertEqual(parts[3], core.lowercased(), "OpenBLAS should use the core OPENBLAS_CORETYPE names")
    }
  }

  func testTableColumnRoundTripAndOlderTables() throws {
    let rows = [
      ScoreRow(key: key(1, "nwot"), arch: "a", value: .value(1.5), seconds: 0, engineVersion: "0.1.0", numerics: "n1-avx512-openblas0.3.21-haswell"),
      ScoreRow(key: key(2, "nwot"), arch: "a", value: .value(2.5), seconds: 0, engineVersion: "0.1.0"),
    ]
    let text = ScoreTable.csv(rows)
    XCTAssertEqual(ScoreTable.columns.last, "numerics")
    let back = try ScoreTable.parse(text, source: "t")
    XCTAssertEqual(back.map(\.numerics), ["n1-avx512-openblas0.3.21-haswell", nil])
    // A table written before the column existed (zcnas of 2026-11) reads with nil versions.
    let old = """
      space,dataset,arch_index,arch,metric,seed,batch_size,init,batch,dtype,value,missing_reason,seconds,engine_version
      nb201,cifar10,7,a,snip,0,64,pytorch-default,sampled,float32,3.25,,0.5,0.1.0

      """
    let o = try ScoreTable.parse(old, source: "old.csv")
    XCTAssertEqual(o.count, 1)
    XCTAssertNil(o[0].numerics)
    XCTAssertEqual(o[0].value, 3.25)
  }

  /// A store of the earlier layout (no numerics column) migrates: its rows read as unrecorded and
  /// are counted as other numerics; rows written now carry the version.
  func testStoreMigrationAndOtherNumerics() throws {
    let path = try temporaryFolder("zc-numerics").appendingPathComponent("old.sqlite").path
    let old = try DatabaseQueue(path: path)
    try old.write { db in
      try db.execute(sql: """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1'), ('v2-search-steps'), ('v3-search-runs');
        CREATE TABLE scores (space TEXT NOT NULL, dataset TEXT NOT NULL, arch_index INTEGER NOT NULL, arch TEXT NOT NULL,
          metric TEXT NOT NULL, seed INTEGER NOT NULL, batch_size INTEGER NOT NULL, init TEXT NOT NULL, batch TEXT NOT NULL,
          dtype TEXT NOT NULL, value DOUBLE, missing_reason TEXT, seconds DOUBLE NOT NULL, engine_version TEXT NOT NULL,
          created_at TEXT NOT NULL, PRIMARY KEY (space, dataset, arch_index, metric, seed, batch_size, init, batch, dtype));
        CREATE TABLE search_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL UNIQUE, strategy TEXT NOT NULL);
        CREATE TABLE search_steps (run_id INTEGER NOT NULL, seed INTEGER NOT NULL, query INTEGER NOT NULL,
          arch_index INTEGER NOT NULL, arch TEXT NOT NULL, objective DOUBLE NOT NULL, best_objective DOUBLE NOT NULL,
          best_arch_index INTEGER NOT NULL, phase TEXT NOT NULL, weights TEXT, created_at TEXT NOT NULL, PRIMARY KEY (run_id, seed, query));
        INSERT INTO scores VALUES ('nb201', 'cifar10', 1, 'a', 'nwot', 0, 64, 'pytorch-default', 'sampled', 'float32', 9.5, NULL, 1, '0.1.0', 't');
        """)
    }
    try old.close()
    let store = try ScoreStore(path: path)
    XCTAssertEqual(try store.rows(space: "nb201", dataset: "cifar10").map(\.numerics), [nil])
    try store.write([ScoreRow(key: key(2, "nwot"), arch: "a", value: .value(1), seconds: 0, engineVersion: "0.1.0", numerics: Numerics.version)])
    let rows = try store.rows(space: "nb201", dataset: "cifar10")
    XCTAssertEqual(rows.map(\.numerics), [nil, Numerics.version])
    XCTAssertEqual(try store.otherNumerics(like: key(0, ""), ids: [1, 2], current: Numerics.version), ["unrecorded": 1])
    XCTAssertEqual(try store.otherNumerics(like: key(0, ""), ids: [2], current: Numerics.version), [:])
  }

  /// Importing a row equal bit for bit to a stored row without a version labels the stored row
  /// (the value is now known to be reproduced by that engine); a different value replaces the
  /// row with its version; an equal row never loses the version it has.
  func testImportLabelsEqualRows() throws {
    let store = try ScoreStore(path: try temporaryFolder("zc-numerics").appendingPathComponent("s.sqlite").path)
    try store.write([ScoreRow(key: key(1, "snip"), arch: "a", value: .value(0.5), seconds: 1, engineVersion: "0.1.0"),
                     ScoreRow(key: key(2, "snip"), arch: "a", value: .value(0.25), seconds: 1, engineVersion: "0.1.0"),
                     ScoreRow(key: key(3, "snip"), arch: "a", value: .value(4), seconds: 1, engineVersion: "0.1.0", numerics: "n1-x-y-z")])
    let incoming = [ScoreRow(key: key(1, "snip"), arch: "a", value: .value(0.5), seconds: 2, engineVersion: "0.1.0", numerics: "n2-x-y-z"),
                    ScoreRow(key: key(2, "snip"), arch: "a", value: .value(0.25000000000000006), seconds: 2, engineVersion: "0.1.0", numerics: "n2-x-y-z"),
                    ScoreRow(key: key(3, "snip"), arch: "a", value: .value(4), seconds: 2, engineVersion: "0.1.0", numerics: "n2-x-y-z")]
    let s = try store.importRows(incoming, replace: false)
    XCTAssertEqual([s.added, s.replaced, s.unchanged], [0, 1, 2])
    let rows = try store.rows(space: "nb201", dataset: "cifar10")
    XCTAssertEqual(rows.map(\.numerics), ["n2-x-y-z", "n2-x-y-z", "n1-x-y-z"])
    XCTAssertEqual(rows.map(\.value), [0.5, 0.25000000000000006, 4])
    XCTAssertEqual(rows.map(\.seconds), [1, 2, 1], "unchanged rows keep their row; a replaced one is the imported row")
  }
}
