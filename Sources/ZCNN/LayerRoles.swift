import ZCTensor

/// A layer with one weight that the zero-cost proxies score, and an optional bias: ``Conv2d`` and
/// ``Linear``. Proxies find these layers by this protocol, in module order (PyTorch's
/// `net.modules()` filtered to `nn.Conv2d`/`nn.Linear`), and read the layer's output from
/// ``ForwardTrace`` (implementations report it with every call).
public protocol WeightedLayer: Layer {
  /// The scored weight: `[C_out, C_in, k_h, k_w]` (conv), `[out, in]` (linear).
  var weight: Parameter { get }
  /// The bias `[C_out]` / `[out]`, nil without one.
  var bias: Parameter? { get }
  /// Multiply-accumulates per output element, the bias not counted: C_in·k_h·k_w for a conv
  /// (groups = 1), `in` for a linear layer. Default: the product of the weight's shape after its
  /// first dimension, which is both.
  var macsPerOutput: Int { get }
  /// False for a layer whose own forward is never called because its owner reads the weight
  /// directly: the `out_proj` of PyTorch's `nn.MultiheadAttention`, which passes `out_proj.weight`
  /// to `F.multi_head_attention_forward`. Proxies that patch the layer's forward (zero-cost-nas
  /// snip's weight mask, fisher's activation) then see nothing for it, as in the reference; those
  /// that read the weight's gradient count it. Default: true.
  var forwardIsCalled: Bool { get }
}

extension WeightedLayer {
  public var macsPerOutput: Int { weight.shape.dropFirst().reduce(1, *) }
  public var forwardIsCalled: Bool { true }

  /// Replaces the weight by a draw of `initializer` (same shape and dtype; `weight.count` values
  /// in row-major order from `rng`, as `Initializer.make`) and the bias, if any, by zeros. Used
  /// by re-initialisation schemes that walk the layers in module order (Zen-NAS's Gaussian
  /// init, TE-NAS's Kaiming-normal thin network).
  public func reinitialise(weight initializer: Initializer, rng: inout ZCRandom) {
    weight.value = initializer.make(shape: weight.shape, dtype: weight.value.dtype, rng: &rng)
    if let b = bias { b.value = Tensor(zeros: b.shape, dtype: b.value.dtype) }
  }
}

/// A layer that can be switched to the identity: synflow's network without batch norm
/// (zero-cost-nas `synflow`, `bn=False`) bypasses every one. Adopted by ``BatchNorm2d``.
public protocol BypassableLayer: Layer {
  /// When true, the layer returns its input unchanged. Not part of the state dict; false at construction.
  var bypassed: Bool { get set }
}

/// A normalisation layer with an affine map and running statistics (``BatchNorm2d``), as Zen-NAS
/// reads and resets them.
public protocol NormalizationLayer: Layer {
  /// The running variance per channel `[C]`, nil when the layer does not track running statistics.
  var runningVariance: Tensor? { get }
  /// Restores the state at construction: scale 1, shift 0, running mean 0, running variance 1,
  /// no batches tracked (PyTorch `reset_parameters()`). The mode (``Module/training``) is kept.
  func resetParameters()
}
