import ZCAutodiff
import ZCTensor

/// Records what zero-cost proxies need to see inside a forward pass, without changing the
/// network code: the input of every ``ReLU`` layer (NASWOT's binary codes) and the output of every
/// ``Conv2d``/``Linear`` layer (Fisher's activations, as foresight's identity "dummy" after each
/// layer). Install one with `ForwardTrace.$current.withValue(trace) { net(x) }`; layers append in
/// call order. Task-local, so concurrent networks keep separate traces.
///
/// With `moduleOutputs`, it also records the output of every module call, as a PyTorch forward
/// hook registered on every module of `named_modules()` sees them (containers included, so one
/// tensor is recorded once per module that returns it; MeCo's hooks, Jiang et al. 2023): networks
/// report them through ``ForwardTrace/module(_:_:)`` (``Sequential`` does for its layers) or
/// ``moduleOutput(_:_:)``, in forward-completion order (a child before its container).
public final class ForwardTrace: @unchecked Sendable {
  @TaskLocal public static var current: ForwardTrace?

  public let recordsReLUInputs: Bool
  public let recordsLayerOutputs: Bool
  public let recordsModuleOutputs: Bool
  /// Inputs of ReLU layers, in call order.
  public private(set) var reluInputs: [Tensor] = []
  /// Outputs (after bias) of conv and linear layers, in call order, with the layer.
  public private(set) var layerOutputs: [(layer: ObjectIdentifier, output: Variable)] = []
  /// Module-output state (``moduleOutput(_:_:)``): records, the enclosing module names, and the
  /// recorded variables by identity.
  var moduleOutputRecords: [ModuleOutput] = []
  var moduleScope: [String] = []
  var moduleTensorIndex: [ObjectIdentifier: Int] = [:]
  var moduleTensors: [Variable] = []

  public init(reluInputs: Bool, layerOutputs: Bool, moduleOutputs: Bool = false) {
    recordsReLUInputs = reluInputs
    recordsLayerOutputs = layerOutputs
    recordsModuleOutputs = moduleOutputs
  }

  public func reluInput(_ x: Tensor) { if recordsReLUInputs { reluInputs.append(x) } }
  public func layerOutput(_ layer: AnyObject, _ y: Variable) {
    if recordsLayerOutputs { layerOutputs.append((ObjectIdentifier(layer), y)) }
  }
}

/// One module call's output as a forward hook sees it: the module's dotted name (PyTorch's
/// `named_modules()` name where the network has one) and its output tensor. Outputs that are one
/// tensor (a container returning its last child's output, an identity) share `tensorIndex`.
public struct ModuleOutput: @unchecked Sendable {
  public let module: String
  public let output: Tensor
  /// Equal for records of the same tensor object, numbered in first-record order.
  public let tensorIndex: Int
}

extension ForwardTrace {
  /// Records `y` as the output of the module `module` (a full dotted name), when this trace
  /// records module outputs.
  public func moduleOutput(_ module: String, _ y: Variable) {
    guard recordsModuleOutputs else { return }
    let id = ObjectIdentifier(y)
    let k: Int
    if let i = moduleTensorIndex[id] {
      k = i
    } else {
      k = moduleTensors.count
      moduleTensorIndex[id] = k
      moduleTensors.append(y)  // kept alive, so its identifier is not reused
    }
    moduleOutputRecords.append(ModuleOutput(module: module, output: y.value, tensorIndex: k))
  }

  /// Module outputs in forward-completion order (empty unless `moduleOutputs` was requested).
  public var moduleOutputs: [ModuleOutput] { moduleOutputRecords }

  /// Runs `body` as the call of the child module `name` of the module being traced (its dotted
  /// name is the current scope's name, ".", `name`) and records its output after the outputs of
  /// the modules `body` calls. Without a trace that records module outputs it only runs `body`.
  @inlinable
  public static func module(_ name: @autoclosure () -> String, _ body: () -> Variable) -> Variable {
    guard let t = current, t.recordsModuleOutputs else { return body() }
    return t.tracedModule(name(), body)
  }

  @usableFromInline
  func tracedModule(_ name: String, _ body: () -> Variable) -> Variable {
    moduleScope.append(name)
    let full = moduleScope.joined(separator: ".")
    let y = body()
    moduleScope.removeLast()
    moduleOutput(full, y)
    return y
  }
}
