import Foundation
import TestSupport
import XCTest

/// End-to-end checks of the `zcnas` executable built by `swift build`/`swift test`: bad input gives a
/// one-line error and a non-zero exit; a killed scoring run resumes without redoing stored work.
final class CLITests: XCTestCase {
  @discardableResult
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  func testBadInputGivesOneLineErrorAndNonZeroExit() throws {
    let dir = try temporaryFolder()
    let truncated = dir.appendingPathComponent("truncated.bin")
    try Data(repeating: 7, count: 1000).write(to: truncated)
    let commentsOnly = dir.appendingPathComponent("archs.txt")
    try "# no architectures here\n\n".write(to: commentsOnly, atomically: true, encoding: .utf8)
    let cases: [([String], String)] = [
      (["score", "--archs", "|nor_conv_3x3~0|+|conv_5x5~0|none~1|+|none~0|none~1|none~2|"], "found 'conv_5x5'"),
      (["score", "--metrics", "grad_norm,magic"], "unknown proxy 'magic'"),
      (["score", "--data", truncated.path], "not a positive multiple of the 3073-byte record"),
      (["score", "--archs", "99999"], "index 99999 is outside"),
      (["score", "--archs", "sample:0"], "expected sample:N or sample:N:SEED with 1 <= N <= 15625, found 'sample:0'"),
      (["score", "--archs", "sample:5:x"], "sample seed 'x' is not an integer"),
      (["score", "--archs", commentsOnly.path], "has no architectures"),
      (["score", "--space", "nbnlp", "--archs", commentsOnly.path], "has no recipe ids"),
      (["score", "--archs", " , "], "no architecture given"),
      (["score", "--space", "nbnlp", "--archs", ","], "no recipe id given"),
      (["score", "--dataset", "imagenet16-120"], "needs --data"),
      (["correlate", "--store", dir.appendingPathComponent("none.sqlite").path], "no such store"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      let lines = r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }
      XCTAssertEqual(lines.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
      XCTAssertFalse(r.err.contains("Usage:"), "\(args): a data error is not a usage error")
    }
  }

  /// Typed options: the parser rejects a value outside the enum, naming the option and listing
  /// the valid values (the same for every command that shares the option group).
  func testTypedOptionsListTheirValues() throws {
    let dir = try temporaryFolder()
    let cases: [([String], String)] = [
      (["score", "--dataset", "mnist"], "'mnist' is invalid for '--dataset <dataset>'. Please provide one of 'cifar10', 'cifar100', 'imagenet16-120', 'wikitext2' or 'ptb'"),
      (["correlate", "--space", "rnn"], "'rnn' is invalid for '--space <space>'. Please provide one of 'nb201', 'nbnlp', 'bert' or 'onnx'"),
      (["score", "--dtype", "float16"], "'float16' is invalid for '--dtype <dtype>'"),
      (["robot", "--strategy", "bohb"], "Please provide one of 'robot', 'random' or 'rea'"),
      (["robot", "--acquisition", "pi"], "Please provide one of 'ucb' and 'ei'"),
      (["correlate", "--target", "train"], "'train' is invalid for '--target <target>'"),
      (["search", "--strategy", "rea"], "Please provide one of 'greedy'"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
    let help = try run(["fit", "--help"], in: dir).out
    XCTAssertTrue(help.contains("values: nb201, nbnlp, bert, onnx"), help)
  }

  func testKilledRunResumesWhereItStopped() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let args = ["score", "--archs", "sample:30:3", "--metrics", "synflow,params,nwot,l2_norm", "--jobs", "1", "--store", store]
    let p = try ZCNASRunner.process(args, in: dir)
    p.standardError = Pipe()
    p.standardOutput = Pipe()
    try p.run()
    // Kill it (SIGKILL, as a crash) once at least one architecture is stored.
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline && p.isRunning {
      if let d = FileManager.default.contents(atPath: store), d.count > 0, let n = try? rowCount(store), n >= 4 { break }
      Thread.sleep(forTimeInterval: 0.02)
    }
    XCTAssertTrue(p.isRunning, "the run finished before it could be killed; the test needs a longer run")
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    let before = try rowCount(store)
    XCTAssertGreaterThan(before, 0)
    XCTAssertLessThan(before, 120)
    XCTAssertEqual(before % 4, 0, "rows are written per architecture, all or nothing")
    let r = try run(args, in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("scored \(30 - before / 4) architecture(s), \(before / 4) already stored"), r.out)
    XCTAssertEqual(try rowCount(store), 120)
    // A third run finds everything stored.
    XCTAssertTrue(try run(args, in: dir).out.contains("scored 0 architecture(s), 30 already stored"))
  }

  private func rowCount(_ store: String) throws -> Int {
    let r = try run(["correlate", "--store", store, "--json"], in: FileManager.default.temporaryDirectory)
    guard r.status == 0, let d = r.out.data(using: .utf8),
          let obj = try JSONSerialization.jsonObject(with: d) as? [String: Any], let ms = obj["metrics"] as? [[String: Any]] else { return 0 }
    return ms.reduce(0) { $0 + (($1["n"] as? Int) ?? 0) + (($1["missing"] as? Int) ?? 0) }
  }
}
