import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// The FlexiBERT/ELECTRA model: parameter names against the reference state_dicts, the parameter
/// count against the formula of `shared/docs/flexibert-model.md` (section 10), finite-difference
/// gradients of every parameter of tiny networks of each operation, and architecture parsing.
final class BERTNetworkTests: XCTestCase {
  func layer(_ op: BERTLayerSpec.Operation, heads: Int = 4, ff: Int = 1) -> BERTLayerSpec {
    BERTLayerSpec(operation: op, heads: heads, feedForwardDimension: 512, feedForwardCount: ff)
  }

  /// The doc's formula: N = V·E + P·E + 2E + 2E + [H≠E](E·H + H) + Σ (N_op + N_ffn).
  func formula(_ a: BERTArchitecture, _ s: BERTModelSize) -> Int {
    let (v, e, p, h) = (s.vocabulary, s.embeddingSize, s.positions, s.hiddenSize)
    var n = v * e + p * e + 2 * e + 2 * e + (h != e ? e * h + h : 0)
    for (l, i) in zip(a.layers, s.intermediateSizes) {
      switch l.operation {
      case .sdp: n += 4 * h * h + 6 * h
      case .wma: n += 5 * h * h + 6 * h
      case .dft, .dct: n += h * h + h
      case let .dsc(k):
        let hp = max(1, l.heads / 2), aa = hp * (h / l.heads)
        n += 3 * (h * aa + aa) + h * k + aa * h + aa + (aa * hp * k + hp * k) + (h * aa + aa) + h * h + 3 * h
      }
      n += (h * i + i) + (l.feedForwardCount - 1) * (i * i + i) + (i * h + h) + 2 * h
    }
    return n
  }

  func testParameterCountEqualsFormulaInBothModes() throws {
    let t = try BERTBenchmarkTable(path: TestPaths.datasets + "/bert_benchmark/bert_benchmark.csv")
    XCTAssertEqual(t.rows.count, 500)
    var rng = ZCRandom(seed: 0)
    var seen = 0
    for r in t.rows where r.id % 50 == 0 {
      let a = try BERTArchitecture(hiddenSize: r.hiddenSize, layersJSON: r.encoderLayers)
      for mode in BERTModelSize.Mode.allCases {
        let s = BERTModelSize.of(a, mode: mode)
        XCTAssertEqual(BERTNetwork(a, size: s, dtype: .float32, rng: &rng).parameterCount, formula(a, s), "id \(r.id) \(mode)")
      }
      seen += 1
    }
    XCTAssertEqual(seen, 10)
  }

