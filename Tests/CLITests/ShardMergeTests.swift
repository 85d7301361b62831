import Foundation
import GRDB
import TestSupport
import XCTest

/// `score --shard K/N` partitions a selection by architecture id; `merge` joins shard stores into
/// one that equals a single run row for row, refuses disagreeing values unless told which wins,
/// and writes nothing when it refuses.
final class ShardMergeTests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  private func values(_ path: String) throws -> [String] {
    try DatabaseQueue(path: path).read { db in
      try Row.fetchAll(db, sql: "SELECT space, dataset, arch_index, metric, seed, batch_size, init, batch, dtype, value, missing_reason FROM scores ORDER BY 1,2,3,4")
        .map { r in (0..<11).map { "\(r[$0] as DatabaseValue)" }.joined(separator: "|") }
    }
  }

  func testShardsMergeIntoTheSingleRunInBothSpaces() throws {
    let dir = try temporaryFolder()
    let spaces: [(String, [String])] = [
      ("nb201", ["--archs", "sample:12:4", "--metrics", "params,nwot,synflow"]),
      ("nbnlp", ["--space", "nbnlp", "--archs", "sample:9:4", "--emsize", "8", "--nhid", "12", "--bptt", "12", "--batch-size", "6"]),
    ]
    for (name, args) in spaces {
      let single = dir.appendingPathComponent("\(name)-single.sqlite").path
      XCTAssertEqual(try run(["score"] + args + ["--store", single], in: dir).status, 0)
      var shards: [String] = []
      var scored = 0
      for k in 0..<3 {
        let s = dir.appendingPathComponent("\(name)-shard\(k).sqlite").path
        let r = try run(["score"] + args + ["--shard", "\(k)/3", "--store", s], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        scored += try DatabaseQueue(path: s).read { try Int.fetchOne($0, sql: "SELECT COUNT(DISTINCT arch_index) FROM scores") ?? 0 }
        shards.append(s)
      }
      XCTAssertEqual(scored, name == "nb201" ? 12 : 9, "every architecture in exactly one shard")
      let merged = dir.appendingPathComponent("\(name)-merged.sqlite").path
      let m = try run(["merge", "--store", merged] + shards, in: dir)
      XCTAssertEqual(m.status, 0, m.err)
      XCTAssertEqual(try values(merged), try values(single), "\(name): the merged store equals the single run")
      // Merging again adds nothing.
      XCTAssertTrue(try run(["merge", "--store", merged] + shards, in: dir).out.contains(" 0 rows added"))
    }
  }

  func testDisagreeingValuesAreRefusedUnlessPreferred() throws {
    let dir = try temporaryFolder()
    let a = dir.appendingPathComponent("a.sqlite").path, b = dir.appendingPathComponent("b.sqlite").path
    for s in [a, b] { XCTAssertEqual(try run(["score", "--archs", "3,4", "--metrics", "params", "--store", s], in: dir).status, 0) }
    try DatabaseQueue(path: b).write { try $0.execute(sql: "UPDATE scores SET value = 42 WHERE arch_index = 4") }
    let out = dir.appendingPathComponent("out.sqlite").path
    let r = try run(["merge", "--store", out, a, b], in: dir)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.err.contains("1 key(s) hold different values") && r.err.contains("arch 4/params") && r.err.contains("vs 42.0"), r.err)
    XCTAssertEqual(try DatabaseQueue(path: out).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM scores") }, 0, "nothing written")
    XCTAssertEqual(try run(["merge", "--store", out, a, b, "--prefer", "incoming"], in: dir).status, 0)
    XCTAssertEqual(try DatabaseQueue(path: out).read { try Double.fetchOne($0, sql: "SELECT value FROM scores WHERE arch_index = 4") }, 42)
    let bad = try run(["score", "--archs", "3", "--metrics", "params", "--shard", "3/3", "--store", a], in: dir)
    XCTAssertTrue(bad.err.contains("--shard: expected K/N with 0 <= K < N, found '3/3'"), bad.err)
  }
}
