import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCONNX
import ZCTensor

/// Second order: the gradient of ⟨∂L/∂x, v⟩ (a Hessian-vector product by double backward) against
/// finite differences of the first-order gradient.
func assertSecondOrderMatches(_ inputs: [Tensor], h: Double = 1e-5, tolerance: Double = 1e-5, file: StaticString = #filePath, line: UInt = #line,
                              _ f: ([Variable]) -> Variable) {
  let v = inputs.enumerated().map { randomTensor($0.element.shape, seed: 500 + UInt64($0.offset)) }
  func gradDot(_ xs: [Variable]) -> Variable {
    GradMode.$isEnabled.withValue(true) {
      // Finite differences call this with constants: make them leaves so the inner gradient exists.
      let leaves = xs.map { $0.requiresGrad ? $0 : Variable($0.value, requiresGrad: true) }
      let y = f(leaves)
      let r = Variable(randomTensor(y.shape, seed: 77))
      let g = gradients(of: sum(multiply(y, r)), withRespectTo: leaves, createGraph: true)
      var total = Variable(Tensor(scalar: 0, dtype: .float64))
      for (k, gk) in g.enumerated() { if let gk { total = add(total, sum(multiply(gk, Variable(v[k])))) } }
      return total
    }
  }
  GradMode.$isEnabled.withValue(true) {
    assertGradientsMatch(inputs, h: h, tolerance: tolerance, seed: 5, file: file, line: line) { xs in reshape(gradDot(xs), [1]) }
  }
}

final class ONNXOpGradientTests: XCTestCase {
  func testClipGradient() {
    let x = randomTensor([2, 3, 4], seed: 1, scale: 2)
    // Keep values away from the clip points so the differences do not straddle a kink.
    let safe = Tensor(x.doubles.map { v in [-1.0, 1.5].contains(where: { Swift.abs(v - $0) < 0.01 }) ? v + 0.05 : v }, shape: x.shape)
    assertGradientsMatch([safe]) { onnxClip($0[0], min: -1, max: 1.5) }
    let y = GradMode.withoutRecording { onnxClip(Variable(safe), min: -1, max: 1.5) }.value.doubles
    XCTAssertEqual(y, safe.doubles.map { min(max($0, -1), 1.5) })
  }

  func testClipDerivativeIsZeroOnTheBoundary() {
    // PyTorch's hardtanh_backward: zero where x <= min or x >= max.
    let x = Variable(Tensor([0.0, 6.0, 3.0, -1.0, 7.0], shape: [5]), requiresGrad: true)
    let g = gradientTensors(of: sum(onnxClip(x, min: 0, max: 6)), withRespectTo: [x])[0].doubles
    XCTAssertEqual(g, [0, 0, 1, 0, 0])
  }

  func testPowerGradient() {
    let x = Tensor(randomTensor([3, 4], seed: 2).doubles.map { Swift.abs($0) + 0.2 }, shape: [3, 4])
    for p in [3.0, 0.5, -1.5] {
      assertGradientsMatch([x]) { onnxPower($0[0], p) }
      assertSecondOrderMatches([x]) { onnxPower($0[0], p) }
    }
    let y = GradMode.withoutRecording { onnxPower(Variable(x), 0.5) }.value.doubles
    for (a, b) in zip(y, x.doubles.map { $0.squareRoot() }) { XCTAssertEqual(a, b, accuracy: 1e-14) }
  }

