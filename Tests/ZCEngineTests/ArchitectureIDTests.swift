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

  /// A content-hash id gets its own initial-weight seed (not the one of the index with the same
  /// magnitude), and the seed is a pure function of (run seed, id).
  func testInitSeedOfNegativeIDsIsDefinedAndDiffers() {
    XCTAssertNotEqual(ArchitectureID.initSeed(runSeed: 0, id: -5), ArchitectureID.initSeed(runSeed: 0, id: 5))
    XCTAssertEqual(ArchitectureID.initSeed(runSeed: 3, id: 9930), ArchitectureID.initSeed(runSeed: 3, id: 9930))
  }
}
