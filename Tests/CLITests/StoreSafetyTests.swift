import Foundation
import GRDB
import TestSupport
import XCTest

/// The store never loses or silently replaces scores: bad store paths and other programs'
/// databases are refused before any work, an import does not put missing values over present
/// ones unless asked, and scores of other image files are kept apart from the shipped subset's.
final class StoreSafetyTests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  func testBadStorePathsAndForeignDatabasesAreRefused() throws {
    let dir = try temporaryFolder()
    let foreign = dir.appendingPathComponent("app.sqlite").path
    try DatabaseQueue(path: foreign).write { try $0.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)") }
    let notSQLite = dir.appendingPathComponent("notes.sqlite")
    try "just some text, not a database at all, long enough to have a header".write(to: notSQLite, atomically: true, encoding: .utf8)
    let cases: [([String], String)] = [
      (["score", "--archs", "0", "--metrics", "params", "--store", ""], "expected a file path, found an empty string"),
      (["score", "--archs", "0", "--metrics", "params", "--store", dir.path], "is a folder"),
      (["score", "--archs", "0", "--metrics", "params", "--store", foreign], "is an SQLite database of another program (tables users)"),
      (["correlate", "--store", foreign], "is an SQLite database of another program"),
      (["score", "--archs", "0", "--metrics", "params", "--store", notSQLite.path], "notes.sqlite"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
    // The other program's database is untouched: still one table.
    XCTAssertEqual(try DatabaseQueue(path: foreign).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }, ["users"])
  }

  /// A table whose rows are missing values for keys the store holds as present values: the present
  /// values stay (and the count says so); with --replace, the missing values are imported.
  func testImportKeepsPresentValuesUnlessReplace() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let table = dir.appendingPathComponent("t.csv").path
    XCTAssertEqual(try run(["score", "--archs", "0,1,2", "--metrics", "params,synflow", "--store", store, "--output", table], in: dir).status, 0)
    var text = try String(contentsOfFile: table, encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    let header = lines[0].split(separator: ",").map(String.init)
    let valueAt = header.firstIndex(of: "value")!, reasonAt = header.firstIndex(of: "missing_reason")!
    // Blank every synflow value and give a reason, as a failed run of another machine would.
    text = ([lines[0]] + lines.dropFirst().map { line -> String in
      guard line.contains(",synflow,") else { return line }
      var f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      f[valueAt] = ""; f[reasonAt] = "error: elsewhere"
      return f.joined(separator: ",")
    }).joined(separator: "\n") + "\n"
    try text.write(toFile: table, atomically: true, encoding: .utf8)
    let i = try run(["import", table, "--store", store], in: dir)
    XCTAssertEqual(i.status, 0, i.err)
    XCTAssertTrue(i.out.contains("0 added, 0 replaced, 3 unchanged, 3 missing values not imported over present ones"), i.out)
    let kept = try run(["export", "--store", store, "--metrics", "synflow", "--output", dir.appendingPathComponent("k.csv").path], in: dir)
    XCTAssertEqual(kept.status, 0, kept.err)
    XCTAssertFalse(try String(contentsOfFile: dir.appendingPathComponent("k.csv").path, encoding: .utf8).contains("error: elsewhere"))
    let r = try run(["import", table, "--store", store, "--replace"], in: dir)
    XCTAssertTrue(r.out.contains("0 added, 3 replaced, 3 unchanged"), r.out)
  }

