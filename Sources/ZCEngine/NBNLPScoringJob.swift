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
    return try scoreResumably(recipes, metrics: proxies.map(\.name), like: key(0, ""), jobs: jobs, store: store, progress: progress) { id, recipe, missing in
      let net = try makeNetwork?(id, recipe) ?? {
        var rng = ZCRandom(seed: NB201ScoringJob.initSeed(runSeed: seed, index: id))
        return try NBNLPNetwork(recipe, size: size, dtype: dtype, rng: &rng)
      }()
      return evaluateRecurrent(proxies.filter { missing.contains($0.name) }, network: net, tokens: tokens).map {
        ScoreRow(key: key(id, $0.metric), arch: recipe.canonicalJSON, value: $0.value, seconds: $0.seconds, engineVersion: ZeroCostNAS.version)
      }
    }
  }
}