  /// Keys and shapes equal the reference state_dict of every shared fixture (without the
  /// `embeddings.position_ids` buffer), in order.
  func testStateDictEqualsReferenceFixtures() throws {
    let folder = try TestPaths.shared("reference/bert")
    for f in try FileManager.default.contentsOfDirectory(atPath: folder).filter({ $0.hasSuffix(".json") }).sorted() {
      let j = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + f))) as! [String: Any]
      let layers = ((j["nas_config"] as! [String: Any])["encoder_layers"])!
      let mc = j["model_config"] as! [String: Any]
      let bh = (j["benchmark_row"] as! [String: Any])["hidden_size"] as! Int
      let text = String(decoding: try JSONSerialization.data(withJSONObject: layers), as: UTF8.self)
      let a = try BERTArchitecture(hiddenSize: bh, layersJSON: text)
      let s = BERTModelSize(hiddenSize: mc["hidden_size"] as! Int, intermediateSizes: a.layers.map { _ in mc["intermediate_size"] as! Int })
      var rng = ZCRandom(seed: 0)
      let net = BERTNetwork(a, size: s, dtype: .float32, rng: &rng)
      let want = (j["state_dict"] as! [[String: Any]]).filter { ($0["key"] as! String) != "embeddings.position_ids" }
      let mine = net.namedParameters()
      XCTAssertEqual(mine.map(\.0), want.map { $0["key"] as! String }, f)
      XCTAssertEqual(mine.map(\.1.shape), want.map { $0["shape"] as! [Int] }, f)
    }
  }

  /// Every parameter's gradient of ⟨r, last_hidden_state⟩ against central differences (Float64),
  /// for tiny networks of each operation (H 8, E 4, I 6, T 7), FFN stacks of 1 and 3, DSC with one
  /// and two attention heads.
  func testFiniteDifferenceGradientsOfEveryOperation() {
    let ops: [[BERTLayerSpec]] = [
      [layer(.sdp, heads: 2, ff: 3)], [layer(.wma)], [layer(.dft)], [layer(.dct, heads: 2)],
      [layer(.dsc(kernel: 5), heads: 2)], [layer(.dsc(kernel: 9), heads: 4), layer(.sdp)],
    ]
    for layers in ops {
      var s = BERTModelSize(hiddenSize: 8, intermediateSizes: layers.map { _ in 6 })
      s.vocabulary = 12; s.embeddingSize = 4; s.positions = 9
      var rng = ZCRandom(seed: 7)
      let net = BERTNetwork(BERTArchitecture(hiddenSize: 128, layers: layers), size: s, dtype: .float64, rng: &rng)
      // Larger weights than 0.02 so that every path contributes visibly.
      for (_, p) in net.namedParameters() {
        p.value = Initializer.normal(mean: 0, std: 0.5).make(shape: p.shape, dtype: .float64, rng: &rng)
      }
      let ids = [1, 5, 0, 11, 3, 3, 7, 2, 9, 4, 6, 8, 10, 1]
      let (b, t) = (2, 7)
      let r = Initializer.normal(mean: 0, std: 1).make(shape: [b, t, 8], dtype: .float64, rng: &rng).doubles
      func loss() -> Double { zip(GradMode.withoutRecording { net(ids: ids, batch: b, steps: t, record: false) }.output.value.doubles, r).reduce(0) { $0 + $1.0 * $1.1 } }
      let params = net.namedParameters()
      let out = net(ids: ids, batch: b, steps: t, record: false).output
      let g = gradientTensors(of: out, withRespectTo: params.map(\.1.variable), seed: Variable(Tensor(r, shape: [b, t, 8])))
      for ((name, p), ga) in zip(params, g) {
        var v = p.value.doubles
        var numeric = [Double](repeating: 0, count: v.count)
        for i in 0..<v.count {
          let x0 = v[i]
          v[i] = x0 + 1e-6; p.value = Tensor(v, shape: p.shape); let lp = loss()
          v[i] = x0 - 1e-6; p.value = Tensor(v, shape: p.shape); let lm = loss()
          v[i] = x0; p.value = Tensor(v, shape: p.shape)
          numeric[i] = (lp - lm) / 2e-6
        }
        let a = ga.doubles
        let diff = zip(a, numeric).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let scale = max(a.map { $0 * $0 }.reduce(0, +).squareRoot(), numeric.map { $0 * $0 }.reduce(0, +).squareRoot())
        if name.hasSuffix("key.bias") {
          // softmax is invariant to q·b_k, the same for every key: this gradient is exactly 0.
          XCTAssertLessThan(a.map { Swift.abs($0) }.max()!, 1e-10, "\(name)")
          XCTAssertLessThan(numeric.map { Swift.abs($0) }.max()!, 1e-7, "\(name)")
          continue
        }
        XCTAssertGreaterThan(scale, 0, "\(layers.map(\.operation)) \(name): zero gradient")
        XCTAssertLessThan(diff / scale, 1e-5, "\(layers.map(\.operation)) \(name)")
      }
    }
  }

  func testArchitectureParsingErrors() throws {
    XCTAssertThrowsError(try BERTArchitecture(json: "nope")) { XCTAssertTrue("\($0)".contains("not JSON")) }
    XCTAssertThrowsError(try BERTArchitecture(hiddenSize: 192, layersJSON: "[]")) { XCTAssertTrue("\($0)".contains("hidden_size")) }
    let bad = #"[{"feed_forward_dimension":512,"num_feed_forward":2,"num_operation_heads":2,"operation_parameter":"SDP","operation_type":"SA"}]"#
    XCTAssertThrowsError(try BERTArchitecture(hiddenSize: 128, layersJSON: bad)) { XCTAssertTrue("\($0)".contains("num_feed_forward")) }
    let op = #"[{"feed_forward_dimension":512,"num_feed_forward":1,"num_operation_heads":2,"operation_parameter":7,"operation_type":"DSC"}]"#
    XCTAssertThrowsError(try BERTArchitecture(hiddenSize: 128, layersJSON: op)) { XCTAssertTrue("\($0)".contains("DSC (5, 9)")) }
    let good = #"[{"feed_forward_dimension":512,"num_feed_forward":1,"num_operation_heads":2,"operation_parameter":9,"operation_type":"DSC"}]"#
    let a = try BERTArchitecture(hiddenSize: 128, layersJSON: good)
    XCTAssertEqual(a.layersJSON, good)
    XCTAssertEqual(try BERTArchitecture(json: a.canonicalJSON), a)
  }
}
