import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// Folder of the PyTorch reference fixtures copied into the repository (Tests/Fixtures).
let fixturesFolder = URL(fileURLWithPath: TestPaths.fixtures(""))

struct NB201FixtureFiles {
  let json: [String: Any]
  let tensors: SafetensorsFile
  init(_ name: String) throws {
    let base = fixturesFolder.appendingPathComponent("nb201").appendingPathComponent(name)
    json = try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathExtension("json"))) as! [String: Any]
    tensors = try SafetensorsFile(path: base.appendingPathExtension("safetensors").path)
  }
  var arch: String { json["arch"] as! String }
  var stateKeys: [String] { (json["state_dict"] as! [[String: Any]]).map { $0["key"] as! String } }

  func network(dtype: DType) throws -> NB201Network {
    var rng = ZCRandom(seed: 123)
    let net = NB201Network(try NB201Architecture(parsing: arch), numClasses: json["num_classes"] as! Int, dtype: dtype, rng: &rng)
    var floats: [String: Tensor] = [:], ints: [String: Int] = [:]
    for key in stateKeys {
      switch tensors.tensors[key]! {
      case let .float(t): floats[key] = t
      case let .int(v, _): ints[key] = v[0]
      }
    }
    try net.loadState(floats: floats, integers: ints)
    return net
  }
}

final class NB201NetworkTests: XCTestCase {
  static let fixtures = ["nb201_c10_i6111_best", "nb201_c10_i1462_allconv3x3", "nb201_c10_i1651_allnone", "nb201_c10_i3773_rand0"]

  func testArchStringRoundTripAndErrors() throws {
    let s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    let a = try NB201Architecture(parsing: s)
    XCTAssertEqual(a.description, s)
    XCTAssertEqual(a.edges, [.conv3x3, .conv3x3, .conv3x3, .skipConnect, .conv3x3, .conv1x1])
    XCTAssertThrowsError(try NB201Architecture(parsing: "|nor_conv_3x3~0|+|conv~0|none~1|+|none~0|none~1|none~2|")) { e in
      XCTAssertEqual((e as? NB201ParseError)?.token, "conv")
    }
    XCTAssertThrowsError(try NB201Architecture(parsing: "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|")) { e in
      XCTAssertEqual((e as? NB201ParseError)?.token, "none~2")
    }
    XCTAssertThrowsError(try NB201Architecture(parsing: "|none~0|+|none~0|none~1|"))
    XCTAssertEqual(NB201Architecture.all.count, 15625)
    XCTAssertEqual(Set(NB201Architecture.all).count, 15625)
    XCTAssertEqual(Set(a.neighbours).count, 24)
  }

  func testParameterNamesAreTheOfficialStateDictKeys() throws {
    for name in Self.fixtures {
      let f = try NB201FixtureFiles(name)
      var rng = ZCRandom(seed: 1)
      let net = NB201Network(try NB201Architecture(parsing: f.arch), rng: &rng)
      XCTAssertEqual(net.stateDictKeys(), f.stateKeys, name)
      let params = (f.json["reference"] as! [String: Any])["params"] as! [String: Any]
      XCTAssertEqual(net.parameterCount, params["value"] as! Int, name)
    }
  }

  /// Logits of PyTorch's TinyNetwork (train-mode BN) on the same weights and images.
  func testLogitsMatchPyTorchReference() throws {
    for name in Self.fixtures {
      let f = try NB201FixtureFiles(name)
      let x = try f.tensors.floatTensor("input")
      let ref64 = try f.tensors.floatTensor("ref.logits_float64").doubles
      let ref32 = try f.tensors.floatTensor("ref.logits_float32").doubles
      let y64 = try f.network(dtype: .float64)(Variable(x.to(.float64))).value.doubles
      let err64 = zip(y64, ref64).map { Swift.abs($0 - $1) }.max()!
      XCTAssertLessThan(err64, 1e-10 * max(1, ref64.map(Swift.abs).max()!), "\(name) float64")
      let y32 = try f.network(dtype: .float32)(Variable(x)).value.doubles
      let err32 = zip(y32, ref32).map { Swift.abs($0 - $1) }.max()!
      XCTAssertLessThan(err32, 1e-4 * max(1, ref32.map(Swift.abs).max()!), "\(name) float32")
    }
  }

  func testWeightLoadingRejectsMissingUnexpectedAndMisshapenKeys() throws {
    let f = try NB201FixtureFiles("nb201_c10_i3773_rand0")
    var rng = ZCRandom(seed: 0)
    let net = NB201Network(try NB201Architecture(parsing: f.arch), rng: &rng)
    var floats: [String: Tensor] = [:], ints: [String: Int] = [:]
    for k in f.stateKeys {
      if case let .float(t) = f.tensors.tensors[k]! { floats[k] = t } else { ints[k] = 0 }
    }
    var missing = floats
    missing["classifier.bias"] = nil
    XCTAssertThrowsError(try net.loadState(floats: missing, integers: ints)) { XCTAssertEqual($0 as? StateError, .missingKey("classifier.bias")) }
    var extra = floats
    extra["classifier.extra"] = Tensor(zeros: [1])
    XCTAssertThrowsError(try net.loadState(floats: extra, integers: ints)) { XCTAssertEqual($0 as? StateError, .unexpectedKey("classifier.extra")) }
    var wrong = floats
    wrong["classifier.bias"] = Tensor(zeros: [11])
    XCTAssertThrowsError(try net.loadState(floats: wrong, integers: ints)) {
      XCTAssertEqual($0 as? StateError, .shapeMismatch(key: "classifier.bias", model: [10], file: [11]))
    }
  }
}
