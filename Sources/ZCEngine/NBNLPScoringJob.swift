import Foundation
import ZCData
import ZCSpaces
import ZCTensor

/// Scores NAS-Bench-NLP recipes with recurrent proxies on one token batch, writing each recipe's
/// results to the store in one transaction (resumable, as ``NB201ScoringJob``). Rows use space
/// "nbnlp", the recipe id as architecture index, the canonical recipe JSON as architecture, the
/// token batch's B as batch size; the model size is part of the initialisation label, so runs at
/// different sizes are never mixed.
public struct NBNLPScoringJob: @unchecked Sendable {
  public var dataset: String
  /// (recipe id, recipe) pairs.
  public var recipes: [(Int, NBNLPRecipe)]
  public var proxies: [any RecurrentProxy]
  public var tokens: TokenBatch
  public var size: NBNLPModelSize
  public var seed: Int
  public var dtype: DType
  public var jobs: Int
  /// Where the batch came from, stored with each row (for example "test:bptt70:b0").
  public var batchSource: String
  /// Builds the network for a recipe; default: seeded benchmark-style initialisation.
  public var makeNetwork: (@Sendable (Int, NBNLPRecipe) throws -> NBNLPNetwork)?
  /// Initialisation label; default "pytorch-default:e<emsize>-h<nhid>-l<layers>".
  public var initialisation: String

  public init(dataset: String, recipes: [(Int, NBNLPRecipe)], proxies: [any RecurrentProxy], tokens: TokenBatch,
              size: NBNLPModelSize, seed: Int, dtype: DType, jobs: Int, batchSource: String) {
    self.dataset = dataset; self.recipes = recipes; self.proxies = proxies; self.tokens = tokens; self.size = size
    self.seed = seed; self.dtype = dtype; self.jobs = max(1, jobs); self.batchSource = batchSource
    initialisation = "pytorch-default:e\(size.embeddingSize)-h\(size.hiddenSize)-l\(size.layers)"
  }

  /// Runs the job. Returns the number of recipes scored now and skipped as already stored.
  /// - Throws: the first store or network error; recipes written before it stay stored.
  public func run(store: ScoreStore, progress: NB201ScoringJob.Progress? = nil) throws -> (scored: Int, skipped: Int) {
    @Sendable func key(_ id: Int, _ metric: String) -> ScoreKey {
      ScoreKey(space: "nbnlp", dataset: dataset, archIndex: id, metric: metric, seed: seed, batchSize: tokens.batch,
               initialisation: initialisation, batchSource: batchSource, dtype: dtype.rawValue)
    }
    let stored = try store.stored(like: key(0, ""))
    let names = proxies.map(\.name)
    let todo = recipes.filter { r in names.contains { !stored.contains([String(r.0), $0]) } }
    let skipped = recipes.count - todo.count
    progress?(0, skipped, recipes.count)
    let state = RecipeQueue()
    DispatchQueue.concurrentPerform(iterations: min(jobs, max(todo.count, 1))) { _ in
      while let k = state.next(limit: todo.count) {
        let (id, recipe) = todo[k]
        do {
          let missing = proxies.filter { !stored.contains([String(id), $0.name]) }
          let net = try makeNetwork?(id, recipe) ?? {
            var rng = ZCRandom(seed: NB201ScoringJob.initSeed(runSeed: seed, index: id))
            return try NBNLPNetwork(recipe, size: size, dtype: dtype, rng: &rng)
          }()
          let results = evaluateRecurrent(missing, network: net, tokens: tokens)
          try store.write(results.map {
            ScoreRow(key: key(id, $0.metric), arch: recipe.canonicalJSON, value: $0.value, seconds: $0.seconds, engineVersion: ZeroCostNAS.version)
          })
          progress?(state.finish(), skipped, recipes.count)
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
private final class RecipeQueue: @unchecked Sendable {
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
