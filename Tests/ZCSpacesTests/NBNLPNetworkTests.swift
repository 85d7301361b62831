import Foundation
import XCTest
import ZCAutodiff
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// The NAS-Bench-NLP language model: gradients through the unrolled cell (every op type) against
/// finite differences, initialisation ranges, tying, sizes and determinism.
final class NBNLPNetworkTests: XCTestCase {
  /// Every op type, two hidden states, h_new_1 reading h_new_0, a 3-input linear node.
  static let allOps = #"""
    {"a":{"op":"linear","input":["x","h_prev_0","h_prev_1"]},"b":{"op":"activation_sigm","input":["a"]},
     "c":{"op":"linear","input":["x","h_prev_1"]},"d":{"op":"activation_tanh","input":["c"]},
     "e":{"op":"blend","input":["b","d","h_prev_0"]},"f":{"op":"elementwise_prod","input":["e","d"]},
     "h_new_0":{"op":"activation_leaky_relu","input":["f"]},"h_new_1":{"op":"elementwise_sum","input":["h_new_0","h_prev_1"]}}
    """#

  private func tiny(seed: UInt64 = 1, dtype: DType = .float64) throws -> NBNLPNetwork {
    var rng = ZCRandom(seed: seed)
    return try NBNLPNetwork(try NBNLPRecipe(json: Self.allOps), size: NBNLPModelSize(vocabulary: 7, embeddingSize: 3, hiddenSize: 4, layers: 2),
                            dtype: dtype, rng: &rng)
  }

  private let tokens = TokenBatch(ids: [1, 2, 3, 4, 5, 6, 0, 2], steps: 4, batch: 2)

  /// d(Σ y²)/dθ for every parameter entry against central differences (float64).
  func testGradientsMatchFiniteDifferences() throws {
    let net = try tiny()
    func loss() -> Variable { let y = net(tokens).output; return sum(multiply(y, y)) }
    let params = net.namedParameters().filter { $0.0 != "decoder.weight" && $0.0 != "decoder.bias" }
    let grads = gradientTensors(of: GradMode.$isEnabled.withValue(true) { loss() }, withRespectTo: params.map { $0.1.variable })
    var checked = 0
    for ((name, p), g) in zip(params, grads) {
      let base = p.value.doubles
      for i in stride(from: 0, to: base.count, by: max(1, base.count / 6)) {
        func at(_ d: Double) -> Double {
          var v = base
          v[i] += d
          p.value = Tensor(v, shape: p.shape)
          return GradMode.withoutRecording { loss() }.value.scalarValue
        }
        let h = 1e-6
        let fd = (at(h) - at(-h)) / (2 * h)
        p.value = Tensor(base, shape: p.shape)
        let an = g.doubles[i]
        XCTAssertEqual(an, fd, accuracy: 1e-6 * max(1, Swift.abs(fd)), "\(name)[\(i)]")
        checked += 1
      }
    }
    XCTAssertGreaterThan(checked, 40)
  }

  func testSizesTyingAndInitialisation() throws {
    var rng = ZCRandom(seed: 3)
    let size = NBNLPModelSize(vocabulary: 50, embeddingSize: 6, hiddenSize: 9, layers: 3)
    let net = try NBNLPNetwork(try NBNLPRecipe(json: Self.allOps), size: size, dtype: .float32, rng: &rng)
    let p = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1) })
    XCTAssertTrue(p["decoder.weight"] === p["encoder.weight"], "tied")
    XCTAssertEqual(p["encoder.weight"]!.shape, [50, 6])
    XCTAssertEqual(p["decoder.bias"]!.value.doubles, [Double](repeating: 0, count: 50))
    XCTAssertTrue(p["encoder.weight"]!.value.doubles.allSatisfy { Swift.abs($0) <= 0.1 })
    // Layer 1 reads emsize, layers 2-3 read nhid; the last layer has emsize hidden units.
    XCTAssertEqual(p["rnns.0.cell.components.a.weights.0"]!.shape, [9, 6])
    XCTAssertEqual(p["rnns.1.cell.components.a.weights.0"]!.shape, [9, 9])
    XCTAssertEqual(p["rnns.2.cell.components.a.weights.0"]!.shape, [6, 9])
    XCTAssertEqual(p["rnns.2.cell.components.a.weights.2"]!.shape, [6, 6])
    for (name, q) in p where name.hasPrefix("rnns.") {
      let h = Double(name.hasPrefix("rnns.2.") ? 6 : 9)
      XCTAssertTrue(q.value.doubles.allSatisfy { Swift.abs($0) <= 1 / h.squareRoot() }, name)
    }
    let out = GradMode.withoutRecording { net(TokenBatch(ids: Array(0..<10), steps: 5, batch: 2)) }
    XCTAssertEqual(out.output.shape, [10, 6])
    XCTAssertEqual(out.incomingHidden.map(\.shape), [[5, 2, 9], [5, 2, 9], [5, 2, 6]])
    XCTAssertTrue(out.incomingHidden.allSatisfy { $0.doubles.prefix(2 * $0.shape[2]).allSatisfy { $0 == 0 } }, "states start at zero")
  }

  func testSameSeedSameWeightsOtherSeedOtherWeights() throws {
    let a = try tiny(seed: 5), b = try tiny(seed: 5), c = try tiny(seed: 6)
    let va = a.namedParameters().map { $0.1.value.doubles }, vb = b.namedParameters().map { $0.1.value.doubles }
    XCTAssertEqual(va, vb)
    XCTAssertNotEqual(va, c.namedParameters().map { $0.1.value.doubles })
  }

  /// A non-linear node reading x of another width is rejected with the node's name.
  func testNonLinearReadOfXWithOtherWidthIsAnError() throws {
    let r = try NBNLPRecipe(json: #"{"h_new_0":{"op":"elementwise_sum","input":["x","h_prev_0"]}}"#)
    var rng = ZCRandom(seed: 0)
    XCTAssertThrowsError(try NBNLPNetwork(r, size: NBNLPModelSize(vocabulary: 4, embeddingSize: 3, hiddenSize: 5, layers: 2), rng: &rng)) { e in
      XCTAssertEqual((e as? RecipeError)?.node, "h_new_0")
    }
  }
}
