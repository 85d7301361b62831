import Foundation
import TestSupport
import XCTest
import ZCEngine

/// `zcnas score/correlate/verify/robot/search --space bert` end to end on short batches.
final class BERTCLITests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  func testBadInputGivesOneLineError() throws {
    let dir = try temporaryFolder("zcnas-bert")
    let cases: [([String], String)] = [
      (["score", "--space", "bert", "--archs", "500"], "BERT benchmark id 500 is not in 0...499"),
      (["score", "--space", "bert", "--archs", "{\"hidden_size\":64}"], "expected an architecture as JSON"),
      (["score", "--space", "bert", "--archs", "1", "--seq-len", "600"], "--seq-len: expected 3...512"),
      (["score", "--space", "bert", "--archs", "1", "--bptt", "30"], "--bptt: not used by --space bert"),
      (["score", "--space", "bert", "--metrics", "head_confidence,snip"], "snip is a proxy of image-classifier models, not of transformer"),
      (["score", "--space", "bert", "--dataset", "ptb"], "expected one of wikitext2 for --space bert, found 'ptb'"),
    ]
    for (args, expected) in cases {
      let r = try run(args, in: dir)
      XCTAssertNotEqual(r.status, 0, "\(args)")
      XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(args): \(r.err)")
      XCTAssertTrue(r.err.contains(expected), "\(args): \(r.err)")
    }
  }

  /// Score 6 architectures on 2 x 32 tokens in both size modes, resume, correlate against GLUE
  /// and a task, and run RoBoT and greedy search on the pool.
  func testScoreResumeCorrelateSearch() throws {
    let dir = try temporaryFolder("zcnas-bert")
    let store = dir.appendingPathComponent("s.sqlite").path
    let args = ["score", "--space", "bert", "--archs", "0,1,2,3,4,5", "--batch-size", "2", "--seq-len", "32", "--store", store,
                "--metrics", "head_confidence,activation_distance,params,synaptic_saliency,jacobian_cosine"]
    let r = try run(args, in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("scored 6 architecture(s), 0 already stored; 5 proxies"), r.out)
    XCTAssertTrue(try run(args, in: dir).out.contains("scored 0 architecture(s), 6 already stored"))
    let n = try run(args + ["--bert-sizes", "notebook"], in: dir)
    XCTAssertTrue(n.out.contains("scored 6 architecture(s), 0 already stored"), n.out + n.err)
    for target in ["glue", "mnli"] {
      let c = try run(["correlate", "--space", "bert", "--store", store, "--initialisation", "bert-normal0.02:benchmark", "--target", target], in: dir)
      XCTAssertEqual(c.status, 0, c.err)
      XCTAssertTrue(c.out.contains("against \(target)"), c.out)
      XCTAssertTrue(c.out.contains("head_confidenc"), c.out)
    }
    // Two kinds of run in one store: correlate refuses to mix them without --initialisation.
    let mixed = try run(["correlate", "--space", "bert", "--store", store], in: dir)
    XCTAssertNotEqual(mixed.status, 0)
    XCTAssertTrue(mixed.err.contains("bert-normal0.02:notebook"), mixed.err)
    let robot = try run(["robot", "--space", "bert", "--store", store, "--initialisation", "bert-normal0.02:notebook",
                         "--metrics", "head_confidence,params", "--budget", "3", "--seeds", "0..1"], in: dir)
    XCTAssertEqual(robot.status, 0, robot.err)
    XCTAssertTrue(robot.out.contains("GLUE"), robot.out)
  }

  /// `score --weights` loads a reference fixture's state_dict (gunzipped) strictly, and on the
  /// default batch (the fixtures' own packed text) reproduces its head_confidence and params.
  func testWeightsFromAReferenceFixture() throws {
    let folder = try TestPaths.shared("reference/bert")
    let dir = try temporaryFolder("zcnas-bert")
    let name = "bert_b5_l2_dct_dsc5"
    let st = dir.appendingPathComponent(name + ".safetensors")
    let gunzip = Process()
    gunzip.executableURL = URL(fileURLWithPath: "/bin/sh")
    gunzip.arguments = ["-c", "gzip -dc '\(folder)/\(name).safetensors.gz' > '\(st.path)'"]
    try gunzip.run()
    gunzip.waitUntilExit()
    XCTAssertEqual(gunzip.terminationStatus, 0)
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + name + ".json"))) as! [String: Any]
    let ref = ((json["reference"] as! [String: Any])["head_confidence"] as! [String: Any])["value_float64"] as! Double
    let store = dir.appendingPathComponent("w.sqlite").path
    let r = try run(["score", "--space", "bert", "--archs", "5", "--bert-sizes", "notebook", "--weights", st.path, "--metrics", "head_confidence,params",
                     "--store", store, "--output", dir.appendingPathComponent("w.csv").path], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    let rows = try ScoreTable.read(dir.appendingPathComponent("w.csv").path)
    let v = try XCTUnwrap(rows.first { $0.metric == "head_confidence" }?.value, "\(rows)")
    XCTAssertEqual(v, ref, accuracy: 2e-6 * ref)
    // The benchmark-size model of entry 5 has other shapes: the load names the first key that differs.
    let bad = try run(["score", "--space", "bert", "--archs", "5", "--weights", st.path, "--metrics", "params", "--store", store], in: dir)
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.err.contains("--weights") && bad.err.contains("shape"), bad.err)
  }
}
