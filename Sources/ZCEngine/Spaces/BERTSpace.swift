import Foundation
import ZCAutodiff
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// The BERT benchmark of Serianni & Kalita, "Training-free Neural Architecture Search for RNNs and
/// Transformers" (ACL 2023): 500 FlexiBERT/ELECTRA architectures (`Datasets/bert_benchmark`), ids
/// 0…499 as in the benchmark, each built as the reference's `ElectraModel` (``BERTNetwork``) and
/// scored on packed WikiText-2 test text, `[CLS]` + T − 2 WordPieces + `[SEP]` per sequence
/// (``WordPieceTokenizer/packedBatch(lines:count:length:)``), B × T = 8 × 128 by default.
/// Ground truth: the GLUE mean (`glue`, default) or one task, higher is better.
///
/// Parameters (``ScoringSettings/parameters``): `bert_sizes` (0 = benchmark: the entry's hidden
/// size and per-layer FFN widths, the trained networks; 1 = notebook: H 256 and I 1024 for all, as
/// the paper's metric notebook) and `seq_len` (T, default 128, at most 512).
///
/// Neighbours: the benchmark entries that differ from an entry in exactly one field of one layer
/// (operation, heads, FFN width or count) or in the hidden size, with the same number of layers.
public struct BERTSpace: SearchSpace {
  public typealias Architecture = BERTArchitecture
  public typealias Network = BERTNetwork

  /// A token batch `[B, T]`, and for fixtures the cotangent they prescribe.
  public struct Batch: ScoringBatch {
    public var ids: [Int]
    public var batch: Int
    public var steps: Int
    public var cotangent: Tensor?
    public var source: String
    public var size: Int { batch }
  }

  public let table: BERTBenchmarkTable
  public let datasetsRoot: String
  public let name = "bert"
  public let summary = "BERT benchmark of Serianni & Kalita (500 FlexiBERT/ELECTRA encoders, GLUE)"
  public let modelKind = ModelKind.transformer
  public let datasets = ["wikitext2"]
  public let noun = "architecture"
  public static let defaultParameters = ["bert_sizes": 0, "seq_len": 128]
  private let architectures: [Int: BERTArchitecture]
  private let ids: [Int]

  /// - Throws: ``TableError`` or ``SpaceError`` when the table is missing or an entry does not parse.
  public init(datasetsRoot: String) throws {
    let t = try BERTBenchmarkTable(path: datasetsRoot + "/bert_benchmark/bert_benchmark.csv")
    var archs: [Int: BERTArchitecture] = [:]
    for r in t.rows {
      do { archs[r.id] = try BERTArchitecture(hiddenSize: r.hiddenSize, layersJSON: r.encoderLayers) } catch {
        throw SpaceError("\(t.path): architecture \(r.id): \(error)")
      }
    }
    table = t
    self.datasetsRoot = datasetsRoot
    architectures = archs
    ids = t.rows.map(\.id)
  }

  public var entryCount: Int { ids.count }

  public func entry(at position: Int) throws -> (id: Int, architecture: BERTArchitecture) {
    guard position >= 0 && position < ids.count else { throw SpaceError("--archs: position \(position) is outside 0..<\(ids.count)") }
    return (ids[position], architectures[ids[position]]!)
  }

  /// An id (0…499), or an architecture's canonical JSON (a benchmark entry gets its id, another
  /// architecture a content-hash id).
  public func entry(token t: String) throws -> (id: Int, architecture: BERTArchitecture) {
    if let id = Int(t) {
      guard let a = architectures[id] else { throw SpaceError("--archs: BERT benchmark id \(id) is not in 0...\(ids.count - 1)") }
      return (id, a)
    }
    let a: BERTArchitecture
    do { a = try BERTArchitecture(json: t) } catch { throw SpaceError("--archs: expected a BERT benchmark id (0...\(ids.count - 1)) or an architecture's JSON; \(error)") }
    if let id = ids.first(where: { architectures[$0] == a }) { return (id, a) }
    return (ArchitectureID.contentHash(a.canonicalJSON), a)
  }

  public func canonical(_ a: BERTArchitecture) -> String { a.canonicalJSON }

  public func mismatch(id: Int, arch: String) -> String? {
    guard let stored = try? BERTArchitecture(json: arch) else { return "arch of \(id) is not a BERT architecture" }
    if id < 0 { return ArchitectureID.contentHash(stored.canonicalJSON) == id ? nil : "id \(id) is not the content hash of its architecture" }
    guard let mine = architectures[id] else { return "BERT benchmark id \(id) is not in the benchmark" }
    return mine == stored ? nil : "architecture \(id) differs from the benchmark's entry of that id"
  }

