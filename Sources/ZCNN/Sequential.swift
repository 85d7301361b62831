import ZCAutodiff

/// A module that maps one variable to another (`callAsFunction`), so layers compose.
public protocol Layer: Module {
  func callAsFunction(_ x: Variable) -> Variable
}

extension Conv2d: Layer {}
extension Linear: Layer {}
extension BatchNorm2d: Layer {}

/// Layers applied in order (PyTorch `nn.Sequential`); children are named "0", "1", ….
public final class Sequential: Layer {
  public let layers: [any Layer]

  public init(_ layers: [any Layer]) { self.layers = layers }

  public var children: [(String, any Module)] { layers.enumerated().map { (String($0.offset), $0.element as any Module) } }

  public func callAsFunction(_ x: Variable) -> Variable { layers.reduce(x) { $1($0) } }
}

/// ReLU as a layer (no parameters), so position indices match PyTorch's `nn.Sequential`.
public final class ReLU: Layer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { relu(x) }
}
