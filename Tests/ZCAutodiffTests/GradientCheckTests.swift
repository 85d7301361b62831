import TestSupport
import XCTest
import ZCAutodiff
import ZCTensor

/// Finite-difference gradient checks (Float64, relative error < 1e-6) for every differentiable
/// operation, on random shapes including batch 1 and odd spatial sizes.
final class GradientCheckTests: XCTestCase {
  // MARK: element-wise

  func testUnaryActivations() {
    let x = randomTensor([2, 3, 5], seed: 1, margin: 1e-3)
    assertGradientsMatch([x]) { relu($0[0]) }
    assertGradientsMatch([x]) { leakyRelu($0[0], slope: 0.2) }
    assertGradientsMatch([x]) { tanh($0[0]) }
    assertGradientsMatch([x]) { sigmoid($0[0]) }
    assertGradientsMatch([x]) { abs($0[0]) }
    assertGradientsMatch([x]) { exp($0[0]) }
    assertGradientsMatch([x]) { square($0[0]) }
    assertGradientsMatch([x]) { negate($0[0]) }
    assertGradientsMatch([x]) { scale($0[0], -2.5) }
    assertGradientsMatch([x]) { addScalar($0[0], 3) }
  }

  func testPositiveDomainFunctions() {
    let x = Tensor(randomTensor([3, 4], seed: 2).doubles.map { Swift.abs($0) + 0.5 }, shape: [3, 4])
    assertGradientsMatch([x]) { log($0[0]) }
    assertGradientsMatch([x]) { reciprocal($0[0]) }
    assertGradientsMatch([x]) { rsqrt($0[0]) }
    assertGradientsMatch([x]) { sqrt($0[0]) }
  }

  func testBroadcastingBinaryOperations() {
    let a = randomTensor([2, 3, 4, 5], seed: 3)
    let b = randomTensor([1, 3, 1, 1], seed: 4)
    let c = randomTensor([5], seed: 5)
    let d = Tensor(randomTensor([3, 1, 5], seed: 6).doubles.map { Swift.abs($0) + 0.5 }, shape: [3, 1, 5])
    assertGradientsMatch([a, b]) { add($0[0], $0[1]) }
    assertGradientsMatch([a, c]) { subtract($0[0], $0[1]) }
    assertGradientsMatch([c, a]) { subtract($0[0], $0[1]) }
    assertGradientsMatch([a, b]) { multiply($0[0], $0[1]) }
    assertGradientsMatch([a, a]) { multiply($0[0], $0[1]) }
    assertGradientsMatch([a, d]) { divide($0[0], $0[1]) }
  }

  // MARK: reductions and shapes

  func testReductionsAndShapes() {
    let x = randomTensor([2, 3, 4, 5], seed: 7)
    assertGradientsMatch([x]) { sum($0[0]) }
    assertGradientsMatch([x]) { mean($0[0]) }
    assertGradientsMatch([x]) { sum($0[0], toShape: [1, 3, 1, 1]) }
    assertGradientsMatch([x]) { mean($0[0], toShape: [3, 1, 5]) }
    assertGradientsMatch([randomTensor([3, 1], seed: 8)]) { broadcast($0[0], to: [2, 3, 4]) }
    assertGradientsMatch([x]) { reshape($0[0], [6, -1]) }
    assertGradientsMatch([x]) { slice($0[0], axis: 1, 1..<3) }
    assertGradientsMatch([x]) { slice($0[0], axis: 3, 0..<1) }
    assertGradientsMatch([randomTensor([2, 2, 3], seed: 9)]) { embed($0[0], axis: 1, at: 1..<3, length: 5) }
    let y = randomTensor([2, 1, 4, 5], seed: 10)
    assertGradientsMatch([x, y]) { concatenate([$0[0], $0[1]], axis: 1) }
    assertGradientsMatch([x, x]) { concatenate([$0[0], $0[1]], axis: 0) }
  }

  func testEmbeddingAndScatter() {
    let table = randomTensor([7, 4], seed: 11)
    let ids = [3, 0, 3, 6, 1]
    assertGradientsMatch([table]) { embedding($0[0], ids) }
    assertGradientsMatch([randomTensor([5, 4], seed: 12)]) { scatterAddRows($0[0], ids, rows: 7) }
  }

