import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCTensor

/// `zcnas bench-suite`: seconds per architecture for a proxy suite (release build), for every space.
struct BenchSuite: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-suite",
    abstract: "Seconds per architecture for a set of proxies (one network per worker), through the scoring pipeline.",
    discussion: """
      For each architecture: build it (seeded), take the run's minibatch (as `zcnas score` draws it), compute \
      the proxies through shared passes, and report the median wall time over --repeats runs. With --workers 2 \
      the same measurement runs on two threads at once (both cores busy, as when scoring) and each thread's \
      median is reported.
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(parsing: .unconditional, help: "Comma-separated architectures (tokens of the space; nb201: indices or arch strings).") var archs = "0,9930,1462"
  @Option(help: "Comma-separated proxy names, standard (the space's usual suite) or all.") var metrics = "standard"
  @Option(name: .customLong("batch-size")) var batchSize: Int?
  @Option var repeats = 3
  @Option(help: "Concurrent workers (1 or 2).") var workers = 2
  @OptionGroup var model: RecurrentModelOptions
  @OptionGroup var bert: BERTModelOptions

  func validate() throws {
    guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    if let b = batchSize, b < 2 { throw ValidationError("--batch-size must be at least 2, got \(b)") }
    guard workers >= 1 else { throw ValidationError("--workers must be at least 1, got \(workers)") }
  }

  func run() throws { try bench(try spaceOptions.load()) }

  private func bench<S: SearchSpace>(_ space: S) throws {
    let chosen = try selectArchitectures(archs, in: space, seed: 0)
    let proxies = try selectProxies(metrics, for: space)
    var settings = ScoringSettings(dataset: try spaceOptions.dataset(for: space), datasetsRoot: try spaceOptions.data.root())
    settings.batchSize = batchSize
    settings.parameters = model.parameters.merging(bert.parameters) { a, _ in a }
    let pipeline = try cli { try ScoringPipeline(space: space, settings: settings, proxies: proxies) }
    print("\(space.name): proxies \(proxies.map(\.name).joined(separator: ",")); batch \(pipeline.batchLabel?.size ?? 0); workers \(workers); OpenBLAS \(OpenBLAS.coreName), \(OpenBLAS.threads) thread(s)")
    for (id, arch) in chosen {
      let acc = Accumulator()
      DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
        var times: [Double] = []
        var last: [ProxyResult] = []
        for r in 0..<(repeats + 1) {
          let start = DispatchTime.now().uptimeNanoseconds
          do { last = try pipeline.evaluate(id: id, architecture: arch) } catch { acc.fail(error); return }
          let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
          if r > 0 { times.append(t) }  // the first run warms up
        }
        times.sort()
        acc.add(median: times[times.count / 2], results: last, weight: 1 / Double(max(1, workers)))
      }
      if let e = acc.error { throw CLIError("bench-suite: \(space.unit) \(id): \(e)") }
      let (medians, breakdown) = acc.values
      let parts = proxies.map { String(format: "%@ %.2f", $0.name, breakdown[$0.name] ?? 0) }.joined(separator: ", ")
      print(String(format: "id %7d  median s per worker: %@   (last run: %@)", id, medians.map { String(format: "%.2f", $0) }.joined(separator: " / "), parts))
    }
  }
}

private final class Accumulator: @unchecked Sendable {
  private let lock = NSLock()
  private var medians: [Double] = []
  private var breakdown: [String: Double] = [:]
  func add(median: Double, results: [ProxyResult], weight: Double) {
    lock.lock(); defer { lock.unlock() }
    medians.append(median)
    for p in results { breakdown[p.metric, default: 0] += p.seconds * weight }
  }
  private(set) var error: Error?
  func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
  var values: ([Double], [String: Double]) { lock.lock(); defer { lock.unlock() }; return (medians, breakdown) }
}
