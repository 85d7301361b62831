import ZCAutodiff
import ZCTensor

/// 2-D batch normalisation (PyTorch `nn.BatchNorm2d`), NCHW.
///
/// Training mode: y = γ (x − μ_B)/√(σ²_B + ε) + β with the batch mean and biased batch variance
/// per channel; the running statistics are then updated as PyTorch does:
/// running_mean ← (1 − m)·running_mean + m·μ_B, running_var ← (1 − m)·running_var + m·σ²_B·n/(n − 1)
/// (unbiased), n = N·H·W, m = momentum (0.1). Evaluation mode uses the running statistics.
/// γ = 1, β = 0, running_mean = 0, running_var = 1 at construction.
public final class BatchNorm2d: Module {
  public let weight: Parameter?
  public let bias: Parameter?
  public var runningMean: Tensor
  public var runningVar: Tensor
  public var numBatchesTracked: Int = 0
  public let eps: Double
  public let momentum: Double
  public let trackRunningStats: Bool
  public var training = true
  /// When set, the layer is the identity (synflow's `bn=False` network).
  public var bypassed = false

  public init(_ channels: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
              trackRunningStats: Bool = true, dtype: DType = .float32) {
    weight = affine ? Parameter(Tensor(repeating: 1, shape: [channels], dtype: dtype)) : nil
    bias = affine ? Parameter(Tensor(zeros: [channels], dtype: dtype)) : nil
    runningMean = Tensor(zeros: [channels], dtype: dtype)
    runningVar = Tensor(repeating: 1, shape: [channels], dtype: dtype)
    self.eps = eps
    self.momentum = momentum
    self.trackRunningStats = trackRunningStats
  }

  public var ownParameters: [(String, Parameter)] {
    guard let weight, let bias else { return [] }
    return [("weight", weight), ("bias", bias)]
  }

  public var ownBuffers: [(String, Tensor)] {
    trackRunningStats ? [("running_mean", runningMean), ("running_var", runningVar),
                         ("num_batches_tracked", Tensor(scalar: Double(numBatchesTracked), dtype: .float64))] : []
  }

  /// x `[N, C, H, W]` → y of the same shape.
  public func callAsFunction(_ x: Variable) -> Variable {
    if bypassed { return x }
    if training || !trackRunningStats {
      let (y, stats) = batchNormTraining(x, gamma: weight?.variable, beta: bias?.variable, eps: eps)
      if training && trackRunningStats { updateRunningStatistics(stats) }
      return y
    }
    // Evaluation: a per-channel affine map with constants from the running statistics.
    let c = runningMean.count
    let rm = runningMean.doubles, rv = runningVar.doubles
    let inv = rv.map { 1 / ($0 + eps).squareRoot() }
    let shape = [1, c, 1, 1]
    var y = multiply(subtract(x, Variable(Tensor(doubles: rm, shape: shape, dtype: x.dtype))),
                     Variable(Tensor(doubles: inv, shape: shape, dtype: x.dtype)))
    if let weight { y = multiply(y, reshape(weight.variable, shape)) }
    if let bias { y = add(y, reshape(bias.variable, shape)) }
    return y
  }

  private func updateRunningStatistics(_ s: BatchNormKernel.Statistics) {
    let m = momentum
    let unbias = s.count > 1 ? Double(s.count) / Double(s.count - 1) : 1
    let rm = zip(runningMean.doubles, s.mean).map { (1 - m) * $0 + m * $1 }
    let rv = zip(runningVar.doubles, s.variance).map { (1 - m) * $0 + m * $1 * unbias }
    runningMean = Tensor(doubles: rm, shape: runningMean.shape, dtype: runningMean.dtype)
    runningVar = Tensor(doubles: rv, shape: runningVar.shape, dtype: runningVar.dtype)
    numBatchesTracked += 1
  }
}
