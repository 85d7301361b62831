import XCTest
@testable import ZCTensor

/// The NTK's packed-input cache (issue 16): the direct 3×3 weight gradient with x packed once and
/// reused gives bit for bit what packing on every call gives.
final class PackedInputCacheTests: XCTestCase {
  private func tensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = ZCRandom(seed: seed)
    return Tensor((0..<shape.reduce(1, *)).map { _ in Float(rng.nextNormal()) }, shape: shape)
  }

  func testCachedPackingGivesBitIdenticalWeightGradients() throws {
    guard CPUFeatures.directConvolution != nil else { throw XCTSkip("the direct 3x3 kernels need AVX-512 or AVX2 + FMA") }
    let x = tensor([3, 32, 8, 8], seed: 1)
    let geometry = Conv2DGeometry(stride: 1, padding: 1)
    let cache = Convolution.PackedInputCache()
    for pass in 0..<3 {
      let gy = tensor([3, 16, 8, 8], seed: 10 + UInt64(pass))
      let plain = Convolution.backwardWeight(x, gy, kernelSize: (3, 3), geometry)
      let cached = Convolution.$packedInputs.withValue(cache) { Convolution.backwardWeight(x, gy, kernelSize: (3, 3), geometry) }
      XCTAssertEqual(cached.floats.map(\.bitPattern), plain.floats.map(\.bitPattern), "pass \(pass)")
      XCTAssertTrue(plain.floats.contains { $0 != 0 })
    }
    XCTAssertEqual(cache.count, 1, "x should be packed once and reused")
  }
}
