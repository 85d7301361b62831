import Foundation
import TestSupport
import XCTest

/// `zcnas verify DIR` with bad fixtures: each is a FAIL line with its reason, the others still
/// run, the exit status is 1; a folder without any reference value checked is an error.
final class VerifyCLITests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  /// Writes `<dir>/<name>.json` (the shipped fixture `source`'s json with `edit`) beside a link to its safetensors.
  private func fixture(_ name: String, from source: String, in dir: URL, safetensors: URL? = nil, _ edit: (inout [String: Any]) -> Void) throws {
    let base = URL(fileURLWithPath: TestPaths.fixtures(source))
    var j = try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathExtension("json"))) as! [String: Any]
    edit(&j)
    try JSONSerialization.data(withJSONObject: j).write(to: dir.appendingPathComponent(name + ".json"))
    try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name + ".safetensors"),
                                               withDestinationURL: safetensors ?? base.appendingPathExtension("safetensors"))
  }

  func testBadFixturesAreFailLinesAndTheOthersRun() throws {
    let dir = try temporaryFolder()
    let nb201 = "nb201/nb201_c10_i1651_allnone", nbnlp = "nbnlp/nbnlp_wt2_r1000001_lstm"
    try fixture("a_good_nbnlp", from: nbnlp, in: dir) { _ in }
    try fixture("b_negative_n", from: nb201, in: dir) { $0["N"] = -1 }
    try fixture("c_huge_c", from: nb201, in: dir) { $0["C"] = 1e9 }
    try fixture("d_classes", from: nb201, in: dir) { $0["num_classes"] = 1e12 }
    try fixture("e_string_c", from: nb201, in: dir) { $0["C"] = "16" }
    try fixture("f_reference_list", from: nb201, in: dir) { $0["reference"] = [Any]() }
    try fixture("g_reference_string", from: nb201, in: dir) { $0["reference"] = "snip" }
    try fixture("h_reference_null", from: nb201, in: dir) { $0["reference"] = NSNull() }
    let big = dir.appendingPathComponent("big.bin")
    try MalformedInputTests.writeSafetensors(big, header: "{}", length: 1 << 63)
    try fixture("i_bad_safetensors", from: nbnlp, in: dir, safetensors: big) { _ in }
    try fixture("j_other_n", from: nb201, in: dir) { $0["N"] = 2 }
    let r = try run(["verify", dir.path], in: dir)
    XCTAssertEqual(r.status, 1, r.out + r.err)
    let expected = [
      "b_negative_n\n  FAIL: \(dir.path)/b_negative_n.json: 'N': expected an integer in 1...20, found -1",
      "c_huge_c\n  FAIL: \(dir.path)/c_huge_c.json: 'C': expected an integer in 1...256, found 1000000000",
      "d_classes\n  FAIL: \(dir.path)/d_classes.json: 'num_classes': expected an integer in 1...10000, found 1000000000000",
      "e_string_c\n  FAIL: \(dir.path)/e_string_c.json: 'C': expected an integer, found a string \"16\"",
      "f_reference_list\n  FAIL: \(dir.path)/f_reference_list.json: 'reference': expected an object, found a list",
      "g_reference_string\n  FAIL: \(dir.path)/g_reference_string.json: 'reference': expected an object, found a string",
      "h_reference_null\n  FAIL: \(dir.path)/h_reference_null.json: 'reference': expected an object, found null",
      "i_bad_safetensors\n  FAIL: \(dir.path)/i_bad_safetensors.safetensors: invalid safetensors header: the 8-byte header length says 9223372036854775808 bytes",
      "  FAIL: \(dir.path)/j_other_n.safetensors: weights: the ",
      "verify: 6 passed, 9 failed (9 fixture(s) could not be checked: b_negative_n, c_huge_c, d_classes, e_string_c, f_reference_list, g_reference_string, h_reference_null, i_bad_safetensors, j_other_n)",
    ]
    for e in expected { XCTAssertTrue(r.out.contains(e), "'\(e)' not in:\n\(r.out)") }
    XCTAssertTrue(r.out.contains("nbnlp_wt2_r1000001_lstm (nbnlp_rnn, engine float32)"), r.out)
  }

  func testAFolderWithoutReferenceValuesIsAnError() throws {
    let only = try temporaryFolder()
    try fixture("empty_list", from: "nb201/nb201_c10_i1651_allnone", in: only) { $0["reference"] = [Any]() }
    let r = try run(["verify", only.path], in: only)
    XCTAssertEqual(r.status, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("verify: 0 passed, 1 failed"), r.out)
    let other = try temporaryFolder()
    try fixture("unknown_kind", from: "nb201/nb201_c10_i1651_allnone", in: other) { $0["kind"] = "transformer" }
    let u = try run(["verify", other.path], in: other)
    XCTAssertNotEqual(u.status, 0, u.out)
    XCTAssertTrue(u.out.contains("skipped: the engine has no space for fixtures of kind transformer yet"), u.out)
    XCTAssertTrue(u.err.contains("Error: \(other.path): no reference value was checked in 1 fixture(s)"), u.err)
  }

  /// A fixture whose network cannot fit (C 256, N 20 on the all-3x3 cell) fails on its estimate,
  /// before anything is allocated.
  func testAFixtureTooLargeForMemoryFailsWithItsEstimate() throws {
    let dir = try temporaryFolder()
    try fixture("wide", from: "nb201/nb201_c10_i1462_allconv3x3", in: dir) { $0["C"] = 256; $0["N"] = 20 }
    let r = try run(["verify", dir.path, "--max-memory", "24"], in: dir)
    XCTAssertEqual(r.status, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("  FAIL: \(dir.path)/wide.json: scoring this fixture needs an estimated "), r.out)
    XCTAssertTrue(r.out.contains("above the limit of 24.0 GB (--max-memory)"), r.out)
  }
}
