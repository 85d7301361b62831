import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCTensor

/// Finite-difference gradient checks (Float64) and value checks against direct formulas for the
/// transformer primitives: batched matmul, softmax, LayerNorm, exact GELU, permute, the
/// zero-padded shift, depthwise 1-D convolution (kernels 5 and 9), and the 2-D DFT/DCT transforms.
final class TransformerOpTests: XCTestCase {
  func testBatchedMatmulGradients() {
    let a = randomTensor([2, 3, 4, 5], seed: 11), b = randomTensor([2, 3, 5, 2], seed: 12)
    assertGradientsMatch([a, b]) { batchedMatmul($0[0], $0[1]) }
    let bt = randomTensor([2, 3, 2, 5], seed: 13)
    assertGradientsMatch([a, bt]) { batchedMatmul($0[0], $0[1], transB: true) }
    let at = randomTensor([2, 3, 5, 4], seed: 14)
    assertGradientsMatch([at, b]) { batchedMatmul($0[0], $0[1], transA: true) }
    assertGradientsMatch([at, bt]) { batchedMatmul($0[0], $0[1], transA: true, transB: true) }
    // One operand a shared matrix (its gradient is summed over the batch), on either side.
    let m = randomTensor([5, 3], seed: 15), l = randomTensor([6, 4], seed: 16)
    assertGradientsMatch([a, m]) { batchedMatmul($0[0], $0[1]) }
    assertGradientsMatch([l, a]) { batchedMatmul($0[0], $0[1]) }
    assertGradientsMatch([randomTensor([4, 6], seed: 17), a]) { batchedMatmul($0[0], $0[1], transA: true) }
    assertGradientsMatch([a, randomTensor([3, 5], seed: 18)]) { batchedMatmul($0[0], $0[1], transB: true) }
  }

  func testBatchedMatmulValuesEqualLoops() {
    let a = randomTensor([3, 4, 5], seed: 21), b = randomTensor([3, 5, 2], seed: 22)
    let c = Tensor.batchedMatmul(a, b)
    XCTAssertEqual(c.shape, [3, 4, 2])
    for i in 0..<3 { for r in 0..<4 { for k in 0..<2 {
      var s = 0.0
      for j in 0..<5 { s += a[i, r, j] * b[i, j, k] }
      XCTAssertEqual(c[i, r, k], s, accuracy: 1e-12)
    } } }
    let f = Tensor.batchedMatmul(a.to(.float32), b.to(.float32))
    XCTAssertEqual(f.dtype, .float32)
    for (x, y) in zip(f.doubles, c.doubles) { XCTAssertEqual(x, y, accuracy: 1e-5) }
  }

  func testSoftmax() {
    let x = randomTensor([2, 3, 7], seed: 31, scale: 3)
    assertGradientsMatch([x]) { softmax($0[0]) }
    let y = x.softmaxLastAxis().doubles, v = x.doubles
    for r in 0..<6 {
      let row = Array(v[(r * 7)..<(r * 7 + 7)])
      let z = row.map { Foundation.exp($0) }, s = z.reduce(0, +)
      for j in 0..<7 { XCTAssertEqual(y[r * 7 + j], z[j] / s, accuracy: 1e-14) }
    }
    // Large logits do not overflow (max shift).
    let big = Tensor([1000.0, 1001, 999], shape: [1, 3]).softmaxLastAxis().doubles
    XCTAssertEqual(big.reduce(0, +), 1, accuracy: 1e-15)
    XCTAssertFalse(big.contains { !$0.isFinite })
  }

  func testLayerNorm() {
    let x = randomTensor([2, 3, 6], seed: 41), g = randomTensor([6], seed: 42), b = randomTensor([6], seed: 43)
    assertGradientsMatch([x, g, b]) { layerNorm($0[0], gamma: $0[1], beta: $0[2], eps: 1e-5) }
    assertGradientsMatch([x]) { layerNorm($0[0], gamma: nil, beta: nil, eps: 1e-12) }
    let y = GradMode.withoutRecording { layerNorm(Variable(x), gamma: nil, beta: nil, eps: 1e-12) }.value.doubles
    for r in 0..<6 {
      let row = Array(y[(r * 6)..<(r * 6 + 6)])
      let mu = row.reduce(0, +) / 6
      XCTAssertEqual(mu, 0, accuracy: 1e-14)
      XCTAssertEqual(row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 6, 1, accuracy: 1e-10)
    }
  }

  /// Σ over the last axis of LayerNorm with γ = 1, β = 0 is constant, so the backward of ones is
  /// zero to rounding (the degeneracy of the notebook's gradient metrics).
  func testLayerNormBackwardOfOnesIsZero() {
    let x = Variable(randomTensor([4, 5, 16], seed: 44, scale: 3), requiresGrad: true)
    let g = gradientTensors(of: layerNorm(x, gamma: nil, beta: nil, eps: 1e-12), withRespectTo: [x])[0].doubles
    XCTAssertLessThan(g.map { Swift.abs($0) }.max()!, 1e-13)
  }

