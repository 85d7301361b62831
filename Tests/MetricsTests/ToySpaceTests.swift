import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCNN
import ZCSearch
import ZCTensor

/// A new search space is one file that conforms to ``SearchSpace``: this one (a width-only toy
/// space of one-conv image classifiers) is the whole cost, and the generic pipeline, registry,
/// store and statistics work on it unchanged. The CLI would need one more line, in
/// `SpaceRegistry.spaces`.
final class ToySpaceTests: XCTestCase {
  /// conv3x3(3 → w, no bias) → BN(w) → ReLU → global average pool → linear(w → 10).
  final class ToyNet: ImageClassifier {
    var training = true
    let width: Int
    let features: Sequential
    let classifier: Linear
    let inputShape = [3, 32, 32]
    let numClasses = 10
    init(width w: Int, dtype: DType, rng: inout ZCRandom) {
      width = w
      features = Sequential([Conv2d(3, w, kernelSize: 3, padding: 1, bias: false, dtype: dtype, rng: &rng), BatchNorm2d(w, dtype: dtype), ReLU()])
      classifier = Linear(w, 10, dtype: dtype, rng: &rng)
    }
    var children: [(String, any Module)] { [("features", features), ("classifier", classifier)] }
    func callAsFunction(_ x: Variable) -> Variable { classifier(globalAvgPool(features(x))) }
    func copy(dtype: DType) -> ToyNet {
      var rng = ZCRandom(seed: 0)
      let n = ToyNet(width: width, dtype: dtype, rng: &rng)
      n.copyState(from: self)
      return n
    }
  }

