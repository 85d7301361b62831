import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// NAS-Bench-201 (Dong & Yang, ICLR 2020): 15,625 cells in official index order, built as the
/// official TinyNetwork (xautodl `TinyNetwork`, C = 16, N = 5, PyTorch parameter names), scored on
/// one CIFAR-10, CIFAR-100 or ImageNet16-120 minibatch `[B, 3, H, W]` (NCHW), judged by the
/// benchmark table `Datasets/nasbench201/nb201.csv` (accuracies in percent). Ids are the official
/// indices; architectures print as arch strings (`|nor_conv_3x3~0|+|…|`).
public struct NB201Space: SearchSpace {
  public typealias Architecture = NB201Architecture
  public typealias Network = NB201Network

  /// One or two image minibatches (the second for proxies with `.secondBatch`).
  public struct Batch: ScoringBatch {
    public var images: Tensor
    public var labels: [Int]
    public var images2: Tensor?
    public var labels2: [Int]?
    public var source: String
    public var size: Int { labels.count }
    /// - Parameters: images `[B, 3, H, W]` (NCHW) in the network's dtype; labels B class indices;
    ///   images2/labels2 an optional second minibatch; source the stored batch label.
    public init(images: Tensor, labels: [Int], images2: Tensor? = nil, labels2: [Int]? = nil, source: String) {
      self.images = images; self.labels = labels; self.images2 = images2; self.labels2 = labels2; self.source = source
    }
  }

  public let table: NB201Table
  public let name = "nb201"
  public let summary = "NAS-Bench-201 cells (15,625), TinyNetwork C16 N5, CIFAR-10/100 and ImageNet16-120"
  public let modelKind = ModelKind.imageClassifier
  public let datasets = ImageDatasetKind.allCases.map(\.rawValue)
  public let noun = "architecture"

  /// - Throws: ``TableError`` when `Datasets/nasbench201/nb201.csv` is missing or malformed.
  public init(datasetsRoot: String) throws {
    table = try NB201Table(path: datasetsRoot + "/nasbench201/nb201.csv")
  }

  public init(table: NB201Table) { self.table = table }

  public var entryCount: Int { table.count }

  public func entry(at i: Int) throws -> (id: Int, architecture: NB201Architecture) {
    guard i >= 0 && i < table.count else { throw SpaceError("--archs: index \(i) is outside 0..<\(table.count)") }
    return (i, try NB201Architecture(parsing: table.archs[i]))
  }

  public func entry(token t: String) throws -> (id: Int, architecture: NB201Architecture) {
    if let i = Int(t) { return try entry(at: i) }
    if !t.contains("|") && (Double(t) != nil || t.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" })) {
      let digits = t.drop { $0 == "-" || $0 == "+" }
      if !digits.isEmpty && digits.allSatisfy(\.isNumber) { throw SpaceError("--archs: index \(t) is outside 0..<\(table.count)") }
      throw SpaceError("--archs: expected an index 0..<\(table.count) or an arch string, found '\(t)'")
    }
    let a: NB201Architecture
    do { a = try NB201Architecture(parsing: t) } catch { throw SpaceError("--archs: \(error)") }
    guard let i = table.index(of: a.description) else { throw SpaceError("--archs: '\(t)' is not in the NAS-Bench-201 table") }
    return (i, a)
  }

  public func canonical(_ a: NB201Architecture) -> String { a.description }

  public func neighbours(of id: Int) -> [Int]? {
    guard id >= 0 && id < table.count, let a = try? NB201Architecture(parsing: table.archs[id]) else { return [] }
    return a.neighbours.compactMap { table.index(of: $0.description) }
  }

  public func mismatch(id: Int, arch: String) -> String? {
    guard id >= 0 && id < table.count else { return "arch_index \(id) is outside the NAS-Bench-201 table (0..<\(table.count))" }
    return table.archs[id] == arch ? nil : "arch_index \(id) is \(table.archs[id]) in the NAS-Bench-201 table, not \(arch)"
  }

  // MARK: scoring