  public func neighbours(of id: Int) -> [Int]? {
    guard let a = architectures[id] else { return [] }
    func distance(_ x: BERTArchitecture, _ y: BERTArchitecture) -> Int {
      guard x.layers.count == y.layers.count else { return 99 }
      var d = x.hiddenSize == y.hiddenSize ? 0 : 1
      for (p, q) in zip(x.layers, y.layers) {
        d += (p.operation == q.operation ? 0 : 1) + (p.heads == q.heads ? 0 : 1) + (p.feedForwardDimension == q.feedForwardDimension ? 0 : 1) + (p.feedForwardCount == q.feedForwardCount ? 0 : 1)
      }
      return d
    }
    return ids.filter { $0 != id && distance(a, architectures[$0]!) == 1 }
  }

  // MARK: scoring

  public func defaultBatchSize(dataset: String) -> Int { 8 }

  func parameter(_ s: ScoringSettings, _ name: String) -> Int { s.parameters[name] ?? Self.defaultParameters[name]! }

  /// The construction mode under `s`. - Throws: ``SpaceError`` naming --bert-sizes.
  public func mode(_ s: ScoringSettings) throws -> BERTModelSize.Mode {
    switch parameter(s, "bert_sizes") {
    case 0: return .benchmark
    case 1: return .notebook
    case let v: throw SpaceError("--bert-sizes: expected benchmark or notebook, found code \(v)")
    }
  }

  public func batchLabel(_ s: ScoringSettings) throws -> (size: Int, source: String) {
    if s.batchFile != nil { throw SpaceError("--batch: not supported by --space bert (the batch is packed WikiText-2 test text; see --seq-len and --batch-size)") }
    return (s.batchSize ?? 8, "wikitext2-test:packed:t\(parameter(s, "seq_len"))")
  }

  /// The tokenizer over the shipped vocabulary (read once per call site; 30,522 lines).
  public func tokenizer() throws -> WordPieceTokenizer {
    do { return try WordPieceTokenizer(vocabularyPath: datasetsRoot + "/bert_benchmark/vocab.txt") } catch { throw SpaceError("\(error)") }
  }

  public func makeBatch(_ s: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch {
    if let unknown = s.parameters.keys.sorted().first(where: { Self.defaultParameters[$0] == nil }) {
      throw SpaceError("--\(unknown.replacingOccurrences(of: "_", with: "-")): not used by --space bert")
    }
    if !s.dataFiles.isEmpty { throw SpaceError("--data: not used by --space bert (the WikiText-2 test text is shipped)") }
    _ = try mode(s)
    let label = try batchLabel(s)
    let t = parameter(s, "seq_len")
    guard (3...512).contains(t) else { throw SpaceError("--seq-len: expected 3...512 tokens (512 positions), found \(t)") }
    let b = label.size
    guard (1...4096).contains(b) else { throw SpaceError("--batch-size: expected 1...4096 sequences, found \(b)") }
    let path = datasetsRoot + "/wikitext2/test.txt"
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw SpaceError("\(path): cannot read the WikiText-2 test text (UTF-8)")
    }
    let lines = text.components(separatedBy: "\n")
    let ids: [Int]
    do { ids = try tokenizer().packedBatch(lines: lines, count: b, length: t, name: path) } catch { throw SpaceError("--batch-size/--seq-len: \(error)") }
    return Batch(ids: ids, batch: b, steps: t, cotangent: nil, source: label.source)
  }

  public func initialisationLabel(_ s: ScoringSettings) -> String {
    "bert-normal0.02:\((try? mode(s).rawValue) ?? "?")"
  }

  public func describe(batch: Batch, settings: ScoringSettings) -> String {
    "sizes \((try? mode(settings).rawValue) ?? "?"); batch \(batch.batch)x\(batch.steps) tokens"
  }

