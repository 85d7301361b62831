import Foundation
import XCTest
import ZCTensor

/// Forward kernels against hand-computed values and against naive reference loops.
final class KernelTests: XCTestCase {
  private func random(_ shape: [Int], seed: UInt64, dtype: DType = .float64) -> Tensor {
    var r = ZCRandom(seed: seed)
    return Initializer.normal(mean: 0, std: 1).make(shape: shape, dtype: dtype, rng: &r)
  }

  /// Direct 7-loop convolution, the textbook definition (cross-correlation, zero padding).
  private func naiveConv(_ x: Tensor, _ w: Tensor, _ g: Conv2DGeometry) -> [Double] {
    let (n, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (co, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let ho = g.outputSize(h, kernel: kh), wo = g.outputSize(wd, kernel: kw)
    var y = [Double](repeating: 0, count: n * co * ho * wo)
    for b in 0..<n { for o in 0..<co { for i in 0..<ho { for j in 0..<wo {
      var s = 0.0
      for c in 0..<ci { for p in 0..<kh { for q in 0..<kw {
        let ih = i * g.stride - g.padding + p * g.dilation, iw = j * g.stride - g.padding + q * g.dilation
        if ih >= 0 && ih < h && iw >= 0 && iw < wd { s += x[b, c, ih, iw] * w[o, c, p, q] }
      } } }
      y[((b * co + o) * ho + i) * wo + j] = s
    } } } }
    return y
  }

  /// Output sizes round ⌊·⌋ towards −∞ as PyTorch's shape formulas do: literal cases from
  /// Python's `//` (all but the two with a non-negative numerator gave one more with Swift's
  /// truncating `/`, as the code did before this test), and, over a grid, the defining property:
  /// windows 0..<out fit in the padded input and window `out` does not.
  func testOutputSizesRoundDownAndCountExactlyTheWindowsThatFit() {
    // (n, kernel, stride, dilation) → Python's (n - dilation*(kernel-1) - 1)//stride + 1, padding 0.
    for (n, k, s, d, expected) in [(1, 2, 2, 1, 0), (2, 3, 2, 1, 0), (2, 3, 2, 2, -1), (1, 3, 3, 2, -1), (3, 4, 2, 1, 0), (5, 3, 2, 1, 2)] {
      XCTAssertEqual(Conv2DGeometry(stride: s, dilation: d).outputSize(n, kernel: k), expected, "conv n \(n) k \(k) s \(s) d \(d)")
    }
    // (n, kernel, stride, padding) → Python's (n + 2*padding - kernel)//stride + 1.
    for (n, k, s, p, expected) in [(1, 2, 2, 0, 0), (1, 4, 2, 0, -1), (1, 4, 2, 1, 0), (3, 4, 3, 0, 0), (4, 2, 2, 0, 2)] {
      XCTAssertEqual(AvgPool2DGeometry(kernel: k, stride: s, padding: p).outputSize(n), expected, "pool n \(n) k \(k) s \(s) p \(p)")
    }
    for n in 1...9 { for k in 1...5 { for s in 1...3 { for p in 0...2 { for d in 1...2 {
      let out = Conv2DGeometry(stride: s, padding: p, dilation: d).outputSize(n, kernel: k)
      let fits = { (i: Int) in i * s + d * (k - 1) <= n + 2 * p - 1 }  // window i's last tap inside
      XCTAssertTrue(out <= 0 ? !fits(0) : fits(out - 1) && !fits(out), "conv n \(n) k \(k) s \(s) p \(p) d \(d): \(out)")
      guard d == 1, 2 * p <= k else { continue }
      let pooled = AvgPool2DGeometry(kernel: k, stride: s, padding: p).outputSize(n)
      XCTAssertTrue(pooled <= 0 ? !fits(0) : fits(pooled - 1) && !fits(pooled), "pool n \(n) k \(k) s \(s) p \(p): \(pooled)")
    } } } } }
  }

  func testConvolutionHandComputed() {
    let x = Tensor((1...9).map(Double.init), shape: [1, 1, 3, 3])
    let ones = Tensor(repeating: 1, shape: [1, 1, 2, 2], dtype: .float64)
    XCTAssertEqual(Convolution.forward(x, ones, .init()).doubles, [12, 16, 24, 28])
    // 3x3 ones, padding 1: sums of the clipped neighbourhoods.
    let k3 = Tensor(repeating: 1, shape: [1, 1, 3, 3], dtype: .float64)
    XCTAssertEqual(Convolution.forward(x, k3, .init(padding: 1)).doubles, [12, 21, 16, 27, 45, 33, 24, 39, 28])
    XCTAssertEqual(Convolution.forward(x, k3, .init(stride: 2, padding: 1)).doubles, [12, 16, 24, 28])
    // Dilation 2 on 3x3 with a 2x2 kernel picks the corners: 1 + 3 + 7 + 9.
    XCTAssertEqual(Convolution.forward(x, ones, .init(dilation: 2)).doubles, [20])
    // Two input channels, weights (1, -1): channel difference.
    let x2 = Tensor([1.0, 2, 3, 4, 10, 20, 30, 40], shape: [1, 2, 2, 2])
    let w2 = Tensor([1.0, -1], shape: [1, 2, 1, 1])
    XCTAssertEqual(Convolution.forward(x2, w2, .init()).doubles, [-9, -18, -27, -36])
  }

  func testConvolutionMatchesNaiveLoopsBothDtypes() {
    let cases: [([Int], [Int], Conv2DGeometry)] = [
      ([2, 3, 7, 6], [4, 3, 3, 3], .init(stride: 1, padding: 1)),
      ([1, 4, 9, 9], [2, 4, 3, 3], .init(stride: 2, padding: 1)),
      ([2, 2, 8, 7], [3, 2, 3, 3], .init(stride: 1, padding: 2, dilation: 2)),
      ([3, 5, 4, 4], [6, 5, 1, 1], .init()),
      ([2, 3, 5, 5], [2, 3, 1, 1], .init(stride: 2)),
      ([1, 16, 32, 32], [16, 16, 3, 3], .init(stride: 1, padding: 1)),
    ]
    for (i, (xs, ws, g)) in cases.enumerated() {
      let x = random(xs, seed: UInt64(10 + i)), w = random(ws, seed: UInt64(20 + i))
      let want = naiveConv(x, w, g)
      let got64 = Convolution.forward(x, w, g).doubles
      for (a, b) in zip(got64, want) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, Swift.abs(b))) }
      let got32 = Convolution.forward(x.to(.float32), w.to(.float32), g).doubles
      for (a, b) in zip(got32, want) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, Swift.abs(b))) }
    }
  }

  func testConvolutionBackwardsAreAdjoints() {
    // ⟨conv(x, w), gy⟩ = ⟨x, backwardData(gy, w)⟩ = ⟨w, backwardWeight(x, gy)⟩.
    let g = Conv2DGeometry(stride: 2, padding: 1, dilation: 1)
    let x = random([2, 3, 7, 8], seed: 1), w = random([4, 3, 3, 3], seed: 2)
    let y = Convolution.forward(x, w, g)
    let gy = random(y.shape, seed: 3)
    func dot(_ a: Tensor, _ b: Tensor) -> Double { zip(a.doubles, b.doubles).reduce(0) { $0 + $1.0 * $1.1 } }
    let lhs = dot(y, gy)
    XCTAssertEqual(dot(x, Convolution.backwardData(gy, w, inputSize: (7, 8), g)), lhs, accuracy: 1e-10 * Swift.abs(lhs))
    XCTAssertEqual(dot(w, Convolution.backwardWeight(x, gy, kernelSize: (3, 3), g)), lhs, accuracy: 1e-10 * Swift.abs(lhs))
  }

  /// One weight entry's per-sample derivative equals that entry of the weight gradient of the
  /// sample alone (``Convolution/backwardWeight(_:_:kernelSize:_:)`` on row b) within rounding, for
  /// every entry, with stride, padding and dilation, in both dtypes; and on a hand-computed case.
  func testWeightElementGradientPerSampleIsTheRowsWeightGradientEntry() {
    // x = 1…9 in a 3×3 image, gy = ones 2×2 (no padding): ∂/∂w[0,0,i,j] = the 2×2 window sum at (i, j).
    let x1 = Tensor((1...9).map(Double.init), shape: [1, 1, 3, 3])
    let ones = Tensor(repeating: 1, shape: [1, 1, 2, 2], dtype: .float64)
    let windows = (0..<4).map { Convolution.weightElementGradientPerSample(x1, ones, weightShape: [1, 1, 2, 2], element: $0, .init())[0] }
    XCTAssertEqual(windows, [12, 16, 24, 28])
    for (g, kernel, seed) in [(Conv2DGeometry(stride: 2, padding: 1), (3, 3), UInt64(1)), (Conv2DGeometry(padding: 2, dilation: 2), (3, 2), 2),
                              (Conv2DGeometry(), (1, 1), 3), (Conv2DGeometry(stride: 2), (1, 1), 4)] {
      let (n, ci, co, h, w) = (3, 2, 4, 7, 6)
      let x = random([n, ci, h, w], seed: seed)
      let ho = g.outputSize(h, kernel: kernel.0), wo = g.outputSize(w, kernel: kernel.1)
      let gy = random([n, co, ho, wo], seed: seed + 100)
      let shape = [co, ci, kernel.0, kernel.1]
      let rowGradients = (0..<n).map { Convolution.backwardWeight(x.rows($0..<($0 + 1)), gy.rows($0..<($0 + 1)), kernelSize: kernel, g).doubles }
      for e in 0..<(co * ci * kernel.0 * kernel.1) {
        let v64 = Convolution.weightElementGradientPerSample(x, gy, weightShape: shape, element: e, g)
        let v32 = Convolution.weightElementGradientPerSample(x.to(.float32), gy.to(.float32), weightShape: shape, element: e, g)
        for b in 0..<n {
          XCTAssertEqual(v64[b], rowGradients[b][e], accuracy: 1e-12, "\(g) element \(e) sample \(b)")
          XCTAssertEqual(v32[b], rowGradients[b][e], accuracy: 1e-5, "Float32, \(g) element \(e) sample \(b)")
        }
      }
    }
  }

  /// Float32 3×3 convolutions with 16-multiple channels take the direct kernel (AVX-512 or AVX2 build) where the CPU
  /// has it (forward and input gradient); Float64 always takes im2col + dgemm. They must agree.
  func testDirectKernelShapesAgreeWithFloat64Im2col() throws {
    try XCTSkipUnless(CPUFeatures.directConvolution != nil, "the direct kernel runs only on CPUs with AVX-512 or AVX2 + FMA")
    let g = Conv2DGeometry(stride: 1, padding: 1)
    for (xs, ws) in [([2, 16, 8, 8], [32, 16, 3, 3]), ([1, 32, 16, 16], [16, 32, 3, 3]), ([3, 16, 8, 16], [16, 16, 3, 3])] {
      let x = random(xs, seed: 50), w = random(ws, seed: 51)
      let y64 = Convolution.forward(x, w, g)
      let y32 = Convolution.forward(x.to(.float32), w.to(.float32), g)
      for (a, b) in zip(y32.doubles, naiveConv(x, w, g)) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, Swift.abs(b))) }
      let gy = random(y64.shape, seed: 52)
      let gx64 = Convolution.backwardData(gy, w, inputSize: (xs[2], xs[3]), g)
      let gx32 = Convolution.backwardData(gy.to(.float32), w.to(.float32), inputSize: (xs[2], xs[3]), g)
      for (a, b) in zip(gx32.doubles, gx64.doubles) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, Swift.abs(b))) }
      let gw64 = Convolution.backwardWeight(x, gy, kernelSize: (3, 3), g)
      let gw32 = Convolution.backwardWeight(x.to(.float32), gy.to(.float32), kernelSize: (3, 3), g)
      for (a, b) in zip(gw32.doubles, gw64.doubles) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, Swift.abs(b))) }
    }
  }

  func testBatchNormForwardHandComputed() {
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased variance 1.25); channel 1 holds 0, 0, 2, 2.
    let x = Tensor([1.0, 2, 0, 0, 3, 4, 2, 2], shape: [2, 2, 1, 2])
    let gamma = Tensor([2.0, 1], shape: [2]), beta = Tensor([0.5, -1], shape: [2])
    let (y, stats) = BatchNormKernel.forward(x, gamma: gamma, beta: beta, eps: 1e-5)
    XCTAssertEqual(stats.mean, [2.5, 1])
    XCTAssertEqual(stats.variance, [1.25, 1])
    XCTAssertEqual(stats.count, 4)
    let s0 = 1 / (1.25 + 1e-5).squareRoot(), s1 = 1 / (1 + 1e-5).squareRoot()
    let want = [2 * (1 - 2.5) * s0 + 0.5, 2 * (2 - 2.5) * s0 + 0.5, (0 - 1) * s1 - 1, (0 - 1) * s1 - 1,
                2 * (3 - 2.5) * s0 + 0.5, 2 * (4 - 2.5) * s0 + 0.5, (2 - 1) * s1 - 1, (2 - 1) * s1 - 1]
    for (a, b) in zip(y.doubles, want) { XCTAssertEqual(a, b, accuracy: 1e-14) }
  }

  func testBatchNormStatisticsEqualOneChannelSequentialSumsExactly() {
    // The kernels reduce four channels at a time in SIMD lanes; each channel must still be summed
    // in (image, pixel) order, so the results equal a plain sequential loop bit for bit. C = 6
    // covers a full group and a two-channel remainder; Float32 covers the Double conversion.
    let (n, c, hw) = (3, 6, 10)
    let x = random([n, c, 2, 5], seed: 77).to(.float32), gy = random([n, c, 2, 5], seed: 78).to(.float32)
    let (_, stats) = BatchNormKernel.forward(x, gamma: nil, beta: nil, eps: 1e-5)
    let (_, _, gb) = BatchNormKernel.backward(x, gy, gamma: nil, stats: stats, eps: 1e-5)
    let xv = x.floats, gv = gy.floats
    for ch in 0..<c {
      var s = 0.0, sg = 0.0
      for b in 0..<n { for i in 0..<hw { s += Double(xv[(b * c + ch) * hw + i]); sg += Double(gv[(b * c + ch) * hw + i]) } }
      let mu = s / Double(n * hw)
      var v = 0.0
      for b in 0..<n { for i in 0..<hw { let d = Double(xv[(b * c + ch) * hw + i]) - mu; v += d * d } }
      XCTAssertEqual(stats.mean[ch].bitPattern, mu.bitPattern, "mean of channel \(ch)")
      XCTAssertEqual(stats.variance[ch].bitPattern, (v / Double(n * hw)).bitPattern, "variance of channel \(ch)")
      XCTAssertEqual(gb.floats[ch].bitPattern, Float(sg).bitPattern, "beta gradient of channel \(ch)")
    }
  }

  func testAveragePoolingHandComputed() {
    let x = Tensor((1...9).map(Double.init), shape: [1, 1, 3, 3])
    // NAS-Bench-201 avg_pool_3x3 (count_include_pad=False): corners average 4 values, edges 6.
    let nb = Pooling.averageForward(x, AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: false))
    let want: [Double] = [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7]
    XCTAssertEqual(nb.doubles, want)
    // count_include_pad=True divides by 9 everywhere.
    let inc = Pooling.averageForward(x, AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: true))
    XCTAssertEqual(inc[0, 0, 0, 0], 12.0 / 9, accuracy: 1e-15)
    // 2x2 stride 2 on 5x5 ignores the last row and column (floor).
    let x5 = Tensor((0..<25).map(Double.init), shape: [1, 1, 5, 5])
    XCTAssertEqual(Pooling.averageForward(x5, AvgPool2DGeometry(kernel: 2, stride: 2)).doubles, [3, 5, 13, 15])
  }

  func testMatmulAgainstNaive() {
    let a = random([5, 7], seed: 30), b = random([7, 3], seed: 31)
    let c = Tensor.matmul(a, b)
    for i in 0..<5 { for j in 0..<3 {
      let s = (0..<7).reduce(0.0) { $0 + a[i, $1] * b[$1, j] }
      XCTAssertEqual(c[i, j], s, accuracy: 1e-12)
    } }
    let ct = Tensor.matmul(b, a, transA: true, transB: true)  // (ab)ᵀ
    for i in 0..<3 { for j in 0..<5 { XCTAssertEqual(ct[i, j], c[j, i], accuracy: 1e-12) } }
    let c32 = Tensor.matmul(a.to(.float32), b.to(.float32))
    XCTAssertEqual(c32.dtype, .float32)
    for (p, q) in zip(c32.doubles, c.doubles) { XCTAssertEqual(p, q, accuracy: 1e-5) }
  }

  func testBroadcastingAndItsAdjoint() {
    let a = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
    let b = Tensor([10.0, 20, 30], shape: [3])
    XCTAssertEqual(Tensor.binary(a, b, .add).doubles, [11, 22, 33, 14, 25, 36])
    let col = Tensor([2.0, 3], shape: [2, 1])
    XCTAssertEqual(Tensor.binary(a, col, .multiply).doubles, [2, 4, 6, 12, 15, 18])
    XCTAssertEqual(Tensor.binary(col, a, .subtract).doubles, [1, 0, -1, -1, -2, -3])
    XCTAssertNil(Tensor.broadcastShape([2, 3], [2]))
    XCTAssertEqual(a.sum(toShape: [3]).doubles, [5, 7, 9])
    XCTAssertEqual(a.sum(toShape: [2, 1]).doubles, [6, 15])
    XCTAssertEqual(a.sum(toShape: []).doubles, [21])
    XCTAssertEqual(b.broadcast(to: [2, 3]).doubles, [10, 20, 30, 10, 20, 30])
    // ⟨broadcast(x), y⟩ = ⟨x, sumTo(y)⟩ on a 4-D channel pattern.
    let x = random([1, 3, 1, 1], seed: 40), y = random([2, 3, 4, 5], seed: 41)
    let lhs = zip(x.broadcast(to: y.shape).doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
    let rhs = zip(x.doubles, y.sum(toShape: x.shape).doubles).reduce(0) { $0 + $1.0 * $1.1 }
    XCTAssertEqual(lhs, rhs, accuracy: 1e-12)
  }

  func testViewsConcatSliceAndGather() {
    let t = Tensor((0..<24).map(Double.init), shape: [2, 3, 4])
    let v = t.reshaped([6, -1])
    XCTAssertEqual(v.shape, [6, 4])
    XCTAssertTrue(v.storage === t.storage)
    XCTAssertEqual(t.rows(1..<2).doubles, (12..<24).map(Double.init))
    let s = t.slice(axis: 1, 1..<3)
    XCTAssertEqual(s.shape, [2, 2, 4])
    XCTAssertEqual(s[1, 0, 2], 18)
    let back = Tensor.concatenate([t.slice(axis: 1, 0..<1), s], axis: 1)
    XCTAssertEqual(back.doubles, t.doubles)
    XCTAssertEqual(s.embedded(axis: 1, at: 1..<3, length: 3).slice(axis: 1, 1..<3).doubles, s.doubles)
    let table = Tensor([1.0, 2, 3, 4, 5, 6], shape: [3, 2])
    XCTAssertEqual(table.gatherRows([2, 0, 2]).doubles, [5, 6, 1, 2, 5, 6])
    XCTAssertEqual(Tensor([1.0, 1, 2, 2, 3, 3], shape: [3, 2]).scatterAddRows([2, 0, 2], rows: 3).doubles, [2, 2, 0, 0, 4, 4])
  }

  func testLogSoftmaxIsStableAndNormalised() {
    let x = Tensor([1000.0, 1001, 1002, -5, 0, 5], shape: [2, 3])
    let y = x.logSoftmaxLastAxis()
    XCTAssertTrue(y.doubles.allSatisfy { $0.isFinite })
    for r in 0..<2 { XCTAssertEqual((0..<3).reduce(0.0) { $0 + Foundation.exp(y[r, $1]) }, 1, accuracy: 1e-12) }
    XCTAssertEqual(y[0, 2] - y[0, 1], 1, accuracy: 1e-12)
  }

  func testElementwiseFunctions() {
    let x = Tensor([-2.0, -0.5, 0, 0.5, 2], shape: [5])
    XCTAssertEqual(x.map(.relu).doubles, [0, 0, 0, 0.5, 2])
    XCTAssertEqual(x.map(.reluMask).doubles, [0, 0, 0, 1, 1])
    XCTAssertEqual(x.map(.leakyRelu(slope: 0.1)).doubles, [-0.2, -0.05, 0, 0.5, 2])
    XCTAssertEqual(x.map(.sigmoid)[2], 0.5)
    XCTAssertEqual(x.map(.tanh)[4], Foundation.tanh(2), accuracy: 1e-15)
    XCTAssertEqual(x.map(.sign).doubles, [-1, -1, 0, 1, 1])
    var acc = Tensor(zeros: [5], dtype: .float64)
    let shared = acc
    acc.addInPlace(x)
    XCTAssertEqual(acc.doubles, x.doubles)
    XCTAssertEqual(shared.doubles, [0, 0, 0, 0, 0], "copy-on-write keeps the other holder unchanged")
  }
}
