import ZCAutodiff
import ZCEngine
import ZCNN
import ZCTensor

/// linear_regions: the number of distinct ReLU activation patterns that TE-NAS's thin network of
/// the architecture produces on 3,000 single-channel 3×3 crops of real images. Higher is better.
///
/// - Thin network (NAS-Bench-201: ``ThinNetworkProviding``): the same cell with C = 1, N = 1,
///   depth 1, no stem, then BatchNorm2d → ReLU → pooling → classifier; Kaiming-normal (fan_in)
///   weights, zero biases, γ = 1, β = 0, drawn from the context's ``ProxyContext/networkSeed``.
/// - Inputs: 3,000 distinct (image, channel, position) 3×3 crops of the context's minibatch
///   (already normalised per channel with the dataset's mean and std, as TE-NAS's
///   `RandomCrop(3) → ToTensor → Normalize → RandChannel(1)`), drawn without replacement with the
///   context's ``ProxyContext/runSeed`` (the same crops for every architecture of a run).
/// - Passes: 3 batches of 1,000 crops, training-mode batch norm (statistics of each batch), no
///   gradient. Pattern of a crop: (input of every ReLU whose input is 4-D > 0), i.e. the sign of the
///   ReLU output TE-NAS hooks, flattened and concatenated over ReLUs in call order (the cell's
///   ReLUConvBN ReLUs and lastact's ReLU). Score = number of distinct patterns (TE-NAS
///   `calc_LR`: Σ_i 1 / #{j : pattern_j = pattern_i}), in 1...3,000.
///
/// Missing when the network has no thin counterpart or the minibatch has fewer than 3,000
/// distinct crops (B · C · (H − 2) · (W − 2) < 3,000).
/// Source: Chen, Gong & Wang 2021, "Neural Architecture Search on ImageNet in Four GPU Hours: A
/// Theoretically Inspired Perspective" (TE-NAS); TE-NAS `lib/procedures/linear_region_counter.py`
/// (`LinearRegionCount`, `Linear_Region_Collector`) and `prune_tenas.py` (`model_config_thin`,
/// `input_size=(1000, 1, 3, 3)`, `sample_batch=3`).
public struct LinearRegions: ImageProxy {
  public init() {}
  public let name = "linear_regions"
  public let summary = "distinct ReLU activation patterns of TE-NAS's thin network on 3,000 3x3 image crops"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let source = "Chen et al. 2021 (TE-NAS linear_region_counter.py)"

  /// Crops per score and per forward batch (TE-NAS: input_size (1000, 1, 3, 3), sample_batch 3).
  public static let cropCount = 3000
  public static let batchSize = 1000

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let provider = context.network as? ThinNetworkProviding else {
      return .missing(reason: "linear_regions needs a thin counterpart of the network (TE-NAS); this space has none")
    }
    let k = provider.thinInputShape[1]
    guard let crops = Self.crops(of: context.images, count: Self.cropCount, size: k, seed: context.runSeed ^ 0x7E9A_5C0F_11E4_12E6) else {
      let s = context.images.shape
      return .missing(reason: "linear_regions needs \(Self.cropCount) distinct \(k)x\(k) crops; a minibatch \(s) has \(s[0] * s[1] * (s[2] - k + 1) * (s[3] - k + 1))")
    }
    var rng = ZCRandom(seed: context.networkSeed ^ 0x3C6E_F372_FE94_F82B)
    let thin = provider.makeThinNetwork(dtype: context.images.dtype, rng: &rng)
    return .value(Double(Self.distinctPatterns(of: thin, inputs: crops, batchSize: Self.batchSize)))
  }

  /// `count` distinct single-channel `size`×`size` crops of `images` `[B, C, H, W]`, drawn without
  /// replacement among all (image, channel, top, left) positions with a generator seeded by `seed`:
  /// `[count, 1, size, size]` in the images' dtype, or nil when there are fewer positions than `count`.
  public static func crops(of images: Tensor, count: Int, size k: Int, seed: UInt64) -> Tensor? {
    precondition(images.rank == 4, "images must be [B, C, H, W], got \(images.shape)")
    let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    let (ph, pw) = (h - k + 1, w - k + 1)
    guard ph > 0, pw > 0, b * c * ph * pw >= count else { return nil }
    var rng = ZCRandom(seed: seed)
    let picks = rng.sampleWithoutReplacement(count, from: b * c * ph * pw)
    let x = images.doubles
    var out = [Double](repeating: 0, count: count * k * k)
    for (n, p) in picks.enumerated() {
      let left = p % pw, top = (p / pw) % ph, plane = p / (pw * ph)  // plane = image * C + channel
      for i in 0..<k {
        for j in 0..<k { out[(n * k + i) * k + j] = x[(plane * h + top + i) * w + left + j] }
      }
    }
    return Tensor(doubles: out, shape: [count, 1, k, k], dtype: images.dtype)
  }

  /// Number of distinct activation patterns of `network` over `inputs` `[N, ...]`, run in batches
  /// of `batchSize` rows (training-mode batch norm uses each batch's statistics; the last batch may
  /// be smaller). A pattern is (input > 0) of every ReLU layer with a 4-D input, in call order.
  public static func distinctPatterns(of network: any Layer, inputs: Tensor, batchSize: Int) -> Int {
    precondition(batchSize >= 1)
    let n = inputs.shape[0]
    var seen = Set<[UInt64]>()
    var start = 0
    while start < n {
      let end = min(n, start + batchSize), b = end - start
      let trace = ForwardTrace(reluInputs: true, layerOutputs: false)
      GradMode.$isEnabled.withValue(false) { ForwardTrace.$current.withValue(trace) { _ = network(Variable(inputs.rows(start..<end))) } }
      let codes = trace.reluInputs.filter { $0.rank == 4 }.map { ($0.doubles, $0.count / b) }
      let bits = codes.reduce(0) { $0 + $1.1 }
      for r in 0..<b {
        var words = [UInt64](repeating: 0, count: (bits + 63) / 64)
        var k = 0
        for (v, u) in codes {
          for q in 0..<u {
            if v[r * u + q] > 0 { words[k >> 6] |= 1 << UInt64(k & 63) }
            k += 1
          }
        }
        seen.insert(words)
      }
      start = end
    }
    return seen.count
  }
}
