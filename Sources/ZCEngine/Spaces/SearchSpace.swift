import Foundation
import ZCData
import ZCNN
import ZCTensor

/// A search space: a benchmark's architectures, the networks they build, the minibatch they are
/// scored on, and the ground truth they are judged by. Every `zcnas` command is written once over
/// this protocol; NAS-Bench-201 (``NB201Space``) and NAS-Bench-NLP (``NBNLPSpace``) implement it.
/// A new space is one file that conforms plus one line in ``SpaceRegistry`` (see
/// `docs/adding-a-space.md`). Modelled on NASLib's per-space interface (`query`,
/// `sample_random_architecture`, `mutate`, `get_nbhd`).
///
/// Identity: every architecture has an integer id (``ArchitectureID``): the benchmark's own index
/// or id where there is one, a content hash of the canonical text otherwise. Stored rows key on
/// it (`arch_index`) and keep the canonical text (`arch`).
public protocol SearchSpace: Sendable {
  /// One architecture of the space (a cell, a recipe, a graph).
  associatedtype Architecture: Sendable
  /// The network an architecture builds.
  associatedtype Network: Module
  /// The minibatch the space scores on (built once per run).
  associatedtype Batch: ScoringBatch

  /// Name on the command line and in stored rows (`space` column), e.g. "nb201".
  var name: String { get }
  /// One line for `--help` and `zcnas spaces`.
  var summary: String { get }
  /// The kind of network this space builds: decides which proxies apply.
  var modelKind: ModelKind { get }
  /// Datasets the space scores on; the first is the default.
  var datasets: [String] { get }
  /// What one entry is called in messages ("architecture", "recipe id").
  var noun: String { get }

  // MARK: architectures

  /// Entries of the benchmark table (positions 0..<count, for `all` and `sample:N`).
  var entryCount: Int { get }
  /// The entry at a table position. - Throws: a message naming `--archs` for a bad position.
  func entry(at position: Int) throws -> (id: Int, architecture: Architecture)
  /// The entry a `--archs` token names (an index, an id, or an architecture's text).
  /// - Throws: an error naming `--archs`, what was expected and what was found.
  func entry(token: String) throws -> (id: Int, architecture: Architecture)
  /// The space's own reading of a whole `--archs` value (for example files and folders of ONNX
  /// models), or nil when the common grammar (all, sample:N, tokens, a token file) applies.
  /// - Throws: an error naming `--archs`.
  func entries(spec: String) throws -> [(id: Int, architecture: Architecture)]?
  /// Canonical text of an architecture (stored in the `arch` column; parses back with ``entry(token:)``).
  func canonical(_ architecture: Architecture) -> String
  /// One-edit neighbours of an entry, as ids (greedy search, REA mutation); nil when the space has
  /// no neighbourhood.
  func neighbours(of id: Int) -> [Int]?
  /// Why a stored (id, arch text) pair does not belong to this space (import check), or nil.
  func mismatch(id: Int, arch: String) -> String?

  // MARK: scoring

