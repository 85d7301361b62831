import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// A bad reference fixture: which file and what was wrong.
public struct FixtureError: Error, CustomStringConvertible {
  public let path: String
  public let reason: String
  public init(path: String, reason: String) { self.path = path; self.reason = reason }
  public var description: String { "\(path): \(reason)" }
}

/// An integer field of a fixture: exactly an integer (`16`, `1e3`), not `16.5`, `"16"` or `true`.
public struct FixtureInt: Decodable, Sendable, Equatable {
  public let value: Int
  public init(from decoder: Decoder) throws {
    let v = try JSONValue(from: decoder)
    guard let i = v.intValue else {
      throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an integer, found \(v.kind) \(v)"))
    }
    value = i
  }
}

/// A reference value: a JSON number, or "nan", "inf", "-inf" (JSON has no literal for them).
public struct ReferenceNumber: Decodable, Sendable, Equatable {
  public let value: Double
  public init(from decoder: Decoder) throws {
    let v = try JSONValue(from: decoder)
    switch v {
    case let .integer(i): value = Double(i)
    case let .number(d): value = d
    case .string("nan"): value = .nan
    case .string("inf"): value = .infinity
    case .string("-inf"): value = -.infinity
    default:
      throw DecodingError.typeMismatch(Double.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a number or \"nan\", \"inf\", \"-inf\", found \(v.kind) \(v)"))
    }
  }
  public static func == (a: Self, b: Self) -> Bool { a.value.bitPattern == b.value.bitPattern }
}

/// The json of a reference fixture decoded into typed fields (the format of
/// Tests/Fixtures/README.md): the fields the engine reads, each with its exact type. Fields the
/// engine does not read (provenance, per-layer lists, ...) are not decoded; a field of the wrong
/// type is an error naming it, what was expected and what was found.
public struct FixtureDocument: Decodable, Sendable {
  /// One `state_dict` entry.
  public struct StateEntry: Decodable, Sendable {
    public let key: String
    public let shape: [FixtureInt]
    public let dtype: String
  }
  /// One `reference.<metric>` entry: `value_float64` (or `value` for integers); NAS-Bench-NLP's
  /// `hidden_covariance` holds `layers` instead.
  public struct ReferenceEntry: Decodable, Sendable {
    public let valueFloat64: ReferenceNumber?
    public let value: ReferenceNumber?
    public let layers: [LayerEntry]?
    enum CodingKeys: String, CodingKey { case valueFloat64 = "value_float64", value, layers }
  }
  /// One layer of `reference.hidden_covariance.layers`.
  public struct LayerEntry: Decodable, Sendable {
    public let layer: FixtureInt
    public let valueFloat64: ReferenceNumber?
    enum CodingKeys: String, CodingKey { case layer, valueFloat64 = "value_float64" }
  }
  /// `model` of an NAS-Bench-NLP fixture (sizes); NB201's `model` has none of these keys.
  public struct ModelSizes: Decodable, Sendable {
    public let ntoken: FixtureInt?
    public let emsize: FixtureInt?
    public let nhid: FixtureInt?
    public let nlayers: FixtureInt?
  }

  public let formatVersion: FixtureInt?
  public let kind: String
  public let name: String?
  public let stateDict: [StateEntry]?
  public let reference: [String: ReferenceEntry]
  // NB201
  public let arch: String?
  public let channels: FixtureInt?
  public let cellsPerStage: FixtureInt?
  public let numClasses: FixtureInt?
  public let ntkEigenvaluesFloat64: [ReferenceNumber]?
  // NAS-Bench-NLP
  public let model: ModelSizes?
  public let recipeJSONString: String?
  public let hiddenTupleSize: FixtureInt?
  /// `reference_extra` (the newer proxies' values: AZ-NAS, MeCo, SWAP, VKDNW), read loosely:
  /// ``ReferenceFixture/extraReferences(_:)`` takes its variant-b values.
  public let referenceExtra: JSONValue?
  // BERT (kind "bert"; shared/reference/bert/README.md): read by ReferenceFixture+BERT.swift
  public let nasConfig: JSONValue?
  public let benchmarkRow: JSONValue?
  public let benchmarkID: FixtureInt?
  public let modelConfig: JSONValue?
  public let referenceRandomCotangent: [String: JSONValue]?

