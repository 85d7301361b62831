import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas bench-suite`: seconds per architecture for a proxy suite (release build).
struct BenchSuite: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-suite",
    abstract: "Seconds per architecture for a set of proxies at NAS-Bench-201 sizes (one network per worker).",
    discussion: """
      For each architecture: build it (seeded), take one CIFAR-10 minibatch, compute the proxies through \
      shared passes, and report the median wall time over --repeats runs. With --workers 2 the same \
      measurement runs on two threads at once (both cores busy, as when scoring) and each thread's \
      median is reported.
      """
  )

  @Option(help: "Comma-separated architectures (indices or arch strings).") var archs = "0,9930,1462"
  @Option(help: "Comma-separated proxy names, or all.") var metrics = "grad_norm,snip,grasp,fisher,synflow,jacob_cov,nwot"
  @Option(name: .customLong("batch-size")) var batchSize = 64
  @Option var repeats = 3
  @Option(help: "Concurrent workers (1 or 2).") var workers = 2
  @Option var datasets: String?

  func validate() throws {
    guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    guard batchSize >= 2 else { throw ValidationError("--batch-size must be at least 2, got \(batchSize)") }
    guard workers >= 1 else { throw ValidationError("--workers must be at least 1, got \(workers)") }
  }

  func run() throws {
    let root = try DatasetsFolder.resolve(datasets)
    let table = try NB201Table(path: root + "/nasbench201/nb201.csv")
    let chosen = try selectArchitectures(archs, table: table, seed: 0)
    let proxies = try selectProxies(metrics)
    // Two disjoint batches (the second for zico), drawn as `zcnas score` draws them.
    let (xx, yy, _) = try ImageDataset(kind: .cifar10, paths: [root + "/cifar10/train_subset.bin"]).sampleBatch(size: 2 * batchSize, seed: 0)
    let x = xx.rows(0..<batchSize), y = Array(yy.prefix(batchSize))
    let x2 = xx.rows(batchSize..<(2 * batchSize)), y2 = Array(yy.suffix(batchSize))
    print("proxies: \(proxies.map(\.name).joined(separator: ",")); batch \(batchSize); workers \(workers); OpenBLAS \(OpenBLAS.coreName), \(OpenBLAS.threads) thread(s)")
    for (index, arch) in chosen {
      let acc = Accumulator()
      DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
        var times: [Double] = []
        var last: [ProxyResult] = []
        for r in 0..<(repeats + 1) {
          var rng = ZCRandom(seed: NB201ScoringJob.initSeed(runSeed: 0, index: index))
          let net = NB201Network(arch, dtype: .float32, rng: &rng)
          let start = DispatchTime.now().uptimeNanoseconds
          last = evaluate(proxies, network: net, images: x, labels: y, images2: x2, labels2: y2)
          let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
          if r > 0 { times.append(t) }  // the first run warms up
        }
        times.sort()
        acc.add(median: times[times.count / 2], results: last, weight: 1 / Double(max(1, workers)))
      }
      let (medians, breakdown) = acc.values
      let parts = proxies.map { String(format: "%@ %.2f", $0.name, breakdown[$0.name] ?? 0) }.joined(separator: ", ")
      print(String(format: "index %5d  median s per worker: %@   (last run: %@)", index, medians.map { String(format: "%.2f", $0) }.joined(separator: " / "), parts))
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
  var values: ([Double], [String: Double]) { lock.lock(); defer { lock.unlock() }; return (medians, breakdown) }
}