  // MARK: linear algebra and layers

  func testMatmulAllTransposes() {
    let a = randomTensor([3, 4], seed: 13), at = randomTensor([4, 3], seed: 14)
    let b = randomTensor([4, 5], seed: 15), bt = randomTensor([5, 4], seed: 16)
    assertGradientsMatch([a, b]) { matmul($0[0], $0[1]) }
    assertGradientsMatch([a, bt]) { matmul($0[0], $0[1], transB: true) }
    assertGradientsMatch([at, b]) { matmul($0[0], $0[1], transA: true) }
    assertGradientsMatch([at, bt]) { matmul($0[0], $0[1], transA: true, transB: true) }
  }

  func testLinear() {
    let x = randomTensor([1, 6], seed: 17), w = randomTensor([4, 6], seed: 18), b = randomTensor([4], seed: 19)
    assertGradientsMatch([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
    let x3 = randomTensor([3, 6], seed: 20)
    assertGradientsMatch([x3, w]) { linear($0[0], weight: $0[1], bias: nil) }
  }

  func testConv2dGeometries() {
    // (batch, cin, cout, h, w, kernel, stride, padding, dilation)
    let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
      (1, 2, 3, 5, 5, 3, 1, 1, 1),  // batch 1, odd size, "same" 3x3
      (2, 3, 2, 7, 6, 3, 2, 1, 1),  // stride 2 on odd/even sizes
      (2, 2, 2, 7, 7, 3, 1, 2, 2),  // dilation 2
      (3, 4, 5, 5, 3, 1, 1, 0, 1),  // pointwise 1x1
      (1, 3, 2, 6, 5, 1, 2, 0, 1),  // 1x1 stride 2 (reduction shortcut style)
      (2, 2, 3, 4, 5, 2, 1, 0, 1),  // even kernel, no padding
    ]
    for (i, c) in cases.enumerated() {
      let (n, ci, co, h, w, k, s, p, d) = c
      let x = randomTensor([n, ci, h, w], seed: 100 + UInt64(i))
      let wt = randomTensor([co, ci, k, k], seed: 200 + UInt64(i))
      let g = Conv2DGeometry(stride: s, padding: p, dilation: d)
      assertGradientsMatch([x, wt]) { conv2d($0[0], $0[1], g) }
      let ho = g.outputSize(h, kernel: k), wo = g.outputSize(w, kernel: k)
      let gy = randomTensor([n, co, ho, wo], seed: 300 + UInt64(i))
      assertGradientsMatch([gy, wt]) { conv2dBackwardData($0[0], $0[1], inputSize: (h, w), g) }
      assertGradientsMatch([x, gy]) { conv2dBackwardWeight($0[0], $0[1], kernelSize: (k, k), g) }
    }
  }

  func testBatchNormTraining() {
    // C = 6 exercises a full four-channel group plus a two-channel remainder in the fused kernels.
    for (i, shape) in [[2, 3, 5, 5], [1, 2, 3, 3], [4, 3, 1, 1], [5, 4], [2, 6, 3, 2]].enumerated() {
      let x = randomTensor(shape, seed: 400 + UInt64(i), scale: 2)
      let g = randomTensor([shape[1]], seed: 410 + UInt64(i))
      let b = randomTensor([shape[1]], seed: 420 + UInt64(i))
      assertGradientsMatch([x, g, b]) { batchNormTraining($0[0], gamma: $0[1], beta: $0[2]).0 }
      assertGradientsMatch([x]) { batchNormTraining($0[0], gamma: nil, beta: nil).0 }
      assertGradientsMatch([x, g, b]) { batchNormComposite($0[0], gamma: $0[1], beta: $0[2]) }
    }
  }

  func testPooling() {
    let nb201Pool = AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: false)
    let reduction = AvgPool2DGeometry(kernel: 2, stride: 2)
    for (i, shape) in [[1, 2, 5, 5], [2, 3, 4, 7], [1, 1, 1, 1]].enumerated() {
      let x = randomTensor(shape, seed: 500 + UInt64(i))
      assertGradientsMatch([x]) { avgPool2d($0[0], nb201Pool) }
      assertGradientsMatch([x]) { avgPool2d($0[0], AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: true)) }
      assertGradientsMatch([x]) { globalAvgPool($0[0]) }
      assertGradientsMatch([x]) { avgPool2dBackward($0[0], inputSize: (shape[2], shape[3]), nb201Pool) }
    }
    for (i, shape) in [[1, 2, 5, 5], [2, 3, 4, 6]].enumerated() {
      let x = randomTensor(shape, seed: 510 + UInt64(i))
      assertGradientsMatch([x]) { avgPool2d($0[0], reduction) }
      let gy = randomTensor([shape[0], shape[1], shape[2] / 2, shape[3] / 2], seed: 520 + UInt64(i))
      assertGradientsMatch([gy]) { avgPool2dBackward($0[0], inputSize: (shape[2], shape[3]), reduction) }
    }
  }

  func testLogSoftmaxAndCrossEntropy() {
    let logits = randomTensor([4, 6], seed: 600, scale: 3)
    assertGradientsMatch([logits]) { logSoftmax($0[0]) }
    assertGradientsMatch([logits]) { crossEntropy($0[0], labels: [0, 5, 2, 2]) }
    assertGradientsMatch([randomTensor([1, 10], seed: 601)]) { crossEntropy($0[0], labels: [7]) }
  }

  /// A small NAS-Bench-201-like block end to end: ReLU → conv → BN → pools → linear → loss.
  func testComposedNetwork() {
    let x = randomTensor([2, 3, 5, 5], seed: 700, margin: 1e-3)
    let w1 = randomTensor([4, 3, 3, 3], seed: 701, scale: 0.5)
    let gamma = randomTensor([4], seed: 702), beta = randomTensor([4], seed: 703)
    let w2 = randomTensor([3, 4], seed: 704)
    assertGradientsMatch([x, w1, gamma, beta, w2]) { v in
      let h = batchNormTraining(conv2d(relu(v[0]), v[1], .init(stride: 1, padding: 1)), gamma: v[2], beta: v[3]).0
      let p = avgPool2d(h, AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: false))
      return crossEntropy(linear(globalAvgPool(add(p, h)), weight: v[4], bias: nil), labels: [1, 2])
    }
  }
}

