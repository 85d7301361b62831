import Foundation
import TestSupport
import XCTest

/// `zcnas score` refuses, before allocating, a configuration whose estimated memory exceeds the
/// machine or `--max-memory` (it used to die of an allocation failure), and runs fewer networks at
/// once when `--jobs` of them would not fit.
final class MemoryLimitCLITests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  private func expectError(_ r: (status: Int32, out: String, err: String), _ texts: [String], _ context: String, line: UInt = #line) {
    XCTAssertEqual(r.status, 1, "\(context): \(r.err)", line: line)
    XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(context): \(r.err)", line: line)
    for t in texts { XCTAssertTrue(r.err.contains(t), "\(context): '\(t)' not in \(r.err)", line: line) }
  }

  func testConfigurationsAboveTheLimitAreRefused() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    // On a 24 GB machine (the issue's): batch 4000 of CIFAR-10 images.
    expectError(try run(["score", "--batch-size", "4000", "--max-memory", "24", "--store", store], in: dir),
                ["Error: --batch-size 4000: scoring the lightest cell (every edge none) on cifar10 needs an estimated ", " GB (parameters and copies ",
                 "above the limit of 24.0 GB (--max-memory); at most --batch-size "], "batch 4000")
    // The largest cell at batch 1000 with grasp, under 24 GB; the message names the architecture.
    expectError(try run(["score", "--archs", "1651,1462", "--metrics", "grasp", "--batch-size", "1000", "--max-memory", "24", "--store", store], in: dir),
                ["Error: --batch-size 1000: scoring architecture 1462 needs an estimated ", "above the limit of 24.0 GB (--max-memory)"], "1462 grasp")
    // NAS-Bench-NLP: the weights alone at nhid 100000.
    expectError(try run(["score", "--space", "nbnlp", "--nhid", "100000", "--max-memory", "24", "--store", store], in: dir),
                ["Error: --emsize 400 --nhid 100000 --nlayers 3 --bptt 70 --batch-size 10: scoring the subset's lightest recipe", "the parameters and their copies alone exceed it"], "nhid")
    for bad in ["0", "nan", "abc"] {
      let r = try run(["score", "--max-memory", bad, "--store", store], in: dir)
      XCTAssertNotEqual(r.status, 0, bad)
      XCTAssertTrue(r.err.contains("--max-memory"), "\(bad): \(r.err)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: store), "refused before the store is opened")
    // Without --max-memory the limit is the machine's memory: batch 4000 needs about 80 GB.
    if ProcessInfo.processInfo.physicalMemory < 60_000_000_000 {
      expectError(try run(["score", "--batch-size", "4000", "--store", store], in: dir), ["(this machine's physical memory; --max-memory GB sets another limit)"], "physical")
      expectError(try run(["score", "--space", "nbnlp", "--nhid", "100000", "--store", store], in: dir), ["this machine's physical memory"], "physical nbnlp")
    }
  }

  func testJobsAreReducedToFitAndSmallRunsAreUnaffected() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let r = try run(["score", "--archs", "1462,1651", "--metrics", "grad_norm", "--batch-size", "100", "--jobs", "2", "--max-memory", "3", "--store", store], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.err.contains("note: scoring 1 architecture(s) at a time instead of --jobs 2: 2 networks would exceed the memory limit of 3.0 GB"), r.err)
    XCTAssertTrue(r.out.contains("scored 2 architecture(s)"), r.out)
    let small = try run(["score", "--archs", "1651", "--metrics", "params", "--batch-size", "4000", "--jobs", "2", "--store", store], in: dir)
    XCTAssertEqual(small.status, 0, "params needs no activations: batch 4000 fits: \(small.err)")
    XCTAssertFalse(small.err.contains("note:"), small.err)
  }

  /// `bench-suite --workers N` checks N networks' estimate before it runs (it used to start them
  /// all), and reports CPU seconds per network with the round's wall time.
  func testBenchSuiteWorkers() throws {
    let dir = try temporaryFolder()
    // grasp on the all-3x3 cell at batch 64: an estimated 3.1 GB, so one fits 5 GB and two do not.
    expectError(try run(["bench-suite", "--archs", "1462", "--metrics", "grasp", "--threads", "1", "--repeats", "1", "--workers", "2", "--max-memory", "5"], in: dir),
                ["Error: bench-suite: architecture 1462: --workers 2: 2 networks at once exceed the memory limit (1 fit); lower --workers"], "workers 2")
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let many = try run(["bench-suite", "--archs", "0", "--metrics", "params", "--workers", String(cores + 1)], in: dir)
    XCTAssertNotEqual(many.status, 0)
    XCTAssertTrue(many.err.contains("--workers must be in 1...\(cores) (the cores), got \(cores + 1)"), many.err)
    let bad = try run(["bench-suite", "--archs", "0", "--metrics", "params", "--max-memory", "0"], in: dir)
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.err.contains("--max-memory: expected a positive number of GB, found 0.0"), bad.err)
    let r = try run(["bench-suite", "--archs", "0", "--metrics", "params", "--threads", "1", "--repeats", "1", "--workers", "2"], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("id      0 threads 1 workers 2 (wall of the round; user and sys per network; peak of all): wall "), r.out)
    XCTAssertEqual(r.out.split(separator: "\n").filter { $0.hasPrefix("id ") }.count, 1, "one line per measurement, not one per worker: \(r.out)")
  }
}