  /// Default minibatch size (images or sequences) for a dataset.
  func defaultBatchSize(dataset: String) -> Int
  /// Builds the run's minibatch (once) from the settings: sampled from the dataset, or read from
  /// `settings.batchFile`. `proxies` tells whether a second batch is needed.
  /// - Throws: an error naming the option or file and what was expected.
  func makeBatch(_ settings: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch
  /// The `init` label of seeded networks under these settings (for example "pytorch-default").
  func initialisationLabel(_ settings: ScoringSettings) -> String
  /// The label of the batch ``makeBatch(_:proxies:)`` would build, without reading the images or
  /// tokens: its `size` and `source` as stored (lets a run that scores nothing, such as
  /// `search --no-scoring`, find stored rows).
  func batchLabel(_ settings: ScoringSettings) throws -> (size: Int, source: String)
  /// The network of an architecture under `settings` (dataset, sizes), PyTorch-default
  /// initialisation drawn from `seed` (the pipeline passes the run seed mixed with the id,
  /// ``ArchitectureID/initSeed(runSeed:id:)``, or 0 before loading `--weights`), in `dtype`.
  func makeNetwork(_ architecture: Architecture, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> Network
  /// A few words on the run's model and batch for the `score` summary line ("" when nothing to add).
  func describe(batch: Batch, settings: ScoringSettings) -> String
  /// The shared-pass context of one network and the run's batch.
  func context(network: Network, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext
  /// Estimated peak memory of scoring `architecture` on `batch` with `proxies` (``MemoryEstimate``),
  /// checked before anything is allocated; nil when the space has no estimate (then nothing is checked).
  func memoryEstimate(_ architecture: Architecture, batch: Batch, proxies: [any ZeroCostProxy], settings: ScoringSettings) -> MemoryEstimate?
  /// The settings the estimate depends on, as options for messages (for example "--batch-size 4000").
  func memoryOptions(batch: Batch, settings: ScoringSettings) -> String

  // MARK: ground truth

  /// Ground truth for correlation and search: `target` is "test", "valid" (the space's standard
  /// columns for `dataset`) or a column name of the space's table.
  /// - Throws: an error naming `option` and listing the valid columns.
  func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth
  /// The proxies `score` computes by default (`--metrics standard`): the space's usual suite,
  /// a few seconds per architecture at most.
  var standardMetrics: [String] { get }
  /// The proxies `robot` and `fit` combine by default.
  var defaultCombination: [String] { get }
  /// Whether `robot` adds the label-free log-rank ensemble (whose default members are proxies of
  /// this space) to ``defaultCombination`` as one more candidate, and starts BO at it.
  var robotAddsEnsemble: Bool { get }
  /// The default query signal of `robot` (RoBoT's on NAS-Bench-201: `cifar10_valid_acc_12ep`).
  var defaultObjective: String { get }
  /// Columns `robot` and `search` report for the architecture found, with short labels.
  var reportColumns: [(label: String, column: String)] { get }
  /// The column whose sum over the queried architectures is the search cost (seconds), if any.
  var costColumn: String? { get }
  /// Baselines from the benchmark table that `correlate` prints next to the proxies (name, values by id).
  func baselines(dataset: String) -> [(name: String, values: [Int: Double])]
  /// Sub-populations on which `correlate` repeats every table, because published correlations use
  /// them (NAS-Bench-201: the "valid" cells); default none.
  func subpopulations() -> [(name: String, summary: String, ids: Set<Int>)]

  // MARK: fixtures

  /// The network (fixture weights, strict load) and batch of a reference fixture.
  /// - Throws: ``FixtureError`` naming the file, or a state error naming the key.
  func fixtureInputs(_ fixture: ReferenceFixture, dtype: DType) throws -> (network: Network, batch: Batch)
  /// The fixture's reference values by proxy name.
  func references(_ fixture: ReferenceFixture) -> [String: Double]
  /// Compares one engine value with its reference (the tolerance table of Tests/Fixtures/README.md).
  func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison
  /// Further checks of a fixture beyond proxy values (e.g. hidden states), one comparison each.
  func extraChecks(_ fixture: ReferenceFixture, context: any ProxyContext, dtype: DType) -> [ReferenceFixture.Comparison]
}

extension SearchSpace {
  public func neighbours(of id: Int) -> [Int]? { nil }
  public func entries(spec: String) throws -> [(id: Int, architecture: Architecture)]? { nil }
  public var costColumn: String? { nil }
  public var robotAddsEnsemble: Bool { false }
  public func describe(batch: Batch, settings: ScoringSettings) -> String { "" }
  public func memoryEstimate(_ architecture: Architecture, batch: Batch, proxies: [any ZeroCostProxy], settings: ScoringSettings) -> MemoryEstimate? { nil }
  public func memoryOptions(batch: Batch, settings: ScoringSettings) -> String { "--batch-size \(batch.size)" }
  /// The noun for counts ("architecture", "recipe").
  public var unit: String { noun.hasSuffix(" id") ? String(noun.dropLast(3)) : noun }
  public func baselines(dataset: String) -> [(name: String, values: [Int: Double])] { [] }
  public func subpopulations() -> [(name: String, summary: String, ids: Set<Int>)] { [] }
  public func extraChecks(_ fixture: ReferenceFixture, context: any ProxyContext, dtype: DType) -> [ReferenceFixture.Comparison] { [] }
  public var hasNeighbourhood: Bool { entryCount > 0 && neighbours(of: (try? entry(at: 0).id) ?? 0) != nil }

  /// Every entry id of the table, in table order.
  public func allIDs() throws -> [Int] { try (0..<entryCount).map { try entry(at: $0).id } }
}

/// The minibatch of a scoring run.
public protocol ScoringBatch: Sendable {
  /// Samples per batch (stored as `batch_size`).
  var size: Int { get }
  /// Where it came from (stored as `batch`): "sampled", "test:bptt70:b0", "file:NAME@FINGERPRINT".
  var source: String { get }
}

/// Ground truth of a space: one finite value per architecture id that has one.
public struct GroundTruth: Sendable {
  /// Column name in the space's table (e.g. "cifar10_test_acc", "final_test_loss").
  public var column: String
  /// Unit for printing ("percent", "nats/token", "seconds").
  public var unit: String
  public var higherIsBetter: Bool
  /// Values by architecture id; ids without a finite value are absent.
  public var values: [Int: Double]
  public init(column: String, unit: String, higherIsBetter: Bool, values: [Int: Double]) {
    self.column = column; self.unit = unit; self.higherIsBetter = higherIsBetter; self.values = values
  }
  /// The value oriented so that higher is better (negated for lower-is-better columns).
  public func oriented(_ id: Int) -> Double? { values[id].map { higherIsBetter ? $0 : -$0 } }
}

/// Settings of one scoring run, common to every space. Space-specific integer settings (for
/// NAS-Bench-NLP: bptt, emsize, nhid, nlayers) are in ``parameters``.
public struct ScoringSettings: Sendable {
  public var dataset: String
  /// Run seed: minibatch sampling and (mixed with each id) the initial weights.
  public var seed: Int = 0
  /// Samples per minibatch; nil: the space's default.
  public var batchSize: Int?
  public var dtype: DType = .float32
  /// Image files in the dataset's binary format (image spaces; default: the shipped subset).
  public var dataFiles: [String] = []
  /// A safetensors file holding the minibatch instead of sampling it.
  public var batchFile: String?
  /// A safetensors file with the initial weights (PyTorch state_dict keys); one architecture only.
  public var weightsFile: String?
  /// The product's `Datasets/` folder.
  public var datasetsRoot: String
  /// Space-specific integer settings by name.
  public var parameters: [String: Int] = [:]
  /// The memory one scoring run may use, in GB (10^9 bytes); nil: the machine's physical memory
  /// (``MemoryLimit``). Configurations whose ``MemoryEstimate`` exceeds it are refused before they
  /// allocate, and fewer networks run at once when `jobs` of them would not fit.
  public var maxMemoryGB: Double?
  /// Threads inside one network's kernels (``Parallel/threads``); nil: the cores divided by the
  /// networks scored at once (all cores for one architecture). Values do not depend on it: the
  /// kernels split only independent outputs (bit-identical for every thread count).
  public var threads: Int?

  public init(dataset: String, datasetsRoot: String) { self.dataset = dataset; self.datasetsRoot = datasetsRoot }
}

/// A user-facing error of a space or the pipeline: one line naming the option or file.
public struct SpaceError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ message: String) { description = message }
}

/// Architecture identity that works with and without a benchmark index.
public enum ArchitectureID {
  /// The id of an architecture that has no benchmark index: a negative 63-bit content hash
  /// (FNV-1a 64 of the canonical UTF-8 text, top bit cleared, then −(h + 1)), so it never collides
  /// with a benchmark index (≥ 0). The canonical text is stored beside it (`arch`); two texts
  /// collide with probability about n²/2⁶⁴ for n architectures.
  public static func contentHash(_ canonical: String) -> Int {
    -Int(fnv1a64(canonical.utf8) & 0x7FFF_FFFF_FFFF_FFFF) - 1
  }

  /// The shard (0..<count) an architecture belongs to: SplitMix64 of its id, modulo `count`. A
  /// function of the id alone, so every machine computes the same partition of any selection,
  /// every architecture falls in exactly one shard, and shards stay balanced whatever the order.
  public static func shard(of id: Int, count: Int) -> Int {
    precondition(count >= 1, "shard count \(count)")
    var sm = SplitMix64(seed: UInt64(bitPattern: Int64(id)))
    return Int(sm.next() % UInt64(count))
  }

  /// Seed of the initial weights of architecture `id` under run seed `runSeed`: independent of
  /// the order and parallelism of scoring, so results are deterministic.
  public static func initSeed(runSeed: Int, id: Int) -> UInt64 {
    var sm = SplitMix64(seed: UInt64(bitPattern: Int64(runSeed)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(id)))
    return sm.next()
  }
}
