import Foundation
import SwiftProtobuf
import TestSupport
import XCTest
import ZCAutodiff
import ZCNN
import ZCONNX
import ZCTensor

/// A small ONNX model written with the reader's own messages: input [N, 2, 4, 4] → Conv (bias,
/// pads 1) → BatchNormalization (training_mode 1) → Relu → GlobalAveragePool → Flatten → Gemm
/// (transB 1) → logits [N, 3].
enum TinyModel {
  static func tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> ONNXProtoTensor {
    var t = ONNXProtoTensor()
    t.name = name; t.dims = shape.map(Int64.init); t.dataType = 1
    t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
    return t
  }
  static func attr(_ name: String, ints: [Int64]) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 7; a.ints = ints; return a }
  static func attr(_ name: String, int: Int64) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 2; a.i = int; return a }
  static func node(_ op: String, _ name: String, _ ins: [String], _ outs: [String], _ attrs: [ONNXProtoAttribute] = []) -> ONNXProtoNode {
    var n = ONNXProtoNode(); n.opType = op; n.name = name; n.input = ins; n.output = outs; n.attribute = attrs; return n
  }
  static func value(_ name: String, _ dims: [Int64?]) -> ONNXProtoValueInfo {
    var v = ONNXProtoValueInfo(); v.name = name
    var tt = ONNXProtoTensorType(); tt.elemType = 1
    var s = ONNXProtoTensorShape()
    s.dim = dims.map { d in var x = ONNXProtoDimension(); if let d { x.dimValue = d } else { x.dimParam = "batch" }; return x }
    tt.shape = s
    var t = ONNXProtoType(); t.tensorType = tt
    v.type = t
    return v
  }
  static func values(_ n: Int, seed: UInt64) -> [Float] {
    var rng = ZCRandom(seed: seed)
    return (0..<n).map { _ in Float(rng.nextNormal() * 0.5) }
  }

  static func model(edit: (inout ONNXProtoGraph) -> Void = { _ in }) -> ONNXProtoModel {
    var g = ONNXProtoGraph()
    g.name = "tiny"
    g.input = [value("input", [nil, 2, 4, 4])]
    g.output = [value("logits", [nil, 3])]
    g.initializer = [
      tensor("features.0.weight", [3, 2, 3, 3], values(54, seed: 1)), tensor("features.0.bias", [3], values(3, seed: 2)),
      tensor("features.1.weight", [3], [1, 0.5, 2]), tensor("features.1.bias", [3], [0, 0.1, -0.2]),
      tensor("features.1.running_mean", [3], [0, 0, 0]), tensor("features.1.running_var", [3], [1, 1, 1]),
      tensor("classifier.weight", [3, 3], values(9, seed: 3)), tensor("classifier.bias", [3], values(3, seed: 4)),
    ]
    g.node = [
      node("Conv", "/features.0/Conv", ["input", "features.0.weight", "features.0.bias"], ["c"], [attr("pads", ints: [1, 1, 1, 1]), attr("kernel_shape", ints: [3, 3])]),
      node("BatchNormalization", "/features.1/BN", ["c", "features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var"], ["b", "rm", "rv"], [attr("training_mode", int: 1)]),
      node("Relu", "/relu", ["b"], ["r"]),
      node("GlobalAveragePool", "/pool", ["r"], ["p"]),
      node("Flatten", "/flatten", ["p"], ["f"]),
      node("Gemm", "/classifier/Gemm", ["f", "classifier.weight", "classifier.bias"], ["logits"], [attr("transB", int: 1)]),
    ]
    edit(&g)
    var m = ONNXProtoModel()
    m.irVersion = 8
    m.producerName = "tests"
    var op = ONNXProtoOperatorSetID(); op.version = 17
    m.opsetImport = [op]
    m.graph = g
    return m
  }

  static func bytes(edit: (inout ONNXProtoGraph) -> Void = { _ in }) throws -> Data { try model(edit: edit).serializedBytes() }
}

