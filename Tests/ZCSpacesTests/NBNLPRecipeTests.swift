import Foundation
import XCTest
import ZCData
import ZCSpaces

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
}
