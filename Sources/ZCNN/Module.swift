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

/// Errors loading named tensors into a module.
public enum StateError: Error, CustomStringConvertible, Equatable {
  case missingKey(String)
  case unexpectedKey(String)
  case shapeMismatch(key: String, model: [Int], file: [Int])

  public var description: String {
    switch self {
    case let .missingKey(k): return "weights: the model's tensor '\(k)' is missing from the file"
    case let .unexpectedKey(k): return "weights: the file's tensor '\(k)' is not in the model"
    case let .shapeMismatch(k, m, f): return "weights: '\(k)' has shape \(f) in the file but \(m) in the model"
    }
  }
}

extension Module {
  /// Every parameter and buffer by its PyTorch `state_dict` key (parameters of a module first,
  /// then its buffers, module by module). `num_batches_tracked` is a Float64 scalar.
  public func stateDictKeys() -> [String] {
    var out: [String] = []
    for (name, m) in namedModules() {
      let prefix = name.isEmpty ? "" : name + "."
      out += m.ownParameters.map { prefix + $0.0 } + m.ownBuffers.map { prefix + $0.0 }
    }
    return out
  }

  /// Loads parameters and batch-norm buffers by key (strict, as `load_state_dict(strict=True)`):
  /// every model key must be present, no other key may be, shapes must agree. Values are
  /// converted to each tensor's dtype. `num_batches_tracked` takes `integers[key]`.
  /// - Throws: ``StateError`` naming the first offending key; nothing is changed then.
  public func loadState(floats: [String: Tensor], integers: [String: Int]) throws {
    var plan: [() -> Void] = []
    var seen = Set<String>()
    for (name, m) in namedModules() {
      let prefix = name.isEmpty ? "" : name + "."
      for (pname, p) in m.ownParameters {
        let key = prefix + pname
        guard let t = floats[key] else { throw StateError.missingKey(key) }
        guard t.shape == p.shape else { throw StateError.shapeMismatch(key: key, model: p.shape, file: t.shape) }
        let v = t.to(p.value.dtype)
        plan.append { p.value = v }
        seen.insert(key)
      }
      if let bn = m as? BatchNorm2d, bn.trackRunningStats {
        for (bname, shape) in [("running_mean", bn.runningMean.shape), ("running_var", bn.runningVar.shape)] {
          let key = prefix + bname
          guard let t = floats[key] else { throw StateError.missingKey(key) }
          guard t.shape == shape else { throw StateError.shapeMismatch(key: key, model: shape, file: t.shape) }
          let v = t.to(bn.runningMean.dtype)
          plan.append { if bname == "running_mean" { bn.runningMean = v } else { bn.runningVar = v } }
          seen.insert(key)
        }
        let key = prefix + "num_batches_tracked"
        guard let n = integers[key] else { throw StateError.missingKey(key) }
        plan.append { bn.numBatchesTracked = n }
        seen.insert(key)
      }
    }
    for key in Array(floats.keys) + Array(integers.keys) where !seen.contains(key) {
      throw StateError.unexpectedKey(key)
    }
    for step in plan { step() }
  }

  /// Copies every parameter and buffer of `other` (same architecture) into this module,
  /// converting dtype and applying `transform` to parameters (for example `abs` for synflow).
  public func copyState(from other: some Module, transform: ((Tensor) -> Tensor)? = nil) {
    let mine = namedModules(), theirs = other.namedModules()
    precondition(mine.count == theirs.count, "copyState between different architectures")
    for ((_, a), (_, b)) in zip(mine, theirs) {
      for ((_, p), (_, q)) in zip(a.ownParameters, b.ownParameters) {
        let v = q.value.to(p.value.dtype)
        p.value = transform?(v) ?? v
      }
      if let x = a as? BatchNorm2d, let y = b as? BatchNorm2d {
        x.runningMean = y.runningMean.to(x.runningMean.dtype)
        x.runningVar = y.runningVar.to(x.runningVar.dtype)
        x.numBatchesTracked = y.numBatchesTracked
      }
    }
  }
}
