import Foundation
import XCTest
import ZCTensor

/// The kernels split across threads (issue 16) give bit-identical results for every thread
/// count: each output element is computed by one thread in the one-thread order. Compared bit for
/// bit (Float32 bit patterns) at 1, 2 and 3 threads on NAS-Bench-201 shapes and on odd sizes
/// (partitions with remainders, channel counts not a multiple of 4).
final class ParallelKernelTests: XCTestCase {
  private func random(_ shape: [Int], seed: UInt64, dtype: DType = .float32) -> Tensor {
    var r = ZCRandom(seed: seed)
    return Initializer.normal(mean: 0, std: 1).make(shape: shape, dtype: dtype, rng: &r)
  }

  private func bits(_ t: Tensor) -> [UInt64] {
    t.dtype == .float32 ? t.floats.map { UInt64($0.bitPattern) } : t.doubles.map(\.bitPattern)
  }

  /// `f` at 1 thread and at 2 and 3 threads: the same bits.
  private func assertSameAcrossThreads(_ what: String, _ f: () -> [Tensor], file: StaticString = #filePath, line: UInt = #line) {
    let one = Parallel.$threads.withValue(1) { f() }.map(bits)
    for t in [2, 3] {
      let many = Parallel.$threads.withValue(t) { f() }.map(bits)
      XCTAssertEqual(one.count, many.count, what, file: file, line: line)
      for (k, (a, b)) in zip(one, many).enumerated() {
        let differing = zip(a, b).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(what): output \(k) differs in \(differing) of \(a.count) elements at \(t) threads", file: file, line: line)
      }
    }
  }

  func testPartitionCoversEveryItemOnce() {
    for count in [0, 1, 2, 5, 64, 1001] {
      for parts in 1...4 where parts <= max(1, count) {
        let ranges = (0..<parts).map { Parallel.range($0, of: parts, count: count) }
        XCTAssertEqual(ranges.flatMap { Array($0) }, Array(0..<count), "count \(count) parts \(parts)")
      }
    }
  }

  func testConvolutionPathsAreBitIdenticalAcrossThreadCounts() {
    let cases: [([Int], [Int], Conv2DGeometry)] = [
      ([4, 16, 32, 32], [16, 16, 3, 3], Conv2DGeometry(stride: 1, padding: 1)),  // direct (AVX-512 or AVX2 build) or im2col
      ([3, 32, 16, 16], [64, 32, 3, 3], Conv2DGeometry(stride: 1, padding: 1)),
      ([5, 16, 8, 8], [16, 16, 1, 1], Conv2DGeometry()),  // pointwise GEMM
      ([3, 16, 16, 16], [32, 16, 3, 3], Conv2DGeometry(stride: 2, padding: 1)),  // im2col, stride 2
      ([4, 3, 32, 32], [16, 3, 3, 3], Conv2DGeometry(stride: 1, padding: 1)),  // the stem
      ([3, 24, 9, 9], [40, 24, 1, 1], Conv2DGeometry()),
    ]
    for (xs, ws, g) in cases {
      for dtype in [DType.float32, .float64] {
        let x = random(xs, seed: 1, dtype: dtype), w = random(ws, seed: 2, dtype: dtype)
        let ho = g.outputSize(xs[2], kernel: ws[2]), wo = g.outputSize(xs[3], kernel: ws[3])
        let gy = random([xs[0], ws[0], ho, wo], seed: 3, dtype: dtype)
        assertSameAcrossThreads("conv \(xs) \(ws) \(g) \(dtype)") {
          [Convolution.forward(x, w, g), Convolution.backwardData(gy, w, inputSize: (xs[2], xs[3]), g),
           Convolution.backwardWeight(x, gy, kernelSize: (ws[2], ws[3]), g)]
        }
      }
    }
  }

  func testBatchNormIsBitIdenticalAcrossThreadCounts() {
    // [16, 6, 64, 64] and [64, 10, 32, 32] split channel counts that are not a multiple of 4
    // (the small [4, 6, 5, 5] stays on one thread: below the grain).
    for shape in [[8, 16, 32, 32], [4, 6, 5, 5], [16, 6, 64, 64], [64, 10, 32, 32], [64, 64, 8, 8]] {
      let x = random(shape, seed: 4), gy = random(shape, seed: 5), c = random(shape, seed: 6)
      let gamma = random([shape[1]], seed: 7), beta = random([shape[1]], seed: 8), cg = random([shape[1]], seed: 9)
      assertSameAcrossThreads("batch norm \(shape)") {
        let (y, st) = BatchNormKernel.forward(x, gamma: gamma, beta: beta, eps: 1e-5)
        let (gx, gg, gb) = BatchNormKernel.backward(x, gy, gamma: gamma, stats: st, eps: 1e-5)
        let (dx, dgy, dgam) = BatchNormKernel.backwardVJP(x, gy, gamma: gamma, stats: st, eps: 1e-5, c: c, cGamma: cg)
        let (dx2, dgy2, _) = BatchNormKernel.backwardVJP(x, gy, gamma: gamma, stats: st, eps: 1e-5, c: nil, cGamma: cg)
        return [y, Tensor(st.mean, shape: [shape[1]]), Tensor(st.variance, shape: [shape[1]]), gx, gg, gb, dx, dgy, dgam, dx2, dgy2]
      }
    }
  }

  func testElementwiseIsBitIdenticalAcrossThreadCounts() {
    let a = random([3, 7, 101, 97], seed: 10), b = random([3, 7, 101, 97], seed: 11)
    assertSameAcrossThreads("element-wise") {
      [a.map(.relu), a.map(.sigmoid), a.map(.exp), Tensor.binary(a, b, .add), Tensor.binary(a, b, .multiply),
       Tensor.binary(a, b, .divide), Tensor.reluBackward(b, input: a), Tensor.reluBackward(b, input: a, slope: 0.1)]
    }
  }
}