final class ONNXReaderTests: XCTestCase {
  func testTinyModelRunsAsTheSameComputationWrittenByHand() throws {
    let g = try ONNXGraph(data: try TinyModel.bytes(), fileName: "tiny.onnx")
    XCTAssertEqual(g.opset, 17)
    XCTAssertEqual(g.nodes.map(\.opType), ["Conv", "BatchNormalization", "Relu", "GlobalAveragePool", "Flatten", "Gemm"])
    let net = try ONNXNetwork(graph: g, dtype: .float64)
    XCTAssertEqual(net.inputShape, [2, 4, 4])
    XCTAssertEqual(net.numClasses, 3)
    XCTAssertEqual(net.stateDictKeys(), ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "features.1.running_mean",
                                         "features.1.running_var", "features.1.num_batches_tracked", "classifier.weight", "classifier.bias"])
    // The proxies' layers: the Conv and Gemm weights, in module order.
    let layers = net.namedModules().filter { $0.1 is any WeightedLayer }.map(\.0)
    XCTAssertEqual(layers, ["features.0", "classifier"])
    XCTAssertEqual(net.namedModules().filter { $0.1 is any BypassableLayer }.map(\.0), ["features.1"])

    let x = randomTensor([5, 2, 4, 4], seed: 11)
    let y = net(Variable(x)).value
    // By hand with the engine's primitives.
    func p(_ k: String) -> Variable { Variable(net.parameter(named: k)!.value) }
    var h = conv2d(Variable(x), p("features.0.weight"), Conv2DGeometry(padding: 1))
    h = add(h, reshape(p("features.0.bias"), [1, 3, 1, 1]))
    h = batchNormTraining(h, gamma: p("features.1.weight"), beta: p("features.1.bias")).0
    let logits = linear(globalAvgPool(relu(h)), weight: p("classifier.weight"), bias: p("classifier.bias")).value
    XCTAssertEqual(y.shape, [5, 3])
    for (a, b) in zip(y.doubles, logits.doubles) { XCTAssertEqual(a, b, accuracy: 1e-12) }

