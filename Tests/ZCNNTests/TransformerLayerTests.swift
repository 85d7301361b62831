import XCTest
import ZCAutodiff
import ZCNN
import ZCTensor

/// The BERT layers: parameter names and initialisation, and finite-difference gradients of their
/// parameters (Float64, central differences, relative error < 1e-6).
final class TransformerLayerTests: XCTestCase {
  /// Checks ∂Σ(r ⊙ f())/∂p against central differences for every element of every parameter.
  func assertParameterGradients(_ params: [Parameter], seed: UInt64 = 5, file: StaticString = #filePath, line: UInt = #line, _ f: () -> Variable) {
    let y = f()
    var rng = ZCRandom(seed: seed)
    let r = Initializer.normal(mean: 0, std: 1).make(shape: y.shape, dtype: .float64, rng: &rng)
    let analytic = gradientTensors(of: y, withRespectTo: params.map(\.variable), seed: Variable(r))
    let rv = r.doubles
    func loss() -> Double { zip(GradMode.withoutRecording { f() }.value.doubles, rv).reduce(0) { $0 + $1.0 * $1.1 } }
    let h = 1e-6
    for (k, p) in params.enumerated() {
      var v = p.value.doubles
      var numeric = [Double](repeating: 0, count: v.count)
      for i in 0..<v.count {
        let x0 = v[i]
        v[i] = x0 + h; p.value = Tensor(v, shape: p.shape); let lp = loss()
        v[i] = x0 - h; p.value = Tensor(v, shape: p.shape); let lm = loss()
        v[i] = x0; p.value = Tensor(v, shape: p.shape)
        numeric[i] = (lp - lm) / (2 * h)
      }
      let a = analytic[k].doubles
      let diff = zip(a, numeric).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
      let scale = max(a.map { $0 * $0 }.reduce(0, +).squareRoot(), numeric.map { $0 * $0 }.reduce(0, +).squareRoot())
      XCTAssertGreaterThan(scale, 0, "parameter \(k): zero gradient", file: file, line: line)
      XCTAssertLessThan(diff / scale, 1e-6, "parameter \(k)", file: file, line: line)
    }
  }

  func testTokenLinearGradientsAndShapes() {
    var rng = ZCRandom(seed: 1)
    let l = TokenLinear(4, 3, dtype: .float64, rng: &rng)
    XCTAssertEqual(l.namedParameters().map(\.0), ["weight", "bias"])
    XCTAssertEqual(l.bias!.value.doubles, [0, 0, 0])  // BERT init: bias 0
    l.bias!.value = Tensor([0.1, -0.2, 0.3], shape: [3])
    let x = Variable(Initializer.normal(mean: 0, std: 1).make(shape: [2, 5, 4], dtype: .float64, rng: &rng), requiresGrad: true)
    XCTAssertEqual(l(x).shape, [2, 5, 3])
    assertParameterGradients([l.weight, l.bias!]) { l(x) }
    let noBias = TokenLinear(4, 4, bias: false, dtype: .float64, rng: &rng)
    XCTAssertEqual(noBias.namedParameters().map(\.0), ["weight"])
  }

  func testTokenEmbeddingGradientAndPaddingRow() {
    var rng = ZCRandom(seed: 2)
    let e = TokenEmbedding(10, 3, paddingIndex: 0, dtype: .float64, rng: &rng)
    XCTAssertEqual(Array(e.weight.value.doubles[0..<3]), [0, 0, 0])
    XCTAssertTrue(e.weight.value.doubles[3...].allSatisfy { $0 != 0 })
    let ids = [1, 4, 4, 9, 0, 2]
    XCTAssertEqual(e(ids, shape: [2, 3]).shape, [2, 3, 3])
    assertParameterGradients([e.weight]) { e(ids, shape: [2, 3]) }
  }

  func testLayerNormLayerGradientsAndInit() {
    let n = LayerNormLayer(6, eps: 1e-12, dtype: .float64)
    XCTAssertEqual(n.weight.value.doubles, [1, 1, 1, 1, 1, 1])
    XCTAssertEqual(n.bias.value.doubles, [0, 0, 0, 0, 0, 0])
    var rng = ZCRandom(seed: 3)
    let x = Variable(Initializer.normal(mean: 0, std: 1).make(shape: [2, 4, 6], dtype: .float64, rng: &rng))
    assertParameterGradients([n.weight, n.bias]) { n(x) }
  }

  /// N(0, 0.02²) initialisation: the sample standard deviation of a 256 × 256 weight is 0.02 ± 2%.
  func testNormalInitialisationScale() {
    var rng = ZCRandom(seed: 4)
    let l = TokenLinear(256, 256, rng: &rng)
    let v = l.weight.value.doubles
    let mu = v.reduce(0, +) / Double(v.count)
    let sd = (v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(v.count)).squareRoot()
    XCTAssertEqual(sd, 0.02, accuracy: 0.0004)
    XCTAssertEqual(mu, 0, accuracy: 0.0005)
  }
}
