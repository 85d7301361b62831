import ZCEngine
import ZCTensor

/// ntk_cond = λ_max / λ_min of the empirical NTK Θ = G Gᵀ `[B, B]` (G: per-sample gradients of the
/// sum of each sample's logits w.r.t. conv, linear and batch-norm weights; training-mode batch
/// norm). Lower is better. Missing when the ratio is not finite (for example 0/0 when the logits
/// do not depend on the weights). Cost: B backward passes.
/// Source: Chen, Gong & Wang 2021, TE-NAS; TE-NAS `lib/procedures/ntk.py` `get_ntk_n`.
public struct NTKCond: ZeroCostProxy {
  public init() {}
  public let name = "ntk_cond"
  public let summary = "condition number of the empirical NTK of the batch (per-sample logit-sum gradients)"
  public let direction = ProxyDirection.lowerIsBetter
  public let requirements: ProxyRequirements = [.forward]
  public let source = "Chen et al. 2021 (TE-NAS get_ntk_n)"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let e = try context.ntkEigenvalues()
    guard let lo = e.first, let hi = e.last else { return .missing(reason: "nan: empty batch") }
    return .checked(hi / lo, ifNotFinite: "the NTK is zero or singular (lambda_max / lambda_min undefined)")
  }
}

/// ntk_trace = √(tr Θ / B) = √(Σ λ_i / B): the root-mean-square norm of the per-sample gradients
/// behind ntk_cond (same Θ and eigenvalues). Higher is better. A companion to TE-NAS's condition
/// number defined by this project (no published reference value).
public struct NTKTrace: ZeroCostProxy {
  public init() {}
  public let name = "ntk_trace"
  public let summary = "sqrt(trace(NTK) / B): RMS norm of the per-sample logit-sum gradients"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.forward]
  public let source = "this project (from TE-NAS's NTK)"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let e = try context.ntkEigenvalues()
    return .checked((e.reduce(0, +) / Double(max(e.count, 1))).squareRoot(), ifNotFinite: "non-finite NTK")
  }
}
