import ZCEngine

/// vkdnw_entropy (Tybl & Neumann, "Training-free Neural Architecture Search through Variance of
/// Knowledge of Deep Network Weights", CVPR 2025; ondratybl/VKDNW
/// `NB201/ZeroShotProxy/compute_vkdnw_score.py` `compute_nas_score`, `params_grad_len` 128, p = 1):
/// the entropy of the nine deciles of the empirical Fisher information spectrum,
///
///   F = (1/B) Σ_b (L_b J_b)ᵀ (L_b J_b) `[P, P]`,  Q = deciles of the singular values of F,
///   t = Q / (Σ|Q| + 1e-10),  vkdnw_entropy = −Σ t·log(t + 1e-10),
///
/// where J_b `[K, P]` is the Jacobian of sample b's logits with respect to θ, the first entry of
/// each of the first 128 parameter tensors, and L_b `[K, K]` the authors' lower-triangular factor
/// of the smoothed softmax covariance (α = 0.05 in float16). Same protocol tensors as AZ-NAS
/// (kaiming re-initialisation, Gaussian input `[B, 3, H, W]`), but evaluation-mode batch norm
/// (running statistics 0 and 1) and entirely in Float64 (the spectrum spans 10–20 decades, below
/// float32's resolution). Higher is better. Missing for a graph the per-sample Jacobian cannot
/// read; the all-`none` cell gives −0.0 (F has rank 1, every decile is 0).
public struct VKDNWEntropy: ImageProxy {
  public init() {}
  public let name = "vkdnw_entropy"
  public let summary = "VKDNW: entropy of the deciles of the empirical Fisher spectrum of 128 weights (Float64, eval mode, Gaussian input)"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.float64]
  /// A Float64 evaluation-mode forward tape (twice the float32 bytes), the cotangents at every
  /// consumer of the 128 selected tensors, and one backward at a time: measured 6.3 GB resident
  /// at batch 64 (an NB201 sample on CIFAR-10, release build), about 6 float32 tapes per image.
  public let memory = ProxyMemory(tapes: 6)
  public let source = "Tybl & Neumann 2025, VKDNW (ondratybl/VKDNW NB201/ZeroShotProxy/compute_vkdnw_score.py compute_nas_score)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let s = try context.vkdnwScores() else {
      return .missing(reason: "the network consumes a selected parameter in a way the per-sample Jacobian does not support")
    }
    return .checked(s.entropy, ifNotFinite: "non-finite Fisher spectrum")
  }
}

/// vkdnw_dim: the number of parameter tensors of the network (`len(named_parameters())`), the
/// first key of VKDNW's lexicographic single-proxy ranking (Tybl & Neumann 2025; ondratybl/VKDNW
/// `compute_vkdnw_score.py`, `info['vkdnw_dim']`). Higher is better. Needs no pass.
public struct VKDNWDim: ImageProxy {
  public init() {}
  public let name = "vkdnw_dim"
  public let summary = "VKDNW: number of parameter tensors of the network"
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Tybl & Neumann 2025, VKDNW (ondratybl/VKDNW NB201/ZeroShotProxy/compute_vkdnw_score.py, vkdnw_dim)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    .value(Double(context.network.namedParameters().count))
  }
}
