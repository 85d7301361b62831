import ZCAutodiff
import ZCTensor

/// A module that maps one variable to another (`callAsFunction`), so layers compose.
public protocol Layer: Module {
  func callAsFunction(_ x: Variable) -> Variable
}

extension Conv2d: WeightedLayer {}
extension Linear: WeightedLayer {}
extension BatchNorm2d: Layer {}

/// Layers applied in order (PyTorch `nn.Sequential`); children are named "0", "1", ….
public final class Sequential: Layer {
  public let layers: [any Layer]
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true

  public init(_ layers: [any Layer]) { self.layers = layers }

  public var children: [(String, any Module)] { layers.enumerated().map { (String($0.offset), $0.element as any Module) } }

  /// Each layer is a traced module call named by its position (``ForwardTrace/module(_:_:)``).
  public func callAsFunction(_ x: Variable) -> Variable {
    guard ForwardTrace.current?.recordsModuleOutputs == true else { return layers.reduce(x) { $1($0) } }
    var y = x
    for (i, layer) in layers.enumerated() { y = ForwardTrace.module(String(i)) { layer(y) } }
    return y
  }
}

/// ReLU as a layer (no parameters), so position indices match PyTorch's `nn.Sequential`.
public final class ReLU: Layer {
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable {
    ForwardTrace.current?.reluInput(x.value)
    return relu(x)
  }
}

/// An indexed list of modules (PyTorch `nn.ModuleList`); children are named "0", "1", ….
public final class ModuleList: Module {
  public let items: [any Module]
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public init(_ items: [any Module]) { self.items = items }
  public var children: [(String, any Module)] { items.enumerated().map { (String($0.offset), $0.element) } }
}

/// Average pooling as a layer (PyTorch `nn.AvgPool2d`), no parameters.
public final class AvgPool2d: Layer {
  public let geometry: AvgPool2DGeometry
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public init(_ geometry: AvgPool2DGeometry) { self.geometry = geometry }
  public func callAsFunction(_ x: Variable) -> Variable { avgPool2d(x, geometry) }
}

/// A network that reports the output of every module call it knows of (``ForwardTrace/module(_:_:)``
/// or ``ForwardTrace/moduleOutput(_:_:)``), containers included: NAS-Bench-201 reports PyTorch's
/// forward-hook firings exactly; an ONNX graph reports every scope of the exporter's node names,
/// which lacks what the export drops (docs/metrics.md, "meco"). MeCo and MeCo_opt read only such
/// networks: a network that reports only some of its modules (a ``Sequential`` of layers that do
/// not report their insides) would give a partial sum without saying so, so they are missing there.
public protocol TracesEveryModule: Layer {}

/// An image classifier: NCHW images `[N] + inputShape` → logits `[N, numClasses]`.
public protocol ImageClassifier: Layer {
  /// `[C, H, W]` of one input image.
  var inputShape: [Int] { get }
  var numClasses: Int { get }
  /// The same architecture with every parameter and buffer copied, in `dtype`.
  func copy(dtype: DType) -> Self
}
