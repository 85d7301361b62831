import ZCAutodiff
import ZCTensor

// Layers of BERT-style transformers (Hugging Face `transformers` BERT/ELECTRA), with PyTorch
// parameter names and the BERT initialisation (`_init_weights`: N(0, initializer_range²), biases 0,
// LayerNorm γ = 1, β = 0). Sequences are `[B, T, C]` (batch, tokens, features).

/// Fully connected layer on the last axis (PyTorch `nn.Linear`): y = x Wᵀ + b with x `[..., in]`,
/// W `[out, in]`, b `[out]` → `[..., out]`. Initialised as BERT's `_init_weights`: W ~ N(0, std²)
/// (not truncated), b = 0.
public final class TokenLinear: Module {
  public let weight: Parameter
  public let bias: Parameter?
  public var training = true

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, std: Double = 0.02, dtype: DType = .float32, rng: inout ZCRandom) {
    weight = Parameter(Initializer.normal(mean: 0, std: std).make(shape: [outFeatures, inFeatures], dtype: dtype, rng: &rng))
    self.bias = bias ? Parameter(Tensor(zeros: [outFeatures], dtype: dtype)) : nil
  }

  public var ownParameters: [(String, Parameter)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

  /// x `[..., in]` → `[..., out]`.
  public func callAsFunction(_ x: Variable) -> Variable {
    let inF = weight.shape[1], outF = weight.shape[0]
    precondition(x.shape.last == inF, "TokenLinear: input \(x.shape), weight \(weight.shape)")
    let lead = Array(x.shape.dropLast())
    let y = linear(reshape(x, [-1, inF]), weight: weight.variable, bias: bias?.variable)
    return reshape(y, lead + [outF])
  }
}

/// Embedding table (PyTorch `nn.Embedding`) with BERT's initialisation: W `[V, D]` ~ N(0, std²),
/// and the `padding_idx` row (when given) set to zero.
public final class TokenEmbedding: Module {
  public let weight: Parameter
  public var training = true

  public init(_ count: Int, _ dimension: Int, std: Double = 0.02, paddingIndex: Int? = nil, dtype: DType = .float32, rng: inout ZCRandom) {
    var w = Initializer.normal(mean: 0, std: std).make(shape: [count, dimension], dtype: dtype, rng: &rng)
    if let p = paddingIndex, p >= 0, p < count {
      var v = w.doubles
      for j in 0..<dimension { v[p * dimension + j] = 0 }
      w = Tensor(doubles: v, shape: [count, dimension], dtype: dtype)
    }
    weight = Parameter(w)
  }

  public var ownParameters: [(String, Parameter)] { [("weight", weight)] }

  /// ids (each in 0..<V), viewed as `shape` → `shape + [D]`.
  public func callAsFunction(_ ids: [Int], shape: [Int]) -> Variable {
    reshape(embedding(weight.variable, ids), shape + [weight.shape[1]])
  }
}

/// Layer normalisation over the last axis (PyTorch `nn.LayerNorm(n, eps)`): γ `weight` = 1 and
/// β `bias` = 0 at construction; x `[..., n]` → `[..., n]` (``layerNorm(_:gamma:beta:eps:)``).
public final class LayerNormLayer: Module {
  public let weight: Parameter
  public let bias: Parameter
  public let eps: Double
  public var training = true

  public init(_ n: Int, eps: Double, dtype: DType = .float32) {
    weight = Parameter(Tensor(repeating: 1, shape: [n], dtype: dtype))
    bias = Parameter(Tensor(zeros: [n], dtype: dtype))
    self.eps = eps
  }

  public var ownParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias)] }

  public func callAsFunction(_ x: Variable) -> Variable { layerNorm(x, gamma: weight.variable, beta: bias.variable, eps: eps) }
}
