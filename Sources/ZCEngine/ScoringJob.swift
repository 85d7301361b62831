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
    return try scoreResumably(archs, metrics: proxies.map(\.name), like: key(0, ""), jobs: jobs, store: store, progress: progress) { index, arch, missing in
      let net = try makeNetwork?(index, arch) ?? {
        var rng = ZCRandom(seed: Self.initSeed(runSeed: seed, index: index))
        return NB201Network(arch, numClasses: dataset.numClasses, imageSize: dataset.imageSize, dtype: dtype, rng: &rng)
      }()
      let results = evaluate(proxies.filter { missing.contains($0.name) }, network: net, images: images, labels: labels, images2: images2,
                             labels2: labels2, runSeed: UInt64(bitPattern: Int64(seed)), networkSeed: Self.initSeed(runSeed: seed, index: index))
      return results.map {
        ScoreRow(key: key(index, $0.metric), arch: arch.description, value: $0.value, seconds: $0.seconds, engineVersion: ZeroCostNAS.version)
      }
    }
  }
}

/// The resumable worker pool of the scoring jobs: skips the (item, metric) pairs the store already
/// holds for the settings of `key`, scores the rest on `jobs` threads (items taken in order), and
/// writes each item's rows in one transaction, so an interrupted run loses at most the items in
/// progress. Each item's stored metrics are read again just before it is scored, so several
/// processes can share one store (for example two walking the same list from opposite ends): an
/// item another process finished meanwhile is skipped, not scored twice.
/// - Parameters:
///   - items: (architecture index or recipe id, item) pairs.
///   - score: computes the rows of one item for the metrics it still lacks.
/// - Returns: items scored now, and items skipped as fully stored (at the start or, when another
///   process stored them meanwhile, when their turn came).
/// - Throws: the first store or scoring error; items written before it stay stored.
func scoreResumably<Item: Sendable>(_ items: [(Int, Item)], metrics: [String], like key: ScoreKey, jobs: Int, store: ScoreStore,
                                    progress: NB201ScoringJob.Progress?,
                                    score: @escaping @Sendable (_ id: Int, _ item: Item, _ missing: Set<String>) throws -> [ScoreRow]) throws -> (scored: Int, skipped: Int) {
  let stored = try store.stored(like: key)
  let todo = items.filter { i in metrics.contains { !stored.contains([String(i.0), $0]) } }
  let skipped = items.count - todo.count
  progress?(0, skipped, items.count)
  let state = JobState()
  DispatchQueue.concurrentPerform(iterations: min(max(jobs, 1), max(todo.count, 1))) { _ in
    while let k = state.next(limit: todo.count) {
      let (id, item) = todo[k]
      do {
        let now = try store.storedMetrics(like: key, archIndex: id)
        let missing = Set(metrics.filter { !now.contains($0) })
        if missing.isEmpty {
          state.skipLate()
        } else {
          try store.write(try score(id, item, missing))
        }
        progress?(state.finish(), skipped, items.count)
      } catch {
        state.fail(error)
      }
    }
  }
  if let e = state.error { throw e }
  return (todo.count - state.skippedLate, skipped + state.skippedLate)
}

/// Shared counters of the worker pool.
private final class JobState: @unchecked Sendable {
  private let lock = NSLock()
  private var cursor = 0
  private var done = 0
  private(set) var error: Error?
  private var late = 0

  func next(limit: Int) -> Int? {
    lock.lock(); defer { lock.unlock() }
    guard error == nil, cursor < limit else { return nil }
    cursor += 1
    return cursor - 1
  }
  func finish() -> Int { lock.lock(); defer { lock.unlock() }; done += 1; return done }
  /// An item found fully stored when its turn came (another process scored it).
  func skipLate() { lock.lock(); late += 1; lock.unlock() }
  var skippedLate: Int { lock.lock(); defer { lock.unlock() }; return late }
  func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}
