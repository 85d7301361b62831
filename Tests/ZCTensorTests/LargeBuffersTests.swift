import XCTest
@testable import ZCTensor

/// The large-buffer pool (issue 16): reuse, zero-filling of reused buffers, and the bound on
/// mapped memory (live + cached never above 9/8 of the live high-water mark).
final class LargeBuffersTests: XCTestCase {
  func testReusedBufferIsZeroedWhenAsked() {
    let n = LargeBuffers.threshold / 4 + 1000
    do {
      let a = Tensor(uninitialized: [n], dtype: .float32)
      a.mutablePointer(Float.self).update(repeating: 7, count: n)
    }
    let b = Tensor(zeros: [n], dtype: .float32)
    let p = b.pointer(Float.self)
    XCTAssertFalse((0..<n).contains { p[$0] != 0 }, "a zero-filled tensor from the pool has non-zero elements")
  }

  func testReleasedBufferIsReused() {
    let n = LargeBuffers.threshold / 8 * 3
    let before = LargeBuffers.statistics
    for _ in 0..<4 { _ = Tensor(zeros: [n], dtype: .float64) }
    let after = LargeBuffers.statistics
    XCTAssertGreaterThanOrEqual(after.reused - before.reused, 3, "three of four same-size requests should come from the free list")
  }

  func testMappedTotalStaysUnderHighWater() {
    // Many distinct sizes, one live at a time: the cache must not grow past the high-water mark.
    let base = LargeBuffers.threshold
    for k in 0..<40 {
      let t = Tensor(uninitialized: [(base + k * 300_000) / 4], dtype: .float32)
      XCTAssertEqual(t.count, (base + k * 300_000) / 4)
      let s = LargeBuffers.statistics
      XCTAssertLessThanOrEqual(s.live + s.cached, s.liveHighWater + s.liveHighWater / 8,
                               "live \(s.live) + cached \(s.cached) above high-water \(s.liveHighWater)")
    }
  }
}
