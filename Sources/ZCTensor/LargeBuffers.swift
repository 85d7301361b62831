import Foundation

#if os(Linux)
import Glibc
#endif

/// Large element buffers (at least ``threshold`` bytes): mapped from the kernel 2 MiB-aligned
/// (transparent huge pages on request, see ``useHugePages``), and kept on a size-keyed free list
/// when released, so that one process faults its peak in once and then reuses it across passes
/// and architectures without the C heap's fragmentation (issue 16, second round: a fresh suite
/// process spent about 1 s of system time first-touching its 2 GB peak).
///
/// Memory stays bounded: the mapped total (live plus cached) never exceeds 9/8 of the largest live
/// total the process has had so far (plus the one request being served). A request is served by a
/// cached buffer of its size, else by the smallest cached one at most twice its size; only when
/// none fits does it map a new one, first unmapping cached buffers (largest first) until the new
/// mapping fits under that bound.
///
/// Only where the memory comes from changes: no kernel reads a buffer it did not write (outputs are
/// either zero-filled on request or written in full), so values are unchanged.
/// Elsewhere than Linux, plain aligned heap allocation is used.
public enum LargeBuffers {
  /// Smallest buffer served here (bytes); smaller ones come from the C heap.
  public static let threshold = 2 << 20
  /// Alignment of the mappings (the x86-64 transparent huge page size).
  static let hugePage = 2 << 20
  static let page = 4096

  /// Counters of the pool (bytes), for the benchmark and tests.
  public struct Statistics: Sendable, Equatable {
    /// Bytes in buffers handed out and not yet released.
    public var live = 0
    /// Bytes in released buffers kept for reuse.
    public var cached = 0
    /// Largest `live` seen.
    public var liveHighWater = 0
    /// Requests served from the free list / by a fresh mapping.
    public var reused = 0
    public var mapped = 0
    /// Cached buffers unmapped to keep the bound.
    public var unmapped = 0
  }

  private final class State: @unchecked Sendable {
    let lock = NSLock()
    var free: [Int: [UnsafeMutableRawPointer]] = [:]
    var stats = Statistics()
  }
  private static let state = State()

  /// Current counters.
  public static var statistics: Statistics {
    state.lock.lock(); defer { state.lock.unlock() }
    return state.stats
  }

  /// Mapped size of a request: whole 4 KiB pages.
  @inline(__always)
  static func mappedSize(_ bytes: Int) -> Int { (bytes + page - 1) / page * page }

  /// A buffer of at least `bytes` bytes (≥ ``threshold``), 2 MiB-aligned. `zeroed`: whether the
  /// buffer is all zeros (true for a fresh mapping; a reused buffer is cleared only when `zero`
  /// asks for it). Returns the pointer and its mapped size (pass both to ``release(_:size:)``).
  static func allocate(bytes: Int, zero: Bool) -> (UnsafeMutableRawPointer, Int) {
    let size = mappedSize(bytes)
    #if os(Linux)
    let s = state
    s.lock.lock()
    // A cached buffer of the same size, else the smallest cached one up to twice as large
    // (rather than unmapping cached buffers to map a new one: a mix of sizes near the peak
    // would otherwise unmap and fault in again on every pass).
    var key: Int? = s.free[size]?.isEmpty == false ? size : nil
    if key == nil {
      key = s.free.keys.filter { $0 > size && $0 <= 2 * size && s.free[$0]?.isEmpty == false }.min()
    }
    if let k = key, let p = s.free[k]?.popLast() {
      s.stats.cached -= k
      s.stats.live += k
      s.stats.reused += 1
      s.stats.liveHighWater = max(s.stats.liveHighWater, s.stats.live)
      s.lock.unlock()
      if zero { p.initializeMemory(as: UInt8.self, repeating: 0, count: k) }
      return (p, k)
    }
    // Keep live + cached + this request under the high-water mark of live memory plus 1/8.
    var evict: [(UnsafeMutableRawPointer, Int)] = []
    let bound = max(s.stats.liveHighWater, s.stats.live + size) + s.stats.liveHighWater / 8
    if s.stats.live + s.stats.cached + size > bound {
      for k in s.free.keys.sorted(by: >) {
        while s.stats.live + s.stats.cached + size > bound, let p = s.free[k]?.popLast() {
          evict.append((p, k))
          s.stats.cached -= k
          s.stats.unmapped += 1
        }
      }
      s.free = s.free.filter { !$0.value.isEmpty }
    }
    s.stats.live += size
    s.stats.mapped += 1
    s.stats.liveHighWater = max(s.stats.liveHighWater, s.stats.live)
    s.lock.unlock()
    for (p, k) in evict { munmap(p, k) }
    if let p = mapAligned(size) { return (p, size) }
    // Mapping failed (address space or overcommit limits): fall back to the heap.
    s.lock.lock(); s.stats.live -= size; s.stats.mapped -= 1; s.lock.unlock()
    #endif
    let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: hugePage)
    if zero { p.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
    return (p, -size)  // negative: heap-allocated
  }

  /// Returns a buffer from ``allocate(bytes:zero:)`` to the free list.
  static func release(_ p: UnsafeMutableRawPointer, size: Int) {
    if size < 0 { p.deallocate(); return }
    #if os(Linux)
    let s = state
    s.lock.lock()
    s.free[size, default: []].append(p)
    s.stats.live -= size
    s.stats.cached += size
    s.lock.unlock()
    #endif
  }

  /// Unmaps every cached buffer (live ones are untouched). For tests and for callers that are
  /// done with heavy work.
  public static func trim() {
    #if os(Linux)
    let s = state
    s.lock.lock()
    let all = s.free.flatMap { k, ps in ps.map { ($0, k) } }
    s.free = [:]
    s.stats.cached = 0
    s.lock.unlock()
    for (p, k) in all { munmap(p, k) }
    #endif
  }

  /// Whether mappings ask for transparent huge pages: only when the environment variable
  /// `ZCNAS_HUGEPAGES` is `1`. Off by default because on the machine kind this was measured on
  /// (a Firecracker guest, THP in `madvise` mode) a huge-page fault costs far more system time
  /// than the 512 small faults it replaces: first-touching 1.5 GiB took 2.0-3.5 s of system time
  /// with `MADV_HUGEPAGE` against 0.6 s with 4 KiB pages (the host backs each fresh 2 MiB page on
  /// demand). Where huge pages are cheap (bare metal) it cuts the page faults of a fresh process
  /// about 500-fold.
  public static let useHugePages: Bool = ProcessInfo.processInfo.environment["ZCNAS_HUGEPAGES"] == "1"

  #if os(Linux)
  /// An anonymous private mapping of `size` bytes starting on a 2 MiB boundary, with huge pages
  /// requested for it (they apply to the 2 MiB-aligned parts inside it; a tail shorter than 2 MiB
  /// uses 4 KiB pages). Pages are zero until written.
  private static func mapAligned(_ size: Int) -> UnsafeMutableRawPointer? {
    let span = size + hugePage
    guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
          raw != MAP_FAILED else { return nil }
    let addr = UInt(bitPattern: raw)
    let aligned = (addr + UInt(hugePage - 1)) & ~UInt(hugePage - 1)
    let head = Int(aligned - addr)
    if head > 0 { munmap(raw, head) }
    let tail = span - head - size
    if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(size)), tail) }
    guard let p = UnsafeMutableRawPointer(bitPattern: aligned) else { return nil }
    if useHugePages { _ = madvise(p, size, MADV_HUGEPAGE) }
    return p
  }
  #endif
}
