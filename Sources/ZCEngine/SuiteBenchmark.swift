import Foundation
import ZCTensor

/// One architecture's suite timings at one thread count (``SuiteBenchmark``).
public struct SuiteMeasurement: Sendable {
  public let id: Int
  public let threads: Int
  /// Networks measured at once (``SuiteBenchmark/measure(_:id:architecture:threads:workers:repeats:flops:)``).
  public let workers: Int
  /// Threads each network's kernels can run on: `threads`, or fewer when `workers` networks share
  /// the cores (min(threads, max(1, cores / workers))); the partition, and so the values, follow
  /// `threads` either way.
  public var runningThreads: Int { min(threads, max(1, Parallel.cores / workers)) }
  public let batchSize: Int
  /// Median wall seconds of the whole suite (network build, shared passes, every proxy); with
  /// several workers, of the round in which they all ran it.
  public let wallSeconds: Double
  /// Median user and system CPU seconds of the process (all threads) during one suite run, per
  /// network (the process's divided by `workers`).
  public let userSeconds: Double
  public let systemSeconds: Double
  /// Median seconds per proxy (a proxy includes the shared passes it was first to ask for).
  public let proxySeconds: [(name: String, seconds: Double)]
  /// Median exclusive seconds per shared pass (``PassTimer``); the rest of a proxy's time is its
  /// own arithmetic.
  public let passSeconds: [(name: String, seconds: Double)]
  /// Peak resident memory during the timed runs (Linux VmHWM after resetting it before them;
  /// includes the heap that earlier runs of the process left allocated; all workers together),
  /// bytes; nil when unknown.
  public let peakResidentBytes: Int?
  /// Peak resident memory of the process so far (getrusage ru_maxrss), bytes.
  public let processMaxResidentBytes: Int
  /// Multiply-accumulates of one forward pass of one sample (the `flops` proxy, conv and linear
  /// layers), or nil when not measured.
  public let forwardMACsPerSample: Double?

  /// FLOPs of one forward pass of the batch: 2 · MACs · B.
  public var forwardFLOPs: Double? { forwardMACsPerSample.map { 2 * $0 * Double(batchSize) } }
  /// GFLOP/s of the shared forward pass (nil without a forward pass or a FLOP count).
  public var forwardGFLOPs: Double? {
    guard let f = forwardFLOPs, let t = passSeconds.first(where: { $0.name == "forward" })?.seconds, t > 0 else { return nil }
    return f / t / 1e9
  }
}

