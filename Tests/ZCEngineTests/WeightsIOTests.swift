import Foundation
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// Saving and loading a network's state through the generic module buffers: the file holds every
/// state_dict key in order, running statistics as floats, `num_batches_tracked` as an I64 scalar,
/// and loading it into a fresh network restores every parameter and buffer exactly.
final class WeightsIOTests: XCTestCase {
  func testSaveThenLoadRestoresParametersAndBuffers() throws {
    let arch = try NB201Architecture(parsing: "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    var rng = ZCRandom(seed: 3)
    let net = NB201Network(arch, channels: 4, cellsPerStage: 1, imageSize: 8, dtype: .float64, rng: &rng)
    let x = Initializer.normal(mean: 0, std: 1).make(shape: [3, 3, 8, 8], dtype: .float64, rng: &rng)
    _ = net(Variable(x))
    _ = net(Variable(x))  // two training-mode passes: running statistics moved, 2 batches tracked

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("weightsio-\(UUID().uuidString).safetensors").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try WeightsIO.save(net, to: path, metadata: ["arch": arch.description])
    let file = try SafetensorsFile(path: path)
    XCTAssertEqual(file.keys, net.stateDictKeys())
    let counts = file.keys.filter { $0.hasSuffix(".num_batches_tracked") }
    XCTAssertEqual(counts.count, net.namedModules().filter { $0.1 is BatchNorm2d }.count)
    for key in counts {
      guard case let .int(v, shape)? = file.tensors[key] else { return XCTFail("\(key) is not stored as an integer") }
      XCTAssertEqual(v, [2], key)
      XCTAssertEqual(shape, [], key)
    }

    var other = ZCRandom(seed: 99)
    let fresh = NB201Network(arch, channels: 4, cellsPerStage: 1, imageSize: 8, dtype: .float64, rng: &other)
    try WeightsIO.load(file, into: fresh)
    XCTAssertEqual(fresh.namedBuffers().map(\.0), net.namedBuffers().map(\.0))
    XCTAssertEqual(fresh.namedBuffers().map(\.1), net.namedBuffers().map(\.1))
    for ((k, p), (_, q)) in zip(fresh.namedParameters(), net.namedParameters()) { XCTAssertEqual(p.value.doubles, q.value.doubles, k) }
  }
}
