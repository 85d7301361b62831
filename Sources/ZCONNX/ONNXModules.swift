import ZCAutodiff
import ZCNN
import ZCTensor

/// A node of the module tree of an ONNX network: the modules are the dotted prefixes of the
/// initializer names (`cells.0.layers.1.op.1.weight` lives in module `cells.0.layers.1.op.1` under
/// the attribute `weight`), so every parameter and buffer has its PyTorch `state_dict` key and
/// `--weights` files load by name. Children keep the order in which the file's initializers first
/// reach them (the PyTorch exporter writes initializers in `state_dict` order, which is
/// `named_modules()` order), so layers come out in PyTorch's module order.
public class ONNXModule: Module {
  public var training = true
  public internal(set) var childModules: [(String, any Module)] = []
  /// Own parameters (attribute name, parameter), in file order.
  public internal(set) var parameters: [(String, Parameter)] = []
  /// Own float buffers (batch norm running statistics), in file order.
  public internal(set) var floatBuffers: [(String, Tensor)] = []

  init() {}

  public var children: [(String, any Module)] { childModules }
  public var ownParameters: [(String, Parameter)] { parameters }
  public var ownBuffers: [(String, BufferValue)] { floatBuffers.map { ($0.0, .float($0.1)) } }

  /// Replaces the float buffer `name` (converted to its dtype). - Throws: ``StateError`` as ``Module/setBuffer(_:_:)``.
  public func setBuffer(_ name: String, _ value: BufferValue) throws {
    let v = try validatedBuffer(name, value)
    guard let k = floatBuffers.firstIndex(where: { $0.0 == name }), case let .float(t) = v else { throw StateError.unexpectedKey(name) }
    floatBuffers[k].1 = t
  }

  func buffer(_ name: String) -> Tensor? { floatBuffers.first { $0.0 == name }?.1 }
}

/// The module of an ONNX `Conv` node whose weight is an initializer: PyTorch's `nn.Conv2d` for the
/// proxies (a ``WeightedLayer``). Weight `[C_out, C_in/groups, kh, kw]`, bias `[C_out]` when the
/// node's bias is an initializer. Called on its own it applies its first node's geometry.
public final class ONNXConvLayer: ONNXModule, WeightedLayer {
  public let weight: Parameter
  public internal(set) var bias: Parameter?
  /// The network that runs this layer's node (for a direct call).
  weak var owner: ONNXNetwork?
  var nodeIndex = 0
  init(weight: Parameter) { self.weight = weight }
  /// C_in/groups · kh · kw multiply-accumulates per output element (the weight's shape after its first axis).
  public func callAsFunction(_ x: Variable) -> Variable {
    guard let owner else { preconditionFailure("ONNXConvLayer used without its network") }
    return owner.applyLayerNode(nodeIndex, x)
  }
}

/// The module of an ONNX `Gemm` (or 2-D `MatMul`) node whose weight is an initializer: PyTorch's
/// `nn.Linear` for the proxies (a ``WeightedLayer``). Weight `[out, in]` (Gemm with transB = 1, as
/// PyTorch exports `nn.Linear`) or `[in, out]` (transB = 0, MatMul), bias when an initializer.
public final class ONNXLinearLayer: ONNXModule, WeightedLayer {
  public let weight: Parameter
  public internal(set) var bias: Parameter?
  weak var owner: ONNXNetwork?
  var nodeIndex = 0
  /// The input features (the weight's axis that the product contracts).
  var inFeatures: Int
  /// False for the `out_proj` of an `nn.MultiheadAttention` (a module `P.out_proj` whose parent `P`
  /// has the parameter `in_proj_weight` or `q_proj_weight`): PyTorch reads its weight directly and
  /// never calls its forward, so snip and fisher give it 0 (``WeightedLayer/forwardIsCalled``).
  var forwardCalled = true
  init(weight: Parameter, inFeatures: Int) { self.weight = weight; self.inFeatures = inFeatures }
  public var macsPerOutput: Int { inFeatures }
  public var forwardIsCalled: Bool { forwardCalled }
  public func callAsFunction(_ x: Variable) -> Variable {
    guard let owner else { preconditionFailure("ONNXLinearLayer used without its network") }
    return owner.applyLayerNode(nodeIndex, x)
  }
}

/// The module of an ONNX `BatchNormalization` node (PyTorch's `nn.BatchNorm2d`): it owns the node's
/// scale/bias (`weight`, `bias`) and running statistics (`running_mean`, `running_var`) when they are
/// initializers under one module path, and is the switch synflow uses to bypass the node
/// (``BypassableLayer``, zero-cost-nas `bn=False`). A batch-norm node whose tensors are not
/// initializers gets a stateless instance (no state_dict keys) as a child of the root.
public final class ONNXBatchNormLayer: ONNXModule, BypassableLayer, NormalizationLayer {
  public var bypassed = false
  weak var owner: ONNXNetwork?
  var nodeIndex = 0
  /// PyTorch's `num_batches_tracked` (not in ONNX files; 0), kept when the module owns running
  /// statistics so that a PyTorch `state_dict` loads strictly. Forward passes do not change it.
  public internal(set) var numBatchesTracked = 0
  override init() {}

  public override var ownBuffers: [(String, BufferValue)] {
    let own = super.ownBuffers
    return own.isEmpty ? own : own + [("num_batches_tracked", .integer(numBatchesTracked))]
  }

  public override func setBuffer(_ name: String, _ value: BufferValue) throws {
    if name == "num_batches_tracked", !floatBuffers.isEmpty {
      guard case let .integer(n) = value else { throw StateError.bufferKindMismatch(key: name, model: "integer buffer", file: value.description) }
      numBatchesTracked = n
      return
    }
    try super.setBuffer(name, value)
  }
  public var runningVariance: Tensor? { buffer("running_var") }
  /// Scale 1, shift 0, running mean 0, running variance 1 (PyTorch `reset_parameters()`).
  public func resetParameters() {
    for (name, p) in parameters where name == "weight" || name == "bias" {
      p.value = Tensor(repeating: name == "weight" ? 1 : 0, shape: p.shape, dtype: p.value.dtype)
    }
    for k in floatBuffers.indices {
      let (name, t) = floatBuffers[k]
      if name == "running_mean" { floatBuffers[k].1 = Tensor(zeros: t.shape, dtype: t.dtype) }
      if name == "running_var" { floatBuffers[k].1 = Tensor(repeating: 1, shape: t.shape, dtype: t.dtype) }
    }
  }
  public func callAsFunction(_ x: Variable) -> Variable {
    guard let owner else { preconditionFailure("ONNXBatchNormLayer used without its network") }
    return owner.applyLayerNode(nodeIndex, x)
  }
}
