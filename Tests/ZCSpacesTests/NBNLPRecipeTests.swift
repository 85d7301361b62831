import Foundation
import XCTest
import ZCData
import ZCAutodiff
import ZCSpaces
import ZCTensor

/// Parsing and validation of NAS-Bench-NLP cell recipes: every error names the node.
final class NBNLPRecipeTests: XCTestCase {
  private func error(_ json: String) -> RecipeError? {
    do { _ = try NBNLPRecipe(json: json); return nil } catch let e as RecipeError { return e } catch { return nil }
  }

  func testErrorsNameTheNode() {
    let cases: [(String, String?, String)] = [
      (#"{"h_new_0":{"op":"activation_gelu","input":["x"]}}"#, "h_new_0", "unknown op 'activation_gelu'"),
      (#"{"a":{"op":"linear","input":["x","ghost"]},"h_new_0":{"op":"activation_tanh","input":["a"]}}"#, "a", "dangling input 'ghost'"),
      (#"{"a":{"op":"linear","input":["x","b"]},"b":{"op":"activation_tanh","input":["a"]},"h_new_0":{"op":"activation_tanh","input":["b"]}}"#, "a", "cycle"),
      (#"{"h_new_1":{"op":"linear","input":["x","h_prev_0"]}}"#, "h_new_0", "missing"),
      (#"{"h_new_0":{"op":"linear","input":["x","h_prev_1"]}}"#, "h_new_0", "input 'h_prev_1' has no h_new_1"),
      (#"{"h_new_0":{"op":"elementwise_prod","input":["x"]}}"#, "h_new_0", "takes 2 input(s), found 1"),
      (#"{"h_new_0":{"op":"blend","input":["x","h_prev_0"]}}"#, "h_new_0", "takes 3 input(s), found 2"),
      (#"{"x":{"op":"linear","input":["h_prev_0"]},"h_new_0":{"op":"activation_tanh","input":["x"]}}"#, "x", "cell input"),
      (#"{"h_new_0":{"op":"linear"}}"#, "h_new_0", "missing 'input'"),
      (#"{"h_new_0":{"op":"linear","input":["x"]},"h_new_2":{"op":"linear","input":["x"]}}"#, "h_new_1", "missing"),
      (#"[1, 2]"#, nil, "expected a JSON object"),
    ]
    for (json, node, text) in cases {
      guard let e = error(json) else { XCTFail("accepted: \(json)"); continue }
      XCTAssertEqual(e.node, node, json)
      XCTAssertTrue(e.description.contains(text), "\(e) should contain '\(text)'")
      if let node { XCTAssertTrue(e.description.contains("'\(node)'"), "\(e) should name \(node)") }
      XCTAssertFalse(e.description.contains("\n"), "one line")
    }
  }

  /// The cycle message lists the cycle.
  func testCycleIsListed() {
    let e = error(#"{"a":{"op":"linear","input":["x","b"]},"b":{"op":"activation_tanh","input":["a"]},"h_new_0":{"op":"activation_tanh","input":["b"]}}"#)
    XCTAssertEqual(e?.description, "recipe node 'a': cycle: a <- b <- a")
  }

  /// Every recipe of the benchmark table parses; the order puts inputs before their users; the
  /// canonical JSON equals the table's (sorted keys, as the benchmark stores it).
  func testEveryBenchmarkRecipeParses() throws {
    let table = try NBNLPTable(path: fixturesFolder.deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Datasets/nasbench_nlp/nbnlp_wikitext2_subset.csv").path)
    XCTAssertEqual(table.rows.count, 345)
    XCTAssertEqual(table.recipeIDs.count, 344)
    var sizes: [Int: Int] = [:]
    for row in table.rows {
      let r = try NBNLPRecipe(json: row.recipe)
      sizes[r.hiddenTupleSize, default: 0] += 1
      var seen = Set(["x"] + (0..<r.hiddenTupleSize).map { "h_prev_\($0)" })
      for n in r.order {
        XCTAssertTrue(r.nodes[n]!.inputs.allSatisfy(seen.contains), "\(row.recipeID): \(n) before its inputs")
        seen.insert(n)
      }
      XCTAssertEqual(r.canonicalJSON, row.recipe, "\(row.recipeID)")
      // The evaluation order is the documented one: among ready nodes, the smallest name first.
      var done = Set(["x"] + (0..<r.hiddenTupleSize).map { "h_prev_\($0)" }), expected: [String] = []
      while expected.count < r.nodes.count {
        let next = r.nodes.keys.filter { !done.contains($0) && r.nodes[$0]!.inputs.allSatisfy(done.contains) }.min()!
        expected.append(next)
        done.insert(next)
      }
      XCTAssertEqual(r.order, expected, "\(row.recipeID)")
    }
    XCTAssertEqual(sizes, [1: 161, 2: 141, 3: 43])  // counted in Python from the CSV
    XCTAssertEqual(table.groundTruth(\.finalTestLoss).count, 340)  // 341 OK runs, one id twice
  }

  /// The fixtures' recipes: hidden tuple size as recorded by the PyTorch model.
  func testFixtureHiddenTupleSizes() throws {
    for name in ["nbnlp_wt2_r1000001_lstm", "nbnlp_wt2_r1008700_rand0"] {
      let url = fixturesFolder.appendingPathComponent("nbnlp/\(name).json")
      let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
      let r = try NBNLPRecipe(json: json["recipe_json_string"] as! String)
      XCTAssertEqual(r.hiddenTupleSize, json["hidden_tuple_size"] as? Int, name)
      XCTAssertEqual(r.canonicalJSON, json["recipe_json_string"] as? String, name)
    }
  }

  /// A recipe with a 100,000-node chain: parsed, built and run (with a gradient tape) at a tiny
  /// size, and released, without overflowing the stack (it crashed with SIGSEGV).
  func testHundredThousandNodeChain() throws {
    let n = 100_000
    var parts = [#""n000000":{"op":"linear","input":["x","h_prev_0"]}"#]
    for i in 1..<n { parts.append("\"n\(String(format: "%06d", i))\":{\"op\":\"activation_tanh\",\"input\":[\"n\(String(format: "%06d", i - 1))\"]}") }
    parts.append("\"h_new_0\":{\"op\":\"activation_tanh\",\"input\":[\"n\(String(format: "%06d", n - 1))\"]}")
    let recipe = try NBNLPRecipe(json: "{" + parts.joined(separator: ",") + "}")
    XCTAssertEqual(recipe.order.count, n + 1)
    XCTAssertEqual(recipe.order.first, "n000000")
    XCTAssertEqual(recipe.order.last, "h_new_0")
    var rng = ZCRandom(seed: 1)
    let net = try NBNLPNetwork(recipe, size: NBNLPModelSize(vocabulary: 5, embeddingSize: 2, hiddenSize: 2, layers: 1), rng: &rng)
    do {
      let f = net(TokenBatch(ids: [0, 1, 2, 3], steps: 2, batch: 2))
      let g = gradients(of: sum(f.output), withRespectTo: [net.embeddingWeight.variable])
      XCTAssertEqual(g[0]?.shape, [5, 2])
    }
  }

  /// A 100,000-node cycle is found and named in linear time (the old search was quadratic).
  /// A 100,000-node cycle is found and named (no stack overflow). Its speed (the search used to be
  /// quadratic, 9 s here) is not asserted: unit tests are never timed.
  func testLongCycleIsNamed() {
    let n = 100_000
    var parts: [String] = []
    for i in 0..<n { parts.append("\"c\(String(format: "%06d", i))\":{\"op\":\"activation_tanh\",\"input\":[\"c\(String(format: "%06d", (i + 1) % n))\"]}") }
    parts.append(#""h_new_0":{"op":"linear","input":["x","c000000"]}"#)
    let e = error("{" + parts.joined(separator: ",") + "}")
    XCTAssertEqual(e?.node, "c000000")
    XCTAssertTrue(e?.description.hasPrefix("recipe node 'c000000': cycle: c000000 <- c000001 <- ") ?? false)
  }
}
