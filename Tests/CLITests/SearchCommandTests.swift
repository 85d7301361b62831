import Foundation
import TestSupport
import XCTest

/// `zcnas import`, `robot`, `fit` and `search` end to end on the committed 300-architecture export
/// (Notebooks/data/cifar10_sample.csv): deterministic trajectories stored in the store, the
/// best-so-far never decreasing, clear errors for bad input.
final class SearchCommandTests: XCTestCase {
  static let root = ZCNASRunner.root

  @discardableResult
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  /// A temporary folder with a store holding the committed sample.
  private func storeWithSample() throws -> (URL, String) {
    let d = try temporaryFolder("zcnas-search")
    let store = d.appendingPathComponent("s.sqlite").path
    let r = try run(["import", Self.root.appendingPathComponent("Notebooks/data/cifar10_sample.csv").path, "--store", store], in: d)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("imported 3300 rows (300 architectures"), r.out)
    return (d, store)
  }

  func testRobotAndBaselinesAreDeterministicAndStored() throws {
    let (dir, store) = try storeWithSample()
    let csv = dir.appendingPathComponent("t.csv").path
    let a = try run(["robot", "--store", store, "--seeds", "10..11", "--budget", "10", "--output", csv, "--save-weights", dir.appendingPathComponent("w.json").path], in: dir)
    XCTAssertEqual(a.status, 0, a.err)
    XCTAssertTrue(a.out.contains("pool: 300 architectures"), a.out)
    XCTAssertTrue(a.out.contains("missing values (each contributes min(0, w)): jacob_cov 13"), a.out)
    XCTAssertTrue(a.out.contains("robot, 2 seeds, mean ± std"), a.out)
    let b = try run(["robot", "--store", store, "--seeds", "10..11", "--budget", "10"], in: dir)
    XCTAssertEqual(a.out.split(separator: "\n").filter { $0.hasPrefix("  1") }, b.out.split(separator: "\n").filter { $0.hasPrefix("  1") })
    // The trajectory file: 2 seeds x 10 distinct queries, best-so-far never decreasing.
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
    XCTAssertEqual(lines.count, 20)
    var last: [String: Double] = [:]
    for l in lines {
      let f = l.split(separator: ",", omittingEmptySubsequences: false)
      let seed = String(f[1]), best = Double(f[6])!
      XCTAssertGreaterThanOrEqual(best, last[seed] ?? -1)
      last[seed] = best
    }
    for strategy in ["random", "rea"] {
      let r = try run(["robot", "--store", store, "--strategy", strategy, "--seeds", "3", "--budget", "10"], in: dir)
      XCTAssertEqual(r.status, 0, r.err)
      XCTAssertTrue(r.out.contains("\(strategy), 1 seeds"), r.out)
    }
    // Stored trajectories export: 20 robot steps + 10 random + 10 rea.
    let ex = try run(["export", "--store", store, "--searches", "--output", dir.appendingPathComponent("all.csv").path], in: dir)
    XCTAssertTrue(ex.out.contains("exported 40 search steps (3 runs)"), ex.out + ex.err)
    // Greedy search with the saved RoBoT weights, from the store only.
    let s = try run(["search", "--store", store, "--weights", dir.appendingPathComponent("w.json").path, "--budget", "20", "--seeds", "0..2", "--no-scoring"], in: dir)
    XCTAssertEqual(s.status, 0, s.err)
    XCTAssertTrue(s.out.contains("architectures scored during this run: 0"), s.out)
  }

  func testFitReportsHeldOutCorrelations() throws {
    let (dir, store) = try storeWithSample()
    let r = try run(["fit", "--store", store, "--iterations", "20", "--metrics", "synflow,nwot,params"], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("150 training and 150 held-out"), r.out)
    let comb = r.out.split(separator: "\n").first { $0.hasPrefix("combination (fitted)") }
    XCTAssertNotNil(comb, r.out)
    // The held-out rho of the combination must be a real positive correlation.
    let rho = comb.flatMap { Double($0.split(separator: " ").filter { !$0.isEmpty }[4]) }
    XCTAssertNotNil(rho); XCTAssertGreaterThan(rho ?? 0, 0.5)
  }

  func testGreedySearchScoresOnTheFlyAndResumes() throws {
    let dir = try temporaryFolder("zcnas-greedy")
    let args = ["search", "--proxy", "params", "--budget", "12", "--seeds", "5", "--batch-size", "8", "--store", dir.appendingPathComponent("g.sqlite").path]
    let a = try run(args, in: dir)
    XCTAssertEqual(a.status, 0, a.err)
    XCTAssertTrue(a.out.contains("architectures scored during this run: 12"), a.out)
    let b = try run(args, in: dir)
    XCTAssertTrue(b.out.contains("architectures scored during this run: 0"), b.out)
    XCTAssertEqual(a.out.split(separator: "\n").first { $0.hasPrefix("   5") }, b.out.split(separator: "\n").first { $0.hasPrefix("   5") })
  }

  func testBadSearchInputGivesOneLineError() throws {
    let (dir, store) = try storeWithSample()
    let bad = dir.appendingPathComponent("bad.csv")
    try "space,dataset\nnb201,cifar10\n".write(to: bad, atomically: true, encoding: .utf8)
    // A table whose row names another architecture than the benchmark's at that index.
    let misaligned = dir.appendingPathComponent("misaligned.csv")
    try ("space,dataset,arch_index,arch,metric,seed,batch_size,init,batch,dtype,value,missing_reason,seconds,engine_version\n"
         + "nb201,cifar10,0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,params,0,64,pytorch-default,sampled,float32,1.0,,0.1,0.1.0\n")
      .write(to: misaligned, atomically: true, encoding: .utf8)
    let cases: [([String], String)] = [
      (["robot", "--store", store, "--budget", "301"], "at most the pool size 300"),
      (["robot", "--store", store, "--metrics", "synflow,zen"], "no zen scores"),
      (["robot", "--store", store, "--objective", "cifar10_magic"], "no column 'cifar10_magic'"),
      (["robot", "--store", store, "--seeds", "5..2"], "--seeds: expected"),
      (["fit", "--store", store, "--train-fraction", "1.5"], "--train-fraction"),
      (["search", "--store", store, "--budget", "5"], "exactly one of them"),
      (["search", "--store", store, "--weights", bad.path], "expected the JSON"),
      (["import", bad.path, "--store", store], "header lacks"),
      (["import", misaligned.path, "--store", store], "arch_index 0 is |avg_pool_3x3~0|"),
      (["robot", "--store", store, "--metrics", "grad_nrom"], "unknown proxy 'grad_nrom'"),
      (["import", "nofile.csv.gz", "--store", dir.appendingPathComponent("never.sqlite").path], "nofile.csv.gz: no such table file"),
      (["robot", "--store", store, "--patience", "0"], "--patience: expected at least 1"),
      (["robot", "--store", store, "--dataset", "wikitext2"], "--dataset: expected one of cifar10, cifar100, imagenet16-120 for --space nb201, found 'wikitext2'"),
      (["robot", "--store", store, "--space", "nbnlp"], "no nbnlp/wikitext2 scores stored"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("never.sqlite").path), "a failed import creates no store")
  }

  /// `robot` on a store it cannot write stops before the search with one line naming the store
  /// (it used to run the whole search and then lose the trajectories). The store is made
  /// immutable with `chattr +i`, which binds root too; skipped where chattr is not available.
  func testRobotOnReadOnlyStoreFailsBeforeSearching() throws {
    let (dir, store) = try storeWithSample()
    let chattr = Process()
    chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
    chattr.arguments = ["+i", store]
    chattr.standardError = FileHandle.nullDevice
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr"), (try? chattr.run()) != nil else { throw XCTSkip("no chattr") }
    chattr.waitUntilExit()
    guard chattr.terminationStatus == 0 else { throw XCTSkip("chattr +i is not supported on this file system") }
    defer {
      let undo = Process()
      undo.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
      undo.arguments = ["-i", store]
      try? undo.run()
      undo.waitUntilExit()
    }
    let r = try run(["robot", "--store", store, "--budget", "10", "--seeds", "1..3"], in: dir)
    XCTAssertNotEqual(r.status, 0, r.out)
    XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, r.err)
    XCTAssertTrue(r.err.contains("store \(store)"), r.err)
    XCTAssertFalse(r.out.contains("best"), "no search result is printed before the failure: \(r.out)")
  }

  /// On NAS-Bench-201 `robot` adds the label-free ensemble to RoBoT's six proxies when the store
  /// holds its members (the shipped CIFAR-10 table does) and starts BO at it: the first query of
  /// every seed has weight 1 on the ensemble and 0 elsewhere, so every seed's first query is the
  /// same architecture; `--prior random` starts elsewhere; a store without meco gets the six and a note.
  func testRobotDefaultStartsAtTheEnsembleWhenItsMembersAreStored() throws {
    let dir = try temporaryFolder("zcnas-prior")
    let store = dir.appendingPathComponent("s.sqlite").path
    let table = Self.root.appendingPathComponent("Datasets/nb201-scores/nb201_cifar10_seed0_b64.csv.gz").path
    XCTAssertEqual(try run(["import", table, "--store", store], in: dir).status, 0)
    func firstQueries(_ extra: [String]) throws -> (out: String, first: [String]) {
      let csv = dir.appendingPathComponent("t.csv").path
      let r = try run(["robot", "--store", store, "--seeds", "3..5", "--budget", "4", "--output", csv] + extra, in: dir)
      XCTAssertEqual(r.status, 0, r.err)
      let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
      return (r.out, lines.filter { $0.split(separator: ",")[2] == "1" }.map { l in
        let f = l.split(separator: ",", omittingEmptySubsequences: false)
        return "\(f[3]) \(f.last!.replacingOccurrences(of: "\"", with: ""))"
      })
    }
    let d = try firstQueries([])
    XCTAssertTrue(d.out.contains("proxies grad_norm,snip,grasp,fisher,synflow,jacob_cov,ensemble;"), d.out)
    XCTAssertTrue(d.out.contains(";prior=ensemble;"), d.out)
    XCTAssertEqual(d.first.count, 3)
    XCTAssertEqual(Set(d.first).count, 1, "every seed starts at the ensemble's top architecture: \(d.first)")
    XCTAssertTrue(d.first[0].hasSuffix(" 0.000000 0.000000 0.000000 0.000000 0.000000 0.000000 1.000000"), d.first[0])
    let r = try firstQueries(["--prior", "random"])
    XCTAssertTrue(r.out.contains(";prior=random;"), r.out)
    XCTAssertEqual(Set(r.first).count, 3, "random first points differ by seed: \(r.first)")
    // Without the ensemble's members: RoBoT's six, and a note saying why.
    let (sdir, sample) = try storeWithSample()
    let n = try run(["robot", "--store", sample, "--seeds", "3", "--budget", "4"], in: sdir)
    XCTAssertEqual(n.status, 0, n.err)
    XCTAssertTrue(n.out.contains("note: the ensemble (synflow, jacob_cov, meco) is not added to the default proxies: the store holds no meco scores"), n.out)
    XCTAssertTrue(n.out.contains("proxies grad_norm,snip,grasp,fisher,synflow,jacob_cov;"), n.out)
    // Members given explicitly must be stored.
    let e = try run(["robot", "--store", sample, "--seeds", "3", "--budget", "4", "--ensemble", "synflow,meco"], in: sdir)
    XCTAssertNotEqual(e.status, 0)
    XCTAssertTrue(e.err.contains("meco"), e.err)
    // meco for 5 of the 300 architectures only: still RoBoT's six over all 300, with a note.
    let lines = try String(contentsOfFile: Self.root.appendingPathComponent("Notebooks/data/cifar10_sample.csv").path, encoding: .utf8).split(separator: "\n")
    let meco = sdir.appendingPathComponent("meco5.csv")
    try ([String(lines[0])] + lines.filter { $0.contains(",synflow,") }.prefix(5).map { $0.replacingOccurrences(of: ",synflow,", with: ",meco,") })
      .joined(separator: "\n").write(to: meco, atomically: true, encoding: .utf8)
    XCTAssertEqual(try run(["import", meco.path, "--store", sample], in: sdir).status, 0)
    let p = try run(["robot", "--store", sample, "--seeds", "3", "--budget", "4"], in: sdir)
    XCTAssertEqual(p.status, 0, p.err)
    XCTAssertTrue(p.out.contains("the store holds meco scores for 5 of the 300 architectures with RoBoT's six"), p.out)
    XCTAssertTrue(p.out.contains("pool: 300 architectures"), p.out)
    XCTAssertTrue(p.out.contains("proxies grad_norm,snip,grasp,fisher,synflow,jacob_cov;"), p.out)
  }

  /// Freshness check, not a correctness check: the trajectories committed for Notebooks/search.ipynb
  /// are what `zcnas robot` gives on the shipped table today (scripts/search-data.sh), so the
  /// notebook never plots stale data.
  func testCommittedTrajectoriesAreReproduced() throws {
    let dir = try temporaryFolder("zcnas-traj")
    let store = dir.appendingPathComponent("s.sqlite").path
    let table = Self.root.appendingPathComponent("Datasets/nb201-scores/nb201_cifar10_seed0_b64.csv.gz").path
    XCTAssertEqual(try run(["import", table, "--store", store], in: dir).status, 0)
    for s in ["robot", "rea", "random"] {
      let out = dir.appendingPathComponent("\(s).csv").path
      let r = try run(["robot", "--store", store, "--dataset", "cifar10", "--strategy", s, "--seeds", "10..19", "--budget", "20", "--output", out], in: dir)
      XCTAssertEqual(r.status, 0, r.err)
      let committed = try String(contentsOfFile: Self.root.appendingPathComponent("Notebooks/data/search_cifar10_\(s).csv").path, encoding: .utf8)
      // Compared without the weights column: its 6-decimal prints are the part most sensitive to
      // the last bits of libm and LAPACK; the queried architectures and best-so-far are not.
      func withoutWeights(_ text: String) -> [String] {
        text.split(separator: "\n").map { line in line.split(separator: ",", maxSplits: 12, omittingEmptySubsequences: false).prefix(12).joined(separator: ",") }
      }
      XCTAssertEqual(withoutWeights(try String(contentsOfFile: out, encoding: .utf8)), withoutWeights(committed),
                     "\(s): rerun scripts/search-data.sh after changing the shipped table or the search")
    }
  }
}
