import Foundation
import ZCData
import ZCNN
import ZCTensor

/// Progress after each architecture: (scored now, skipped as stored, total).
public typealias ScoringProgress = @Sendable (_ done: Int, _ skipped: Int, _ total: Int) -> Void

/// The library API for scoring, for every space: settings and proxies in, stored rows out. The
/// CLI's `score`, greedy search, `bench-suite` and the tests call it; nothing builds argv.
///
/// Built once per run: it checks that every proxy applies to the space's model kind, builds the
/// minibatch (``SearchSpace/makeBatch(_:proxies:)``) and, with `settings.weightsFile`, reads the
/// weights. ``run(_:store:jobs:progress:)`` scores architectures on `jobs` threads (one network per
/// thread; OpenBLAS single-threaded) and writes each architecture's rows in one transaction;
/// architectures already stored for the same settings (``keyTemplate``) are skipped, so an
/// interrupted run resumes where it stopped.
public struct ScoringPipeline<Space: SearchSpace>: @unchecked Sendable {
  public let space: Space
  public let settings: ScoringSettings
  public let proxies: [any ZeroCostProxy]
  /// The run's minibatch; nil for a pipeline built with `buildBatch: false` (it can name stored
  /// rows and build networks, but not score).
  public let batch: Space.Batch?
  /// The stored batch size and source of this run (from ``batch``, or ``SearchSpace/batchLabel(_:)``);
  /// nil when a pipeline without a batch cannot name one (then ``key(id:metric:)`` throws why).
  public let batchLabel: (size: Int, source: String)?
  private let labelError: String?
  /// The stored `init` label: the space's seeded label, or "weights:<file>@<fingerprint>".
  public let initialisation: String
  private let weights: SafetensorsFile?

  /// - Throws: ``SpaceError`` naming `--metrics` when a proxy does not apply to the space's model
  ///   kind or the list is empty, naming `--dataset` for a dataset the space lacks, naming
  ///   `--weights` for an unreadable file; the space's batch errors.
  public init(space: Space, settings: ScoringSettings, proxies: [any ZeroCostProxy]) throws {
    try self.init(space: space, settings: settings, proxies: proxies, batch: nil)
  }

