import Foundation

/// Threads inside one network's kernels (issue 16: both cores on one network).
///
/// Every parallel kernel splits its work with a *fixed* partition over independent outputs
/// (images of a batch, output channels, channel groups of batch norm, contiguous chunks of an
/// element-wise map): each output element is computed by exactly one thread, with the same
/// floating-point operations in the same order as with one thread. Results are therefore bit for
/// bit the same for every thread count and every scheduling, not merely deterministic. No kernel
/// splits a reduction dimension.
///
/// The thread count is a task-local value: ``threads`` is 1 unless a caller binds it with
/// `Parallel.$threads.withValue(n) { ... }` (the scoring pipeline binds it per network). Regions
/// are not meant to nest: no kernel body calls another parallel kernel. (An iteration that
/// `concurrentPerform` runs on the calling thread would still see the bound count; the values would
/// not change, since every partition is over independent outputs.)
public enum Parallel {
  /// Threads the kernels called from this task may use (1 = serial).
  @TaskLocal public static var threads: Int = 1

  /// Cores of this machine (`ProcessInfo.activeProcessorCount`).
  public static let cores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

  /// Number of parts `count` independent items are split into: at most ``threads``, and at
  /// least `grain` items per part (small kernels stay serial).
  @inline(__always)
  public static func parts(_ count: Int, grain: Int = 1) -> Int {
    let t = threads
    guard t > 1, count >= 2 * max(1, grain) else { return 1 }
    return min(t, count / max(1, grain))
  }

  /// Part `k` of `parts` contiguous, nearly equal ranges covering 0..<count (the first
  /// `count % parts` ranges are one longer).
  @inline(__always)
  public static func range(_ k: Int, of parts: Int, count: Int) -> Range<Int> {
    let base = count / parts, extra = count % parts
    let lo = k * base + min(k, extra)
    return lo..<(lo + base + (k < extra ? 1 : 0))
  }

  /// Calls `body` once per part of a fixed partition of 0..<count into ``parts(_:grain:)``
  /// contiguous ranges, the parts on separate threads; returns when all are done. With one part
  /// `body(0..<count)` runs on the calling thread. `body` must write disjoint outputs per range.
  public static func forEachRange(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let p = parts(count, grain: grain)
    if p <= 1 { if count > 0 { body(0..<count) }; return }
    withoutActuallyEscaping(body) { b in
      let box = UncheckedSendable(b)
      DispatchQueue.concurrentPerform(iterations: p) { k in
        box.value(range(k, of: p, count: count))
      }
    }
  }
}

/// A value handed to worker threads whose safety the caller guarantees (disjoint writes).
public struct UncheckedSendable<T>: @unchecked Sendable {
  public let value: T
  public init(_ value: T) { self.value = value }
}
