import ZCEngine

/// The AZ-NAS proxies (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
/// Search", CVPR 2024; cvlab-yonsei/AZ-NAS `NB201/ZeroShotProxy/compute_az_nas_score.py`
/// `compute_nas_score`), each a proxy of its own, sharing one pass per network
/// (``ImageProxyContext/azNASScores()``).
///
/// Protocol (``AZNASProtocol``): a copy of the network re-initialised `kaiming_norm_fanin`
/// (weights from the network seed), Gaussian images N(0, 1) `[B, 3, H, W]` (B = the run's batch
/// size, from the run seed; the real minibatch is not used), training-mode batch norm. Features
/// F_0 = stem(x) and F_k = the output of cell or reduction block k (NB201: k = 1…17, 18 tensors
/// `[B, C, H, W]`). With h_k = Σ −p log(p + 1e-8), p the normalised eigenvalues of F_k's channel
/// covariance over its B·H·W positions:
///
/// - `az_nas_expressivity` = Σ_k h_k;
/// - `az_nas_progressivity` = min_{k ≥ 1} (h_k − h_{k−1});
/// - `az_nas_trainability` = mean over the blocks of −σ − 1/(σ + 1e-6) + 2, σ the spectral norm
///   of the channel cross-moment Gᵀ R /(B·H·W) of Rademacher signs R at a block's output and
///   their vector–Jacobian product G at its input (pixel-unshuffled across a reduction).
///
/// Higher is better for all three. A NaN result (an all-zero feature: 0/0) is −∞ in the authors'
/// code and missing here ("-inf: ..."); so is a −∞ trainability term (a block that is the identity
/// for the signs). The complexity term of AZ-NAS is the benchmark table's FLOPs and its aggregate
/// a sum of log-ranks over a population: neither is a single-network proxy, so neither is here.
struct AZNASPart: Sendable {
  let key: KeyPath<AZNASScores, Double> & Sendable

  func compute(_ name: String, in context: ImageProxyContext) throws -> ProxyValue {
    guard let s = try context.azNASScores() else {
      return .missing(reason: "\(name) needs the network's block features; this space does not expose them")
    }
    return .checked(s[keyPath: key], ifNotFinite: "NaN in the authors' formula (an all-zero feature or a negative eigenvalue), or a block that is the identity for the signs")
  }
}

let azNASSource = "Lee & Ham 2024, AZ-NAS (cvlab-yonsei/AZ-NAS NB201/ZeroShotProxy/compute_az_nas_score.py compute_nas_score)"
/// One forward tape, one block backward at a time, and the re-initialised copy's features.
let azNASMemory = ProxyMemory(tapes: 1.4)

/// az_nas_expressivity: Σ over the block features of the eigenvalue entropy of their channel
/// covariance (see ``AZNASPart``). Higher is better.
public struct AZNASExpressivity: ImageProxy {
  public init() {}
  public let name = "az_nas_expressivity"
  public let summary = "AZ-NAS: sum of the eigen-entropies of every block feature's channel covariance (kaiming re-init, Gaussian input)"
  public let direction = ProxyDirection.higherIsBetter
  public var memory: ProxyMemory { azNASMemory }
  public var source: String { azNASSource }
  public func compute(in context: ImageProxyContext) throws -> ProxyValue { try AZNASPart(key: \.expressivity).compute(name, in: context) }
}

/// az_nas_progressivity: the smallest increase of the eigen-entropy from one block feature to the
/// next (see ``AZNASPart``). Higher is better.
public struct AZNASProgressivity: ImageProxy {
  public init() {}
  public let name = "az_nas_progressivity"
  public let summary = "AZ-NAS: smallest increase of the feature eigen-entropy from one block to the next"
  public let direction = ProxyDirection.higherIsBetter
  public var memory: ProxyMemory { azNASMemory }
  public var source: String { azNASSource }
  public func compute(in context: ImageProxyContext) throws -> ProxyValue { try AZNASPart(key: \.progressivity).compute(name, in: context) }
}

/// az_nas_trainability: the mean over blocks of −σ − 1/σ + 2 for the spectral norm σ of each
/// block's sign-probed Jacobian moment (see ``AZNASPart``). Higher is better (0 at σ = 1).
public struct AZNASTrainability: ImageProxy {
  public init() {}
  public let name = "az_nas_trainability"
  public let summary = "AZ-NAS: mean over blocks of -s - 1/s + 2, s the spectral norm of the block Jacobian probed with random signs"
  public let direction = ProxyDirection.higherIsBetter
  public var memory: ProxyMemory { azNASMemory }
  public var source: String { azNASSource }
  public func compute(in context: ImageProxyContext) throws -> ProxyValue { try AZNASPart(key: \.trainability).compute(name, in: context) }
}