  public func defaultBatchSize(dataset: String) -> Int { 64 }

  func kind(_ dataset: String) throws -> ImageDatasetKind {
    guard let k = ImageDatasetKind(rawValue: dataset) else {
      throw SpaceError("--dataset: expected one of \(datasets.joined(separator: ", ")), found '\(dataset)'")
    }
    return k
  }

  public func makeBatch(_ s: ScoringSettings, proxies: [any ZeroCostProxy]) throws -> Batch {
    let kind = try kind(s.dataset), dt = s.dtype
    let batchSize = s.batchSize ?? defaultBatchSize(dataset: s.dataset)
    if let unknown = s.parameters.keys.sorted().first { throw SpaceError("--\(unknown): not used by --space nb201") }
    if let path = s.batchFile {
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: path) } catch { throw SpaceError("--batch: \(error)") }
      let shape = [3, kind.imageSize, kind.imageSize]
      var b: Batch
      do {
        let (x, y) = try WeightsIO.loadBatch(file, dtype: dt, imageShape: shape)
        b = Batch(images: x, labels: y, source: "file:" + URL(fileURLWithPath: path).lastPathComponent + "@" + (try fileFingerprint(path)))
        if file.tensors["input2"] != nil || file.tensors["labels2"] != nil {
          let (x2, y2) = try WeightsIO.loadBatch(file, dtype: dt, imageShape: shape, keys: ("input2", "labels2"))
          b.images2 = x2; b.labels2 = y2
        }
      } catch { throw SpaceError("--batch: \(error)") }
      for labels in [b.labels, b.labels2 ?? []] {
        if let bad = labels.first(where: { $0 < 0 || $0 >= kind.numClasses }) {
          throw SpaceError("--batch \(path): label \(bad) is outside 0..<\(kind.numClasses) for \(kind.rawValue)")
        }
      }
      guard b.labels.count >= 2 else { throw SpaceError("--batch \(path): expected at least 2 images, found \(b.labels.count)") }
      return b
    }
    guard batchSize >= 2 else {
      throw SpaceError("--batch-size: expected at least 2 (training-mode batch norm and the B x B kernels of nwot and jacob_cov need two images), found \(batchSize)")
    }
    // Even the lightest cell must fit before any image is read.
    try MemoryLimit.check(Self.memoryEstimate(Self.lightest, numClasses: kind.numClasses, imageSize: kind.imageSize, batchSize: batchSize, dtype: dt, proxies: proxies),
                          options: "--batch-size \(batchSize)", what: "the lightest cell (every edge none) on \(kind.rawValue)", settings: s)
    let paths = try imagePaths(s)
    // Two disjoint batches when a proxy needs a second one; the first is the same either way.
    let needsSecond = proxies.contains { $0.requirements.contains(.secondBatch) }
    let images = try ImageDataset(kind: kind, paths: paths)
    if needsSecond && images.count < 2 * batchSize {
      let who = proxies.filter { $0.requirements.contains(.secondBatch) }.map(\.name).joined(separator: ", ")
      throw SpaceError("--metrics: \(who) needs a second minibatch, so 2 x \(batchSize) distinct images; \(paths.joined(separator: ", ")) holds \(images.count). Use --batch-size \(images.count / 2) or less, or leave \(who) out")
    }
    let (x, y, _) = try images.sampleBatch(size: needsSecond ? 2 * batchSize : batchSize, seed: UInt64(bitPattern: Int64(s.seed)), dtype: dt)
    let source = try sampledSource(s, paths: paths)
    var b = Batch(images: x.rows(0..<batchSize), labels: Array(y.prefix(batchSize)), source: source)
    if needsSecond { b.images2 = x.rows(batchSize..<(2 * batchSize)); b.labels2 = Array(y.suffix(batchSize)) }
    return b
  }

  public func initialisationLabel(_ s: ScoringSettings) -> String { "pytorch-default" }

  // MARK: memory

  public func memoryEstimate(_ a: NB201Architecture, batch: Batch, proxies: [any ZeroCostProxy], settings: ScoringSettings) -> MemoryEstimate? {
    guard let kind = try? kind(settings.dataset) else { return nil }
    return Self.memoryEstimate(a, numClasses: kind.numClasses, imageSize: batch.images.shape.count == 4 ? batch.images.shape[2] : kind.imageSize,
                               batchSize: batch.size, dtype: settings.dtype, proxies: proxies)
  }

  /// Peak memory of scoring one NAS-Bench-201 network (TinyNetwork with `channels` C and
  /// `cellsPerStage` N) on `batchSize` images, an estimate (``MemoryEstimate``):
  ///
  /// - per image: the elements of the forward pass's recorded tensors (``forwardElementsPerImage(_:channels:cellsPerStage:imageSize:)``)
  ///   × the dtype's bytes × the most demanding proxy's ``ZeroCostProxy/memory`` (1.25 for one
  ///   forward and backward, 2.75 for grasp's double backward, and the per-sample weight gradients of
  ///   the NTK proxies, P × bytes × 1.25 or × 4 per image), plus 0.75 tapes when an NTK proxy runs
  ///   with other passes (their cached results stay while it runs);
  /// - fixed: 64 MB for the process, P × bytes × 4 (weights, gradients, copies), P × 24 bytes when a
  ///   proxy needs a float64 copy, and a few single-image passes.
  ///
  /// Calibration: peak resident memory measured on the largest cell (index 1462, every edge a 3×3
  /// conv; forward tape 16.3 MB per float32 image) with one job, batches 50 and 150: 16.1 MB per image
  /// for grad_norm, 14.1 snip, 12.5 nwot, 13.3 jacob_cov, 19.3 fisher, 35.7 grasp, 36 for the
  /// 11-proxy standard suite (the largest pass dominates), 24.8 ntk_cond, 37.4 ntk_cond_eval; on
  /// cells 1651 (all none), 3773 and 6111 the estimate is within 0.9–1.3× of grad_norm's and grasp's
  /// measured slopes; `--metrics all` measured 53.7 MB per image (estimate 57). Batch 1000 of the
  /// standard suite on cell 1462 needs about 36 GB (estimate 45 GB); lighter cells need less.
  public static func memoryEstimate(_ a: NB201Architecture, channels: Int = 16, cellsPerStage: Int = 5, numClasses: Int, imageSize: Int,
                                    batchSize: Int, dtype: DType, proxies: [any ZeroCostProxy]) -> MemoryEstimate {
    let bytes = Double(dtype == .float32 ? 4 : 8)
    let tape = forwardElementsPerImage(a, channels: channels, cellsPerStage: cellsPerStage, imageSize: imageSize) * bytes
    let p = Double(parameterCount(a, channels: channels, cellsPerStage: cellsPerStage, numClasses: numClasses))
    var perImage = 0.0
    for proxy in proxies {
      let f = proxy.memory
      perImage = max(perImage, f.tapes * tape + f.parameterCopies * p * bytes)
    }
    // The NTK proxies' per-sample gradients come on top of the passes other proxies keep cached.
    let ntk = proxies.filter { $0.memory.parameterCopies > 0 }.count
    if ntk > 0 && proxies.contains(where: { $0.memory.parameterCopies == 0 && $0.memory.tapes > 0 }) { perImage += 0.75 * tape }
    var fixed = 64e6 + 4 * p * bytes + 4 * tape * 2
    if proxies.contains(where: { $0.requirements.contains(.float64) }) { fixed += 24 * p }
    return MemoryEstimate(fixedBytes: fixed, bytesPerSample: perImage, samples: batchSize)
  }

  /// Elements of the tensors one image's forward pass records (inputs, every ReLU, conv, batch
  /// norm output and its normalised input, pooling, zero edge and node sum), the unit of the
  /// activation estimate.
  public static func forwardElementsPerImage(_ a: NB201Architecture, channels c0: Int, cellsPerStage n: Int, imageSize s0: Int) -> Double {
    let edgeUnits = a.edges.reduce(0.0) { u, op in
      switch op {
      case .conv1x1, .conv3x3: return u + 4  // ReLU, conv, BN output and normalised input
      case .avgPool3x3, .none: return u + 1
      case .skipConnect: return u
      }
    }
    let cellUnits = edgeUnits + 3  // three node sums
    var s = Double(s0), c = Double(c0)
    var total = 3 * s * s + 3 * c * s * s  // input; stem conv and BN
    for stage in 0..<3 {
      if stage > 0 {
        let sOut = (s / 2).rounded(.up), cin = c
        c *= 2
        // conv_a (ReLU of the input, conv, BN ×2), conv_b (ReLU, conv, BN ×2), pool + 1×1 conv, sum.
        total += cin * s * s + 9 * c * sOut * sOut + cin * sOut * sOut
        s = sOut
      }
      total += Double(n) * cellUnits * c * s * s
    }
    return total + 3 * c * s * s  // lastact BN, ReLU
  }

  /// Parameters of the network (the entries of `parameterCount`, without building it).
  public static func parameterCount(_ a: NB201Architecture, channels c0: Int, cellsPerStage n: Int, numClasses k: Int) -> Int {
    var total = 27 * c0 + 2 * c0
    var c = c0
    for stage in 0..<3 {
      if stage > 0 {
        let cin = c
        c *= 2
        total += 9 * cin * c + 2 * c + 9 * c * c + 2 * c + cin * c
      }
      for op in a.edges {
        switch op {
        case .conv3x3: total += n * (9 * c * c + 2 * c)
        case .conv1x1: total += n * (c * c + 2 * c)
        default: break
        }
      }
    }
    return total + 2 * c + c * k + k
  }

  /// The lightest cell of the space (every edge `none`): a lower bound of every architecture's estimate.
  static let lightest = NB201Architecture(edges: Array(repeating: .none, count: 6))

  public func batchLabel(_ s: ScoringSettings) throws -> (size: Int, source: String) {
    if let path = s.batchFile {
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: path) } catch { throw SpaceError("--batch: \(error)") }
      return (try file.intTensor("labels").count, "file:" + URL(fileURLWithPath: path).lastPathComponent + "@" + (try fileFingerprint(path)))
    }
    return (s.batchSize ?? defaultBatchSize(dataset: s.dataset), try sampledSource(s, paths: try imagePaths(s)))
  }

  /// The image files a sampled batch comes from: `--data`, else the shipped subset.
  func imagePaths(_ s: ScoringSettings) throws -> [String] {
    let kind = try kind(s.dataset)
    if !s.dataFiles.isEmpty { return s.dataFiles }
    if kind == .imagenet16 {
      throw SpaceError("--dataset imagenet16-120 needs --data FILE...: ImageNet16-120 images cannot be shipped. Expected \(kind.formatDescription)")
    }
    return [s.datasetsRoot + "/\(kind.rawValue)/train_subset.bin"]
  }

  /// "sampled" for the shipped subset; other files add their names and fingerprints, so scores
  /// of different images are never taken for each other. (A file its folder's manifest lists is
  /// checked against the manifest's SHA-256 when it loads, so it is the shipped subset whichever
  /// --datasets folder it came from.)
  func sampledSource(_ s: ScoringSettings, paths: [String]) throws -> String {
    if s.dataFiles.isEmpty && paths.allSatisfy(DatasetManifest.lists) { return "sampled" }
    return "sampled:" + (try paths.map { URL(fileURLWithPath: $0).lastPathComponent + "@" + (try fileFingerprint($0)) }.joined(separator: "+"))
  }

  public func makeNetwork(_ a: NB201Architecture, seed: UInt64, dtype: DType, settings: ScoringSettings) throws -> NB201Network {
    let kind = try kind(settings.dataset)
    var rng = ZCRandom(seed: seed)
    return NB201Network(a, numClasses: kind.numClasses, imageSize: kind.imageSize, dtype: dtype, rng: &rng)
  }

  public func context(network: NB201Network, batch: Batch, proxies: [any ZeroCostProxy], runSeed: UInt64, networkSeed: UInt64) -> any ProxyContext {
    ImageProxyContext(network: network, images: batch.images, labels: batch.labels, requirements: requirements(of: proxies),
                      images2: batch.images2, labels2: batch.labels2, runSeed: runSeed, networkSeed: networkSeed)
  }

  // MARK: ground truth

  static func prefix(_ dataset: String) -> String { dataset == "imagenet16-120" ? "imagenet16" : dataset }

  public func groundTruth(_ target: String, dataset: String, option: String) throws -> GroundTruth {
    let column: String
    switch target {
    case "test": column = "\(Self.prefix(dataset))_test_acc"
    case "valid": column = "\(Self.prefix(dataset))_valid_acc"
    default: column = target
    }
    guard let c = table.columns[column] else {
      throw SpaceError("\(option): the NAS-Bench-201 table has no column '\(column)'; numeric columns: \(table.columns.keys.sorted().joined(separator: ", "))")
    }
    var values: [Int: Double] = [:]
    for (i, v) in c.enumerated() where v.isFinite { values[i] = v }
    // Accuracies (percent, higher is better); training costs (seconds, lower is better); the other
    // numeric columns (params, FLOPs, seed counts) are taken as higher-is-better counts.
    let seconds = column.hasSuffix("_s"), accuracy = column.contains("_acc")
    return GroundTruth(column: column, unit: seconds ? "seconds" : accuracy ? "percent" : "", higherIsBetter: !seconds, values: values)
  }

  public let defaultObjective = "cifar10_valid_acc_12ep"
  /// zero-cost-nas's suite with nwot and the baselines (2–5 s per architecture on 2 cores).
  public let standardMetrics = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "plain", "l2_norm", "params", "flops"]
  /// RoBoT's six proxies (He et al. 2024).
  public let defaultCombination = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov"]
  /// `robot` adds the ensemble (synflow + jacob_cov + meco by default) and starts at it: 94.37 ±
  /// 0.00 % at budget 10 over 20 seeds, where RoBoT's six alone give 94.18 ± 0.81 (README, "The
  /// label-free ensemble").
  public let robotAddsEnsemble = true
  public let reportColumns: [(label: String, column: String)] = [
    ("C10 test", "cifar10_test_acc"), ("C100 test", "cifar100_test_acc"), ("IN16 test", "imagenet16_test_acc"),
  ]
  public let costColumn: String? = "cost_12ep_cifar10valid_s"

  /// The "valid" cells (``NB201Architecture/everyOperationOnInputOutputPath``): every operation on
  /// a path from the cell's input to its output (9,444 of 15,625), derived from the arch strings.
  public func subpopulations() -> [(name: String, summary: String, ids: Set<Int>)] {
    var ids = Set<Int>()
    for (i, s) in table.archs.enumerated() {
      if let a = try? NB201Architecture(parsing: s), a.everyOperationOnInputOutputPath { ids.insert(i) }
    }
    return [("valid cells", "every operation on a path from the cell input to its output (NASLib's valid cells)", ids)]
  }

  // MARK: fixtures

  public func fixtureInputs(_ f: ReferenceFixture, dtype: DType) throws -> (network: NB201Network, batch: Batch) {
    let net = try f.nb201Network(dtype: dtype)
    let (x, y) = try f.batch(1, dtype: dtype)
    var b = Batch(images: x, labels: y, source: "fixture:" + f.name)
    if f.tensors.tensors["input2"] != nil {
      let (x2, y2) = try f.batch(2, dtype: dtype)
      b.images2 = x2; b.labels2 = y2
    }
    return (net, b)
  }

  public func references(_ f: ReferenceFixture) -> [String: Double] {
    var out: [String: Double] = [:]
    for m in f.referencedMetrics { if let v = f.referenceValue(m) { out[m] = v } }
    return out
  }

  public func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, results: [ProxyResult]) -> ReferenceFixture.Comparison {
    ReferenceFixture.compare(metric, engine: engine, reference: reference, dtype: dtype, snip: results.first { $0.metric == "snip" }?.value.number)
  }
}
