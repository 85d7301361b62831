import Foundation
import SwiftProtobuf
import TestSupport
import XCTest
import ZCAutodiff
import ZCNN
import ZCONNX
import ZCTensor

/// Three small CIFAR-shaped ONNX models shipped in Tests/Fixtures/onnx (for the CLI tests, which
/// score them): input [batch, 3, 32, 32] → Conv 3→8 (3×3, stride 2, pad 1, bias) → BatchNormalization
/// (training_mode 1) → Relu → MaxPool 2×2 → depthwise Conv (group 8, no bias) → BatchNormalization →
/// Clip(0, 6) with Constant bounds → GlobalAveragePool → Flatten → Gemm 8→10. The weights are drawn
/// from a seed per model. Regenerate with ZCNAS_WRITE_FIXTURES=1.
final class ShippedModelTests: XCTestCase {
  static func tinyCIFAR(seed: UInt64) throws -> Data {
    typealias T = TinyModel
    func constant(_ name: String, _ v: Float) -> ONNXProtoNode {
      var a = ONNXProtoAttribute(); a.name = "value"; a.type = 4; a.t = T.tensor("", [], [v])
      return T.node("Constant", name, [], [name + "_out"], [a])
    }
    var g = ONNXProtoGraph()
    g.name = "tiny_cifar"
    g.input = [T.value("input", [nil, 3, 32, 32])]
    g.output = [T.value("logits", [nil, 10])]
    g.initializer = [
      T.tensor("stem.0.weight", [8, 3, 3, 3], T.values(216, seed: seed)), T.tensor("stem.0.bias", [8], T.values(8, seed: seed + 1)),
      T.tensor("stem.1.weight", [8], [Float](repeating: 1, count: 8)), T.tensor("stem.1.bias", [8], [Float](repeating: 0, count: 8)),
      T.tensor("stem.1.running_mean", [8], [Float](repeating: 0, count: 8)), T.tensor("stem.1.running_var", [8], [Float](repeating: 1, count: 8)),
      T.tensor("dw.0.weight", [8, 1, 3, 3], T.values(72, seed: seed + 2)),
      T.tensor("dw.1.weight", [8], [Float](repeating: 1, count: 8)), T.tensor("dw.1.bias", [8], [Float](repeating: 0, count: 8)),
      T.tensor("dw.1.running_mean", [8], [Float](repeating: 0, count: 8)), T.tensor("dw.1.running_var", [8], [Float](repeating: 1, count: 8)),
      T.tensor("classifier.weight", [10, 8], T.values(80, seed: seed + 3)), T.tensor("classifier.bias", [10], T.values(10, seed: seed + 4)),
    ]
    g.node = [
      T.node("Conv", "/stem.0/Conv", ["input", "stem.0.weight", "stem.0.bias"], ["c1"],
             [T.attr("kernel_shape", ints: [3, 3]), T.attr("pads", ints: [1, 1, 1, 1]), T.attr("strides", ints: [2, 2])]),
      T.node("BatchNormalization", "/stem.1/BN", ["c1", "stem.1.weight", "stem.1.bias", "stem.1.running_mean", "stem.1.running_var"], ["b1"], [T.attr("training_mode", int: 1)]),
      T.node("Relu", "/relu", ["b1"], ["r1"]),
      T.node("MaxPool", "/pool", ["r1"], ["p1"], [T.attr("kernel_shape", ints: [2, 2]), T.attr("strides", ints: [2, 2])]),
      T.node("Conv", "/dw.0/Conv", ["p1", "dw.0.weight"], ["c2"], [T.attr("group", int: 8), T.attr("kernel_shape", ints: [3, 3]), T.attr("pads", ints: [1, 1, 1, 1])]),
      T.node("BatchNormalization", "/dw.1/BN", ["c2", "dw.1.weight", "dw.1.bias", "dw.1.running_mean", "dw.1.running_var"], ["b2"], [T.attr("training_mode", int: 1)]),
      constant("/lo", 0), constant("/hi", 6),
      T.node("Clip", "/clip", ["b2", "/lo_out", "/hi_out"], ["k2"]),
      T.node("GlobalAveragePool", "/gap", ["k2"], ["gp"]),
      T.node("Flatten", "/flatten", ["gp"], ["f"]),
      T.node("Gemm", "/classifier/Gemm", ["f", "classifier.weight", "classifier.bias"], ["logits"], [T.attr("transB", int: 1)]),
    ]
    var m = ONNXProtoModel()
    m.irVersion = 8
    m.producerName = "ZeroCostNAS tests"
    var op = ONNXProtoOperatorSetID(); op.version = 17
    m.opsetImport = [op]
    m.graph = g
    return try m.serializedBytes()
  }

  static let names = ["tiny_cifar_a", "tiny_cifar_b", "tiny_cifar_c"]

  func testShippedTinyModelsAreCurrentAndRun() throws {
    let dir = TestPaths.fixtures("onnx")
    for (k, name) in Self.names.enumerated() {
      let bytes = try Self.tinyCIFAR(seed: 100 * UInt64(k + 1))
      let path = dir + "/\(name).onnx"
      if ProcessInfo.processInfo.environment["ZCNAS_WRITE_FIXTURES"] == "1" { try bytes.write(to: URL(fileURLWithPath: path)) }
      XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes, "\(path) is stale: rerun with ZCNAS_WRITE_FIXTURES=1")
      let net = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path))
      XCTAssertEqual(net.inputShape, [3, 32, 32])
      XCTAssertEqual(net.numClasses, 10)
      XCTAssertEqual(net.namedModules().filter { $0.1 is any WeightedLayer }.map(\.0), ["stem.0", "dw.0", "classifier"])
    }
  }
}
