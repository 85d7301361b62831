import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCNN
import ZCONNX
import ZCTensor

/// The ONNX fixtures of ../shared/reference/onnx (PyTorch exports with PyTorch's own logits):
/// the graph network must reproduce the train-mode logits from the file's initializers.
final class ONNXFixtureTests: XCTestCase {
  /// Reads a safetensors F32/F64 tensor by hand (independent of the engine's reader).
  func tensor(_ path: String, _ key: String) throws -> Tensor {
    let d = try Data(contentsOf: URL(fileURLWithPath: path))
    let n = d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    let header = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + Int(n)))) as! [String: Any]
    let e = header[key] as! [String: Any]
    let shape = (e["shape"] as! [Int]), off = (e["data_offsets"] as! [Int]), dtype = e["dtype"] as! String
    let body = d.subdata(in: (8 + Int(n) + off[0])..<(8 + Int(n) + off[1]))
    if dtype == "F32" { return Tensor(body.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, shape: shape) }
    return Tensor(body.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }, shape: shape)
  }

  func checkLogits(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let dir = try TestPaths.shared("reference/onnx")
    let graph = try ONNXGraph(contentsOf: dir + "/\(name).onnx")
    let st = dir + "/\(name).safetensors"
    for dtype in [DType.float32, .float64] {
      let net = try ONNXNetwork(graph: graph, dtype: dtype)
      let x = try tensor(st, "input").to(dtype)
      let ref = try tensor(st, dtype == .float32 ? "ref.logits" : "ref.logits_float64")
      let y = GradMode.withoutRecording { net(Variable(x)) }.value
      XCTAssertEqual(y.shape, ref.shape, file: file, line: line)
      let scale = ref.doubles.map { Swift.abs($0) }.max() ?? 1
      let err = zip(y.doubles, ref.doubles).map { Swift.abs($0 - $1) }.max() ?? 0
      XCTAssertLessThan(err / scale, dtype == .float32 ? 1e-4 : 1e-8, "\(name) \(dtype): max |logit error| \(err) (max |logit| \(scale))", file: file, line: line)
    }
  }

  func testNB201Logits() throws { try checkLogits("onnx_nb201_i6111_best") }
  func testResNetLogits() throws { try checkLogits("onnx_resnet_cifar") }
  func testMobileNetV2Logits() throws { try checkLogits("onnx_mobilenetv2_w035") }
  func testViTLogits() throws { try checkLogits("onnx_vit_tiny") }

  /// The ViT's MultiheadAttention out_proj layers are layers whose forward PyTorch never calls
  /// (the README: snip and fisher give exactly 0 for them); every other layer's forward runs.
  func testViTOutProjectionsAreNotCalledThroughTheirForward() throws {
    let net = try ONNXNetwork(graph: try ONNXGraph(contentsOf: TestPaths.fixtures("onnx/vit/onnx_vit_tiny.onnx")))
    let layers = net.namedModules().compactMap { n, m in (m as? any WeightedLayer).map { (n, $0.forwardIsCalled) } }
    XCTAssertEqual(layers.filter { !$0.1 }.map(\.0), ["blocks.0.self_attn.out_proj", "blocks.1.self_attn.out_proj"])
    XCTAssertEqual(layers.count, 8)
  }

  /// The proxies' layers are the json's `conv_linear_layers`, in the same (module) order, and the
  /// parameters are the json `state_dict` keys (num_batches_tracked included).
  func testLayersAndKeysFollowTheJSON() throws {
    try checkLayersAndKeys(TestPaths.fixtures("onnx/vit"), ["onnx_vit_tiny"])  // the copy in Tests/Fixtures
    try checkLayersAndKeys(TestPaths.shared("reference/onnx"), ["onnx_nb201_i6111_best", "onnx_resnet_cifar", "onnx_mobilenetv2_w035"])
  }

  func checkLayersAndKeys(_ dir: String, _ names: [String]) throws {
    for name in names {
      let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).json"))) as! [String: Any]
      let layers = (json["conv_linear_layers"] as! [[String: Any]]).map { $0["weight_initializer"] as! String }
      let keys = (json["state_dict"] as! [[String: Any]]).map { $0["key"] as! String }
      let net = try ONNXNetwork(graph: try ONNXGraph(contentsOf: dir + "/\(name).onnx"))
      let mine = net.namedModules().compactMap { n, m in m is any WeightedLayer ? n + ".weight" : nil }
      XCTAssertEqual(mine, layers, name)
      XCTAssertEqual(net.stateDictKeys(), keys, name)
      let params = ((json["reference"] as! [String: Any])["params"] as! [String: Any])["value"] as! Int
      XCTAssertEqual(net.parameterCount, params, name)
    }
  }
}
