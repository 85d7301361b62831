import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCEngine
import ZCNN
import ZCONNX
import ZCSpaces
import ZCTensor

/// `export-onnx` round trip: an NB201 network written as ONNX and read back by the graph network
/// computes the same logits and proxies as the native network (nwot included: the export keeps
/// one Relu per edge); the ONNX tools accept the file (Python, when onnx/onnxruntime are installed).
final class ONNXExportTests: XCTestCase {
  /// Every edge kind: conv 3×3, none, avg pool, skip, conv 1×1.
  static let arch = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"

  func network(_ dtype: DType) throws -> NB201Network {
    var rng = ZCRandom(seed: 42)
    return NB201Network(try NB201Architecture(parsing: Self.arch), channels: 4, cellsPerStage: 1, numClasses: 10, imageSize: 16, dtype: dtype, rng: &rng)
  }

  func testRoundTripGivesTheNativeValues() throws {
    let native = try network(.float64)
    let data = try NB201ONNXExport.model(native)
    let graph = try ONNXGraph(data: data, fileName: "export.onnx")
    let net = try ONNXNetwork(graph: graph, dtype: .float64)
    XCTAssertEqual(net.stateDictKeys(), native.stateDictKeys())
    XCTAssertEqual(net.namedModules().compactMap { $0.1 is any WeightedLayer ? $0.0 : nil },
                   native.namedModules().compactMap { $0.1 is any WeightedLayer ? $0.0 : nil })
    var rng = ZCRandom(seed: 3)
    let x = Tensor((0..<(16 * 3 * 16 * 16)).map { _ in rng.nextNormal() }, shape: [16, 3, 16, 16])
    let y = (0..<16).map { $0 % 10 }
    let a = GradMode.withoutRecording { net(Variable(x)) }.value.doubles, b = GradMode.withoutRecording { native(Variable(x)) }.value.doubles
    XCTAssertEqual(a.count, b.count)
    for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-12) }
    let proxies = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "plain", "l2_norm", "params"].compactMap { proxy(named: $0) }
    let ra = evaluate(proxies, network: net, images: x, labels: y), rb = evaluate(proxies, network: native, images: x, labels: y)
    for (p, q) in zip(ra, rb) {
      guard let u = p.value.number, let v = q.value.number else { XCTFail("\(p.metric): \(p.value) vs \(q.value)"); continue }
      XCTAssertLessThanOrEqual(Swift.abs(u - v), 1e-9 * max(Swift.abs(v), 1e-300), "\(p.metric): onnx \(u) native \(v)")
    }
  }

  func testONNXToolsAcceptTheExport() throws {
    let check = Process()
    check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    check.arguments = ["python3", "-c", "import onnx, onnxruntime, numpy"]
    check.standardError = FileHandle.nullDevice
    try check.run(); check.waitUntilExit()
    guard check.terminationStatus == 0 else { throw XCTSkip("python3 with onnx==1.23.2, onnxruntime==1.32.0 and numpy is not installed") }
    let native = try network(.float32)
    let dir = try temporaryFolder("zcnas-onnx-export")
    let model = dir.appendingPathComponent("nb201.onnx"), xin = dir.appendingPathComponent("x.f32"), yout = dir.appendingPathComponent("y.f32")
    try NB201ONNXExport.model(native).write(to: model)
    var rng = ZCRandom(seed: 5)
    let x = Tensor((0..<(8 * 3 * 16 * 16)).map { _ in Float(rng.nextNormal()) }, shape: [8, 3, 16, 16])
    let y = GradMode.withoutRecording { native(Variable(x)) }.value
    try x.floats.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: xin)
    try y.floats.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: yout)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", TestPaths.root.appendingPathComponent("scripts/check_onnx_export.py").path, model.path, xin.path, yout.path, "8", "3", "16", "16", "10"]
    let out = Pipe()
    p.standardOutput = out; p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, text)
    XCTAssertTrue(text.contains("ok"), text)
  }
}