/// The suite benchmark behind `zcnas bench-suite` (issue 16): for one architecture and thread
/// count, runs the pipeline's proxies `repeats + 1` times (the first run warms up) and reports
/// medians of the wall time, the process's user and system time, each proxy and each shared
/// pass, and the peak memory. Timings are wall-clock and include whatever else the machine runs.
///
/// With `workers` > 1 (at most the cores), that many copies of the network run each repeat at once,
/// as `zcnas score --jobs N`: the wall time is the round's (all workers), the user and system
/// times are the process's over the round divided by `workers` (CPU seconds per network:
/// getrusage cannot tell the workers apart), the pass and proxy seconds are medians over every
/// worker's runs, and the peak memory is the process's, all workers together. The kernels of each
/// network then run on max(1, cores / workers) threads at most (a nested `concurrentPerform` gets
/// its share of the cores), whatever `threads` partitions them into: ``SuiteMeasurement/runningThreads``.
public enum SuiteBenchmark {
  /// - Parameters:
  ///   - workers: networks measured at once (at least 1); the memory estimate of `workers`
  ///     networks is checked against the limit before anything runs.
  ///   - flops: the `flops` proxy (FLOPs from the engine's own counter), or nil.
  /// - Throws: the pipeline's errors (``SpaceError`` when `workers` networks do not fit the memory
  ///   limit, network construction).
  public static func measure<S: SearchSpace>(_ pipeline: ScoringPipeline<S>, id: Int, architecture: S.Architecture, threads: Int,
                                             workers: Int = 1, repeats: Int, flops: (any ZeroCostProxy)?) throws -> SuiteMeasurement {
    precondition(workers >= 1 && workers <= Parallel.cores, "workers must be in 1...cores")
    // Every worker holds its own network and tape: the estimate of `workers` at once must fit.
    let fit = try pipeline.checkMemory([(id, architecture)], jobs: workers)
    if fit < workers {
      throw SpaceError("--workers \(workers): \(workers) networks at once exceed the memory limit (\(fit) fit); lower --workers")
    }
    var macs: Double?
    if let flops, flops.applies(to: pipeline.space.modelKind),
       let r = try pipeline.evaluate(id: id, architecture: architecture, proxies: [flops], threads: 1).first, case let .value(v) = r.value {
      macs = v * 1e6
    }
    var walls: [Double] = [], users: [Double] = [], systems: [Double] = []
    var proxyRuns: [[String: Double]] = [], passRuns: [[String: Double]] = []
    var proxyOrder: [String] = [], passOrder: [String] = []
    _ = try inParallel(workers) { _ in _ = try pipeline.evaluate(id: id, architecture: architecture, threads: threads) }  // warm-up
    resetPeakResident()
    for _ in 0..<max(1, repeats) {
      let u0 = CPUTimes.now()
      let t0 = DispatchTime.now().uptimeNanoseconds
      let runs = try inParallel(workers) { _ -> ([ProxyResult], [(name: String, seconds: Double)]) in
        let timer = PassTimer()
        let results = try PassTimer.$current.withValue(timer) { try pipeline.evaluate(id: id, architecture: architecture, threads: threads) }
        return (results, timer.passes)
      }
      let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
      let u1 = CPUTimes.now()
      walls.append(wall)
      users.append((u1.user - u0.user) / Double(workers))
      systems.append((u1.system - u0.system) / Double(workers))
      for (results, passes) in runs {
        proxyOrder = results.map(\.metric)
        proxyRuns.append(Dictionary(results.map { ($0.metric, $0.seconds) }, uniquingKeysWith: +))
        passOrder = passes.map(\.name)
        passRuns.append(Dictionary(passes.map { ($0.name, $0.seconds) }, uniquingKeysWith: +))
      }
    }
    func median(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.sorted()[v.count / 2] }
    return SuiteMeasurement(
      id: id, threads: threads, workers: workers, batchSize: pipeline.batchLabel?.size ?? 0,
      wallSeconds: median(walls), userSeconds: median(users), systemSeconds: median(systems),
      proxySeconds: proxyOrder.map { n in (n, median(proxyRuns.map { $0[n] ?? 0 })) },
      passSeconds: passOrder.map { n in (n, median(passRuns.map { $0[n] ?? 0 })) },
      peakResidentBytes: peakResident(), processMaxResidentBytes: CPUTimes.now().maxResidentBytes, forwardMACsPerSample: macs)
  }

  /// `workers` copies of `body` run at once (concurrentPerform), their results in worker order;
  /// when some fail, the error of the lowest-numbered failing worker is rethrown after all finish.
  private static func inParallel<T>(_ workers: Int, _ body: (Int) throws -> T) throws -> [T] {
    if workers == 1 { return [try body(0)] }
    let results = Results<T>(count: workers)
    withoutActuallyEscaping(body) { b in
      let box = UncheckedSendable(b)  // each call builds and touches only its own network
      DispatchQueue.concurrentPerform(iterations: workers) { w in results.set(w, Result { try box.value(w) }) }
    }
    return try results.values()
  }

  /// Worker results written under a lock (each worker writes its own slot once; read after all
  /// have finished).
  private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ k: Int, _ r: Result<T, Error>) { lock.lock(); slots[k] = r; lock.unlock() }
    func values() throws -> [T] { lock.lock(); defer { lock.unlock() }; return try slots.map { try $0!.get() } }
  }

  /// Resets the kernel's peak-RSS counter of this process (Linux: "5" to /proc/self/clear_refs).
  static func resetPeakResident() {
    #if os(Linux)
    if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") { h.write(Data("5".utf8)); try? h.close() }
    #endif
  }

  /// VmHWM of /proc/self/status in bytes (Linux), or nil.
  static func peakResident() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return nil }
    return kb * 1024
  }
}

/// The process's CPU times and peak RSS (getrusage(RUSAGE_SELF)).
public struct CPUTimes: Sendable {
  public let user: Double
  public let system: Double
  /// ru_maxrss in bytes (Linux reports KiB).
  public let maxResidentBytes: Int

  public static func now() -> CPUTimes {
    var u = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    #else
    getrusage(RUSAGE_SELF, &u)
    #endif
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return CPUTimes(user: s(u.ru_utime), system: s(u.ru_stime), maxResidentBytes: Int(u.ru_maxrss) * 1024)
  }
}