  public func makeNetwork(_ a: BERTArchitecture, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> BERTNetwork {
    var rng = ZCRandom(seed: seed)
    return BERTNetwork(a, size: BERTModelSize.of(a, mode: try mode(settings)), dtype: dtype, rng: &rng)
  }

  /// Proxies that read gradients (the context then runs one taped pass for everything).
  public static let gradientProxies: Set<String> = [
    "synaptic_diversity", "synaptic_diversity_normalized", "synaptic_saliency", "synaptic_saliency_normalized",
    "head_importance", "head_importance_normalized", "jacobian_cov", "jacobian_cosine",
  ]

  public func context(network: BERTNetwork, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext {
    TransformerProxyContext(network: network, ids: batch.ids, batch: batch.batch, steps: batch.steps, cotangent: batch.cotangent,
                            cotangentSeed: runSeed ^ 0xC07A_4E27_0000_0001, wantsGradients: proxies.contains { Self.gradientProxies.contains($0.name) })
  }

  /// Loads a reference state_dict (strict). `embeddings.position_ids` (I64 [1, P]) must be 0..P−1
  /// and is not stored; the batch keys (`input_ids`, `attention_mask`, `token_type_ids`) and `ref.*` are ignored.
  /// - Throws: ``SafetensorsError`` or ``StateError`` naming the key.
  public static func loadWeights(_ file: SafetensorsFile, into net: BERTNetwork) throws {
    try WeightsIO.load(file, into: net)
  }

  // MARK: ground truth

  public func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth {
    let column = target == "test" ? "glue" : target
    guard BERTBenchmarkTable.scoreColumns.contains(column) else {
      throw SpaceError("\(option): the BERT benchmark has no column '\(target)'; columns: test (= glue), \(BERTBenchmarkTable.scoreColumns.joined(separator: ", "))")
    }
    let seconds = column == "time_to_train"
    return GroundTruth(column: column, unit: seconds ? "seconds" : "score", higherIsBetter: !seconds, values: table.column(column))
  }

  public let defaultObjective = "glue"
  public let standardMetrics = ["head_confidence", "head_confidence_normalized", "head_softmax_confidence", "head_softmax_confidence_normalized",
                                "activation_distance", "activation_distance_normalized", "params",
                                "synaptic_diversity", "synaptic_diversity_normalized", "synaptic_saliency", "synaptic_saliency_normalized",
                                "head_importance", "head_importance_normalized", "jacobian_cov", "jacobian_cosine"]
  public let defaultCombination = ["head_confidence", "head_softmax_confidence", "activation_distance", "params", "synaptic_saliency", "jacobian_cosine"]
  public let reportColumns: [(label: String, column: String)] = [("GLUE", "glue"), ("MNLI", "mnli")]
  public let costColumn: String? = "time_to_train"

  // MARK: fixtures

  public func fixtureInputs(_ f: ReferenceFixture, dtype: DType) throws -> (network: BERTNetwork, batch: Batch) {
    let net = try f.bertNetwork(dtype: dtype)
    let b = try f.bertBatch(dtype: dtype)
    return (net, Batch(ids: b.ids, batch: b.batch, steps: b.steps, cotangent: b.cotangent, source: "fixture:" + f.name))
  }

  public func references(_ f: ReferenceFixture) -> [String: Double] { (try? f.bert().references) ?? [:] }

  public func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison {
    let c = ReferenceFixture.compare(metric, engine: engine, reference: reference, dtype: dtype, snip: nil)
    let tol = ReferenceFixture.bertTolerance(metric, engine: dtype)
    let ok = c.relativeError.map { $0 <= tol } ?? c.passed
    return .init(metric: metric, engine: engine, reference: reference, relativeError: c.relativeError, tolerance: tol, passed: ok, note: c.note)
  }

  /// `last_hidden_state` against `ref.last_hidden_state(_float64)`, and the position-embedding
  /// gradient of the fixture's cotangent against `ref.randcot.position_embeddings_grad_float64`:
  /// max |engine − reference| / max |reference|, tolerance 1e-5 (float32 engine) or 1e-10.
  public func extraChecks(_ f: ReferenceFixture, context: any ProxyContext, dtype: DType) -> [ReferenceFixture.Comparison] {
    guard let c = context as? TransformerProxyContext else { return [] }
    var out: [ReferenceFixture.Comparison] = []
    let tol = dtype == .float32 ? 1e-5 : 1e-10
    func check(_ name: String, _ mine: Tensor, _ key: String) {
      guard let ref = try? f.tensors.floatTensor(key) else { return }
      let a = mine.doubles, b = ref.doubles
      let scale = b.map { Swift.abs($0) }.max() ?? 1
      let worst = a.count == b.count ? zip(a, b).map { Swift.abs($0 - $1) }.max().map { $0 / max(scale, 1e-300) } ?? 0 : .infinity
      out.append(.init(metric: name, engine: .value(worst), reference: 0, relativeError: nil, tolerance: tol, passed: worst <= tol,
                       note: "max |engine - reference| / max |reference| (\(key))"))
    }
    check("last_hidden", c.lastHiddenState(), "ref.last_hidden_state_float64")
    if c.wantsGradients, let g = c.gradient(of: c.network.embeddings.positionEmbeddings.weight) {
      check("pos_emb_grad", g, "ref.randcot.position_embeddings_grad_float64")
    }
    return out
  }
}