  /// `import --reproducible-only` takes only rows of this engine's numerics version: a table with
  /// rows of another version and rows without one seeds a store that `score` then continues,
  /// recomputing exactly the rows that were skipped.
  func testImportReproducibleOnlySkipsOtherNumerics() throws {
    let dir = try temporaryFolder()
    let table = dir.appendingPathComponent("t.csv").path
    XCTAssertEqual(try run(["score", "--archs", "0,1,2", "--metrics", "params", "--store", dir.appendingPathComponent("a.sqlite").path,
                            "--output", table], in: dir).status, 0)
    let lines = try String(contentsOfFile: table, encoding: .utf8).split(separator: "\n").map(String.init)
    let header = lines[0].split(separator: ",").map(String.init)
    let at = header.firstIndex(of: "numerics")!, arch = header.firstIndex(of: "arch_index")!
    // Architecture 1: another engine's version; architecture 2: none recorded.
    let edited = [lines[0]] + lines.dropFirst().map { line -> String in
      var f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      if f[arch] == "1" { f[at] = "n0-portable-otherblas" }
      if f[arch] == "2" { f[at] = "" }
      return f.joined(separator: ",")
    }
    try (edited.joined(separator: "\n") + "\n").write(toFile: table, atomically: true, encoding: .utf8)
    let store = dir.appendingPathComponent("s.sqlite").path
    let i = try run(["import", table, "--store", store, "--reproducible-only"], in: dir)
    XCTAssertEqual(i.status, 0, i.err)
    XCTAssertTrue(i.err.contains("2 of 3 rows skipped"), i.err)
    XCTAssertTrue(i.out.contains("imported 1 rows (1 architectures"), i.out)
    let s = try run(["score", "--archs", "0,1,2", "--metrics", "params", "--store", store], in: dir)
    XCTAssertTrue(s.out.contains("scored 2 architecture(s), 1 already stored"), s.out + s.err)
  }

  /// Scores of other image files get a batch label with the files' fingerprint: a second run on
  /// other images is scored, not reported as already stored.
  func testOtherImageFilesAreNotTakenForTheShippedSubset() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let shipped = TestPaths.datasets + "/cifar10/test_subset.bin"
    let a = try run(["score", "--archs", "5", "--metrics", "nwot", "--store", store], in: dir)
    XCTAssertTrue(a.out.contains("scored 1 architecture(s), 0 already stored"), a.out)
    let b = try run(["score", "--archs", "5", "--metrics", "nwot", "--store", store, "--data", shipped], in: dir)
    XCTAssertTrue(b.out.contains("scored 1 architecture(s), 0 already stored"), b.out + b.err)
    let c = try run(["score", "--archs", "5", "--metrics", "nwot", "--store", store, "--data", shipped], in: dir)
    XCTAssertTrue(c.out.contains("scored 0 architecture(s), 1 already stored"), c.out)
    let rows = try DatabaseQueue(path: store).read { try String.fetchAll($0, sql: "SELECT batch FROM scores ORDER BY batch") }
    XCTAssertEqual(rows.count, 2)
    XCTAssertEqual(rows[0], "sampled")
    XCTAssertTrue(rows[1].hasPrefix("sampled:test_subset.bin@"), rows[1])
  }

  /// The pipeline's keys are those of the shipped table: after importing it, scoring two of its
  /// architectures with the same settings finds them stored (nothing is scored twice).
  func testShippedRowsAreFoundUnderThePipelinesKeys() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let i = try run(["import", TestPaths.datasets + "/nb201-scores/nb201_cifar10_seed0_b64.csv.gz", "--store", store], in: dir)
    XCTAssertEqual(i.status, 0, i.err)
    let r = try run(["score", "--archs", "0,9930", "--metrics", "params,flops,nwot", "--seed", "0", "--batch-size", "64", "--store", store], in: dir)
    XCTAssertTrue(r.out.contains("scored 0 architecture(s), 2 already stored"), r.out + r.err)
    let g = try run(["search", "--store", store, "--proxy", "synflow", "--budget", "30", "--no-scoring", "--dataset", "cifar10"], in: dir)
    XCTAssertTrue(g.out.contains("architectures scored during this run: 0"), g.out + g.err)
  }

  /// export-weights builds no minibatch: it works where scoring would need images it lacks.
  func testExportWeightsNeedsNoImages() throws {
    let dir = try temporaryFolder()
    for dataset in ["cifar100", "imagenet16-120"] {
      let out = dir.appendingPathComponent("\(dataset).safetensors").path
      let r = try run(["export-weights", "--arch", "9930", "--dataset", dataset, "--output", out], in: dir)
      XCTAssertEqual(r.status, 0, r.err)
      XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }
  }
}
