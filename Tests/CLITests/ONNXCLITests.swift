import Foundation
import TestSupport
import XCTest

/// `zcnas score/correlate/onnx-ops --space onnx` end to end on the shipped tiny ONNX models.
final class ONNXCLITests: XCTestCase {
  static let models = ZCNASRunner.root.appendingPathComponent("Tests/Fixtures/onnx").path

  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  func testScoreResumeCorrelate() throws {
    let dir = try temporaryFolder("zcnas-onnx")
    let store = dir.appendingPathComponent("s.sqlite").path
    let args = ["score", "--space", "onnx", "--archs", Self.models, "--metrics", "grad_norm,snip,synflow,nwot,params", "--batch-size", "8", "--store", store]
    let r = try run(args, in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("scored 3 ONNX model(s), 0 already stored; 5 proxies; init file"), r.out)
    // The same files under other names and by a list: the same ids, so nothing is scored again.
    let copy = dir.appendingPathComponent("renamed.onnx").path
    try FileManager.default.copyItem(atPath: Self.models + "/tiny_cifar_a.onnx", toPath: copy)
    let list = dir.appendingPathComponent("list.txt")
    try "# models\n\(Self.models)/tiny_cifar_b.onnx\nrenamed.onnx\n".write(to: list, atomically: true, encoding: .utf8)
    let again = try run(["score", "--space", "onnx", "--archs", list.path + "," + Self.models + "/tiny_cifar_c.onnx", "--metrics", "grad_norm,snip,synflow,nwot,params",
                         "--batch-size", "8", "--store", store], in: dir)
    XCTAssertEqual(again.status, 0, again.err)
    XCTAssertTrue(again.out.contains("scored 0 ONNX model(s), 3 already stored"), again.out)
    // pytorch-default initialisation is stored as its own run.
    let pd = try run(args + ["--init", "pytorch-default"], in: dir)
    XCTAssertTrue(pd.out.contains("scored 3 ONNX model(s), 0 already stored; 5 proxies; init pytorch-default"), pd.out + pd.err)

    let truth = dir.appendingPathComponent("truth.csv")
    try "file,accuracy\ntiny_cifar_a.onnx,70.5\ntiny_cifar_b.onnx,60.25\ntiny_cifar_c.onnx,80\n".write(to: truth, atomically: true, encoding: .utf8)
    let c = try run(["correlate", "--space", "onnx", "--store", store, "--initialisation", "file", "--truth", truth.path], in: dir)
    XCTAssertEqual(c.status, 0, c.err)
    let line = try XCTUnwrap(c.out.split(separator: "\n").first { $0.hasPrefix("params ") }, c.out)
    XCTAssertEqual(line.split(separator: " ")[2], "3", String(line))  // n = 3 models with ground truth
  }

  func testBadInputGivesOneLineError() throws {
    let dir = try temporaryFolder("zcnas-onnx")
    let empty = dir.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let bad = dir.appendingPathComponent("bad.onnx")
    try Data("not a model".utf8).write(to: bad)
    let cases: [([String], String)] = [
      (["score", "--space", "onnx", "--archs", bad.path], "bad.onnx: not an ONNX model"),
      (["score", "--space", "onnx", "--archs", "sample:3"], "no such file or folder 'sample:3'"),
      (["score", "--space", "onnx", "--archs", empty.path], "has no .onnx files"),
      (["score", "--space", "onnx", "--dataset", "cifar100", "--archs", Self.models + "/tiny_cifar_a.onnx", "--metrics", "params"],
       "tiny_cifar_a.onnx: the graph's output has 10 classes, but --dataset cifar100 has 100"),
      (["correlate", "--space", "onnx", "--store", dir.appendingPathComponent("none.sqlite").path], "no such store"),
      (["onnx-ops", bad.path], "bad.onnx: not an ONNX model"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
    let ops = try run(["onnx-ops", Self.models + "/tiny_cifar_a.onnx"], in: dir)
    XCTAssertEqual(ops.status, 0, ops.err)
    XCTAssertTrue(ops.out.contains("MaxPool") && ops.out.contains("every op is supported"), ops.out)
  }
}
