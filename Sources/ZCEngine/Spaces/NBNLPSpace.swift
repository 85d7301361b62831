import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// NAS-Bench-NLP (Klyuchnikov et al. 2022): the 344 recipes of the benchmark's WikiText-2 subset
/// (`Datasets/nasbench_nlp`), each built as the benchmark's language model (`AWDRNNModel`:
/// embedding, stacked recurrent layers of the cell, tied decoder, evaluation mode; PyTorch
/// parameter names) and scored on the first bptt × B tokens `[T, B]` of the test split of
/// WikiText-2 or PTB (NAS-Bench-NLP's `data.Corpus` + `batchify`). Ground truth: the subset's
/// losses in nats/token, lower is better. Ids are the benchmark's recipe ids; architectures print
/// as canonical recipe JSON. The subset has no neighbourhood (its recipes are not one edit apart).
///
/// Parameters (``ScoringSettings/parameters``): `bptt` (tokens per sequence, default 70), `emsize`
/// (400), `nhid` (600), `nlayers` (3): the benchmark's sizes.
public struct NBNLPSpace: SearchSpace {
  public typealias Architecture = NBNLPRecipe
  public typealias Network = NBNLPNetwork

  /// One token batch.
  public struct Batch: ScoringBatch {
    public var tokens: TokenBatch
    public var source: String
    public var size: Int { tokens.batch }
    /// - Parameters: tokens `[T, B]`, ids below the model's vocabulary; source the stored batch label.
    public init(tokens: TokenBatch, source: String) { self.tokens = tokens; self.source = source }
  }

  /// Corpora by dataset, read once per process (the vocabulary sets the model's size).
  private final class Corpora: @unchecked Sendable {
    let lock = NSLock()
    var byDataset: [String: TextCorpus] = [:]
  }
  private let corpora = Corpora()

  /// The dataset's corpus (NAS-Bench-NLP `data.Corpus`: vocabulary over the shipped splits in order).
  /// - Throws: ``SpaceError`` naming --dataset.
  public func corpus(_ s: ScoringSettings) throws -> TextCorpus {
    guard let kind = TextDatasetKind(rawValue: s.dataset) else {
      throw SpaceError("--dataset: expected one of \(datasets.joined(separator: ", ")) for --space nbnlp, found '\(s.dataset)'")
    }
    corpora.lock.lock(); defer { corpora.lock.unlock() }
    if let c = corpora.byDataset[s.dataset] { return c }
    let c: TextCorpus
    do { c = try TextCorpus(paths: kind.files.map { s.datasetsRoot + "/" + $0 }) } catch { throw SpaceError("--dataset \(s.dataset): \(error)") }
    corpora.byDataset[s.dataset] = c
    return c
  }

  /// The model size under `s`: the corpus vocabulary and `emsize`, `nhid`, `nlayers`.
  /// - Throws: ``SpaceError`` for a non-positive size or an unreadable corpus.
  public func modelSize(_ s: ScoringSettings) throws -> NBNLPModelSize {
    let (emsize, nhid, nlayers) = (parameter(s, "emsize"), parameter(s, "nhid"), parameter(s, "nlayers"))
    guard emsize >= 1, nhid >= 1, nlayers >= 1 else {
      throw SpaceError("--emsize/--nhid/--nlayers: expected positive sizes, found \(emsize)/\(nhid)/\(nlayers)")
    }
    return NBNLPModelSize(vocabulary: try corpus(s).vocabularySize, embeddingSize: emsize, hiddenSize: nhid, layers: nlayers)
  }

  public let table: NBNLPTable
  public let name = "nbnlp"
  public let summary = "NAS-Bench-NLP recurrent cells (the 344-recipe WikiText-2 subset), AWD-RNN language model"
  public let modelKind = ModelKind.recurrentLanguageModel
  public let datasets = TextDatasetKind.allCases.map(\.rawValue)
  public let noun = "recipe id"
  /// Default values of the space's parameters.
  public static let defaultParameters = ["bptt": 70, "emsize": 400, "nhid": 600, "nlayers": 3]
  private let ids: [Int]