/// The fused batch-norm backward operations used for double backward, checked directly.
final class BatchNormSecondOrderTests: XCTestCase {
  func testBatchNormBackwardOperationsHaveCorrectGradients() {
    for (i, shape) in [[3, 2, 3, 3], [1, 3, 2, 5], [6, 2], [2, 6, 2, 3]].enumerated() {
      let x = randomTensor(shape, seed: 950 + UInt64(i), scale: 1.5)
      let gy = randomTensor(shape, seed: 960 + UInt64(i))
      let gamma = randomTensor([shape[1]], seed: 970 + UInt64(i))
      // Statistics are a function of x, so recompute them inside f.
      assertGradientsMatch([x, gy, gamma]) { v in
        let stats = BatchNormKernel.forward(v[0].value, gamma: nil, beta: nil, eps: 1e-5).1
        return batchNormInputGradient(v[0], v[1], gamma: v[2], stats: stats, eps: 1e-5)
      }
      assertGradientsMatch([x, gy]) { v in
        let stats = BatchNormKernel.forward(v[0].value, gamma: nil, beta: nil, eps: 1e-5).1
        return batchNormInputGradient(v[0], v[1], gamma: nil, stats: stats, eps: 1e-5)
      }
      assertGradientsMatch([x, gy]) { v in
        let stats = BatchNormKernel.forward(v[0].value, gamma: nil, beta: nil, eps: 1e-5).1
        return batchNormGammaGradient(v[0], v[1], stats: stats, eps: 1e-5)
      }
    }
  }
}

final class ReluBackwardTests: XCTestCase {
  func testReluBackwardOperationGradient() {
    let x = randomTensor([2, 3, 4], seed: 990, margin: 1e-3)
    assertGradientsMatch([randomTensor([2, 3, 4], seed: 991)]) { reluBackward($0[0], input: x, slope: 0) }
    assertGradientsMatch([randomTensor([2, 3, 4], seed: 992)]) { reluBackward($0[0], input: x, slope: 0.05) }
  }
}
