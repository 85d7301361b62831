import ZCAutodiff
import ZCTensor

/// A trainable tensor: a leaf ``Variable`` that requires a gradient. Replacing `value` (for
/// example when loading PyTorch weights) creates a new leaf.
public final class Parameter: @unchecked Sendable {
  public private(set) var variable: Variable

  public init(_ value: Tensor) { variable = Variable(value, requiresGrad: true) }

  public var value: Tensor {
    get { variable.value }
    set { variable = Variable(newValue, requiresGrad: true) }
  }
  public var shape: [Int] { variable.shape }
}

/// A network component, in the style of PyTorch's `nn.Module`: it owns parameters and buffers
/// and contains child modules under attribute names, so every tensor has a stable dotted name
/// (`cells.3.layers.0.op.1.weight`) equal to the PyTorch `state_dict` key.
public protocol Module: AnyObject {
  /// Child modules with their attribute names (list positions are written "0", "1", ...).
  var children: [(String, any Module)] { get }
  /// Parameters owned directly, with their attribute names.
  var ownParameters: [(String, Parameter)] { get }
  /// Non-trainable state owned directly (batch-norm running statistics).
  var ownBuffers: [(String, Tensor)] { get }
}

extension Module {
  public var children: [(String, any Module)] { [] }
  public var ownParameters: [(String, Parameter)] { [] }
  public var ownBuffers: [(String, Tensor)] { [] }

  /// Every parameter of this module and its descendants, by dotted name, in registration order
  /// (own parameters first, then children depth-first, as PyTorch's `named_parameters`).
  public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
    var out = ownParameters.map { (prefix + $0.0, $0.1) }
    for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
    return out
  }

  /// Every buffer by dotted name.
  public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
    var out = ownBuffers.map { (prefix + $0.0, $0.1) }
    for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
    return out
  }

  /// This module and all descendants, depth-first, with dotted names ("" for self).
  public func namedModules(prefix: String = "") -> [(String, any Module)] {
    var out: [(String, any Module)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
    for (name, child) in children { out += child.namedModules(prefix: prefix + name + ".") }
    return out
  }

  /// The parameter with a dotted name, or nil.
  public func parameter(named name: String) -> Parameter? {
    namedParameters().first { $0.0 == name }?.1
  }

  /// Number of trainable scalars.
  public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.value.count } }

  /// Switches every batch-norm layer between training mode (batch statistics) and evaluation
  /// mode (running statistics), like PyTorch's `train()` / `eval()`.
  public func setTraining(_ training: Bool) {
    for (_, m) in namedModules() { (m as? BatchNorm2d)?.training = training }
  }
}