  /// - Throws: ``TableError`` when the subset's table is missing or malformed.
  public init(datasetsRoot: String) throws {
    try self.init(table: NBNLPTable(path: datasetsRoot + "/nasbench_nlp/nbnlp_wikitext2_subset.csv"))
  }

  public init(table: NBNLPTable) {
    self.table = table
    ids = table.recipeIDs
  }

  public var entryCount: Int { ids.count }

  func byID(_ id: Int) throws -> (id: Int, architecture: NBNLPRecipe) {
    guard let text = table.recipe(id: id) else {
      throw SpaceError("--archs: recipe id \(id) is not in the NAS-Bench-NLP WikiText-2 subset (\(ids.first ?? 0)...\(ids.last ?? 0), \(ids.count) ids)")
    }
    do { return (id, try NBNLPRecipe(json: text)) } catch { throw SpaceError("--archs: recipe \(id): \(error)") }
  }

  public func entry(at position: Int) throws -> (id: Int, architecture: NBNLPRecipe) {
    guard position >= 0 && position < ids.count else { throw SpaceError("--archs: position \(position) is outside 0..<\(ids.count)") }
    return try byID(ids[position])
  }

  public func entry(token t: String) throws -> (id: Int, architecture: NBNLPRecipe) {
    guard let id = Int(t) else { throw SpaceError("--archs: expected a NAS-Bench-NLP recipe id (an integer), found '\(t)'") }
    return try byID(id)
  }

  public func canonical(_ r: NBNLPRecipe) -> String { r.canonicalJSON }

  public func mismatch(id: Int, arch: String) -> String? {
    guard let text = table.recipe(id: id) else { return "recipe id \(id) is not in the NAS-Bench-NLP WikiText-2 subset" }
    guard let stored = try? NBNLPRecipe(json: arch), let mine = try? NBNLPRecipe(json: text) else { return "arch of recipe \(id) is not a recipe" }
    return stored.canonicalJSON == mine.canonicalJSON ? nil : "recipe \(id) differs from the NAS-Bench-NLP subset's recipe of that id"
  }

  // MARK: scoring

  public func defaultBatchSize(dataset: String) -> Int { 10 }

  func parameter(_ s: ScoringSettings, _ name: String) -> Int { s.parameters[name] ?? Self.defaultParameters[name]! }

