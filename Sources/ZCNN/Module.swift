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

/// The value of one buffer (non-trainable state in the `state_dict`): a floating-point tensor
/// (batch norm's `running_mean`, `running_var`) or an integer scalar (`num_batches_tracked`,
/// an I64 scalar in PyTorch).
public enum BufferValue: Equatable, CustomStringConvertible {
  case float(Tensor)
  case integer(Int)

  /// The tensor of a float buffer, nil for an integer one.
  public var tensor: Tensor? { if case let .float(t) = self { return t } else { return nil } }
  /// The value of an integer buffer, nil for a float one.
  public var integer: Int? { if case let .integer(n) = self { return n } else { return nil } }
  /// `[]` for an integer scalar, the tensor's shape otherwise.
  public var shape: [Int] { tensor?.shape ?? [] }

  public static func == (a: BufferValue, b: BufferValue) -> Bool {
    switch (a, b) {
    case let (.float(x), .float(y)): return x.dtype == y.dtype && x.shape == y.shape && x.doubles == y.doubles
    case let (.integer(m), .integer(n)): return m == n
    default: return false
    }
  }

  public var description: String {
    switch self {
    case let .float(t): return "float buffer \(t.dtype) \(t.shape)"
    case let .integer(n): return "integer buffer \(n)"
    }
  }
}

/// A network component, in the style of PyTorch's `nn.Module` (and mlx-swift's `MLXNN.Module`):
/// it owns parameters and buffers, contains child modules under attribute names, so every tensor
/// has a stable dotted name (`cells.3.layers.0.op.1.weight`) equal to the PyTorch `state_dict`
/// key, and carries a training flag. Everything generic (walking the tree, loading, copying and
/// saving state, switching mode) goes through these requirements, with no case per layer type.
public protocol Module: AnyObject {
  /// Child modules with their attribute names (list positions are written "0", "1", ...).
  var children: [(String, any Module)] { get }
  /// Parameters owned directly, with their attribute names.
  var ownParameters: [(String, Parameter)] { get }
  /// Non-trainable state owned directly, with attribute names, in `state_dict` order (batch norm:
  /// `running_mean`, `running_var`, `num_batches_tracked`). Default: none.
  var ownBuffers: [(String, BufferValue)] { get }
  /// Replaces the own buffer `name` (one of ``ownBuffers``' names, no dots) by `value`. A float
  /// value is converted to the buffer's dtype. Default: no buffers, so every name throws.
  /// - Throws: ``StateError/unexpectedKey(_:)`` when the module has no buffer `name`;
  ///   ``StateError/bufferKindMismatch(key:model:file:)`` for a float value given to an integer
  ///   buffer or the reverse; ``StateError/shapeMismatch(key:model:file:)`` when the shapes differ.
  ///   Nothing is changed when it throws.
  func setBuffer(_ name: String, _ value: BufferValue) throws
  /// Training mode (true) or evaluation mode (false), as PyTorch's `Module.training`. Only
  /// layers whose computation depends on it read it (``BatchNorm2d``); every other module stores
  /// it. Set it on a whole tree with ``Module/setTraining(_:)``. Modules start in training mode.
  var training: Bool { get set }
}

extension Module {
  public var children: [(String, any Module)] { [] }
  public var ownParameters: [(String, Parameter)] { [] }
  public var ownBuffers: [(String, BufferValue)] { [] }
  public func setBuffer(_ name: String, _ value: BufferValue) throws { throw StateError.unexpectedKey(name) }

  /// Checks `value` against the current own buffer `name` (kind and shape) and returns it converted
  /// to the buffer's dtype: the validation an implementation of ``setBuffer(_:_:)`` runs before
  /// it stores anything.
  /// - Throws: as ``setBuffer(_:_:)``.
  public func validatedBuffer(_ name: String, _ value: BufferValue) throws -> BufferValue {
    guard let current = ownBuffers.first(where: { $0.0 == name })?.1 else { throw StateError.unexpectedKey(name) }
    switch (current, value) {
    case let (.float(c), .float(v)):
      guard c.shape == v.shape else { throw StateError.shapeMismatch(key: name, model: c.shape, file: v.shape) }
      return .float(v.to(c.dtype))
    case (.integer, .integer):
      return value
    default:
      throw StateError.bufferKindMismatch(key: name, model: current.description, file: value.description)
    }
  }

  /// Every parameter of this module and its descendants, by dotted name, in registration order
  /// (own parameters first, then children depth-first, as PyTorch's `named_parameters`).
  public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
    var out = ownParameters.map { (prefix + $0.0, $0.1) }
    for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
    return out
  }

  /// Every buffer by dotted name, module by module (own buffers first, then children depth-first).
  public func namedBuffers(prefix: String = "") -> [(String, BufferValue)] {
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

  /// The buffer with a dotted name (`lastact.0.running_var`), or nil.
  public func buffer(named name: String) -> BufferValue? {
    namedBuffers().first { $0.0 == name }?.1
  }

  /// Number of trainable scalars.
  public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.value.count } }

  /// Sets ``training`` on this module and every descendant, like PyTorch's `train()` / `eval()`:
  /// training mode (batch statistics in batch norm) or evaluation mode (running statistics).
  public func setTraining(_ training: Bool) {
    for (_, m) in namedModules() { m.training = training }
  }
}

