import Foundation
import TestSupport
import XCTest
import ZCData

/// The precomputed BERT score tables in `Datasets/bert-scores/` are what their PROVENANCE.md says:
/// all 500 architectures, the 15 transformer proxies once each, one scoring setting per file,
/// parameter counts equal to the documented formula, and missing values only where
/// head_importance has no term (hidden size 128, every layer DSC, benchmark sizes).
final class BERTShippedTablesTests: XCTestCase {
  static let metrics: Set<String> = [
    "head_confidence", "head_confidence_normalized", "head_softmax_confidence", "head_softmax_confidence_normalized",
    "activation_distance", "activation_distance_normalized", "synaptic_diversity", "synaptic_diversity_normalized",
    "synaptic_saliency", "synaptic_saliency_normalized", "head_importance", "head_importance_normalized",
    "jacobian_cov", "jacobian_cosine", "params",
  ]

  /// Benchmark entries by id: (hidden size, layers as decoded JSON objects), read independently of ZCSpaces.
  static func entries() throws -> [Int: (Int, [[String: Any]])] {
    let t = try CSVTable.read(path: TestPaths.datasets + "/bert_benchmark/bert_benchmark.csv")
    let c = try t.columns(["id", "hidden_size", "encoder_layers"])
    var out: [Int: (Int, [[String: Any]])] = [:]
    for r in t.rows {
      let layers = try JSONSerialization.jsonObject(with: Data(r[c["encoder_layers"]!].utf8)) as! [[String: Any]]
      out[Int(r[c["id"]!])!] = (Int(r[c["hidden_size"]!])!, layers)
    }
    return out
  }

  /// flexibert-model.md section 10 with V 30522, E 128, P 512.
  static func parameterFormula(h: Int, layers: [[String: Any]], ffn: (([String: Any]) -> Int)) -> Int {
    let (v, e, p) = (30522, 128, 512)
    var n = v * e + p * e + 4 * e + (h != e ? e * h + h : 0)
    for l in layers {
      let heads = l["num_operation_heads"] as! Int, nff = l["num_feed_forward"] as! Int, i = ffn(l)
      switch (l["operation_type"] as! String, l["operation_parameter"]) {
      case ("SA", let q as String): n += (q == "WMA" ? 5 : 4) * h * h + 6 * h
      case ("LT", _): n += h * h + h
      default:
        let k = l["operation_parameter"] as! Int, hp = max(1, heads / 2), a = hp * (h / heads)
        n += 3 * (h * a + a) + h * k + a * h + a + (a * hp * k + hp * k) + (h * a + a) + h * h + 3 * h
      }
      n += (h * i + i) + (nff - 1) * (i * i + i) + (i * h + h) + 2 * h
    }
    return n
  }

  func check(file: String, mode: String) throws {
    let text = String(decoding: try Gzip.read(TestPaths.datasets + "/bert-scores/" + file), as: UTF8.self)
    let t = try CSVTable.parse(text, source: file)
    let c = try t.columns(["arch_index", "metric", "init", "batch", "seed", "batch_size", "dtype", "value", "missing_reason"])
    XCTAssertEqual(Set(t.rows.map { $0[c["init"]!] }), ["bert-normal0.02:" + mode])
    XCTAssertEqual(Set(t.rows.map { $0[c["batch"]!] + "/" + $0[c["seed"]!] + "/" + $0[c["batch_size"]!] + "/" + $0[c["dtype"]!] }), ["wikitext2-test:packed:t128/0/8/float32"])
    let entries = try Self.entries()
    var seen: [Int: Set<String>] = [:]
    for r in t.rows {
      let id = Int(r[c["arch_index"]!])!, m = r[c["metric"]!]
      XCTAssertFalse(seen[id, default: []].contains(m), "\(file): \(id) \(m) twice")
      seen[id, default: []].insert(m)
      let (h, layers) = entries[id]!
      let allDSC128 = h == 128 && layers.allSatisfy { ($0["operation_type"] as! String) == "DSC" }
      let missing = !r[c["missing_reason"]!].isEmpty
      XCTAssertEqual(missing, mode == "benchmark" && allDSC128 && m == "head_importance_normalized", "\(file): \(id) \(m)")
      if m == "params" {
        let want = mode == "notebook" ? Self.parameterFormula(h: 256, layers: layers) { _ in 1024 }
                                      : Self.parameterFormula(h: h, layers: layers) { $0["feed_forward_dimension"] as! Int }
        XCTAssertEqual(Double(r[c["value"]!]), Double(want), "\(file): params of \(id)")
      }
    }
    XCTAssertEqual(Set(seen.keys), Set(0..<500), file)
    XCTAssertTrue(seen.values.allSatisfy { $0 == Self.metrics }, file)
  }

  func testBenchmarkSizesTable() throws { try check(file: "bert_benchmark_seed0_b8.csv.gz", mode: "benchmark") }
  func testNotebookSizesTable() throws { try check(file: "bert_notebook_seed0_b8.csv.gz", mode: "notebook") }
}
