import ZCAutodiff
import ZCEngine
import ZCNN
import ZCTensor

/// zen (Zen-score): on a copy of the network re-initialised Gaussian (conv and linear weights
/// N(0, 1), biases 0, batch-norm γ = 1, β = 0, running statistics reset to mean 0, var 1), with
/// Gaussian inputs x₁, x₂ ~ N(0, 1) of shape `[B] + inputShape` (B = the minibatch size) and
/// f = the features before global average pooling `[B, C, H, W]` (``PreGlobalPoolingFeatures``;
/// NAS-Bench-201: the output of lastact):
///
///   Δ = mean over samples of Σ_{c,h,w} |f(x₁) − f(x₁ + γ·x₂)|,  γ = 0.01,
///   score = log Δ + Σ over batch-norm layers of log √(mean over channels of running_var).
///
/// Both forward passes run with training-mode batch norm (batch statistics), as the reference
/// (a freshly built model is in training mode), so each batch-norm layer's running variance is
/// updated twice with PyTorch's momentum 0.1 and unbiased batch variance before it is read. One
/// repeat. Higher is better. The Gaussian inputs come from the context's ``ProxyContext/runSeed``
/// (the same for every architecture of a run), the weights from ``ProxyContext/networkSeed``.
///
/// Missing when the network does not expose its pre-pooling features, or when Δ = 0 (the
/// features do not depend on the input, for example an all-`none` cell: log 0 = −∞).
/// Source: Lin et al. 2021, "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition";
/// ZenNAS `ZeroShotProxy/compute_zen_score.py` (`network_weight_gaussian_init`, `compute_nas_score`,
/// mixup_gamma 1e-2, repeat 1 as its search scripts call it).
public struct Zen: ImageProxy {
  public init() {}
  public let name = "zen"
  public let summary = "log of the feature change under a small Gaussian input perturbation plus log BN scales (Gaussian re-init)"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  /// Its own Gaussian-input forward passes, without a tape for the whole batch.
  public let memory = ProxyMemory(tapes: 0.4)
  public let source = "Lin et al. 2021 (ZenNAS compute_zen_score.py)"

  /// Mixup coefficient γ of the perturbation (the reference's default `mixup_gamma`).
  public static let mixupGamma = 1e-2

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let dtype = context.images.dtype
    let net = context.network.copy(dtype: dtype)
    guard let features = net as? PreGlobalPoolingFeatures else {
      return .missing(reason: "zen needs the network's features before global pooling; this space does not expose them")
    }
    var wrng = ZCRandom(seed: context.networkSeed ^ 0x2E11_5C0A_9D3B_7F21)
    Self.gaussianInitialise(net, rng: &wrng)
    var xrng = ZCRandom(seed: context.runSeed ^ 0x5A3C_D1E2_0B47_96F8)
    let shape = [context.images.shape[0]] + net.inputShape
    let x1 = Initializer.normal(mean: 0, std: 1).make(shape: shape, dtype: dtype, rng: &xrng)
    let x2 = Initializer.normal(mean: 0, std: 1).make(shape: shape, dtype: dtype, rng: &xrng)
    return Self.score(features: features, network: net, x1: x1, x2: x2, gamma: Self.mixupGamma)
  }

  /// Zen-NAS's re-initialisation, in module order: conv and linear weights N(0, 1) (row-major
  /// draws from `rng`), their biases 0; batch norm γ = 1, β = 0, running mean 0, running var 1,
  /// no batches tracked, training mode.
  public static func gaussianInitialise(_ net: some Module, rng: inout ZCRandom) {
    for (_, m) in net.namedModules() {
      if let w = m as? any WeightedLayer {
        w.reinitialise(weight: .normal(mean: 0, std: 1), rng: &rng)
      } else if let n = m as? any NormalizationLayer {
        n.resetParameters()
        n.training = true
      }
    }
  }

  /// The Zen-score of an already initialised `network` for inputs x₁, x₂ (same shape `[B, ...]`):
  /// log(mean_b Σ |f(x₁) − f(x₁ + γ x₂)|) + Σ_BN log √(mean running_var), with both forward passes
  /// in the network's current batch-norm mode (no gradient). Sums accumulate in Float64.
  public static func score(features: PreGlobalPoolingFeatures, network: some Module, x1: Tensor, x2: Tensor, gamma: Double) -> ProxyValue {
    let b = x1.shape[0]
    let (f1, f2) = GradMode.$isEnabled.withValue(false) { () -> (Tensor, Tensor) in
      let a = features.featuresBeforeGlobalPooling(Variable(x1)).value
      let mixed = add(Variable(x1), scale(Variable(x2), gamma))
      return (a, features.featuresBeforeGlobalPooling(mixed).value)
    }
    let u = f1.doubles, v = f2.doubles
    var total = 0.0
    for i in 0..<u.count { total += Swift.abs(u[i] - v[i]) }
    let delta = total / Double(b)
    var bnTerm = 0.0
    for (_, m) in network.namedModules() {
      guard let rv = (m as? any NormalizationLayer)?.runningVariance?.doubles else { continue }
      bnTerm += Double.log((rv.reduce(0, +) / Double(rv.count)).squareRoot())
    }
    guard delta > 0 else { return .missing(reason: "-inf: the features do not depend on the input (log 0)") }
    return .checked(Double.log(delta) + bnTerm, ifNotFinite: "non-finite features or batch-norm variance")
  }
}