  public func batchLabel(_ s: ScoringSettings) throws -> (size: Int, source: String) {
    if let path = s.batchFile {
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: path) } catch { throw SpaceError("--batch: \(error)") }
      guard case let .int(_, shape)? = file.tensors["tokens"], shape.count == 2, shape[0] >= 1, shape[1] >= 2 else {
        throw SpaceError("--batch \(path): expected an I64 'tokens' tensor [T, B] with T >= 1 and B >= 2, found \(file.summary("tokens"))")
      }
      return (shape[1], "file:" + URL(fileURLWithPath: path).lastPathComponent + "@" + (try fileFingerprint(path)))
    }
    return (s.batchSize ?? defaultBatchSize(dataset: s.dataset), "test:bptt\(parameter(s, "bptt")):b0")
  }

  public func makeBatch(_ s: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch {
    if let unknown = s.parameters.keys.sorted().first(where: { Self.defaultParameters[$0] == nil }) {
      throw SpaceError("--\(unknown): not used by --space nbnlp")
    }
    if !s.dataFiles.isEmpty { throw SpaceError("--data: not used by --space nbnlp (the text datasets are shipped; use --batch FILE for your own tokens)") }
    let batchSize = s.batchSize ?? defaultBatchSize(dataset: s.dataset)
    let bptt = parameter(s, "bptt")
    guard bptt >= 1 else { throw SpaceError("--bptt: expected at least 1, found \(bptt)") }
    let size = try modelSize(s)
    let corpus = try corpus(s)
    let label = try batchLabel(s)
    if let path = s.batchFile {
      let file = try SafetensorsFile(path: path)
      guard case let .int(ids, shape)? = file.tensors["tokens"] else { throw SpaceError("--batch \(path): expected an I64 'tokens' tensor [T, B]") }
      if let bad = ids.first(where: { $0 < 0 || $0 >= size.vocabulary }) {
        throw SpaceError("--batch \(path): token id \(bad) is outside the \(s.dataset) vocabulary 0..<\(size.vocabulary)")
      }
      try checkLightest(size: size, steps: shape[0], batch: shape[1], proxies: proxies, settings: s, batchOption: nil)
      return Batch(tokens: TokenBatch(ids: ids, steps: shape[0], batch: shape[1]), source: label.source)
    }
    guard batchSize >= 2 else { throw SpaceError("--batch-size: expected at least 2 sequences (the B x B kernel of nwot needs two), found \(batchSize)") }
    try checkLightest(size: size, steps: bptt, batch: batchSize, proxies: proxies, settings: s, batchOption: "--batch-size")
    let kind = TextDatasetKind(rawValue: s.dataset)!
    let tokens: TokenBatch
    do { tokens = try corpus.batch(stream: kind.testStream, bptt: bptt, batch: batchSize, name: kind.files.last!) } catch { throw SpaceError("--bptt/--batch-size: \(error)") }
    return Batch(tokens: tokens, source: label.source)
  }

  public func initialisationLabel(_ s: ScoringSettings) -> String {
    "pytorch-default:e\(parameter(s, "emsize"))-h\(parameter(s, "nhid"))-l\(parameter(s, "nlayers"))"
  }

  public func describe(batch: Batch, settings: ScoringSettings) -> String {
    "model \((try? modelSize(settings)).map { "\($0)" } ?? "?"); batch \(batch.tokens.steps)x\(batch.tokens.batch) tokens"
  }

  public func makeNetwork(_ r: NBNLPRecipe, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> NBNLPNetwork {
    // The weights are allocated here: they must fit (the passes are checked by the pipeline).
    let size = try modelSize(settings)
    let weights = Self.memoryEstimate(r, size: size, steps: parameter(settings, "bptt"), batchSize: settings.batchSize ?? defaultBatchSize(dataset: settings.dataset),
                                      dtype: dtype, proxies: [])
    try MemoryLimit.check(weights, options: options(size, settings), what: "the weights of this recipe", settings: settings, batchOption: nil)
    var rng = ZCRandom(seed: seed)
    return try NBNLPNetwork(r, size: try modelSize(settings), dtype: dtype, rng: &rng)
  }

  public func context(network: NBNLPNetwork, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext {
    RecurrentProxyContext(network: network, tokens: batch.tokens)
  }

  // MARK: memory

  public func memoryEstimate(_ r: NBNLPRecipe, batch: Batch, proxies: [any ZeroCostProxy], settings: ScoringSettings) -> MemoryEstimate? {
    guard let size = try? modelSize(settings) else { return nil }
    return Self.memoryEstimate(r, size: size, steps: batch.tokens.steps, batchSize: batch.size, dtype: settings.dtype, proxies: proxies)
  }

  public func memoryOptions(batch: Batch, settings: ScoringSettings) -> String {
    "--emsize \(parameter(settings, "emsize")) --nhid \(parameter(settings, "nhid")) --nlayers \(parameter(settings, "nlayers")) --bptt \(batch.tokens.steps) --batch-size \(batch.size)"
  }

  func options(_ m: NBNLPModelSize, _ s: ScoringSettings) -> String {
    "--emsize \(m.embeddingSize) --nhid \(m.hiddenSize) --nlayers \(m.layers) --bptt \(parameter(s, "bptt"))"
  }

  /// Refuses sizes at which even the recipe of the table with the smallest estimate cannot fit,
  /// before any token batch or network is built.
  func checkLightest(size: NBNLPModelSize, steps: Int, batch: Int, proxies: [any ZeroCostProxy], settings: ScoringSettings, batchOption: String?) throws {
    var lightest: (id: Int, estimate: MemoryEstimate)?
    for id in ids {
      guard let text = table.recipe(id: id), let r = try? NBNLPRecipe(json: text) else { continue }
      let e = Self.memoryEstimate(r, size: size, steps: steps, batchSize: batch, dtype: settings.dtype, proxies: proxies)
      if lightest == nil || e.bytes < lightest!.estimate.bytes { lightest = (id, e) }
    }
    guard let lightest else { return }
    let options = "--emsize \(size.embeddingSize) --nhid \(size.hiddenSize) --nlayers \(size.layers) --bptt \(steps) --batch-size \(batch)"
    try MemoryLimit.check(lightest.estimate, options: options, what: "the subset's lightest recipe (\(lightest.id))", settings: settings, batchOption: batchOption)
  }

  /// Parameters of the language model of a recipe (embedding, decoder bias, every cell's linear
  /// weights and biases), without building it.
  public static func parameterCount(_ r: NBNLPRecipe, size: NBNLPModelSize) -> Int {
    var total = size.vocabulary * size.embeddingSize + size.vocabulary
    for l in 0..<size.layers {
      let h = size.hiddenSize(layer: l), input = size.inputSize(layer: l)
      for node in r.linearNodes { total += node.inputs.reduce(h) { $0 + ($1 == "x" ? input : h) * h } }
    }
    return total
  }

  /// Peak memory of scoring one recipe's language model on `batchSize` sequences of `steps`
  /// tokens, an estimate (``MemoryEstimate``):
  ///
  /// - per sequence: steps × Σ over layers of (nodes + linear input products) × H_l, plus the
  ///   embedding output, in the dtype's bytes (hidden_cov and nwot keep the forward's values);
  /// - fixed: 64 MB for the process, P × bytes × 2 (weights and the tied decoder's copy in a
  ///   fixture load), and for synflow a float64 copy of the recurrent weights with |θ| and their
  ///   gradients (24 bytes per weight) and its one-sequence float64 tape (× 2 for the gradients).
  ///
  /// Calibration (peak resident memory, recipe 1000001, one job): 5.7 MB per sequence measured
  /// against 9.4 estimated for hidden_cov at the benchmark's sizes (bptt 70); 1.12 GB measured
  /// against 1.3 estimated for synflow at nhid 1800; 1.47 GB against 1.8 for the five recurrent
  /// proxies at nhid 1800, batch 10. At nhid 100000 the weights alone need hundreds of GB.
  public static func memoryEstimate(_ r: NBNLPRecipe, size: NBNLPModelSize, steps: Int, batchSize: Int, dtype: DType,
                                    proxies: [any ZeroCostProxy]) -> MemoryEstimate {
    let bytes = Double(dtype == .float32 ? 4 : 8)
    let p = Double(parameterCount(r, size: size))
    let perStepUnits = Double(r.nodes.count + r.linearNodes.reduce(0) { $0 + $1.inputs.count })
    var perStep = Double(size.embeddingSize)
    for l in 0..<size.layers { perStep += perStepUnits * Double(size.hiddenSize(layer: l)) }
    let tape = Double(steps) * perStep
    var fixed = 64e6 + 2 * p * bytes
    let passes = proxies.filter { $0.name != "synflow" }
    if proxies.contains(where: { $0.name == "synflow" }) {
      let recurrent = p - Double(size.vocabulary * size.embeddingSize + size.vocabulary)
      fixed += 24 * recurrent + 2 * 8 * tape
    }
    return MemoryEstimate(fixedBytes: fixed, bytesPerSample: passes.isEmpty ? 0 : tape * bytes, samples: batchSize)
  }

  // MARK: ground truth

  public func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth {
    guard dataset == "wikitext2" else {
      throw SpaceError("--dataset \(dataset): the NAS-Bench-NLP ground truth shipped is the WikiText-2 subset (the PTB logs could not be obtained; Datasets/nasbench_nlp/PROVENANCE.md); only --dataset wikitext2 scores can be correlated, fitted or searched with ground truth")
    }
    let columns: [String: (KeyPath<NBNLPTable.Row, Double>, String, Bool)] = [
      "final_test_loss": (\.finalTestLoss, "nats/token", false), "final_val_loss": (\.finalValLoss, "nats/token", false),
      "test_loss_at_best_val": (\.testLossAtBestVal, "nats/token", false), "total_wall_time_s": (\.totalWallTime, "seconds", false),
    ]
    let column = target == "test" ? "final_test_loss" : target == "valid" ? "final_val_loss" : target
    guard let (path, unit, higher) = columns[column] else {
      throw SpaceError("\(option): the NAS-Bench-NLP subset has no numeric column '\(column)'; columns: test, valid, \(columns.keys.sorted().joined(separator: ", "))")
    }
    return GroundTruth(column: column, unit: unit, higherIsBetter: higher, values: table.groundTruth(path))
  }

  public let defaultObjective = "final_test_loss"
  /// Every recurrent proxy (well under a second per recipe at the benchmark's sizes).
  public let standardMetrics = ["hidden_cov", "hidden_cov_l2", "hidden_cov_l3", "nwot", "synflow"]
  /// Every recurrent proxy.
  public let defaultCombination = ["hidden_cov", "hidden_cov_l2", "hidden_cov_l3", "nwot", "synflow"]
  public let reportColumns: [(label: String, column: String)] = [("test loss", "final_test_loss"), ("val loss", "final_val_loss")]
  public let costColumn: String? = "total_wall_time_s"

  public func baselines(dataset: String) -> [(name: String, values: [Int: Double])] {
    [("num_params*", Dictionary(table.rows.compactMap { r in r.numParams.map { (r.recipeID, Double($0)) } }, uniquingKeysWith: { a, _ in a }))]
  }

  // MARK: fixtures


  public func fixtureInputs(_ f: ReferenceFixture, dtype: DType) throws -> (network: NBNLPNetwork, batch: Batch) {
    let net = try f.nbnlpNetwork(dtype: dtype)
    return (net, Batch(tokens: try f.tokenBatch(), source: "fixture:" + f.name))
  }

  public func references(_ f: ReferenceFixture) -> [String: Double] { f.recurrentReferences }

  public func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison {
    ReferenceFixture.compareRecurrent(metric, engine: engine, reference: reference, dtype: dtype)
  }

  /// The metric's input: the hidden states entering each step, per layer, against `ref.hidden_l*`
  /// (max absolute difference; tolerance 1e-5 float32, 1e-6 float64).
  public func extraChecks(_ f: ReferenceFixture, context: any ProxyContext, dtype: DType) -> [ReferenceFixture.Comparison] {
    guard let c = context as? RecurrentProxyContext else { return [] }
    let fwd = c.forward()
    var out: [ReferenceFixture.Comparison] = []
    for l in 0..<fwd.incomingHidden.count {
      guard let ref = try? f.tensors.floatTensor("ref.hidden_l\(l + 1)") else { continue }
      let a = fwd.incomingHidden[l].doubles, b = ref.doubles
      let worst = a.count == b.count ? zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0 : .infinity
      let tol = dtype == .float32 ? 1e-5 : 1e-6
      out.append(.init(metric: "hidden_l\(l + 1)", engine: .value(worst), reference: 0, relativeError: nil, tolerance: tol,
                       passed: worst <= tol, note: "max |engine - reference| of the hidden states"))
    }
    return out
  }
}
