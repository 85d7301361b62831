import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// Scores NAS-Bench-201 architectures with a list of proxies on one minibatch and writes each
/// architecture's results to the store in one transaction. Architectures already stored (for the
/// same space, dataset, seed, batch size and initialisation) are skipped, so an interrupted run
/// resumes where it stopped. Workers score different architectures in parallel (one network
/// per worker; OpenBLAS single-threaded).
public struct NB201ScoringJob: @unchecked Sendable {
  public var dataset: ImageDatasetKind
  /// (official index, architecture) pairs to score.
  public var archs: [(Int, NB201Architecture)]
  public var proxies: [any ZeroCostProxy]
  public var images: Tensor
  public var labels: [Int]
  public var seed: Int
  public var dtype: DType
  public var jobs: Int
  /// Initialisation label stored with each row ("pytorch-default" for seeded initialisation).
  public var initialisation = "pytorch-default"
  /// Batch label stored with each row ("sampled", or "file:<name>@<sha256 prefix>").
  public var batchSource = "sampled"
  /// Optional second minibatch (for proxies that need one).
  public var images2: Tensor?
  public var labels2: [Int]?
  /// Builds the network for an architecture; default: seeded PyTorch-default initialisation.
  public var makeNetwork: (@Sendable (Int, NB201Architecture) throws -> NB201Network)?

  public init(dataset: ImageDatasetKind, archs: [(Int, NB201Architecture)], proxies: [any ZeroCostProxy],
              images: Tensor, labels: [Int], seed: Int, dtype: DType, jobs: Int) {
    self.dataset = dataset; self.archs = archs; self.proxies = proxies; self.images = images; self.labels = labels
    self.seed = seed; self.dtype = dtype; self.jobs = max(1, jobs)
  }

  /// Seed of the initial weights of architecture `index` under run seed `seed`: independent of
  /// the order and parallelism of scoring, so results are deterministic.
  public static func initSeed(runSeed: Int, index: Int) -> UInt64 {
    var sm = SplitMix64(seed: UInt64(bitPattern: Int64(runSeed)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index))
    return sm.next()
  }

  /// Progress after each architecture: (scored now, skipped as stored, total).
  public typealias Progress = @Sendable (_ done: Int, _ skipped: Int, _ total: Int) -> Void

  /// Runs the job. Returns the number of architectures scored now and skipped.
  /// - Throws: the first store or network error; architectures written before it stay stored.
  public func run(store: ScoreStore, progress: Progress? = nil) throws -> (scored: Int, skipped: Int) {
    let space = "nb201"
    @Sendable func key(_ index: Int, _ metric: String) -> ScoreKey {
      ScoreKey(space: space, dataset: dataset.rawValue, archIndex: index, metric: metric, seed: seed, batchSize: labels.count,
               initialisation: initialisation, batchSource: batchSource, dtype: dtype.rawValue)
    }
    let stored = try store.stored(like: key(0, ""))
    let names = proxies.map(\.name)
    let todo = archs.filter { a in names.contains { !stored.contains([String(a.0), $0]) } }
    let skipped = archs.count - todo.count
    progress?(0, skipped, archs.count)
    let state = JobState()
    let workers = min(jobs, max(todo.count, 1))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      while let k = state.next(limit: todo.count) {
        let (index, arch) = todo[k]
        do {
          let missing = proxies.filter { !stored.contains([String(index), $0.name]) }
          let net = try makeNetwork?(index, arch) ?? {
            var rng = ZCRandom(seed: Self.initSeed(runSeed: seed, index: index))
            return NB201Network(arch, numClasses: dataset.numClasses, imageSize: dataset.imageSize, dtype: dtype, rng: &rng)
          }()
          let results = evaluate(missing, network: net, images: images, labels: labels, images2: images2, labels2: labels2,
                                 runSeed: UInt64(bitPattern: Int64(seed)), networkSeed: Self.initSeed(runSeed: seed, index: index))
          let rows = results.map {
            ScoreRow(key: key(index, $0.metric), arch: arch.description, value: $0.value, seconds: $0.seconds, engineVersion: ZeroCostNAS.version)
          }
          try store.write(rows)
          progress?(state.finish(), skipped, archs.count)
        } catch {
          state.fail(error)
        }
      }
    }
    if let e = state.error { throw e }
    return (todo.count, skipped)
  }
}

/// Shared counters of the worker pool.
private final class JobState: @unchecked Sendable {
  private let lock = NSLock()
  private var cursor = 0
  private var done = 0
  private(set) var error: Error?

  func next(limit: Int) -> Int? {
    lock.lock(); defer { lock.unlock() }
    guard error == nil, cursor < limit else { return nil }
    cursor += 1
    return cursor - 1
  }
  func finish() -> Int { lock.lock(); defer { lock.unlock() }; done += 1; return done }
  func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}
