import Foundation
import SwiftProtobuf
import ZCTensor

/// Builds an ONNX model (IR 8, default-domain opset 17) node by node: initializers (float tensors,
/// raw little-endian data in their own dtype), nodes with generated output names, one image input
/// `[batch, C, H, W]` and one output `[batch, K]` with a symbolic batch axis, as PyTorch's exporter
/// writes them (`input`, `logits`). The bytes read back with ``ONNXGraph``.
public final class ONNXModelWriter {
  var graph = ONNXProtoGraph()
  var counter = 0
  public let producer: String

  public init(name: String, producer: String) {
    graph.name = name
    self.producer = producer
  }

  /// Adds an initializer (float32 or float64 by the tensor's dtype).
  public func initializer(_ name: String, _ t: Tensor) {
    var p = ONNXProtoTensor()
    p.name = name
    p.dims = t.shape.map(Int64.init)
    switch t.dtype {
    case .float32:
      p.dataType = 1
      p.rawData = t.floats.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { Data(buffer: $0) }
    case .float64:
      p.dataType = 11
      p.rawData = t.doubles.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { Data(buffer: $0) }
    }
    graph.initializer.append(p)
  }

  /// An integer attribute.
  public static func int(_ name: String, _ v: Int) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 2; a.i = Int64(v); return a }
  /// An integer-list attribute.
  public static func ints(_ name: String, _ v: [Int]) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 7; a.ints = v.map(Int64.init); return a }
  /// A float attribute.
  public static func float(_ name: String, _ v: Double) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 1; a.f = Float(v); return a }

  /// Appends a node `op(inputs)` named `name` and returns its (first) output's name.
  @discardableResult
  /// `outputs` > 1 declares further (unused) outputs, as training-mode BatchNormalization needs.
  public func node(_ op: String, _ inputs: [String], name: String, attributes: [ONNXProtoAttribute] = [], output: String? = nil, outputs: Int = 1) -> String {
    counter += 1
    let out = output ?? "\(name)_output_\(counter)"
    var n = ONNXProtoNode()
    n.opType = op; n.name = name; n.input = inputs; n.output = [out] + (1..<max(outputs, 1)).map { "\(name)_output_\(counter)_\($0)" }; n.attribute = attributes
    graph.node.append(n)
    return out
  }

  /// A scalar float `Constant` node (in the given element type: float32 1, float64 11).
  public func constant(_ value: Double, name: String, elementType: Int32 = 1) -> String {
    var t = ONNXProtoTensor()
    t.dataType = elementType
    if elementType == 11 { t.doubleData = [value] } else { t.floatData = [Float(value)] }
    var a = ONNXProtoAttribute(); a.name = "value"; a.type = 4; a.t = t
    return node("Constant", [], name: name, attributes: [a])
  }

  static func value(_ name: String, elementType: Int32, dims: [Int?]) -> ONNXProtoValueInfo {
    var v = ONNXProtoValueInfo(); v.name = name
    var tt = ONNXProtoTensorType(); tt.elemType = elementType
    var s = ONNXProtoTensorShape()
    s.dim = dims.map { d in var x = ONNXProtoDimension(); if let d { x.dimValue = Int64(d) } else { x.dimParam = "batch" }; return x }
    tt.shape = s
    var t = ONNXProtoType(); t.tensorType = tt
    v.type = t
    return v
  }

  /// The serialized model with data input `input` `[batch] + inputShape` and output `output` `[batch, classes]`.
  /// - Throws: SwiftProtobuf's encoding errors (none for well-formed messages).
  public func serialized(input: String, inputShape: [Int], output: String, classes: Int, dtype: DType) throws -> Data {
    let et: Int32 = dtype == .float32 ? 1 : 11
    var g = graph
    g.input = [Self.value(input, elementType: et, dims: [nil] + inputShape.map { $0 })]
    g.output = [Self.value(output, elementType: et, dims: [nil, classes])]
    var m = ONNXProtoModel()
    m.irVersion = 8
    m.producerName = producer
    var op = ONNXProtoOperatorSetID(); op.version = 17
    m.opsetImport = [op]
    m.graph = g
    return try m.serializedBytes()
  }
}
