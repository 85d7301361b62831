import ZCAutodiff
import ZCTensor

/// 2-D batch normalisation (PyTorch `nn.BatchNorm2d`), NCHW.
///
/// Training mode: y = γ (x − μ_B)/√(σ²_B + ε) + β with the batch mean and biased batch variance
/// per channel; the running statistics are then updated as PyTorch does:
/// running_mean ← (1 − m)·running_mean + m·μ_B, running_var ← (1 − m)·running_var + m·σ²_B·n/(n − 1)
/// (unbiased), n = N·H·W, m = momentum (0.1). Evaluation mode uses the running statistics.
/// γ = 1, β = 0, running_mean = 0, running_var = 1 at construction.
///
/// State dict: `weight`, `bias` (when affine), then the buffers `running_mean` `[C]`, `running_var`
/// `[C]` (in the layer's dtype) and `num_batches_tracked` (an integer) when tracking running
/// statistics. Synflow bypasses it (``BypassableLayer``); Zen reads and resets it (``NormalizationLayer``).
public final class BatchNorm2d: Module {
  public let weight: Parameter?
  public let bias: Parameter?
  public var runningMean: Tensor
  public var runningVar: Tensor
  public var numBatchesTracked: Int = 0
  public let eps: Double
  public let momentum: Double
  public let trackRunningStats: Bool
  /// Training mode (batch statistics, running statistics updated) or evaluation mode (running statistics).
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

  /// `running_mean`, `running_var` (float, `[C]`) and `num_batches_tracked` (integer) when the
  /// layer tracks running statistics; none otherwise.
  public var ownBuffers: [(String, BufferValue)] {
    trackRunningStats ? [("running_mean", .float(runningMean)), ("running_var", .float(runningVar)),
                         ("num_batches_tracked", .integer(numBatchesTracked))] : []
  }

  /// Sets `running_mean`, `running_var` (converted to the layer's dtype) or `num_batches_tracked`.
  /// - Throws: ``StateError`` for another name (or any name without running statistics), the
  ///   wrong kind of value or a shape other than `[C]`; nothing is changed then.
  public func setBuffer(_ name: String, _ value: BufferValue) throws {
    let v = try validatedBuffer(name, value)
    switch (name, v) {
    case let ("running_mean", .float(t)): runningMean = t
    case let ("running_var", .float(t)): runningVar = t
    case let ("num_batches_tracked", .integer(n)): numBatchesTracked = n
    default: throw StateError.unexpectedKey(name)
    }
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

extension BatchNorm2d: BypassableLayer {}

extension BatchNorm2d: NormalizationLayer {
  /// The running variance `[C]`, nil without running statistics.
  public var runningVariance: Tensor? { trackRunningStats ? runningVar : nil }

  /// γ = 1, β = 0, running mean 0, running var 1, no batches tracked (the state at construction;
  /// PyTorch `BatchNorm2d.reset_parameters()`). Keeps dtype, mode and ``bypassed``.
  public func resetParameters() {
    if let g = weight { g.value = Tensor(repeating: 1, shape: g.shape, dtype: g.value.dtype) }
    if let b = bias { b.value = Tensor(zeros: b.shape, dtype: b.value.dtype) }
    runningMean = Tensor(zeros: runningMean.shape, dtype: runningMean.dtype)
    runningVar = Tensor(repeating: 1, shape: runningVar.shape, dtype: runningVar.dtype)
    numBatchesTracked = 0
  }
}