  enum CodingKeys: String, CodingKey {
    case formatVersion = "format_version", kind, name, stateDict = "state_dict", reference, arch
    case channels = "C", cellsPerStage = "N", numClasses = "num_classes", ntkEigenvaluesFloat64 = "ntk_eigenvalues_float64"
    case model, recipeJSONString = "recipe_json_string", hiddenTupleSize = "hidden_tuple_size"
    case referenceExtra = "reference_extra"
    case nasConfig = "nas_config", benchmarkRow = "benchmark_row", benchmarkID = "benchmark_id", modelConfig = "model_config"
    case referenceRandomCotangent = "reference_random_cotangent"
  }

  /// Decodes a fixture's json bytes; `path` names the file in errors.
  /// - Throws: ``FixtureError``: not JSON, or a field missing or of the wrong type (named).
  public static func decode(_ data: Data, path: String) throws -> FixtureDocument {
    do { return try JSONDecoder().decode(FixtureDocument.self, from: data) } catch {
      throw FixtureError(path: path, reason: JSONValue.reason(error))
    }
  }
}

/// The NB201 part of a fixture, validated: the network's sizes and the reference values.
public struct NB201FixtureSpec: Sendable {
  public let architecture: NB201Architecture
  public let channels: Int
  public let cellsPerStage: Int
  public let numClasses: Int
  /// `value_float64` (or `value`) by metric name.
  public let references: [String: Double]
}

/// The NAS-Bench-NLP part of a fixture, validated.
public struct NBNLPFixtureSpec: Sendable {
  public let recipe: NBNLPRecipe
  public let size: NBNLPModelSize
  /// Hidden covariance `value_float64` by layer (1-based).
  public let layerReferences: [Int: Double]
}

/// A PyTorch reference fixture (`<name>.json` + `<name>.safetensors`, format described in
/// Tests/Fixtures/README.md): initial weights under the official state_dict keys, the input
/// batch(es), and reference proxy values computed by the public implementations. The json is
/// decoded into typed fields (``FixtureDocument``) and validated for its kind, with sane bounds on
/// every size, before anything is built.
public struct ReferenceFixture: Sendable {
  /// What the fixture's kind needs, validated.
  public enum Content: Sendable {
    case nb201(NB201FixtureSpec)
    case nbnlp(NBNLPFixtureSpec)
    case bert(BERTFixtureSpec)
    /// A kind no space of the engine verifies (reported as skipped).
    case other
  }

  public let name: String
  public let jsonPath: String
  public let document: FixtureDocument
  public let content: Content
  public let tensors: SafetensorsFile

  /// Bounds of an NB201 fixture's sizes: far above the benchmark's (C 16, N 5, 10 to 120 classes)
  /// and below what would exhaust memory before the weights are even compared.
  public static let nb201Bounds = (channels: 1...256, cellsPerStage: 1...20, numClasses: 1...10_000)
  /// Bounds of an NAS-Bench-NLP fixture's sizes (the benchmark: vocabulary 33,278, 400/600, 3 layers).
  public static let nbnlpBounds = (vocabulary: 1...1_000_000, embedding: 1...8192, hidden: 1...8192, layers: 1...16)

