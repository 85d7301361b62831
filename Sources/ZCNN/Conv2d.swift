import ZCAutodiff
import ZCTensor

/// 2-D convolution layer (PyTorch `nn.Conv2d`, groups = 1), NCHW.
///
/// y = conv2d(x, W) + b; x `[N, C_in, H, W]`, W `[C_out, C_in, k, k]`, b `[C_out]` →
/// `[N, C_out, H_out, W_out]`. Default initialisation as PyTorch: W ~ U(±1/√fan_in),
/// b ~ U(±1/√fan_in), fan_in = C_in·k². A ``WeightedLayer`` (C_in·k² multiply-accumulates per output).
public final class Conv2d: Module {
  public let weight: Parameter
  public let bias: Parameter?
  public let geometry: Conv2DGeometry
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true

  public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
              dilation: Int = 1, bias: Bool = true, dtype: DType = .float32, rng: inout ZCRandom) {
    let shape = [outChannels, inChannels, kernelSize, kernelSize]
    weight = Parameter(Initializer.pytorchDefaultWeight.make(shape: shape, dtype: dtype, rng: &rng))
    self.bias = bias ? Parameter(Initializer.pytorchDefaultBias(weightShape: shape).make(shape: [outChannels], dtype: dtype, rng: &rng)) : nil
    geometry = Conv2DGeometry(stride: stride, padding: padding, dilation: dilation)
  }

  public var ownParameters: [(String, Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    var y = conv2d(x, weight.variable, geometry)
    if let bias { y = add(y, reshape(bias.variable, [1, bias.shape[0], 1, 1])) }
    ForwardTrace.current?.layerOutput(self, y)
    return y
  }
}

/// Fully connected layer (PyTorch `nn.Linear`): y = x Wᵀ + b; x `[N, in]`, W `[out, in]`,
/// b `[out]` → `[N, out]`. Initialised as PyTorch: W, b ~ U(±1/√in). A ``WeightedLayer``
/// (`in` multiply-accumulates per output).
public final class Linear: Module {
  public let weight: Parameter
  public let bias: Parameter?
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, dtype: DType = .float32, rng: inout ZCRandom) {
    let shape = [outFeatures, inFeatures]
    weight = Parameter(Initializer.pytorchDefaultWeight.make(shape: shape, dtype: dtype, rng: &rng))
    self.bias = bias ? Parameter(Initializer.pytorchDefaultBias(weightShape: shape).make(shape: [outFeatures], dtype: dtype, rng: &rng)) : nil
  }

  public var ownParameters: [(String, Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    let y = linear(x, weight: weight.variable, bias: bias?.variable)
    ForwardTrace.current?.layerOutput(self, y)
    return y
  }
}

/// Embedding table (PyTorch `nn.Embedding`): rows of W `[V, D]` picked by token ids; initialised N(0, 1).
public final class Embedding: Module {
  public let weight: Parameter
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true

  public init(_ count: Int, _ dimension: Int, dtype: DType = .float32, rng: inout ZCRandom) {
    weight = Parameter(Initializer.normal(mean: 0, std: 1).make(shape: [count, dimension], dtype: dtype, rng: &rng))
  }

  public var ownParameters: [(String, Parameter)] { [("weight", weight)] }

  /// ids (each in 0..<V) → `[ids.count, D]`.
  public func callAsFunction(_ ids: [Int]) -> Variable { embedding(weight.variable, ids) }
}
