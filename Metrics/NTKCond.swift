import ZCEngine
import ZCTensor

/// ntk_cond = λ_max / λ_min of the empirical NTK Θ = G Gᵀ `[B, B]` (G: per-sample gradients of the
/// sum of each sample's logits w.r.t. conv, linear and batch-norm weights; training-mode batch
/// norm). Lower is better. Missing when the ratio is not finite (for example 0/0 when the logits
/// do not depend on the weights). Cost: B backward passes.
/// Source: Chen, Gong & Wang 2021, TE-NAS; TE-NAS `lib/procedures/ntk.py` `get_ntk_n`.
public struct NTKCond: ImageProxy {
  public init() {}
  public let name = "ntk_cond"
  public let summary = "condition number of the empirical NTK of the batch (per-sample logit-sum gradients)"
  public let direction = ProxyDirection.lowerIsBetter
  public let requirements: ProxyRequirements = [.forward]
  /// The shared forward, plus one parameter-sized per-sample gradient at a time (×1.25).
  public let memory = ProxyMemory(tapes: 1.25, parameterCopies: 1.25)
  public let source = "Chen et al. 2021 (TE-NAS get_ntk_n)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let e = try context.ntkEigenvalues()
    return conditionNumber(e)
  }
}

/// ntk_trace = √(tr Θ / B) = √(Σ λ_i / B): the root-mean-square norm of the per-sample gradients
/// behind ntk_cond (same Θ and eigenvalues). Higher is better. A companion to TE-NAS's condition
/// number defined by this project (no published reference value).
public struct NTKTrace: ImageProxy {
  public init() {}
  public let name = "ntk_trace"
  public let summary = "sqrt(trace(NTK) / B): RMS norm of the per-sample logit-sum gradients"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.forward]
  /// The shared forward, plus one parameter-sized per-sample gradient at a time (×1.25).
  public let memory = ProxyMemory(tapes: 1.25, parameterCopies: 1.25)
  public let source = "this project (from TE-NAS's NTK)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let e = try context.ntkEigenvalues()
    return .checked((e.reduce(0, +) / Double(max(e.count, 1))).squareRoot(), ifNotFinite: "non-finite NTK")
  }
}

/// ntk_cond_eval: ntk_cond with batch norm in evaluation mode (running statistics of the initial
/// network), so samples are independent and the per-sample gradients come from one batched forward
/// and backward plus per-sample weight-gradient kernels (instead of B full backward passes).
/// Θ = G Gᵀ summed over parameters in Float64, eigenvalues in Float64.
/// Lower is better. A variant of TE-NAS's ntk_cond defined by this project; not equal to it,
/// because training-mode batch norm couples the samples.
public struct NTKCondEval: ImageProxy {
  public init() {}
  public let name = "ntk_cond_eval"
  public let summary = "ntk_cond with batch norm in evaluation mode (independent samples; variant)"
  public let direction = ProxyDirection.lowerIsBetter
  public let requirements: ProxyRequirements = [.evaluationMode]
  /// A batched forward of the evaluation-mode copy, and the per-sample gradients of every weight.
  public let memory = ProxyMemory(tapes: 1.25, parameterCopies: 4)
  public let source = "this project (variant of Chen et al. 2021 TE-NAS get_ntk_n)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let e = try context.ntkEvaluationModeEigenvalues()
    return conditionNumber(e)
  }
}

/// λ_max / λ_min of ascending eigenvalues, missing when not finite (shared by ntk_cond and ntk_cond_eval).
func conditionNumber(_ ascending: [Double]) -> ProxyValue {
  guard let lo = ascending.first, let hi = ascending.last else { return .missing(reason: "nan: empty batch") }
  return .checked(hi / lo, ifNotFinite: "the NTK is zero or singular (lambda_max / lambda_min undefined)")
}