  /// Reads `<folder>/<name>.json` and its safetensors file.
  /// - Throws: ``FixtureError`` (the json: a field missing, of the wrong type or out of bounds,
  ///   named) or ``SafetensorsError`` naming the file.
  public init(jsonPath: String) throws {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: jsonPath)) } catch {
      throw FixtureError(path: jsonPath, reason: "cannot read: \((error as NSError).localizedDescription)")
    }
    let document = try FixtureDocument.decode(data, path: jsonPath)
    let content = try Self.validate(document, path: jsonPath)
    let st = URL(fileURLWithPath: jsonPath).deletingPathExtension().appendingPathExtension("safetensors").path
    // A gzip-compressed tensor file (`<name>.safetensors.gz`, the BERT fixtures) is read through zlib.
    if !FileManager.default.fileExists(atPath: st) && FileManager.default.fileExists(atPath: st + ".gz") {
      let bytes: Data
      do { bytes = try Gzip.read(st + ".gz") } catch { throw FixtureError(path: st + ".gz", reason: "\(error)") }
      try self.init(document: document, content: content, jsonPath: jsonPath, tensors: try SafetensorsFile(data: bytes, path: st + ".gz"))
      return
    }
    try self.init(document: document, content: content, jsonPath: jsonPath, tensors: try SafetensorsFile(path: st))
  }

  /// A fixture from json bytes and an already read tensor file (the same checks as ``init(jsonPath:)``).
  public init(json: Data, jsonPath: String, tensors: SafetensorsFile) throws {
    let document = try FixtureDocument.decode(json, path: jsonPath)
    try self.init(document: document, content: try Self.validate(document, path: jsonPath), jsonPath: jsonPath, tensors: tensors)
  }

  private init(document: FixtureDocument, content: Content, jsonPath: String, tensors: SafetensorsFile) throws {
    self.document = document
    self.content = content
    self.jsonPath = jsonPath
    self.tensors = tensors
    name = document.name ?? URL(fileURLWithPath: jsonPath).deletingPathExtension().lastPathComponent
  }

  /// Checks the fields the fixture's kind needs, with their bounds.
  /// - Throws: ``FixtureError`` naming the field, what was expected and what was found.
  public static func validate(_ d: FixtureDocument, path: String) throws -> Content {
    func fail(_ reason: String) -> FixtureError { FixtureError(path: path, reason: reason) }
    func bounded(_ v: FixtureInt?, _ field: String, _ range: ClosedRange<Int>) throws -> Int {
      guard let v else { throw fail("missing field '\(field)' (an integer in \(range))") }
      guard range.contains(v.value) else { throw fail("'\(field)': expected an integer in \(range.lowerBound)...\(range.upperBound), found \(v.value)") }
      return v.value
    }
    if d.reference.isEmpty { throw fail("'reference': expected at least one metric with a reference value, found none") }
    switch d.kind {
    case "nb201":
      guard let text = d.arch else { throw fail("missing field 'arch' (an NB201 arch string)") }
      let arch: NB201Architecture
      do { arch = try NB201Architecture(parsing: text) } catch { throw fail("'arch': \(error)") }
      let b = nb201Bounds
      let c = try bounded(d.channels, "C", b.channels), n = try bounded(d.cellsPerStage, "N", b.cellsPerStage)
      let k = try bounded(d.numClasses, "num_classes", b.numClasses)
      var refs: [String: Double] = [:]
      for (metric, entry) in d.reference {
        guard let v = entry.valueFloat64 ?? entry.value else {
          throw fail("'reference.\(metric)': expected value_float64 (a number, \"nan\", \"inf\" or \"-inf\") or value")
        }
        refs[metric] = v.value
      }
      for (metric, v) in try extraReferences(d, path: path) where refs[metric] == nil { refs[metric] = v }
      return .nb201(NB201FixtureSpec(architecture: arch, channels: c, cellsPerStage: n, numClasses: k, references: refs))
    case "nbnlp_rnn":
      guard let text = d.recipeJSONString else { throw fail("missing field 'recipe_json_string' (the recipe's JSON text)") }
      let recipe: NBNLPRecipe
      do { recipe = try NBNLPRecipe(json: text) } catch { throw fail("'recipe_json_string': \(error)") }
      guard let m = d.model else { throw fail("missing field 'model' (ntoken, emsize, nhid, nlayers)") }
      let b = nbnlpBounds
      let size = NBNLPModelSize(vocabulary: try bounded(m.ntoken, "model.ntoken", b.vocabulary), embeddingSize: try bounded(m.emsize, "model.emsize", b.embedding),
                                hiddenSize: try bounded(m.nhid, "model.nhid", b.hidden), layers: try bounded(m.nlayers, "model.nlayers", b.layers))
      if let t = d.hiddenTupleSize, t.value != recipe.hiddenTupleSize {
        throw fail("'hidden_tuple_size': the recipe has \(recipe.hiddenTupleSize) hidden states, found \(t.value)")
      }
      guard let layers = d.reference["hidden_covariance"]?.layers, !layers.isEmpty else {
        throw fail("'reference.hidden_covariance.layers': expected a non-empty list of {layer, value_float64}")
      }
      var refs: [Int: Double] = [:]
      for (i, l) in layers.enumerated() {
        guard (1...size.layers).contains(l.layer.value) else {
          throw fail("'reference.hidden_covariance.layers[\(i)].layer': expected an integer in 1...\(size.layers), found \(l.layer.value)")
        }
        guard refs[l.layer.value] == nil else { throw fail("'reference.hidden_covariance.layers[\(i)].layer': layer \(l.layer.value) appears twice") }
        guard let v = l.valueFloat64 else { throw fail("'reference.hidden_covariance.layers[\(i)]': missing value_float64") }
        refs[l.layer.value] = v.value
      }
      return .nbnlp(NBNLPFixtureSpec(recipe: recipe, size: size, layerReferences: refs))
    case "bert":
      return .bert(try BERTFixtureSpec(d, path: path))
    default:
      return .other
    }
  }

  /// Proxies of `reference_extra` whose variant-b value (the fixture's own weights and input: the
  /// exact comparison for an engine; shared/reference README, "Newer proxies") is not checked
  /// through `verify`: meco_opt's value depends on Python's `random.sample` picks (recorded in the
  /// fixture and replayed by a unit test instead).
  public static let extraReferencesNotVerified: Set<String> = ["meco_opt"]

  /// Whether a `reference_extra` proxy runs on the AZ-NAS protocol tensors of
  /// `<fixture>.aznas.safetensors` (AZ-NAS and VKDNW: stored re-initialisation, Gaussian input,
  /// signs). Those are checked per variant (``azNASVariants(dtype:)``), the others (MeCo, SWAP)
  /// with the fixture's own proxies on its weights and batch.
  public static func usesAZNASProtocol(_ proxy: String) -> Bool { proxy.hasPrefix("az_nas_") || proxy.hasPrefix("vkdnw_") }

  /// `reference_extra.proxies.<proxy>.b.value_float64` by proxy (a number or "nan", "inf",
  /// "-inf"), except ``extraReferencesNotVerified`` and the AZ-NAS-protocol proxies
  /// (``usesAZNASProtocol(_:)``); empty without `reference_extra`.
  /// - Throws: ``FixtureError`` when `reference_extra.proxies` is not an object or a variant-b
  ///   `value_float64` is not a number.
  public static func extraReferences(_ d: FixtureDocument, path: String) throws -> [String: Double] {
    guard let extra = d.referenceExtra else { return [:] }
    guard let proxies = extra.objectValue?["proxies"]?.objectValue else {
      throw FixtureError(path: path, reason: "'reference_extra.proxies': expected an object of proxies, found \(extra.objectValue?["proxies"]?.kind ?? "nothing")")
    }
    var out: [String: Double] = [:]
    for (name, entry) in proxies where !extraReferencesNotVerified.contains(name) && !usesAZNASProtocol(name) {
      guard let b = entry.objectValue?["b"]?.objectValue, let v = b["value_float64"] else { continue }
      switch v {
      case let .integer(i): out[name] = Double(i)
      case let .number(x): out[name] = x
      case .string("nan"): out[name] = .nan
      case .string("inf"): out[name] = .infinity
      case .string("-inf"): out[name] = -.infinity
      default:
        throw FixtureError(path: path, reason: "'reference_extra.proxies.\(name).b.value_float64': expected a number or \"nan\", \"inf\", \"-inf\", found \(v.kind) \(v)")
      }
    }
    return out
  }

  /// Every `*.json` fixture in a folder, sorted by name.
  /// - Throws: the first fixture's error (``load(folder:)`` reads each one on its own).
  public static func all(in folder: String) throws -> [ReferenceFixture] {
    try load(folder: folder).map { try $0.fixture.get() }
  }

  /// Every `*.json` file of a folder, sorted, each read on its own: a bad fixture is its own
  /// error, not the folder's.
  /// - Throws: ``FixtureError`` when the folder cannot be read.
  public static func load(folder: String) throws -> [(path: String, fixture: Result<ReferenceFixture, Error>)] {
    guard let items = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
      throw FixtureError(path: folder, reason: "not a readable folder")
    }
    return items.filter { $0.hasSuffix(".json") }.sorted().map { item in
      let path = folder + "/" + item
      return (path, Result { try ReferenceFixture(jsonPath: path) })
    }
  }

  public var kind: String { document.kind }

  /// The model's state_dict keys in order (json `state_dict`).
  public var stateKeys: [String] { (document.stateDict ?? []).map(\.key) }

  /// The NB201 part. - Throws: ``FixtureError`` for a fixture of another kind.
  public func nb201() throws -> NB201FixtureSpec {
    guard case let .nb201(spec) = content else { throw FixtureError(path: jsonPath, reason: "kind '\(kind)' is not an NB201 fixture") }
    return spec
  }

  /// Estimated memory of verifying this fixture with `proxies` (``MemoryEstimate``); nil for a
  /// kind without an estimate or a batch that is not there (its own error comes later).
  public func memoryEstimate(proxies: [any ZeroCostProxy], dtype: DType) -> MemoryEstimate? {
    switch content {
    case let .nb201(s):
      guard let x = tensors.tensors["input"], x.shape.count == 4 else { return nil }
      return NB201Space.memoryEstimate(s.architecture, channels: s.channels, cellsPerStage: s.cellsPerStage, numClasses: s.numClasses,
                                       imageSize: x.shape[2], batchSize: x.shape[0], dtype: dtype, proxies: proxies)
    case let .nbnlp(s):
      guard let t = tensors.tensors["tokens"], t.shape.count == 2 else { return nil }
      return NBNLPSpace.memoryEstimate(s.recipe, size: s.size, steps: t.shape[0], batchSize: t.shape[1], dtype: dtype, proxies: proxies)
    case .bert, .other:
      return nil
    }
  }

  /// The NAS-Bench-201 network with the fixture's weights, in `dtype`, for the fixture's image size.
  /// - Throws: ``FixtureError`` for a non-NB201 fixture, images that are not `[B, 3, H, H]` with
  ///   H a multiple of 4, or weights that cannot fit in memory; ``StateError`` for missing,
  ///   unexpected or misshapen weights.
  public func nb201Network(dtype: DType) throws -> NB201Network {
    let s = try nb201()
    let size = try imageSize()
    let weights = NB201Space.memoryEstimate(s.architecture, channels: s.channels, cellsPerStage: s.cellsPerStage, numClasses: s.numClasses,
                                            imageSize: size, batchSize: 0, dtype: dtype, proxies: [])
    if weights.bytes > MemoryLimit.physicalBytes {
      throw FixtureError(path: jsonPath, reason: "C \(s.channels), N \(s.cellsPerStage), num_classes \(s.numClasses): the weights need an estimated \(MemoryLimit.gigabytes(weights.bytes)), above this machine's \(MemoryLimit.gigabytes(MemoryLimit.physicalBytes))")
    }
    var rng = ZCRandom(seed: 0)
    let net = NB201Network(s.architecture, channels: s.channels, cellsPerStage: s.cellsPerStage, numClasses: s.numClasses,
                           imageSize: size, dtype: dtype, rng: &rng)
    try WeightsIO.load(tensors, into: net)
    return net
  }

  /// The side H of the fixture's `input` images `[B, 3, H, H]`: a multiple of 4 (two stride-2
  /// reductions) from 4 to 256.
  /// - Throws: ``FixtureError`` or ``SafetensorsError`` naming the tensor and what was found.
  func imageSize() throws -> Int {
    let x = try tensors.floatTensor("input")
    guard x.rank == 4, x.shape[1] == 3, x.shape[2] == x.shape[3], x.shape[2] % 4 == 0, (4...256).contains(x.shape[2]) else {
      throw FixtureError(path: tensors.path, reason: "'input' has shape \(x.shape); expected [B, 3, H, H] with H a multiple of 4 in 4...256")
    }
    return x.shape[2]
  }

  /// Input batch `k` (1 or 2): images `[B, 3, H, W]` in `dtype` and integer labels.
  /// - Throws: ``FixtureError`` when the images are not `[B, 3, H, H]` with B ≥ 2 (the same H as
  ///   `input`), the labels are not `[B]`, or a label is outside 0..<num_classes;
  ///   ``SafetensorsError`` for a missing key or a wrong dtype.
  public func batch(_ k: Int, dtype: DType) throws -> (Tensor, [Int]) {
    let (xi, yi) = k == 1 ? ("input", "labels") : ("input2", "labels2")
    let x = try tensors.floatTensor(xi), y = try tensors.intTensor(yi)
    let h = try imageSize()
    let classes = try nb201().numClasses
    let yShape = tensors.tensors[yi]?.shape ?? []
    guard x.rank == 4, Array(x.shape.dropFirst()) == [3, h, h], yShape == [x.shape[0]], x.shape[0] >= 2 else {
      throw FixtureError(path: tensors.path, reason: "'\(xi)' has shape \(x.shape) and '\(yi)' \(yShape); expected [B, 3, \(h), \(h)] with B >= 2 and [B]")
    }
    if let bad = y.first(where: { $0 < 0 || $0 >= classes }) {
      throw FixtureError(path: tensors.path, reason: "'\(yi)' holds label \(bad), outside 0..<\(classes)")
    }
    return (x.to(dtype), y)
  }

  /// Reference value of `metric` computed in float64 (`value_float64`, or `value` for integers),
  /// with "nan"/"inf"/"-inf" decoded; nil when the fixture has no reference for it.
  public func referenceValue(_ metric: String) -> Double? {
    guard case let .nb201(s) = content else { return nil }
    return s.references[metric]
  }

  /// Metric names with a reference value, sorted.
  public var referencedMetrics: [String] {
    guard case let .nb201(s) = content else { return [] }
    return s.references.keys.sorted()
  }

  /// Relative tolerance for comparing an engine value with `value_float64`, from the fixture
  /// README's tolerance table (float32 engines get the measured float32 spread with margin).
  public static func tolerance(_ metric: String, engine: DType) -> Double {
    let f32: [String: Double] = [
      "grad_norm": 5e-3, "snip": 5e-3, "grasp": 5e-2, "fisher": 5e-3, "synflow": 1e-9, "jacob_cov": 5e-4,
      "plain": 1e-1, "l2_norm": 1e-6, "nwot": 1e-6, "epe_nas": 2e-2, "ntk_cond": 3e-2, "gradsign": 3e-3,
      "zico": 5e-2, "params": 0, "meco": 1e-3, "swap": 0, "reg_swap": 0,
      // reference_extra (README "Newer proxies"): the covariance, eigen and singular values in
      // Float64 from float32 features; VKDNW computed in Float64 whatever the engine dtype.
      "az_nas_expressivity": 1e-6, "az_nas_progressivity": 3e-4, "az_nas_trainability": 1e-3,
      "vkdnw_entropy": 1e-6, "vkdnw_dim": 0,
    ]
    let f64: [String: Double] = ["synflow": 1e-9, "l2_norm": 1e-12, "nwot": 1e-9, "gradsign": 1e-6, "params": 0, "meco": 1e-8, "swap": 0, "reg_swap": 0,
                                 "az_nas_expressivity": 1e-9, "vkdnw_entropy": 1e-6, "vkdnw_dim": 0]
    return engine == .float32 ? (f32[metric] ?? 1e-2) : (f64[metric] ?? 1e-8)
  }

  /// Absolute tolerance in counts for counting proxies (swap, and reg_swap whose factor is ≤ 1):
  /// 2 for a float32 engine, 1 for float64 (shared/reference README tolerance table); nil for
  /// other proxies.
  public static func countTolerance(_ metric: String, engine: DType) -> Double? {
    guard metric == "swap" || metric == "reg_swap" else { return nil }
    return engine == .float32 ? 2 : 1
  }

  /// Result of comparing one engine value with a reference value.
  public struct Comparison {
    public let metric: String
    public let engine: ProxyValue
    public let reference: Double
    /// |a − b| / max(|a|, |b|) (0 when both are 0; nil when a value is missing or non-finite).
    public let relativeError: Double?
    public let tolerance: Double
    public let passed: Bool
    public let note: String
  }

  /// Compares per the README: non-finite references must be missing values with the same raw
  /// value ("nan", "-inf"); exact zeros must be exact zeros; otherwise relative error ≤ tolerance
  /// (plain alternatively passes with an absolute error ≤ 1e-3 × snip, az_nas_progressivity in float32 with ≤ 5e-6).
  public static func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, snip: Double?) -> Comparison {
    let tol = tolerance(metric, engine: dtype)
    if !reference.isFinite {
      let raw = reference.isNaN ? "nan" : (reference > 0 ? "inf" : "-inf")
      if case let .missing(reason) = engine, reason.hasPrefix(raw + ":") {
        return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: true, note: "both \(raw)")
      }
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: false, note: "reference is \(raw)")
    }
    guard let a = engine.number else {
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: false, note: "engine value missing")
    }
    if reference == 0 {
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: a == 0 ? 0 : 1, tolerance: tol, passed: a == 0, note: "exact zero expected")
    }
    let rel = Swift.abs(a - reference) / max(Swift.abs(a), Swift.abs(reference))
    var ok = rel <= tol
    var note = ""
    if !ok, let counts = countTolerance(metric, engine: dtype), Swift.abs(a - reference) <= counts {
      // A pre-activation within rounding of 0 flips one bit of one pattern (fixture README).
      ok = true
      note = "within \(Int(counts)) count(s)"
    }
    if !ok, metric == "plain", let s = snip, Swift.abs(a - reference) <= 1e-3 * s {
      ok = true
      note = "within atol 1e-3 x snip"
    }
    if !ok, metric == "az_nas_progressivity", dtype == .float32, Swift.abs(a - reference) <= 5e-6 {
      ok = true
      note = "within atol 5e-6"
    }
    return Comparison(metric: metric, engine: engine, reference: reference, relativeError: rel, tolerance: tol, passed: ok, note: note)
  }
}
