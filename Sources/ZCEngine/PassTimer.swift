import Foundation

/// Exclusive wall time of the shared passes of a proxy context (``ImageProxyContext``'s
/// forward, loss backward, Hessian–vector product, input Jacobian, synflow, NTK, ...), recorded
/// only while a timer is bound with `PassTimer.$current.withValue(timer) { ... }` (the suite
/// benchmark does; scoring does not). A pass that runs another pass first (the loss backward
/// runs the forward) is charged only its own time.
public final class PassTimer: @unchecked Sendable {
  /// The timer the passes of the current task record into (nil: not recording).
  @TaskLocal public static var current: PassTimer?

  private let lock = NSLock()
  private var seconds: [String: Double] = [:]
  private var order: [String] = []
  private var stack: [(name: String, start: UInt64, nested: UInt64)] = []

  public init() {}

  /// Seconds per pass name, in the order the passes first ran.
  public var passes: [(name: String, seconds: Double)] {
    lock.lock(); defer { lock.unlock() }
    return order.map { ($0, seconds[$0] ?? 0) }
  }

  /// Starts pass `name` on the bound timer (nothing when none is bound); call `end()` on the
  /// result when the pass is done (`defer`).
  @inline(__always)
  public static func begin(_ name: String) -> Token {
    guard let t = current else { return Token(timer: nil) }
    t.begin(name)
    return Token(timer: t)
  }

  /// A started pass (see ``begin(_:)``).
  public struct Token {
    let timer: PassTimer?
    @inline(__always) public func end() { timer?.end() }
  }

  private func begin(_ name: String) {
    lock.lock(); defer { lock.unlock() }
    stack.append((name, DispatchTime.now().uptimeNanoseconds, 0))
  }

  private func end() {
    lock.lock(); defer { lock.unlock() }
    guard let top = stack.popLast() else { return }
    let total = DispatchTime.now().uptimeNanoseconds - top.start
    if seconds[top.name] == nil { order.append(top.name) }
    seconds[top.name, default: 0] += Double(total - min(total, top.nested)) / 1e9
    if !stack.isEmpty { stack[stack.count - 1].nested += total }
  }
}