  func testPermuteGradientAndValues() {
    let x = randomTensor([2, 3, 4], seed: 3)
    assertGradientsMatch([x]) { onnxPermute($0[0], [2, 0, 1]) }
    let y = permuteTensor(x, [2, 0, 1])
    XCTAssertEqual(y.shape, [4, 2, 3])
    // y[k, i, j] = x[i, j, k], written out.
    for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { XCTAssertEqual(y[k, i, j], x[i, j, k]) } } }
  }

  func testPad2dGradient() {
    assertGradientsMatch([randomTensor([1, 2, 3, 3], seed: 4)]) { onnxPad2d($0[0], top: 1, left: 0, bottom: 2, right: 1) }
  }

  func testGroupedConvMatchesNaiveLoops() {
    // Depthwise-style: 4 groups of 1 input channel, 2 outputs each; stride 2, pad 1, dilation 1.
    let x = randomTensor([2, 4, 5, 5], seed: 5), w = randomTensor([8, 1, 3, 3], seed: 6)
    let g = Conv2DGeometry(stride: 2, padding: 1)
    let y = GradMode.withoutRecording { onnxConv2d(Variable(x), Variable(w), g, groups: 4) }.value
    XCTAssertEqual(y.shape, [2, 8, 3, 3])
    for n in 0..<2 { for o in 0..<8 { for r in 0..<3 { for c in 0..<3 {
      var s = 0.0
      let cin = o / 2  // group of output o (2 outputs per group, 1 input channel each)
      for kr in 0..<3 { for kc in 0..<3 {
        let ir = r * 2 - 1 + kr, ic = c * 2 - 1 + kc
        if ir >= 0 && ir < 5 && ic >= 0 && ic < 5 { s += x[n, cin, ir, ic] * w[o, 0, kr, kc] }
      } }
      XCTAssertEqual(y[n, o, r, c], s, accuracy: 1e-12)
    } } } }
  }

  func testGroupedConvGradients() {
    let x = randomTensor([2, 4, 4, 4], seed: 7), w = randomTensor([6, 2, 3, 3], seed: 8)
    let g = Conv2DGeometry(stride: 1, padding: 1)
    assertGradientsMatch([x, w]) { onnxConv2d($0[0], $0[1], g, groups: 2) }
    assertSecondOrderMatches([x, w]) { square(onnxConv2d($0[0], $0[1], g, groups: 2)) }
  }

  func testMaxPoolGradientAndCeilMode() {
    // Distinct values, so every window has one maximum and finite differences do not switch it.
    let x = Tensor((0..<50).map { Double(($0 * 37) % 50) / 7.0 }, shape: [1, 2, 5, 5])
    let g = MaxPool2DGeometry(kernel: (2, 2), stride: (2, 2), pads: (0, 0, 0, 0), ceilMode: true)
    let y = GradMode.withoutRecording { onnxMaxPool2d(Variable(x), g) }.value
    XCTAssertEqual(y.shape, [1, 2, 3, 3])  // ceil((5 - 2)/2) + 1 = 3
    // The last window of each row holds only column 4.
    XCTAssertEqual(y[0, 0, 0, 2], max(x[0, 0, 0, 4], x[0, 0, 1, 4]))
    assertGradientsMatch([x], h: 1e-4) { onnxMaxPool2d($0[0], g) }
    assertSecondOrderMatches([x], h: 1e-4) { square(onnxMaxPool2d($0[0], g)) }
    let floor = MaxPool2DGeometry(kernel: (3, 3), stride: (2, 2), pads: (1, 1, 1, 1))
    XCTAssertEqual(GradMode.withoutRecording { onnxMaxPool2d(Variable(x), floor) }.shape, [1, 2, 3, 3])
  }

  func testHardSigmoidAndHardSwish() {
    let x = Tensor(randomTensor([20], seed: 9, scale: 3).doubles.map { v in [-3.0, 3.0, -2.5, 2.5].contains(where: { Swift.abs(v - $0) < 0.01 }) ? v + 0.05 : v }, shape: [20])
    assertGradientsMatch([x]) { onnxHardSwish($0[0]) }
    assertGradientsMatch([x]) { onnxHardSigmoid($0[0], alpha: 0.2, beta: 0.5) }
    let y = GradMode.withoutRecording { onnxHardSwish(Variable(x)) }.value.doubles
    for (a, v) in zip(y, x.doubles) { XCTAssertEqual(a, v * min(max(v + 3, 0), 6) / 6, accuracy: 1e-14) }
  }

  // MARK: transformer ops

  /// erf against Python's math.erf (independent values), its gradient and second derivative
  /// against finite differences.
  func testErfValuesAndDerivatives() {
    let x = Tensor([-2.0, -0.3, 0.5, 1.0], shape: [4])
    let y = GradMode.withoutRecording { onnxErf(Variable(x)) }.value.doubles
    let python = [-0.9953222650189527, -0.3286267594591274, 0.5204998778130465, 0.8427007929497149]  // math.erf
    for (a, b) in zip(y, python) { XCTAssertEqual(a, b, accuracy: 1e-15) }
    let r = randomTensor([2, 3, 4], seed: 11, scale: 1.5)
    assertGradientsMatch([r]) { onnxErf($0[0]) }
    assertSecondOrderMatches([r]) { onnxErf($0[0]) }
  }

  /// The tanh GELU against Python (0.5·x·(1 + math.tanh(√(2/π)(x + 0.044715x³)))), and its derivatives.
  func testGeluTanhValuesAndDerivatives() {
    let x = Tensor([-2.0, -0.3, 0.5, 1.0], shape: [4])
    let y = GradMode.withoutRecording { onnxGeluTanh(Variable(x)) }.value.doubles
    let python = [-0.04540230591222494, -0.11462907645724074, 0.34571400982514394, 0.8411919906082768]
    for (a, b) in zip(y, python) { XCTAssertEqual(a, b, accuracy: 1e-15) }
    let r = randomTensor([3, 5], seed: 12, scale: 1.5)
    assertGradientsMatch([r]) { onnxGeluTanh($0[0]) }
    assertSecondOrderMatches([r]) { onnxGeluTanh($0[0]) }
  }

  /// Softmax on a middle axis: sums to 1 along it, equals e^x / Σ e^x written out, and its
  /// derivatives match finite differences.
  func testSoftmaxOnAnAxis() {
    let x = randomTensor([2, 3, 4], seed: 13)
    let y = GradMode.withoutRecording { onnxSoftmax(Variable(x), axis: 1) }.value
    XCTAssertEqual(y.shape, [2, 3, 4])
    for i in 0..<2 { for k in 0..<4 {
      let z = (0..<3).map { Foundation.exp(x[i, $0, k]) }.reduce(0, +)
      for j in 0..<3 { XCTAssertEqual(y[i, j, k], Foundation.exp(x[i, j, k]) / z, accuracy: 1e-15) }
    } }
    assertGradientsMatch([x]) { onnxSoftmax($0[0], axis: 1) }
    assertSecondOrderMatches([x]) { onnxSoftmax($0[0], axis: 0) }
  }
}