  /// A pipeline on a minibatch the caller built (a library user's own images or tokens, a test's
  /// small batch) instead of ``SearchSpace/makeBatch(_:proxies:)``; its `source` is stored as the
  /// batch label, so give each distinct batch its own. With `batch` nil and `buildBatch` false
  /// the pipeline has no minibatch: it builds networks (`export-weights`) and reads this run's
  /// stored rows (`search --no-scoring`), but cannot score. The batch's shapes are the space's
  /// (NB201: images `[B, 3, H, W]` NCHW and B labels; NB-NLP: tokens `[T, B]`).
  /// - Throws: as ``init(space:settings:proxies:)``; an empty `proxies` is allowed only without a batch.
  public init(space: Space, settings: ScoringSettings, proxies: [any ZeroCostProxy], batch given: Space.Batch?, buildBatch: Bool = true) throws {
    guard !proxies.isEmpty || !buildBatch else { throw SpaceError("--metrics: no proxy named") }
    guard space.datasets.contains(settings.dataset) else {
      throw SpaceError("--dataset: expected one of \(space.datasets.joined(separator: ", ")) for --space \(space.name), found '\(settings.dataset)'")
    }
    let wrong = proxies.filter { !$0.applies(to: space.modelKind) }.map(\.name)
    guard wrong.isEmpty else {
      throw SpaceError("--metrics: \(wrong.joined(separator: ", ")) do(es) not apply to \(space.modelKind) models (--space \(space.name))")
    }
    var names = Set<String>()
    for p in proxies where !names.insert(p.name).inserted { throw SpaceError("--metrics: '\(p.name)' is named twice") }
    self.space = space; self.settings = settings; self.proxies = proxies
    let b = try given ?? (buildBatch ? space.makeBatch(settings, proxies: proxies) : nil)
    batch = b
    if let b {
      batchLabel = (b.size, b.source); labelError = nil
    } else {
      do { batchLabel = try space.batchLabel(settings); labelError = nil } catch { batchLabel = nil; labelError = "\(error)" }
    }
    if let w = settings.weightsFile {
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: w) } catch { throw SpaceError("--weights: \(error)") }
      weights = file
      initialisation = "weights:" + URL(fileURLWithPath: w).lastPathComponent + "@" + (try fileFingerprint(w))
    } else {
      weights = nil
      initialisation = space.initialisationLabel(settings)
    }
  }

  /// The key of a stored score of this run (architecture and metric filled in).
  /// - Throws: ``SpaceError`` when the run's batch cannot be named (a pipeline without a batch).
  public func key(id: Int, metric: String) throws -> ScoreKey {
    guard let batchLabel else { throw SpaceError(labelError ?? "no batch") }
    return ScoreKey(space: space.name, dataset: settings.dataset, archIndex: id, metric: metric, seed: settings.seed, batchSize: batchLabel.size,
             initialisation: initialisation, batchSource: batchLabel.source, dtype: settings.dtype.rawValue)
  }

  /// The settings part of this run's keys (architecture 0, empty metric).
  public func keyTemplate() throws -> ScoreKey { try key(id: 0, metric: "") }

  /// The network of one architecture: seeded initialisation, or the weights file (strict load).
  /// - Throws: ``SpaceError`` naming `--weights` and the offending key; the space's errors.
  public func network(id: Int, architecture: Space.Architecture) throws -> Space.Network {
    let seed = ArchitectureID.initSeed(runSeed: settings.seed, id: id)
    guard let weights else { return try space.makeNetwork(architecture, seed: seed, dtype: settings.dtype, settings: settings) }
    let net = try space.makeNetwork(architecture, seed: 0, dtype: settings.dtype, settings: settings)
    do { try WeightsIO.load(weights, into: net) } catch let e as SafetensorsError { throw SpaceError("--weights: \(e)") } catch {
      throw SpaceError("--weights \(weights.path): \(error)")
    }
    return net
  }

  /// The memory estimate of one architecture under this run's batch and proxies (nil when the
  /// space has none).
  public func memoryEstimate(_ architecture: Space.Architecture) -> MemoryEstimate? {
    guard let batch else { return nil }
    return space.memoryEstimate(architecture, batch: batch, proxies: proxies, settings: settings)
  }

  /// Checks every architecture's ``MemoryEstimate`` against the limit (``MemoryLimit``) before
  /// anything is scored, and returns how many networks fit at once (at most `jobs`, at least 1).
  /// - Throws: ``SpaceError`` naming the settings, the largest architecture, its estimate and the limit.
  public func checkMemory(_ archs: [(id: Int, architecture: Space.Architecture)], jobs: Int) throws -> Int {
    var worst: (id: Int, estimate: MemoryEstimate)?
    for a in archs {
      guard let e = memoryEstimate(a.architecture) else { continue }
      if worst == nil || e.bytes > worst!.estimate.bytes { worst = (a.id, e) }
    }
    guard let worst, let batch else { return max(jobs, 1) }
    try MemoryLimit.check(worst.estimate, options: space.memoryOptions(batch: batch, settings: settings),
                          what: "\(space.unit) \(worst.id)", settings: settings, batchOption: settings.batchFile == nil ? "--batch-size" : nil)
    let fit = Int((MemoryLimit.bytes(settings) / worst.estimate.bytes).rounded(.down))
    return max(1, min(max(jobs, 1), fit))
  }

  /// Computes `proxies` (default: all of the run's) on one architecture, without the store.
  /// - Throws: ``SpaceError`` when its ``MemoryEstimate`` exceeds the limit, or for a pipeline
  ///   without a batch; the space's errors.
  /// `threads`: threads inside the network's kernels (default ``threads(networksAtOnce:)`` of 1).
  public func evaluate(id: Int, architecture: Space.Architecture, proxies only: [any ZeroCostProxy]? = nil, threads: Int? = nil) throws -> [ProxyResult] {
    _ = try checkMemory([(id, architecture)], jobs: 1)
    return try evaluateChecked(id: id, architecture: architecture, proxies: only ?? proxies, threads: threads ?? self.threads(networksAtOnce: 1))
  }

  /// Threads per network when `networks` are scored at once: `settings.threads`, or the cores
  /// shared out among the networks (at least 1).
  public func threads(networksAtOnce networks: Int) -> Int {
    settings.threads ?? max(1, Parallel.cores / max(1, networks))
  }

  /// ``evaluate(id:architecture:proxies:)`` for an architecture whose memory was already checked.
  private func evaluateChecked(id: Int, architecture: Space.Architecture, proxies chosen: [any ZeroCostProxy], threads: Int) throws -> [ProxyResult] {
    guard let batch else { throw SpaceError("the scoring pipeline was built without a minibatch (buildBatch: false)") }
    return try Parallel.$threads.withValue(max(1, threads)) {
      let net = try network(id: id, architecture: architecture)
      let context = space.context(network: net, batch: batch, proxies: chosen, runSeed: UInt64(bitPattern: Int64(settings.seed)),
                                  networkSeed: ArchitectureID.initSeed(runSeed: settings.seed, id: id))
      return ZCEngine.evaluate(chosen, in: context)
    }
  }

  /// Scores `archs` into `store`, skipping what it holds for this run's settings. Runs at most
  /// as many networks at once as fit in the memory limit (``checkMemory(_:jobs:)``).
  /// - Returns: architectures scored now, and skipped as already stored.
  /// - Throws: ``SpaceError`` for `--weights` with more than one architecture or an architecture
  ///   whose memory estimate exceeds the limit (before anything is scored); the first store or
  ///   network error (architectures written before it stay stored).
  public func run(_ archs: [(id: Int, architecture: Space.Architecture)], store: ScoreStore, jobs requested: Int,
                  progress: ScoringProgress? = nil) throws -> (scored: Int, skipped: Int) {
    guard batch != nil else { throw SpaceError("the scoring pipeline was built without a minibatch (buildBatch: false)") }
    if weights != nil && archs.count != 1 {
      throw SpaceError("--weights: expected exactly one \(space.noun) in --archs, found \(archs.count)")
    }
    let jobs = try checkMemory(archs, jobs: requested)
    if weights != nil, let a = archs.first { _ = try network(id: a.id, architecture: a.architecture) }  // fail now, naming the key
    let items = archs.map { ($0.id, $0.architecture) }
    // Threads per network from the networks that can still run at once: the last architectures of
    // a run (fewer left than jobs) get more cores. Values do not depend on it (Parallel).
    return try scoreResumably(items, metrics: proxies.map(\.name), like: try keyTemplate(), jobs: jobs, store: store, progress: progress) { id, arch, missing, atOnce in
      let text = space.canonical(arch)
      let results = try evaluateChecked(id: id, architecture: arch, proxies: proxies.filter { missing.contains($0.name) }, threads: threads(networksAtOnce: atOnce))
      return try results.map { ScoreRow(key: try key(id: id, metric: $0.metric), arch: text, value: $0.value, seconds: $0.seconds, engineVersion: ZeroCostNAS.version, numerics: Numerics.version) }
    }
  }

  /// The numerics versions other than this engine's among this run's stored rows for `ids`, with
  /// their row counts (``ScoreStore/otherNumerics(like:ids:current:)``): rows a resumed run kept
  /// that this engine would not reproduce bit for bit.
  /// - Throws: ``StoreError``.
  public func otherNumerics(ids: Set<Int>, store: ScoreStore) throws -> [String: Int] {
    try store.otherNumerics(like: try keyTemplate(), ids: ids, current: Numerics.version)
  }

  /// This run's stored rows (its settings) for the given ids.
  /// - Throws: ``StoreError``.
  public func storedRows(ids: Set<Int>, store: ScoreStore) throws -> [ScoreRow] {
    try store.rows(like: try keyTemplate(), ids: ids)
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
///   - score: computes the rows of one item for the metrics it still lacks; `atOnce` is the number
///     of items that can be scoring at the same time from now on (min(workers, items not yet
///     started, this one included)).
/// - Returns: items scored now, and items skipped as fully stored (at the start or, when another
///   process stored them meanwhile, when their turn came).
/// - Throws: the first store or scoring error; items written before it stay stored.
func scoreResumably<Item: Sendable>(_ items: [(Int, Item)], metrics: [String], like key: ScoreKey, jobs: Int, store: ScoreStore,
                                    progress: ScoringProgress?,
                                    score: @escaping @Sendable (_ id: Int, _ item: Item, _ missing: Set<String>, _ atOnce: Int) throws -> [ScoreRow]) throws -> (scored: Int, skipped: Int) {
  let stored = try store.stored(like: key)
  let todo = items.filter { i in metrics.contains { !stored.contains([String(i.0), $0]) } }
  let skipped = items.count - todo.count
  progress?(0, skipped, items.count)
  let state = JobState()
  let workers = min(max(jobs, 1), max(todo.count, 1))
  DispatchQueue.concurrentPerform(iterations: workers) { _ in
    while let k = state.next(limit: todo.count) {
      let (id, item) = todo[k]
      do {
        let now = try store.storedMetrics(like: key, archIndex: id)
        let missing = Set(metrics.filter { !now.contains($0) })
        if missing.isEmpty {
          state.skipLate()
        } else {
          try store.write(try score(id, item, missing, min(workers, todo.count - k)))
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
