import Foundation
import ZCData
import ZCNN
import ZCONNX
import ZCTensor

/// One architecture of ``ONNXSpace``: an ONNX file, read and checked (``ONNXGraph``).
public struct ONNXArchitecture: Sendable {
  /// The path it was read from.
  public let path: String
  /// Its file name (the name `--truth` files use).
  public let fileName: String
  /// FNV-1a 64 of the file's bytes, 16 hex digits (``fileFingerprint(_:)``): the identity.
  public let fingerprint: String
  public let graph: ONNXGraph
}

/// Any image classifier given as ONNX files (issue 17): every `.onnx` file is an architecture,
/// identified by its content (id = ``ArchitectureID/contentHash(_:)`` of the file's fingerprint, so
/// renaming or moving a file keeps its stored scores), built as an ``ONNXNetwork`` and scored on the
/// image minibatch of `--dataset` (CIFAR-10 by default, sampled as for nb201). The dataset's image
/// size must equal the graph's input `[C, H, W]` and its class count the graph's output width.
/// Initial weights: the file's initializers (`--init file`, default) or PyTorch's default
/// initialisation from the run seed and the id (`--init pytorch-default`, ``ONNXInitialisation``).
/// There is no ground-truth table: `correlate --truth FILE` takes a CSV of file name → accuracy.
public struct ONNXSpace: SearchSpace {
  public typealias Architecture = ONNXArchitecture
  public typealias Network = ONNXNetwork
  public typealias Batch = NB201Space.Batch

  /// The integer setting (``ScoringSettings/parameters``) that selects the initialisation: 0 file, 1 pytorch-default.
  public static let initParameter = "onnx-init"

  /// The image minibatch is made as NB201's (same datasets, sampling and `--batch` files).
  let images: NB201Space
  public let name = "onnx"
  public let summary = "any image classifier exported as ONNX (--archs FILE.onnx, a folder of them, or a list file)"
  public let modelKind = ModelKind.imageClassifier
  public let datasets = ImageDatasetKind.allCases.map(\.rawValue)
  public let noun = "ONNX model"

  /// - Throws: ``TableError`` when the NB201 table (whose image code this space shares) is missing.
  public init(datasetsRoot: String) throws { images = try NB201Space(datasetsRoot: datasetsRoot) }

  // MARK: architectures

  public var entryCount: Int { 0 }

  public func entry(at position: Int) throws -> (id: Int, architecture: ONNXArchitecture) {
    throw SpaceError("--archs: --space onnx has no table (all and sample:N do not apply); give .onnx files, folders of them, or a text file listing them")
  }

  /// An `.onnx` file path (or the stored text `name@fingerprint` of a file in the current folder).
  public func entry(token: String) throws -> (id: Int, architecture: ONNXArchitecture) {
    var path = token
    if !FileManager.default.fileExists(atPath: path), let at = token.lastIndex(of: "@") { path = String(token[..<at]) }
    let a = try Self.read(path)
    return (Self.id(fingerprint: a.fingerprint), a)
  }

