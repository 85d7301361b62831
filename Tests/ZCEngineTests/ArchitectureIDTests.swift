import XCTest
import ZCEngine

/// Identity of architectures without a benchmark index: negative (never a benchmark index),
/// stable across runs (FNV-1a of the text, checked against a value computed by hand with
/// Python's arithmetic), and distinct for distinct texts.
final class ArchitectureIDTests: XCTestCase {
  func testContentHashIsNegativeStableAndDistinct() {
    // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; top bit cleared 0x2f63dc4c8601ec8c; id = -(h + 1).
    XCTAssertEqual(ArchitectureID.contentHash("a"), -(0x2F63_DC4C_8601_EC8C) - 1)
    let texts = (0..<2000).map { "graph-\($0)" }
    let ids = texts.map(ArchitectureID.contentHash)
    XCTAssertTrue(ids.allSatisfy { $0 < 0 })
    XCTAssertEqual(Set(ids).count, texts.count)
    XCTAssertEqual(ids, texts.map(ArchitectureID.contentHash))
  }

  /// The initial-weight seed and the shard are SplitMix64 values, checked against an independent
  /// Python implementation of SplitMix64 (Steele, Lea & Flood 2014): initSeed = SplitMix64 seeded
  /// with (runSeed · 0x9E3779B97F4A7C15) xor id, first output; shard = SplitMix64(id) mod N. A
  /// content-hash id gets its own seed, not the one of the index of the same magnitude.
  func testInitSeedAndShardMatchAnIndependentSplitMix64() {
    XCTAssertEqual(ArchitectureID.initSeed(runSeed: 3, id: 9930), 14_043_682_865_140_368_840)
    XCTAssertEqual(ArchitectureID.initSeed(runSeed: 0, id: -5), 1_635_312_068_028_924_514)
    XCTAssertEqual(ArchitectureID.initSeed(runSeed: 0, id: 5), 7_134_611_160_154_358_618)
    XCTAssertEqual(ArchitectureID.shard(of: 9930, count: 7), 5)
    XCTAssertEqual((0..<6).map { ArchitectureID.shard(of: $0, count: 3) }, [1, 2, 1, 0, 1, 2])
  }
}