/// Errors loading named tensors into a module.
public enum StateError: Error, CustomStringConvertible, Equatable {
  case missingKey(String)
  case unexpectedKey(String)
  case shapeMismatch(key: String, model: [Int], file: [Int])
  /// A float value for an integer buffer or the reverse (`model` and `file` describe both).
  case bufferKindMismatch(key: String, model: String, file: String)

  public var description: String {
    switch self {
    case let .missingKey(k): return "weights: the model's tensor '\(k)' is missing from the file"
    case let .unexpectedKey(k): return "weights: the file's tensor '\(k)' is not in the model"
    case let .shapeMismatch(k, m, f): return "weights: '\(k)' has shape \(f) in the file but \(m) in the model"
    case let .bufferKindMismatch(k, m, f): return "weights: '\(k)' is a \(f) in the file but a \(m) in the model"
    }
  }
}

extension Module {
  /// Every parameter and buffer by its PyTorch `state_dict` key (parameters of a module first,
  /// then its buffers, module by module).
  public func stateDictKeys() -> [String] {
    var out: [String] = []
    for (name, m) in namedModules() {
      let prefix = name.isEmpty ? "" : name + "."
      out += m.ownParameters.map { prefix + $0.0 } + m.ownBuffers.map { prefix + $0.0 }
    }
    return out
  }

  /// Loads parameters and buffers by key (strict, as `load_state_dict(strict=True)`): every model
  /// key must be present, no other key may be, shapes must agree. Values are converted to each
  /// tensor's dtype. Float buffers (`running_mean`, `running_var`) take `floats[key]`, integer
  /// buffers (`num_batches_tracked`) take `integers[key]`; parameters and buffers are checked
  /// module by module in ``stateDictKeys()`` order.
  /// - Throws: ``StateError`` naming the first offending key (missing, unexpected, wrong shape);
  ///   nothing is changed then.
  public func loadState(floats: [String: Tensor], integers: [String: Int]) throws {
    var plan: [() throws -> Void] = []
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
      for (bname, current) in m.ownBuffers {
        let key = prefix + bname
        let given: BufferValue
        switch current {
        case .float:
          guard let t = floats[key] else { throw StateError.missingKey(key) }
          given = .float(t)
        case .integer:
          guard let n = integers[key] else { throw StateError.missingKey(key) }
          given = .integer(n)
        }
        let v: BufferValue
        do { v = try m.validatedBuffer(bname, given) } catch let e as StateError { throw e.prefixed(prefix) }
        plan.append { try m.setBuffer(bname, v) }
        seen.insert(key)
      }
    }
    for key in Array(floats.keys) + Array(integers.keys) where !seen.contains(key) {
      throw StateError.unexpectedKey(key)
    }
    for step in plan { try step() }
  }

  /// Copies every parameter and buffer of `other` (same architecture) into this module,
  /// converting dtype and applying `transform` to parameters (for example `abs` for synflow).
  /// Buffers are copied unchanged (through ``setBuffer(_:_:)``); training flags are not copied.
  /// - Precondition: the two module trees have the same modules, parameters and buffers.
  public func copyState(from other: some Module, transform: ((Tensor) -> Tensor)? = nil) {
    let mine = namedModules(), theirs = other.namedModules()
    precondition(mine.count == theirs.count, "copyState between different architectures")
    for ((_, a), (_, b)) in zip(mine, theirs) {
      for ((_, p), (_, q)) in zip(a.ownParameters, b.ownParameters) {
        let v = q.value.to(p.value.dtype)
        p.value = transform?(v) ?? v
      }
      let mineBuffers = a.ownBuffers, theirBuffers = b.ownBuffers
      precondition(mineBuffers.map(\.0) == theirBuffers.map(\.0), "copyState between modules with different buffers")
      for ((name, _), (_, v)) in zip(mineBuffers, theirBuffers) {
        do { try a.setBuffer(name, v) } catch { preconditionFailure("copyState: buffer '\(name)': \(error)") }
      }
    }
  }
}

extension StateError {
  /// The same error with `prefix` put before its key (own buffer name → dotted state_dict key).
  func prefixed(_ prefix: String) -> StateError {
    switch self {
    case let .missingKey(k): return .missingKey(prefix + k)
    case let .unexpectedKey(k): return .unexpectedKey(prefix + k)
    case let .shapeMismatch(k, m, f): return .shapeMismatch(key: prefix + k, model: m, file: f)
    case let .bufferKindMismatch(k, m, f): return .bufferKindMismatch(key: prefix + k, model: m, file: f)
    }
  }
}
