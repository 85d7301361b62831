import ZCAutodiff
import ZCTensor

/// Records what zero-cost proxies need to see inside a forward pass, without changing the
/// network code: the input of every ``ReLU`` layer (NASWOT's binary codes) and the output of every
/// ``Conv2d``/``Linear`` layer (Fisher's activations, as foresight's identity "dummy" after each
/// layer). Install one with `ForwardTrace.$current.withValue(trace) { net(x) }`; layers append in
/// call order. Task-local, so concurrent networks keep separate traces.
public final class ForwardTrace: @unchecked Sendable {
  @TaskLocal public static var current: ForwardTrace?

  public let recordsReLUInputs: Bool
  public let recordsLayerOutputs: Bool
  /// Inputs of ReLU layers, in call order.
  public private(set) var reluInputs: [Tensor] = []
  /// Outputs (after bias) of conv and linear layers, in call order, with the layer.
  public private(set) var layerOutputs: [(layer: ObjectIdentifier, output: Variable)] = []

  public init(reluInputs: Bool, layerOutputs: Bool) {
    recordsReLUInputs = reluInputs
    recordsLayerOutputs = layerOutputs
  }

  public func reluInput(_ x: Tensor) { if recordsReLUInputs { reluInputs.append(x) } }
  public func layerOutput(_ layer: AnyObject, _ y: Variable) {
    if recordsLayerOutputs { layerOutputs.append((ObjectIdentifier(layer), y)) }
  }
}
