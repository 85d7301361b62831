import XCTest
import ZCConvAVX2
import ZCConvAVX512
import ZCTensor

/// The direct 3×3 kernels are one source compiled for AVX-512 and for AVX2 + FMA; rows in the
/// shipped tables carry one numerics version for both, so each build must give exactly the bits of
/// the documented summation order. The reference here is a scalar loop written from that
/// documentation (`Float.addingProduct`, one rounding per step), not from the kernels' code. One
/// test per build; a build the CPU cannot run is skipped (XCTSkip, with the reason).
final class DirectConvolutionBuildTests: XCTestCase {
  typealias Run = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, Int, Int, Bool, Int) -> Void
  typealias Grad = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, Int, Int, Int) -> Void

  static func builds() -> [(CPUFeatures.DirectConvolutionBuild, Run, Grad)] {
    [(.avx512,
      { ZCConvAVX512.DirectConv3x3.run(x: $0, weight: $1, y: $2, n: $3, cin: $4, cout: $5, h: $6, w: $7, flipTranspose: $8, threads: $9) },
      { ZCConvAVX512.DirectConv3x3.weightGradient(x: $0, gy: $1, dw: $2, n: $3, cin: $4, cout: $5, h: $6, w: $7, threads: $8) }),
     (.avx2,
      { ZCConvAVX2.DirectConv3x3.run(x: $0, weight: $1, y: $2, n: $3, cin: $4, cout: $5, h: $6, w: $7, flipTranspose: $8, threads: $9) },
      { ZCConvAVX2.DirectConv3x3.weightGradient(x: $0, gy: $1, dw: $2, n: $3, cin: $4, cout: $5, h: $6, w: $7, threads: $8) })]
  }

  /// Values of several binades and both signs, so that a different order of additions would round
  /// differently (a plain sum of small integers would hide it).
  static func values(_ count: Int, seed: UInt64) -> [Float] {
    var r = ZCRandom(seed: seed)
    return Initializer.normal(mean: 0, std: 1).make(shape: [count], dtype: .float32, rng: &r).floats.enumerated().map { i, v in
      v * Float(1 << (i % 7)) / 8
    }
  }

  /// y[b][co][r][q] = Σ over (input block, kh, kw, ci in block) of x · w, fused, from +0; zero halo.
  static func referenceForward(_ x: [Float], _ wt: [Float], n: Int, cin: Int, cout: Int, h: Int, w: Int, flip: Bool) -> [Float] {
    var y = [Float](repeating: 0, count: n * cout * h * w)
    for b in 0..<n { for co in 0..<cout { for r in 0..<h { for q in 0..<w {
      var acc: Float = 0
      for ib in 0..<(cin / 16) { for kh in 0..<3 { for kw in 0..<3 { for c in 0..<16 {
        let ci = ib * 16 + c, rr = r + kh - 1, qq = q + kw - 1
        let xv: Float = rr >= 0 && rr < h && qq >= 0 && qq < w ? x[((b * cin + ci) * h + rr) * w + qq] : 0
        let wv = flip ? wt[(ci * cout + co) * 9 + 8 - (kh * 3 + kw)] : wt[(co * cin + ci) * 9 + kh * 3 + kw]
        acc = acc.addingProduct(xv, wv)
      } } } }
      y[((b * cout + co) * h + r) * w + q] = acc
    } } } }
    return y
  }

  /// dW[co][ci][kh][kw] = Σ over (image, row, column) of gy · x, fused, from +0; zero halo.
  static func referenceWeightGradient(_ x: [Float], _ gy: [Float], n: Int, cin: Int, cout: Int, h: Int, w: Int) -> [Float] {
    var dw = [Float](repeating: 0, count: cout * cin * 9)
    for co in 0..<cout { for ci in 0..<cin { for k in 0..<9 {
      var acc: Float = 0
      for b in 0..<n { for r in 0..<h { for q in 0..<w {
        let rr = r + k / 3 - 1, qq = q + k % 3 - 1
        let xv: Float = rr >= 0 && rr < h && qq >= 0 && qq < w ? x[((b * cin + ci) * h + rr) * w + qq] : 0
        acc = acc.addingProduct(xv, gy[((b * cout + co) * h + r) * w + q])
      } } }
      dw[(co * cin + ci) * 9 + k] = acc
    } } }
    return dw
  }

  func testAVX512BuildGivesTheDocumentedSummationOrderBitForBit() throws {
    try checkBuild(.avx512)
  }

  func testAVX2BuildGivesTheDocumentedSummationOrderBitForBit() throws {
    try checkBuild(.avx2)
  }

  /// Compares one build with the scalar reference, or skips (saying why) on a CPU that cannot run it.
  func checkBuild(_ wanted: CPUFeatures.DirectConvolutionBuild) throws {
    guard CPUFeatures.supports(wanted) else {
      let missing = CPUFeatures.requiredFlags(wanted).filter { !CPUFeatures.has($0) }
      throw XCTSkip("this CPU cannot run the \(wanted.rawValue) direct-convolution build: /proc/cpuinfo lacks \(missing.joined(separator: ", "))")
    }
    let (build, run, grad) = Self.builds().first { $0.0 == wanted }!
    // Three input blocks and two output blocks (unequal, so a swapped channel index fails), a
    // width of two AVX-512 tiles (four AVX2 tiles), several threads; and the smallest shape.
    for (n, cin, cout, h, w) in [(2, 48, 32, 5, 16), (1, 16, 16, 1, 8)] {
      let x = Self.values(n * cin * h * w, seed: 11), wt = Self.values(cout * cin * 9, seed: 12)
      let gy = Self.values(n * cout * h * w, seed: 13)
      let label = "\(build) [\(n), \(cin) -> \(cout), \(h)x\(w)]"
      for flip in [false, true] {
        let want = Self.referenceForward(x, wt, n: n, cin: cin, cout: cout, h: h, w: w, flip: flip)
        for threads in [1, 3] {
          var got = [Float](repeating: .nan, count: want.count)
          x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in got.withUnsafeMutableBufferPointer { yp in
            run(xp.baseAddress!, wp.baseAddress!, yp.baseAddress!, n, cin, cout, h, w, flip, threads)
          } } }
          let differ = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
          XCTAssertEqual(differ, 0, "\(label) forward (flipTranspose \(flip), \(threads) threads): \(differ) of \(want.count) values differ from the documented order")
        }
      }
      let want = Self.referenceWeightGradient(x, gy, n: n, cin: cin, cout: cout, h: h, w: w)
      for threads in [1, 3] {
        var got = [Float](repeating: .nan, count: want.count)
        x.withUnsafeBufferPointer { xp in gy.withUnsafeBufferPointer { gp in got.withUnsafeMutableBufferPointer { dp in
          grad(xp.baseAddress!, gp.baseAddress!, dp.baseAddress!, n, cin, cout, h, w, threads)
        } } }
        let differ = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differ, 0, "\(label) weight gradient (\(threads) threads): \(differ) of \(want.count) values differ from the documented order")
      }
    }
  }

  /// The reference must be sensitive to the order: summing the same products in another order
  /// (c_in outermost) changes some bits, so the test above could fail.
  func testTheReferenceOrderMatters() {
    let (n, cin, cout, h, w) = (1, 32, 16, 4, 8)
    let x = Self.values(n * cin * h * w, seed: 21), wt = Self.values(cout * cin * 9, seed: 22)
    let want = Self.referenceForward(x, wt, n: n, cin: cin, cout: cout, h: h, w: w, flip: false)
    var other = [Float](repeating: 0, count: want.count)
    for co in 0..<cout { for r in 0..<h { for q in 0..<w {
      var acc: Float = 0
      for ci in 0..<cin { for k in 0..<9 {
        let rr = r + k / 3 - 1, qq = q + k % 3 - 1
        let xv: Float = rr >= 0 && rr < h && qq >= 0 && qq < w ? x[(ci * h + rr) * w + qq] : 0
        acc = acc.addingProduct(xv, wt[(co * cin + ci) * 9 + k])
      } }
      other[(co * h + r) * w + q] = acc
    } } }
    XCTAssertGreaterThan(zip(other, want).filter { $0.bitPattern != $1.bitPattern }.count, 0)
  }
}
