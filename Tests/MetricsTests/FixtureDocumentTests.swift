import Foundation
import TestSupport
import XCTest
import ZCData
import ZCEngine
import ZCTensor

/// Fixture json decoded into typed fields: wrong types, out-of-range sizes and empty references
/// are errors naming the field, what was expected and what was found; the shipped fixtures read
/// the same reference values as before; 1,000 mutated copies each load or throw.
final class FixtureDocumentTests: XCTestCase {
  static let nb201 = TestPaths.fixtures("nb201/nb201_c10_i1651_allnone")
  static let nbnlp = TestPaths.fixtures("nbnlp/nbnlp_wt2_r1000001_lstm")

  private func json(_ base: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: base + ".json"))) as! [String: Any]
  }

  /// The error of a fixture whose json is `edit` applied to `base`'s (nil: it loads).
  private func error(_ base: String, _ tensors: SafetensorsFile, _ edit: (inout [String: Any]) -> Void) throws -> String? {
    var j = try json(base)
    edit(&j)
    let data = try JSONSerialization.data(withJSONObject: j)
    do { _ = try ReferenceFixture(json: data, jsonPath: "f.json", tensors: tensors); return nil } catch let e as FixtureError { return e.description }
  }

  func testWrongTypesAndBoundsAreNamed() throws {
    let t201 = try SafetensorsFile(path: Self.nb201 + ".safetensors")
    let cases: [(String, (inout [String: Any]) -> Void)] = [
      ("f.json: 'N': expected an integer in 1...20, found -1", { $0["N"] = -1 }),
      ("f.json: 'C': expected an integer in 1...256, found 1000000000", { $0["C"] = 1e9 }),
      ("f.json: 'num_classes': expected an integer in 1...10000, found 1000000000000", { $0["num_classes"] = 1e12 }),
      ("f.json: 'C': expected an integer, found a string \"16\"", { $0["C"] = "16" }),
      ("f.json: 'C': expected an integer, found a number 16.5", { $0["C"] = 16.5 }),
      ("f.json: 'C': expected an integer, found a boolean true", { $0["C"] = true }),
      ("f.json: missing field 'N' (an integer in 1...20)", { $0["N"] = nil }),
      ("f.json: 'reference': expected an object, found a string", { $0["reference"] = "grad_norm" }),
      ("f.json: 'reference': expected an object, found null", { $0["reference"] = NSNull() }),
      ("f.json: 'reference': expected an object, found a list", { $0["reference"] = [Any]() }),
      ("f.json: missing field 'reference'", { $0["reference"] = nil }),
      ("f.json: 'reference': expected at least one metric with a reference value, found none", { $0["reference"] = [String: Any]() }),
      ("f.json: 'reference.snip': expected an object, found a number", { $0["reference"] = ["snip": 1.5] }),
      ("f.json: 'reference.snip.value_float64': expected a number or \"nan\", \"inf\", \"-inf\", found a string \"big\"", { $0["reference"] = ["snip": ["value_float64": "big"]] }),
      ("f.json: 'reference.snip': expected value_float64", { $0["reference"] = ["snip": ["value_float32": 1.0]] }),
      ("f.json: missing field 'kind'", { $0["kind"] = nil }),
      ("f.json: 'kind': expected a string, found a number", { $0["kind"] = 201 }),
      ("f.json: 'arch': ", { $0["arch"] = "|conv~0|" }),
      ("f.json: 'state_dict[0].key': expected a string", { $0["state_dict"] = [["key": 3, "shape": [1], "dtype": "float32"]] }),
    ]
    for (expected, edit) in cases {
      let e = try error(Self.nb201, t201, edit)
      XCTAssertNotNil(e, expected)
      XCTAssertTrue(e?.hasPrefix(expected) ?? false, "\(e ?? "loaded"): expected \(expected)")
      XCTAssertFalse(e?.contains("\n") ?? false)
    }
    let tnlp = try SafetensorsFile(path: Self.nbnlp + ".safetensors")
    let recurrent: [(String, (inout [String: Any]) -> Void)] = [
      ("f.json: 'model.nhid': expected an integer in 1...8192, found 100000", { var m = $0["model"] as! [String: Any]; m["nhid"] = 100_000; $0["model"] = m }),
      ("f.json: missing field 'model.ntoken'", { var m = $0["model"] as! [String: Any]; m["ntoken"] = nil; $0["model"] = m }),
      ("f.json: 'recipe_json_string': recipe node 'h_new_0': missing", { $0["recipe_json_string"] = #"{"a":{"op":"linear","input":["x"]}}"# }),
      ("f.json: 'recipe_json_string': expected a string, found an object", { $0["recipe_json_string"] = $0["recipe"] }),
      ("f.json: 'hidden_tuple_size': the recipe has 2 hidden states, found 3", { $0["hidden_tuple_size"] = 3 }),
      ("f.json: 'reference.hidden_covariance.layers': expected a non-empty list", { $0["reference"] = ["hidden_covariance": ["layers": [Any]()]] }),
      ("f.json: 'reference.hidden_covariance.layers[0].layer': expected an integer in 1...3, found 9", { $0["reference"] = ["hidden_covariance": ["layers": [["layer": 9, "value_float64": 1.0]]]] }),
      ("f.json: 'reference.hidden_covariance.layers[0]': missing value_float64", { $0["reference"] = ["hidden_covariance": ["layers": [["layer": 1]]]] }),
    ]
    for (expected, edit) in recurrent {
      let e = try error(Self.nbnlp, tnlp, edit)
      XCTAssertTrue(e?.hasPrefix(expected) ?? false, "\(e ?? "loaded"): expected \(expected)")
    }
  }

  /// The shipped fixtures' reference values read as the untyped reader read them (`value_float64`,
  /// else `value`, with "nan"/"inf"/"-inf"), except that they are now correctly rounded: the old
  /// reader (JSONSerialization) was up to 2 ulps off on some of them; the typed one gives the
  /// nearest double to the decimal text, as Python wrote and reads it.
  func testShippedFixturesReadTheSameValues() throws {
    func old(_ v: Any?) -> Double? {
      if let n = v as? NSNumber { return n.doubleValue }
      switch v as? String { case "nan"?: return .nan; case "inf"?: return .infinity; case "-inf"?: return -.infinity; default: return nil }
    }
    for f in try ReferenceFixture.all(in: TestPaths.fixtures("nb201")) {
      var refs = (try json(String(f.jsonPath.dropLast(5))))["reference"] as! [String: [String: Any]]
      // reference_extra (newer proxies): each proxy's variant-b value, except meco_opt (random picks)
      // and the AZ-NAS/VKDNW proxies, which are checked per variant on the protocol tensors.
      let extra = ((try json(String(f.jsonPath.dropLast(5))))["reference_extra"] as? [String: Any])?["proxies"] as? [String: [String: Any]] ?? [:]
      for (m, variants) in extra where m != "meco_opt" && !m.hasPrefix("az_nas_") && !m.hasPrefix("vkdnw_") {
        if let b = variants["b"] as? [String: Any], b["value_float64"] != nil, refs[m] == nil { refs[m] = b }
      }
      XCTAssertEqual(f.referencedMetrics, refs.keys.sorted(), f.name)
      for (m, entry) in refs {
        let a = try XCTUnwrap(f.referenceValue(m)), b = try XCTUnwrap(old(entry["value_float64"] ?? entry["value"]))
        if a.isFinite { XCTAssertEqual(a, b, accuracy: 4 * b.ulp, "\(f.name) \(m)") } else { XCTAssertEqual(a.bitPattern, b.bitPattern, "\(f.name) \(m)") }
      }
      let j = try json(String(f.jsonPath.dropLast(5)))
      XCTAssertEqual(try f.nb201().channels, j["C"] as? Int)
      XCTAssertEqual(try f.nb201().cellsPerStage, j["N"] as? Int)
      XCTAssertEqual(try f.nb201().numClasses, j["num_classes"] as? Int)
    }
    for f in try ReferenceFixture.all(in: TestPaths.fixtures("nbnlp")) {
      let j = try json(String(f.jsonPath.dropLast(5)))
      let layers = ((j["reference"] as! [String: Any])["hidden_covariance"] as! [String: Any])["layers"] as! [[String: Any]]
      XCTAssertEqual(f.recurrentReferences.count, layers.count)
      for l in layers {
        let a = try XCTUnwrap(f.hiddenCovarianceReference(layer: l["layer"] as! Int)), b = try XCTUnwrap(old(l["value_float64"]))
        XCTAssertEqual(a, b, accuracy: 4 * b.ulp, f.name)
      }
    }
    // Correct rounding: Python's float("3.2784143825694425") (nb201_c10_i3773_rand0 grad_norm), bit for bit.
    let f = try ReferenceFixture(jsonPath: TestPaths.fixtures("nb201/nb201_c10_i3773_rand0.json"))
    XCTAssertEqual(f.referenceValue("grad_norm")?.bitPattern, 4614564751695870316)
    XCTAssertEqual(f.referenceValue("grad_norm"), Double("3.2784143825694425"))
  }

  /// 1,000 seeded byte-mutated copies of each kind's fixture json (flips, truncations, insertions,
  /// boundary values, splices), read with the fixture's tensors: each loads or throws a
  /// ``FixtureError`` (one line, naming the file).
  func testFuzzedFixtureJSONLoadsOrThrows() throws {
    // Mutations go, in turn, anywhere and into the parts the reader uses (between the keys named).
    let parts: [(UInt64, String, [(String, String)])] = [
      (201, Self.nb201, [("\"kind\"", "\"seed\""), ("\"reference\"", "\"generation_seconds\"")]),
      (15, Self.nbnlp, [("\"kind\"", "\"recipe_ops\""), ("\"hidden_tuple_size\"", "\"vocabulary\""), ("\"reference\"", "\"generation_seconds\"")]),
    ]
    for (seed, base, keys) in parts {
      let tensors = try SafetensorsFile(path: base + ".safetensors")
      let data = try Data(contentsOf: URL(fileURLWithPath: base + ".json"))
      let original = [UInt8](data)
      let focus: [Range<Int>?] = [nil] + keys.map { a, b in
        let from = data.range(of: Data(a.utf8))!.lowerBound, to = data.range(of: Data(b.utf8))!.lowerBound
        return (from - data.startIndex)..<(to - data.startIndex)
      }
      let r = assertByteMutationsLoadOrThrow(original, seed: seed, focus: { focus[$0 % focus.count] }, rejecting: FixtureError.self,
                                             prefix: { "copy\($0).json: " }) { i, bytes, _ in
        let f = try ReferenceFixture(json: bytes, jsonPath: "copy\(i).json", tensors: tensors)
        switch f.content {
        case let .nb201(s): XCTAssertTrue(ReferenceFixture.nb201Bounds.channels.contains(s.channels), "copy \(i)")
        case let .nbnlp(s): XCTAssertTrue(ReferenceFixture.nbnlpBounds.hidden.contains(s.size.hiddenSize), "copy \(i)")
        case let .bert(s): XCTAssertTrue((16...4096).contains(s.size.hiddenSize), "copy \(i)")
        case .other: break
        }
      }
      let (loaded, thrown) = (r.loaded, r.rejected)
      print("fuzz \(URL(fileURLWithPath: base).lastPathComponent): \(loaded) loaded, \(thrown) rejected")
      XCTAssertGreaterThan(loaded, 0)
      XCTAssertGreaterThan(thrown, 0)
    }
  }
}