    // Evaluation mode: running statistics (mean 0, variance 1) instead of the batch's.
    net.setTraining(false)
    let ye = net(Variable(x)).value
    var he = add(conv2d(Variable(x), p("features.0.weight"), Conv2DGeometry(padding: 1)), reshape(p("features.0.bias"), [1, 3, 1, 1]))
    he = add(multiply(scale(he, 1 / (1 + 1e-5).squareRoot()), reshape(p("features.1.weight"), [1, 3, 1, 1])), reshape(p("features.1.bias"), [1, 3, 1, 1]))
    let le = linear(globalAvgPool(relu(he)), weight: p("classifier.weight"), bias: p("classifier.bias")).value
    for (a, b) in zip(ye.doubles, le.doubles) { XCTAssertEqual(a, b, accuracy: 1e-12) }
  }

  func testCopyAndPyTorchDefaultInitialisation() throws {
    let g = try ONNXGraph(data: try TinyModel.bytes(), fileName: "tiny.onnx")
    let net = try ONNXNetwork(graph: g)
    let c = net.copy(dtype: .float64)
    XCTAssertEqual(c.parameter(named: "classifier.weight")!.value.doubles, net.parameter(named: "classifier.weight")!.value.doubles)
    let a = try ONNXNetwork(graph: g, initialisation: .pytorchDefault(seed: 7)), b = try ONNXNetwork(graph: g, initialisation: .pytorchDefault(seed: 7))
    let w = a.parameter(named: "features.0.weight")!.value.doubles
    XCTAssertEqual(w, b.parameter(named: "features.0.weight")!.value.doubles)
    XCTAssertNotEqual(w, net.parameter(named: "features.0.weight")!.value.doubles)
    // U(±1/√fan_in), fan_in = 2·3·3.
    XCTAssertTrue(w.allSatisfy { Swift.abs($0) <= 1 / 18.0.squareRoot() })
    XCTAssertEqual(a.parameter(named: "features.1.weight")!.value.doubles, [1, 1, 1])
  }

  func assertError(_ data: Data, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    do {
      let g = try ONNXGraph(data: data, fileName: "bad.onnx")
      _ = try ONNXNetwork(graph: g)
      XCTFail("expected an error containing \(parts)", file: file, line: line)
    } catch let e as ONNXError {
      XCTAssertFalse(e.description.contains("\n"), "one line: \(e)", file: file, line: line)
      XCTAssertTrue(e.description.hasPrefix("bad.onnx"), "\(e)", file: file, line: line)
      for p in parts { XCTAssertTrue(e.description.contains(p), "'\(p)' not in: \(e)", file: file, line: line) }
    } catch { XCTFail("unexpected error type: \(error)", file: file, line: line) }
  }

  func testMalformedFilesGiveOneLineErrors() throws {
    let good = try TinyModel.bytes()
    assertError(Data(), contains: ["empty"])
    assertError(good.prefix(good.count / 2), contains: ["not an ONNX model"])
    assertError(Data("hello, this is not a protobuf model at all".utf8), contains: ["not an ONNX model"])
    assertError(try TinyModel.bytes { $0.initializer.removeAll { $0.name == "classifier.weight" } }, contains: ["/classifier/Gemm", "classifier.weight", "missing initializer"])
    assertError(try TinyModel.bytes { $0.node[0].input[0] = "r" }, contains: ["cycle"])
    assertError(try TinyModel.bytes { $0.input = [TinyModel.value("input", [nil, 2, 4])] }, contains: ["input 'input'", "rank 4"])
    assertError(try TinyModel.bytes { $0.node[2].opType = "Celu" }, contains: ["'/relu' (Celu)", "opset 17", "not supported"])
    assertError(try TinyModel.bytes { $0.node[0].input[1] = "classifier.weight" }, contains: ["/features.0/Conv", "2-D convolution"])
    assertError(try TinyModel.bytes { $0.initializer[0].rawData.removeLast() }, contains: ["features.0.weight", "bytes of data"])
    // A 3×3 kernel, stride 2, no padding, on a 2×2 input: ⌊(2 − 3)/2⌋ + 1 = 0 windows (PyTorch refuses
    // it; truncating division used to give one window that read past the input).
    assertError(try TinyModel.bytes {
      $0.input = [TinyModel.value("input", [nil, 2, 2, 2])]
      $0.node[0].attribute = [TinyModel.attr("pads", ints: [0, 0, 0, 0]), TinyModel.attr("kernel_shape", ints: [3, 3]), TinyModel.attr("strides", ints: [2, 2])]
    }, contains: ["/features.0/Conv", "too small"])
    // Strides and dilations are bounded as pads are (the reader already refuses values beyond ±2^53).
    assertError(try TinyModel.bytes { $0.node[0].attribute.append(TinyModel.attr("dilations", ints: [1 << 30, 1 << 30])) }, contains: ["/features.0/Conv", "dilations", "not valid"])
  }

  /// 1,000 byte-mutated copies of a model: each is read (and built when it reads) or refused with
  /// a one-line ONNXError naming the copy; none may crash the process.
  func fuzz(_ bytes: [UInt8], focus: Range<Int>?, seed: UInt64, copies: Int = 1000) {
    let r = assertByteMutationsLoadOrThrow(bytes, seed: seed, copies: copies, focus: { _ in focus }, rejecting: ONNXError.self,
                                           prefix: { "copy\($0).onnx: " }) { i, data, _ in
      _ = try ONNXNetwork(graph: try ONNXGraph(data: data, fileName: "copy\(i).onnx"))
    }
    XCTAssertGreaterThan(r.rejected, 0)
  }

  func testByteMutatedTinyModelsNeverCrash() throws {
    fuzz(Array(try TinyModel.bytes()), focus: nil, seed: 17)
  }

  /// The ViT copy in Tests/Fixtures (Softmax, LayerNormalization, Erf, batched MatMul, the GELU
  /// fusion, 142 Constants of shape arithmetic): mutations go to the nodes, written before the weights.
  func testByteMutatedViTNeverCrashes() throws {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures("onnx/vit/onnx_vit_tiny.onnx"))))
    fuzz(bytes, focus: 0..<min(bytes.count, 65_536), seed: 19)
  }

  func testByteMutatedFixtureNeverCrashes() throws {
    let path = try TestPaths.shared("reference/onnx/onnx_resnet_cifar.onnx")
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    // The exporter writes the nodes before the initializers: most mutations go to the graph's structure.
    fuzz(bytes, focus: 0..<min(bytes.count, 16_384), seed: 18)
  }
}
