import Foundation
import XCTest
import ZCTensor

final class RandomTests: XCTestCase {
  func testSplitMix64MatchesPublishedOutput() {
    // First outputs of SplitMix64 from seed 0 (Vigna's reference splitmix64.c).
    var s = SplitMix64(seed: 0)
    XCTAssertEqual(s.next(), 0xE220_A839_7B1D_CDAF)
    XCTAssertEqual(s.next(), 0x6E78_9E6A_A1B9_65F4)
  }

  func testSameSeedSameStreamDifferentSeedDifferentStream() {
    var a = ZCRandom(seed: 42), b = ZCRandom(seed: 42), c = ZCRandom(seed: 43)
    let xa = (0..<100).map { _ in a.nextNormal() }, xb = (0..<100).map { _ in b.nextNormal() }
    let xc = (0..<100).map { _ in c.nextNormal() }
    XCTAssertEqual(xa, xb)
    XCTAssertNotEqual(xa, xc)
  }

  func testDeterministicLogAndSinCosAgreeWithLibm() {
    var r = ZCRandom(seed: 7)
    for _ in 0..<2000 {
      let x = Double((r.next() >> 11) + 1) * 0x1.0p-53
      XCTAssertEqual(ZCRandom.log(x), Foundation.log(x), accuracy: 4e-16 * Swift.abs(Foundation.log(x)) + 1e-300)
      let u = r.nextUniform()
      let (s, c) = ZCRandom.sinCos2Pi(u)
      XCTAssertEqual(s, Foundation.sin(2 * Double.pi * u), accuracy: 2e-15)
      XCTAssertEqual(c, Foundation.cos(2 * Double.pi * u), accuracy: 2e-15)
    }
    XCTAssertEqual(ZCRandom.log(1), 0)
    XCTAssertEqual(ZCRandom.log(1e300), Foundation.log(1e300), accuracy: 1e-12)
  }

  func testNormalAndUniformMoments() {
    var r = ZCRandom(seed: 1)
    let n = 200_000
    let z = (0..<n).map { _ in r.nextNormal() }
    let mean = z.reduce(0, +) / Double(n)
    let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
    XCTAssertEqual(mean, 0, accuracy: 0.01)  // 4.5 standard errors
    XCTAssertEqual(variance, 1, accuracy: 0.015)
    let frac = Double(z.filter { Swift.abs($0) < 1.959964 }.count) / Double(n)
    XCTAssertEqual(frac, 0.95, accuracy: 0.003)
    let u = (0..<n).map { _ in r.nextUniform() }
    XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
    XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.003)
  }

  func testSampleWithoutReplacementNeverRepeats() {
    var r = ZCRandom(seed: 3)
    let s = r.sampleWithoutReplacement(64, from: 100)
    XCTAssertEqual(Set(s).count, 64)
    XCTAssertTrue(s.allSatisfy { (0..<100).contains($0) })
    XCTAssertEqual(Set(r.sampleWithoutReplacement(10, from: 10)), Set(0..<10))
  }

  func testPyTorchInitializerBoundsAndSpreads() {
    var r = ZCRandom(seed: 5)
    // nn.Conv2d(16, 32, 3): fan_in = 144, W and b in ±1/12.
    let w = Initializer.pytorchDefaultWeight.make(shape: [32, 16, 3, 3], rng: &r).doubles
    XCTAssertEqual(Initializer.fans([32, 16, 3, 3]).fanIn, 144)
    XCTAssertEqual(Initializer.fans([32, 16, 3, 3]).fanOut, 288)
    XCTAssertTrue(w.allSatisfy { Swift.abs($0) <= 1.0 / 12 })
    XCTAssertGreaterThan(w.map { Swift.abs($0) }.max()!, 0.98 / 12)
    let b = Initializer.pytorchDefaultBias(weightShape: [32, 16, 3, 3])
    XCTAssertEqual(b, .uniform(low: -1.0 / 12, high: 1.0 / 12))
    func std(_ v: [Double]) -> Double {
      let m = v.reduce(0, +) / Double(v.count)
      return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
    }
    let shape = [64, 32, 3, 3]  // fan_in 288, fan_out 576
    let kn = Initializer.kaimingNormal(mode: .fanIn).make(shape: shape, dtype: .float64, rng: &r).doubles
    XCTAssertEqual(std(kn), (2.0 / 288).squareRoot(), accuracy: 0.02 * (2.0 / 288).squareRoot())
    let ko = Initializer.kaimingNormal(mode: .fanOut).make(shape: shape, dtype: .float64, rng: &r).doubles
    XCTAssertEqual(std(ko), (2.0 / 576).squareRoot(), accuracy: 0.02 * (2.0 / 576).squareRoot())
    let xu = Initializer.xavierUniform(gain: 1).make(shape: shape, rng: &r).doubles
    let bound = (6.0 / Double(288 + 576)).squareRoot()
    XCTAssertTrue(xu.allSatisfy { Swift.abs($0) <= bound + 1e-7 })
    XCTAssertEqual(std(xu), bound / 3.0.squareRoot(), accuracy: 0.02 * bound)
    let xn = Initializer.xavierNormal(gain: 2).make(shape: shape, dtype: .float64, rng: &r).doubles
    XCTAssertEqual(std(xn), 2 * (2.0 / Double(288 + 576)).squareRoot(), accuracy: 0.002)
    let c = Initializer.constant(0.25).make(shape: [3], rng: &r).doubles
    XCTAssertEqual(c, [0.25, 0.25, 0.25])
  }
}