  /// Architectures are texts "width=W" with no benchmark index: ids are content hashes
  /// (``ArchitectureID/contentHash(_:)``, negative); the "ground truth" grows with width;
  /// neighbours are the adjacent widths.
  struct ToySpace: SearchSpace {
    typealias Architecture = String
    typealias Network = ToyNet
    typealias Batch = NB201Space.Batch
    static let widths = [2, 3, 4, 6, 8]
    static func id(_ w: Int) -> Int { ArchitectureID.contentHash("width=\(w)") }
    static func width(_ text: String) -> Int? { text.hasPrefix("width=") ? Int(text.dropFirst(6)) : nil }
    let images: Tensor
    let name = "toy"
    let summary = "one-conv classifiers of five widths"
    let modelKind = ModelKind.imageClassifier
    let datasets = ["cifar10"]
    let noun = "architecture"
    var entryCount: Int { Self.widths.count }
    func entry(at p: Int) throws -> (id: Int, architecture: String) {
      guard Self.widths.indices.contains(p) else { throw SpaceError("--archs: position \(p) outside 0..<\(Self.widths.count)") }
      return (Self.id(Self.widths[p]), "width=\(Self.widths[p])")
    }
    func entry(token: String) throws -> (id: Int, architecture: String) {
      if let i = Int(token), let w = Self.widths.first(where: { Self.id($0) == i }) { return (i, "width=\(w)") }
      guard let w = Self.width(token), Self.widths.contains(w) else { throw SpaceError("--archs: '\(token)'") }
      return (Self.id(w), token)
    }
    func canonical(_ a: String) -> String { a }
    func neighbours(of id: Int) -> [Int]? {
      guard let p = Self.widths.firstIndex(where: { Self.id($0) == id }) else { return [] }
      return [p - 1, p + 1].filter { Self.widths.indices.contains($0) }.map { Self.id(Self.widths[$0]) }
    }
    func mismatch(id: Int, arch: String) -> String? { ArchitectureID.contentHash(arch) == id ? nil : "id \(id) is not the hash of \(arch)" }
    func defaultBatchSize(dataset: String) -> Int { 8 }
    func makeBatch(_ s: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch {
      Batch(images: images, labels: (0..<images.shape[0]).map { $0 % 10 }, source: "toy-gaussian")
    }
    func initialisationLabel(_ s: ScoringSettings) -> String { "pytorch-default" }
    func batchLabel(_ s: ScoringSettings) throws -> (size: Int, source: String) { (images.shape[0], "toy-gaussian") }
    func makeNetwork(_ a: String, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> ToyNet {
      guard let w = Self.width(a) else { throw SpaceError("not a toy architecture: \(a)") }
      var rng = ZCRandom(seed: seed)
      return ToyNet(width: w, dtype: dtype, rng: &rng)
    }
    func context(network: ToyNet, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext {
      ImageProxyContext(network: network, images: batch.images, labels: batch.labels, requirements: requirements(of: proxies), runSeed: runSeed, networkSeed: networkSeed)
    }
    func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth {
      GroundTruth(column: "toy_acc", unit: "percent", higherIsBetter: true,
                  values: Dictionary(uniqueKeysWithValues: Self.widths.map { (Self.id($0), 50 + Double($0)) }))
    }
    let defaultCombination = ["params"]
    let standardMetrics = ["params", "nwot"]
    let defaultObjective = "toy_acc"
    let reportColumns: [(label: String, column: String)] = []
    func fixtureInputs(_ f: ReferenceFixture, dtype: DType) throws -> (network: ToyNet, batch: Batch) { throw SpaceError("no fixtures") }
    func references(_ f: ReferenceFixture) -> [String: Double] { [:] }
    func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison {
      ReferenceFixture.compare(metric, engine: engine, reference: reference, dtype: dtype, snip: nil)
    }
  }

  func testToySpaceScoresThroughTheGenericPipeline() throws {
    let dir = try temporaryFolder("zc-toy")
    var rng = ZCRandom(seed: 5)
    let space = ToySpace(images: Initializer.normal(mean: 0, std: 1).make(shape: [8, 3, 32, 32], dtype: .float32, rng: &rng))
    let proxies = ["params", "nwot", "synflow", "grad_norm"].map { registry.named($0)! }
    let pipeline = try ScoringPipeline(space: space, settings: ScoringSettings(dataset: "cifar10", datasetsRoot: dir.path), proxies: proxies)
    let store = try ScoreStore(path: dir.appendingPathComponent("toy.sqlite").path)
    let archs = try (0..<space.entryCount).map { try space.entry(at: $0) }
    XCTAssertEqual(try pipeline.run(archs, store: store, jobs: 2).scored, 5)
    XCTAssertEqual(try pipeline.run(archs, store: store, jobs: 2).skipped, 5, "a second run resumes from the store")
    let rows = try store.rows(space: "toy", dataset: "cifar10")
    XCTAssertEqual(rows.count, 5 * proxies.count)
    // params by hand: conv 27w, batch norm 2w, linear 10w + 10.
    for r in rows where r.metric == "params" {
      let w = try XCTUnwrap(ToySpace.width(r.arch))
      XCTAssertLessThan(r.archIndex, 0, "content-hash ids are negative")
      XCTAssertEqual(r.archIndex, ArchitectureID.contentHash(r.arch))
      XCTAssertEqual(r.value, Double(27 * w + 2 * w + 10 * w + 10), "width \(w)")
    }
    XCTAssertTrue(rows.filter { $0.metric != "params" }.allSatisfy { $0.value.map(\.isFinite) ?? ($0.missingReason != nil) })
    // The ground truth grows with width, and so does params: Spearman ρ = 1 over the space.
    let truth = try space.groundTruth("test", dataset: "cifar10", option: "--target")
    let p = rows.filter { $0.metric == "params" }.sorted { $0.archIndex < $1.archIndex }
    XCTAssertEqual(Statistics.spearman(p.map { $0.value! }, p.map { truth.values[$0.archIndex]! }), 1, accuracy: 1e-12)
    // Greedy search over the content-hash ids under params climbs to the widest network.
    let byID = Dictionary(uniqueKeysWithValues: p.map { ($0.archIndex, $0.value!) })
    let (steps, _) = try GreedySearch(domain: try space.allIDs(), budget: 5, neighbours: { space.neighbours(of: $0) ?? [] })
      .run(seed: 3) { ids in ids.map { byID[$0] } }
    XCTAssertEqual(steps.last?.bestArchIndex, ToySpace.id(8))
  }

  /// A recurrent proxy is refused by an image space, naming it, before anything is scored.
  func testProxyOfAnotherKindIsRefused() throws {
    var rng = ZCRandom(seed: 1)
    let space = ToySpace(images: Initializer.normal(mean: 0, std: 1).make(shape: [2, 3, 32, 32], dtype: .float32, rng: &rng))
    XCTAssertThrowsError(try ScoringPipeline(space: space, settings: ScoringSettings(dataset: "cifar10", datasetsRoot: "/nonexistent"),
                                             proxies: [registry.named("hidden_cov")!])) { e in
      XCTAssertTrue("\(e)".contains("hidden_cov"), "\(e)")
    }
  }
}