  /// The whole `--archs` value: comma-separated items, each an `.onnx` file, a folder (its `*.onnx`
  /// files, sorted by name) or a text file listing paths one per line (relative to its folder; `#`
  /// starts a comment). Duplicates (the same content) are kept once.
  /// - Throws: ``SpaceError`` naming `--archs` and the file.
  public func entries(spec: String) throws -> [(id: Int, architecture: ONNXArchitecture)]? {
    var out: [(id: Int, architecture: ONNXArchitecture)] = []
    var seen = Set<Int>()
    func add(_ path: String) throws {
      let e = try entry(token: path)
      if seen.insert(e.id).inserted { out.append(e) }
    }
    let items = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !items.isEmpty else { throw SpaceError("--archs: expected .onnx files, folders or a list file, found '\(spec)'") }
    for item in items {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: item, isDirectory: &isDir) else {
        throw SpaceError("--archs: no such file or folder '\(item)' (expected .onnx files, folders of them, or a text file listing them)")
      }
      if isDir.boolValue {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: item)) ?? []).filter { $0.hasSuffix(".onnx") }.sorted()
        guard !names.isEmpty else { throw SpaceError("--archs: folder \(item) has no .onnx files") }
        for n in names { try add(item + "/" + n) }
      } else if item.hasSuffix(".onnx") {
        try add(item)
      } else {
        guard let text = try? String(contentsOfFile: item, encoding: .utf8) else {
          throw SpaceError("--archs: \(item) is neither an .onnx file nor a readable text list of them")
        }
        let base = URL(fileURLWithPath: item).deletingLastPathComponent().path
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw SpaceError("--archs: list \(item) names no files") }
        for l in lines { try add(l.hasPrefix("/") ? l : base + "/" + l) }
      }
    }
    return out
  }

  /// Reads and checks one file. - Throws: ``SpaceError`` with the reader's one-line message.
  static func read(_ path: String) throws -> ONNXArchitecture {
    guard FileManager.default.fileExists(atPath: path) else { throw SpaceError("--archs: no such file '\(path)'") }
    let graph: ONNXGraph
    do { graph = try ONNXGraph(contentsOf: path) } catch { throw SpaceError("--archs: \(error)") }
    let fp: String
    do { fp = try fileFingerprint(path) } catch { throw SpaceError("--archs: \(error)") }
    return ONNXArchitecture(path: path, fileName: URL(fileURLWithPath: path).lastPathComponent, fingerprint: fp, graph: graph)
  }

  /// The id of a file with this fingerprint (negative content hash).
  public static func id(fingerprint: String) -> Int { ArchitectureID.contentHash("onnx:" + fingerprint) }

  /// `name@fingerprint`.
  public func canonical(_ a: ONNXArchitecture) -> String { a.fileName + "@" + a.fingerprint }

  public func mismatch(id: Int, arch: String) -> String? {
    guard let at = arch.lastIndex(of: "@") else { return "'\(arch)' is not an ONNX architecture (expected name@fingerprint)" }
    let fp = String(arch[arch.index(after: at)...])
    return Self.id(fingerprint: fp) == id ? nil : "arch_index \(id) is not the content hash of \(arch)"
  }

  // MARK: scoring

  public func defaultBatchSize(dataset: String) -> Int { 64 }

  public func makeBatch(_ s: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch {
    try images.makeBatch(Self.withoutOwnSettings(s), proxies: proxies)
  }

  public func batchLabel(_ s: ScoringSettings) throws -> (size: Int, source: String) { try images.batchLabel(Self.withoutOwnSettings(s)) }

  static func withoutOwnSettings(_ s: ScoringSettings) -> ScoringSettings {
    var t = s
    t.parameters[initParameter] = nil
    return t
  }

  /// The initialisation of `settings`. - Throws: ``SpaceError`` for an unknown setting.
  static func initialisation(_ s: ScoringSettings) throws -> Int {
    if let unknown = s.parameters.keys.sorted().first(where: { $0 != initParameter }) { throw SpaceError("--\(unknown): not used by --space onnx") }
    let v = s.parameters[initParameter] ?? 0
    guard v == 0 || v == 1 else { throw SpaceError("--init: expected file or pytorch-default") }
    return v
  }

  public func initialisationLabel(_ s: ScoringSettings) -> String { (try? Self.initialisation(s)) == 1 ? "pytorch-default" : "file" }

  public func makeNetwork(_ a: ONNXArchitecture, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> ONNXNetwork {
    let kind: ImageDatasetKind
    guard let k = ImageDatasetKind(rawValue: settings.dataset) else { throw SpaceError("--dataset: expected one of \(datasets.joined(separator: ", ")), found '\(settings.dataset)'") }
    kind = k
    let mode = try Self.initialisation(settings)
    let net: ONNXNetwork
    do { net = try ONNXNetwork(graph: a.graph, dtype: dtype, initialisation: mode == 1 ? .pytorchDefault(seed: seed) : .file) } catch { throw SpaceError("\(error)") }
    let want = [3, kind.imageSize, kind.imageSize]
    guard net.inputShape == want else {
      throw SpaceError("\(a.fileName): the graph's input is [batch, \(net.inputShape.map(String.init).joined(separator: ", "))], but --dataset \(kind.rawValue) has images [batch, \(want.map(String.init).joined(separator: ", "))]")
    }
    guard net.numClasses == kind.numClasses else {
      throw SpaceError("\(a.fileName): the graph's output has \(net.numClasses) classes, but --dataset \(kind.rawValue) has \(kind.numClasses)")
    }
    return net
  }

  public func describe(batch: Batch, settings: ScoringSettings) -> String { "init \(initialisationLabel(settings))" }

  public func context(network: ONNXNetwork, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext {
    ImageProxyContext(network: network, images: batch.images, labels: batch.labels, requirements: requirements(of: proxies),
                      images2: batch.images2, labels2: batch.labels2, runSeed: runSeed, networkSeed: networkSeed)
  }

  // MARK: ground truth

  /// There is no table: ground truth comes from `correlate --truth FILE` (``groundTruth(csv:stored:)``).
  public func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth {
    throw SpaceError("\(option): --space onnx has no benchmark table; give the accuracies with --truth FILE (a CSV of file name, accuracy)")
  }

  /// Ground truth from a CSV of file name → accuracy (a header row is skipped when its second field
  /// is not a number), matched to stored architectures by the file name in their `arch` text
  /// (`name@fingerprint`); higher is better. A file listed twice, or a value that is not a number,
  /// is an error. - Throws: ``SpaceError`` naming `--truth`, the line and what was found.
  public static func groundTruth(csv path: String, stored: [(id: Int, arch: String)]) throws -> GroundTruth {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SpaceError("--truth: cannot read \(path)") }
    var byName: [String: Double] = [:]
    for (k, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
      guard fields.count >= 2 else { throw SpaceError("--truth \(path) line \(k + 1): expected 'file name, accuracy', found '\(line)'") }
      guard let v = Double(fields[1]), v.isFinite else {
        if k == 0 { continue }
        throw SpaceError("--truth \(path) line \(k + 1): '\(fields[1])' is not a number")
      }
      let name = URL(fileURLWithPath: fields[0]).lastPathComponent
      guard byName[name] == nil else { throw SpaceError("--truth \(path) line \(k + 1): \(name) appears twice") }
      byName[name] = v
    }
    guard !byName.isEmpty else { throw SpaceError("--truth \(path): no 'file name, accuracy' rows") }
    var values: [Int: Double] = [:]
    for (id, arch) in stored {
      let name = arch.lastIndex(of: "@").map { String(arch[..<$0]) } ?? arch
      if let v = byName[name] { values[id] = v }
    }
    return GroundTruth(column: URL(fileURLWithPath: path).lastPathComponent, unit: "", higherIsBetter: true, values: values)
  }

  public let standardMetrics = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "plain", "l2_norm", "params", "flops"]
  public let defaultCombination = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov"]
  public let defaultObjective = "test"
  public let reportColumns: [(label: String, column: String)] = []

  // MARK: fixtures

  /// The fixture's `onnx_file` (next to its json) with its initializers, and its batch(es).
  /// - Throws: ``FixtureError`` naming the json or ONNX file.
  public func fixtureInputs(_ f: ReferenceFixture, dtype: DType) throws -> (network: ONNXNetwork, batch: Batch) {
    let doc = try Self.json(f)
    guard let file = doc["onnx_file"]?.stringValue else { throw FixtureError(path: f.jsonPath, reason: "missing field 'onnx_file' (the .onnx file name)") }
    let path = URL(fileURLWithPath: f.jsonPath).deletingLastPathComponent().appendingPathComponent(file).path
    let net: ONNXNetwork
    do { net = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path), dtype: dtype) } catch { throw FixtureError(path: path, reason: "\(error)") }
    let (x, y) = try WeightsIO.loadBatch(f.tensors, dtype: dtype, imageShape: net.inputShape)
    var b = Batch(images: x, labels: y, source: "fixture:" + f.name)
    if f.tensors.tensors["input2"] != nil {
      let (x2, y2) = try WeightsIO.loadBatch(f.tensors, dtype: dtype, imageShape: net.inputShape, keys: ("input2", "labels2"))
      b.images2 = x2; b.labels2 = y2
    }
    for labels in [b.labels, b.labels2 ?? []] {
      if let bad = labels.first(where: { $0 < 0 || $0 >= net.numClasses }) {
        throw FixtureError(path: f.tensors.path, reason: "label \(bad) is outside 0..<\(net.numClasses), the graph's classes")
      }
    }
    return (net, b)
  }

  static func json(_ f: ReferenceFixture) throws -> [String: JSONValue] {
    guard let data = FileManager.default.contents(atPath: f.jsonPath) else { throw FixtureError(path: f.jsonPath, reason: "cannot read") }
    do {
      guard let o = try JSONValue.parse(data).objectValue else { throw FixtureError(path: f.jsonPath, reason: "expected a JSON object") }
      return o
    } catch let e as JSONReadError { throw FixtureError(path: f.jsonPath, reason: e.reason) }
  }

  /// Reference values: `value_float64` (or `value` for params); for nwot the variant that makes one
  /// K update per ONNX `Relu` node (`variant_distinct_relu_inputs`, the README's rule for engines
  /// that hook Relu nodes); where the reference failed, its `equivalent_formulation`; metrics with no
  /// value (ntk_cond where skipped) are left out.
  public func references(_ f: ReferenceFixture) -> [String: Double] {
    guard let doc = try? Self.json(f), let refs = doc["reference"]?.objectValue else { return [:] }
    func number(_ v: JSONValue?) -> Double? {
      switch v {
      case let .number(x)?: return x
      case let .integer(i)?: return Double(i)
      case let .string(s)?: return ["nan": Double.nan, "inf": .infinity, "-inf": -.infinity][s]
      default: return nil
      }
    }
    var out: [String: Double] = [:]
    for (metric, entry) in refs {
      guard let e = entry.objectValue else { continue }
      var v = number(e["value_float64"]) ?? number(e["value"])
      if metric == "nwot", let variant = e["variant_distinct_relu_inputs"]?.objectValue { v = number(variant["value_float64"]) ?? v }
      if v == nil, let eq = e["equivalent_formulation"]?.objectValue { v = number(eq["value_float64"]) }
      if let v { out[metric] = v }
    }
    return out
  }

  public func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison {
    ReferenceFixture.compare(metric, engine: engine, reference: reference, dtype: dtype, snip: results.first { $0.metric == "snip" }?.value.number)
  }
}
