import Foundation
import TestSupport
import XCTest

/// `zcnas score/correlate/verify --space nbnlp` end to end at small model sizes.
final class NBNLPCLITests: XCTestCase {
  static let root = ZCNASRunner.root

  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  private func tempDir() throws -> URL { try temporaryFolder("zcnas-nbnlp") }

  func testBadInputGivesOneLineError() throws {
    let dir = try tempDir()
    let cases: [([String], String)] = [
      (["score", "--space", "nbnlp", "--dataset", "cifar10"], "expected one of wikitext2, ptb for --space nbnlp, found 'cifar10'"),
      (["score", "--space", "nbnlp", "--metrics", "hidden_cov,grasp"], "grasp is a proxy of image-classifier models, not of recurrent-lm"),
      (["score", "--space", "nbnlp", "--metrics", "hidden_cov,magic"], "unknown proxy 'magic'; available for --space nbnlp: synflow, nwot, hidden_cov"),
      (["score", "--metrics", "hidden_cov"], "hidden_cov is a proxy of recurrent-lm models, not of image-classifier"),
      (["score", "--space", "nbnlp", "--archs", "42"], "recipe id 42 is not in the NAS-Bench-NLP WikiText-2 subset"),
      (["score", "--space", "nbnlp", "--archs", "1000001", "--bptt", "30000"], "--bptt/--batch-size"),
      (["correlate", "--space", "nbnlp", "--store", dir.appendingPathComponent("none.sqlite").path], "no such store"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
  }

  /// Score 8 recipes at a tiny size, correlate against the WikiText-2 test loss, verify the fixtures.
  func testScoreCorrelateVerify() throws {
    let dir = try tempDir()
    let store = dir.appendingPathComponent("s.sqlite").path
    let args = ["score", "--space", "nbnlp", "--dataset", "wikitext2", "--archs", "sample:8:1", "--emsize", "8", "--nhid", "12",
                "--bptt", "12", "--batch-size", "6", "--store", store]
    let r = try run(args, in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("scored 8 recipe(s), 0 already stored; 5 proxies"), r.out)
    XCTAssertTrue(try run(args, in: dir).out.contains("scored 0 recipe(s), 8 already stored"))
    let c = try run(["correlate", "--space", "nbnlp", "--store", store], in: dir)
    XCTAssertEqual(c.status, 0, c.err)
    XCTAssertTrue(c.out.contains("LOWER final_test_loss is better"), c.out)
    let line = try XCTUnwrap(c.out.split(separator: "\n").first { $0.hasPrefix("hidden_cov ") }, c.out)
    let fields = line.split(separator: " ")
    // 8 recipes drawn from 344 ids; the diverged ones (4) would count as missing.
    XCTAssertEqual(Int(fields[2])! + Int(fields[3])!, 8, String(line))
    let v = try run(["verify", Self.root.appendingPathComponent("Tests/Fixtures/nbnlp").path], in: dir)
    XCTAssertEqual(v.status, 0, v.out + v.err)
    XCTAssertTrue(v.out.contains("verify: 12 passed, 0 failed"), v.out)
  }

  /// robot, fit and search take --space nbnlp: on 40 recipes scored at a tiny size, RoBoT and random
  /// search spend the budget on distinct recipes of the pool and report losses; fit splits the pool;
  /// greedy search, without a neighbourhood, restarts after every recipe; REA is refused by name.
  func testRobotFitSearchOnNBNLP() throws {
    let dir = try tempDir()
    let store = dir.appendingPathComponent("s.sqlite").path
    let tiny = ["--emsize", "8", "--nhid", "12", "--bptt", "12", "--batch-size", "6"]
    let r = try run(["score", "--space", "nbnlp", "--archs", "sample:40:2", "--store", store] + tiny, in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    for strategy in ["robot", "random"] {
      let out = dir.appendingPathComponent("\(strategy).csv").path
      let b = try run(["robot", "--space", "nbnlp", "--store", store, "--strategy", strategy, "--budget", "8", "--seeds", "1..2", "--output", out], in: dir)
      XCTAssertEqual(b.status, 0, b.err)
      XCTAssertTrue(b.out.contains("objective final_test_loss (lower is better)"), b.out)
      XCTAssertTrue(b.out.contains("\(strategy), 2 seeds, mean ± std (population std): test loss"), b.out)
      // Every trajectory queries 8 distinct recipes of the stored 40, each with its subset loss.
      let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst()
      XCTAssertEqual(lines.count, 16, out)
      // A loss is minimised: best_objective is the smallest objective queried so far, per seed.
      let header = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")[0].split(separator: ",").map(String.init)
      let (o, bo, sd) = (header.firstIndex(of: "objective")!, header.firstIndex(of: "best_objective")!, header.firstIndex(of: "seed")!)
      var best: [String: Double] = [:]
      for line in lines {
        // The arch column is quoted JSON with commas; count fields from the right for the numbers after it.
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let right = header.count - o
        let (obj, bobj) = (Double(f[f.count - right])!, Double(f[f.count - (header.count - bo)])!)
        let seed = f[sd]
        best[seed] = min(best[seed] ?? .infinity, obj)
        XCTAssertEqual(bobj, best[seed]!, "\(strategy) seed \(seed): best_objective must be the minimum loss so far")
      }
      let cost = try XCTUnwrap(b.out.split(separator: "\n").first { $0.contains("search cost") })
      XCTAssertFalse(cost.contains("nan"), String(cost))
    }
    let table = try String(contentsOfFile: Self.root.appendingPathComponent("Datasets/nasbench_nlp/nbnlp_wikitext2_subset.csv").path, encoding: .utf8)
    let f = try run(["fit", "--space", "nbnlp", "--store", store, "--iterations", "12", "--metrics", "hidden_cov,nwot"], in: dir)
    XCTAssertEqual(f.status, 0, f.err)
    XCTAssertTrue(f.out.contains("training and") && f.out.contains("final_test_loss (negated: lower is better)"), f.out)
    let g = try run(["search", "--space", "nbnlp", "--store", store, "--proxy", "hidden_cov", "--budget", "10"] + tiny, in: dir)
    XCTAssertEqual(g.status, 0, g.err)
    XCTAssertTrue(g.out.contains("nbnlp has no neighbourhood"), g.out)
    let found = try XCTUnwrap(g.out.split(separator: "\n").first { $0.hasPrefix("   0 ") }, g.out).split(separator: " ")
    XCTAssertTrue(table.contains("\n\(found[1]),"), "the found id is a recipe of the subset: \(found)")
    let rea = try run(["robot", "--space", "nbnlp", "--store", store, "--strategy", "rea"], in: dir)
    XCTAssertNotEqual(rea.status, 0)
    XCTAssertTrue(rea.err.contains("--space nbnlp has no neighbourhood"), rea.err)
  }
}
