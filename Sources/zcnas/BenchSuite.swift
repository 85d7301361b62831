import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCTensor

/// `zcnas bench-suite`: seconds per pass and per proxy, CPU and system time, peak memory and
/// GFLOP/s of a proxy suite per architecture and thread count (release build), for every space.
/// The measurement is ``SuiteBenchmark`` (ZCEngine); this command parses and prints.
struct BenchSuite: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-suite",
    abstract: "Time a proxy suite per architecture: each shared pass and proxy, user/system time, peak memory, GFLOP/s, for each --threads.",
    discussion: """
      For each architecture and each thread count: build it (seeded), take the run's minibatch (as `zcnas score` \
      draws it), compute the proxies through the shared passes once to warm up, then --repeats times, and print \
      medians: wall seconds, the process's user and system seconds, seconds of each shared pass (exclusive) and \
      of each proxy, peak resident memory (VmHWM reset before the timed runs; it includes heap kept from earlier \
      runs of the process, so for a clean figure run one architecture per process), and the forward pass's \
      GFLOP/s (2 x the engine's `flops` count x batch / forward seconds) against --peak-gflops per thread. \
      Values are the same for every thread count (the kernels split only independent outputs). With \
      --workers N (at most the cores), N networks run each repeat at once (both cores busy, as `zcnas score \
      --jobs 2`): wall is the round's, user and system seconds are the process's divided by N (per network), \
      pass and proxy seconds are medians over every network's runs, the peak is all networks' together, the \
      memory estimate of N networks must fit the limit, and each network's kernels run on at most cores / N \
      threads ("running on" in the output; GFLOP/s are against that many).
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(parsing: .unconditional, help: "Comma-separated architectures (tokens of the space; nb201: indices or arch strings).") var archs = "0,9930,1462"
  @Option(help: "Comma-separated proxy names, standard (the space's usual suite) or all.") var metrics = "standard"
  @Option(name: .customLong("batch-size")) var batchSize: Int?
  @Option var repeats = 3
  @Option(help: "Comma-separated thread counts per network, for example 1,2.") var threads = "1,2"
  @Option(help: "Networks measured at once (1 or more; each with the --threads value).") var workers = 1
  @Option(name: .customLong("peak-gflops"), help: "Machine FP32 peak per core in GFLOP/s (performance notes: 115 on this machine kind).") var peakGFLOPs = 115.0
  @OptionGroup var model: RecurrentModelOptions
  @OptionGroup var bert: BERTModelOptions
  @OptionGroup var memoryLimit: MemoryLimitOptions

  func validate() throws {
    guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    if let b = batchSize, b < 2 { throw ValidationError("--batch-size must be at least 2, got \(b)") }
    guard workers >= 1 && workers <= Parallel.cores else { throw ValidationError("--workers must be in 1...\(Parallel.cores) (the cores), got \(workers)") }
    guard peakGFLOPs > 0 else { throw ValidationError("--peak-gflops must be positive, got \(peakGFLOPs)") }
    _ = try threadCounts()
  }

  private func threadCounts() throws -> [Int] {
    let parts = threads.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.compactMap { Int($0) }
    guard !parts.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
      throw ValidationError("--threads: expected comma-separated integers in 1...64, found '\(threads)'")
    }
    return values
  }

  func run() throws { try bench(try spaceOptions.load()) }

  private func bench<S: SearchSpace>(_ space: S) throws {
    let chosen = try selectArchitectures(archs, in: space, seed: 0)
    let proxies = try selectProxies(metrics, for: space)
    var settings = ScoringSettings(dataset: try spaceOptions.dataset(for: space), datasetsRoot: try spaceOptions.data.root())
    settings.batchSize = batchSize
    settings.maxMemoryGB = try memoryLimit.gigabytes()
    settings.parameters = model.parameters.merging(bert.parameters) { a, _ in a }
    let pipeline = try cli { try ScoringPipeline(space: space, settings: settings, proxies: proxies) }
    let flops = Metrics.proxy(named: "flops")
    print("\(space.name): proxies \(proxies.map(\.name).joined(separator: ",")); batch \(pipeline.batchLabel?.size ?? 0); workers \(workers); "
          + "OpenBLAS \(OpenBLAS.coreName), \(OpenBLAS.threads) thread(s); numerics \(Numerics.version); \(Parallel.cores) cores")
    for (id, arch) in chosen {
      for t in try threadCounts() {
        do {
          report(try SuiteBenchmark.measure(pipeline, id: id, architecture: arch, threads: t, workers: workers, repeats: repeats, flops: flops))
        } catch { throw CLIError("bench-suite: \(space.unit) \(id): \(error)") }
      }
    }
  }

  private func report(_ m: SuiteMeasurement) {
    func mb(_ b: Int?) -> String { b.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "n/a" }
    let running = m.runningThreads < m.threads ? String(format: " (running on %d)", m.runningThreads) : ""
    let per = m.workers > 1 ? String(format: " workers %d (wall of the round; user and sys per network; peak of all)", m.workers) : ""
    var line = String(format: "id %6d threads %d%@: wall %.3f s  user %.3f s  sys %.3f s  peak %@ (process max %@)",
                      m.id, m.threads, running + per, m.wallSeconds, m.userSeconds, m.systemSeconds, mb(m.peakResidentBytes), mb(m.processMaxResidentBytes))
    if let f = m.forwardFLOPs {
      line += String(format: "  forward %.2f GFLOP", f / 1e9)
      if let g = m.forwardGFLOPs {
        line += String(format: " at %.1f GFLOP/s (%.0f%% of %.0f peak)", g, 100 * g / (peakGFLOPs * Double(m.runningThreads)), peakGFLOPs * Double(m.runningThreads))
      }
    }
    print(line)
    print("  passes:  " + m.passSeconds.map { String(format: "%@ %.3f", $0.name, $0.seconds) }.joined(separator: ", "))
    print("  proxies: " + m.proxySeconds.map { String(format: "%@ %.3f", $0.name, $0.seconds) }.joined(separator: ", "))
  }
}
