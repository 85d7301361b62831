import Foundation
import TestSupport
import XCTest
import ZCTensor

/// Issue 15's unclear errors: each case gives one line naming the option, what was expected and
/// what was found, a non-zero exit, and no work before it.
final class RoughEdgeTests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  func testErrorsNameTheOptionAndWhatWasFound() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let weights = dir.appendingPathComponent("w.json")
    try #"{"metrics": ["nwot"], "weights": "high"}"#.write(to: weights, atomically: true, encoding: .utf8)
    let cases: [([String], String)] = [
      (["score", "--archs", "-3", "--store", store], "index -3 is outside 0..<15625"),
      (["score", "--archs", "1.5", "--store", store], "expected an index 0..<15625 or an arch string, found '1.5'"),
      (["score", "--archs", "123456789012345678901234", "--store", store], "index 123456789012345678901234 is outside"),
      (["score", "--archs", "archs-missing.txt", "--store", store], "no such file 'archs-missing.txt'"),
      (["score", "--metrics", "", "--store", store], "expected comma-separated proxy names or all, found ''"),
      (["score", "--archs", "1", "--batch-size", "1", "--store", store], "expected at least 2 (training-mode batch norm"),
      (["score", "--archs", "1", "--output", "/nonexistent-folder/x.csv", "--store", store], "the folder /nonexistent-folder does not exist"),
      (["score", "--archs", "1", "--output", dir.appendingPathComponent("x.txt").path, "--store", store], "expected a file name ending in .csv, .csv.gz, .jsonl"),
      (["score", "--archs", "1", "--jobs", "1000", "--store", store], "--jobs: expected 1..."),
      (["export-weights", "--arch", "99999", "--output", dir.appendingPathComponent("w.safetensors").path], "--arch: index 99999 is outside"),
      (["export-weights", "--arch", "1", "--output", "/nonexistent-folder/w.safetensors"], "the folder /nonexistent-folder does not exist"),
      (["robot", "--seeds", "3,4,3", "--store", store], "--seeds: seed 3 is given twice"),
      (["robot", "--population", "2", "--sample-size", "3", "--store", store], "found population 2 and sample size 3"),
      (["robot", "--save-weights", "/nonexistent-folder/w.json", "--store", store], "--save-weights /nonexistent-folder/w.json: the folder"),
      (["search", "--weights", weights.path, "--store", store], "expected the JSON written by `zcnas robot/fit --save-weights`"),
      (["help", "nosuch"], "help: no command 'nosuch'"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("w.safetensors").path))
  }

  /// A negative seed is a value, not a flag; the default suite is the standard one (no ntk_cond);
  /// a JSON Lines export imports back with every row unchanged.
  func testNegativeSeedStandardSuiteAndJSONLinesRoundTrip() throws {
    let dir = try temporaryFolder()
    let store = dir.appendingPathComponent("s.sqlite").path
    let jsonl = dir.appendingPathComponent("rows.jsonl").path
    let r = try run(["score", "--archs", "7", "--seed", "-2", "--store", store, "--output", jsonl], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("scored 1 architecture(s), 0 already stored; 11 proxies"), r.out)
    let text = try String(contentsOfFile: jsonl, encoding: .utf8)
    XCTAssertFalse(text.contains("ntk_cond"))
    XCTAssertTrue(text.contains(#""seed":-2"#), text)
    let i = try run(["import", jsonl, "--store", dir.appendingPathComponent("t.sqlite").path], in: dir)
    XCTAssertEqual(i.status, 0, i.err)
    XCTAssertTrue(i.out.contains("imported 11 rows") && i.out.contains("11 added"), i.out)
    let again = try run(["import", jsonl, "--store", store], in: dir)
    XCTAssertTrue(again.out.contains("0 added, 0 replaced, 11 unchanged"), again.out)
  }

  /// ZCNAS_DIRECT_CONV: "0" gives the portable convolution (its numerics say so); a value that is
  /// not a build is named in a warning and the default is used; scoring goes on in both cases.
  func testDirectConvolutionSettingIsCheckedAndRecorded() throws {
    let dir = try temporaryFolder()
    func numerics(_ value: String) throws -> (String, String) {
      let out = dir.appendingPathComponent("\(value).csv").path
      let r = try ZCNASRunner.run(["score", "--archs", "13393", "--metrics", "nwot", "--store", dir.appendingPathComponent("\(value).sqlite").path,
                                   "--output", out], in: dir, environment: ["ZCNAS_DIRECT_CONV": value])
      XCTAssertEqual(r.status, 0, r.err)
      let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
      let at = lines[0].split(separator: ",").firstIndex(of: "numerics")!
      return (String(lines[1].split(separator: ",", omittingEmptySubsequences: false)[at]), r.err)
    }
    let (portable, _) = try numerics("0")
    XCTAssertTrue(portable.hasPrefix("n\(Numerics.revision)-portable-"), portable)
    let (fallback, err) = try numerics("fast")
    XCTAssertTrue(err.contains("warning: ZCNAS_DIRECT_CONV=fast ignored (expected 0, avx2 or avx512)"), err)
    XCTAssertEqual(fallback.split(separator: "-")[1], CPUFeatures.directConvolution == nil ? "portable" : "avx512", fallback)
  }
}