  func testGELU() {
    let x = randomTensor([3, 8], seed: 51, margin: 1e-3, scale: 2)
    assertGradientsMatch([x]) { gelu($0[0]) }
    assertGradientsMatch([x]) { geluDerivative($0[0]) }
    // Φ(1) = 0.8413447460685429 (standard normal CDF), so GELU(1) = 0.84134..., GELU(−1) = −0.15865...
    let v = Tensor([1.0, -1, 0, 3], shape: [4]).geluExact().doubles
    XCTAssertEqual(v[0], 0.8413447460685429, accuracy: 1e-15)
    XCTAssertEqual(v[1], -0.15865525393145707, accuracy: 1e-15)
    XCTAssertEqual(v[2], 0)
    XCTAssertEqual(v[3], 3 * 0.9986501019683699, accuracy: 1e-14)
  }

  func testPermute() {
    let x = randomTensor([2, 3, 4, 5], seed: 61)
    assertGradientsMatch([x]) { permute($0[0], [0, 2, 1, 3]) }
    assertGradientsMatch([x]) { permute($0[0], [3, 1, 0, 2]) }
    let y = x.permuted([0, 2, 1, 3])
    XCTAssertEqual(y.shape, [2, 4, 3, 5])
    XCTAssertEqual(y[1, 3, 2, 4], x[1, 2, 3, 4])
    XCTAssertEqual(y[0, 1, 2, 0], x[0, 2, 1, 0])
  }

  func testShiftAndDepthwiseConv() {
    let x = randomTensor([2, 7, 3], seed: 71)
    for k in [-6, -2, 0, 3, 6] { assertGradientsMatch([x]) { shifted($0[0], axis: 1, by: k) } }
    // A shift by the whole length or more leaves only padding.
    XCTAssertTrue(shifted(Variable(x), axis: 1, by: 7).value.doubles.allSatisfy { $0 == 0 })
    XCTAssertTrue(shifted(Variable(x), axis: 1, by: -9).value.doubles.allSatisfy { $0 == 0 })
    XCTAssertEqual(shifted(Variable(x), axis: 1, by: 2).value[1, 4, 2], x[1, 6, 2])
    XCTAssertEqual(shifted(Variable(x), axis: 1, by: 2).value[1, 5, 2], 0)
    for k in [5, 9] {
      let w = randomTensor([3, 1, k], seed: UInt64(72 + k))
      assertGradientsMatch([x, w]) { depthwiseConv1d($0[0], weight: $0[1]) }
      // Direct formula u[b, t, m] = Σ_j W[m, 0, j] x[b, t + j − k/2, m] with zero padding.
      let u = GradMode.withoutRecording { depthwiseConv1d(Variable(x), weight: Variable(w)) }.value
      for b in 0..<2 { for t in 0..<7 { for m in 0..<3 {
        var s = 0.0
        for j in 0..<k { let tt = t + j - k / 2; if tt >= 0 && tt < 7 { s += w[m, 0, j] * x[b, tt, m] } }
        XCTAssertEqual(u[b, t, m], s, accuracy: 1e-13)
      } } }
    }
  }

  func testFourierAndCosineTransforms() {
    let u = randomTensor([2, 3, 6, 4], seed: 81)
    assertGradientsMatch([u]) { fourierTransform2DReal($0[0]) }
    assertGradientsMatch([u]) { cosineTransform2D($0[0]) }
    let f = GradMode.withoutRecording { fourierTransform2DReal(Variable(u)) }.value
    let c = GradMode.withoutRecording { cosineTransform2D(Variable(u)) }.value
    let (t, d) = (6, 4)
    for b in 0..<2 { for h in 0..<3 { for k1 in 0..<t { for k2 in 0..<d {
      var fr = 0.0, cr = 0.0
      for i in 0..<t { for j in 0..<d {
        fr += u[b, h, i, j] * Foundation.cos(2 * Double.pi * (Double(k1 * i) / Double(t) + Double(k2 * j) / Double(d)))
        cr += 4 * u[b, h, i, j] * Foundation.cos(Double.pi * Double(k1 * (2 * i + 1)) / Double(2 * t)) * Foundation.cos(Double.pi * Double(k2 * (2 * j + 1)) / Double(2 * d))
      } }
      XCTAssertEqual(f[b, h, k1, k2], fr, accuracy: 1e-12)
      XCTAssertEqual(c[b, h, k1, k2], cr, accuracy: 1e-12)
    } } } }
  }
}
