import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCNN
import ZCONNX
import ZCSpaces
import ZCTensor

/// MeCo on the generic module-output trace (``ForwardTrace/moduleOutputs``): the NAS-Bench-201
/// network reports the modules the authors' hooks fire on, under the names the reference lists;
/// the ONNX graph network reports the scopes of the exporter's node names, checked against the
/// reference's per-module values of the same network (shared/reference/onnx, skipped when absent).
final class MeCoModuleTraceTests: XCTestCase {
  private static let native = TestPaths.fixtures("nb201/nb201_c10_i6111_best.json")

  /// The reference's per-module list of the fixture: (xautodl-equivalent name, float64 value).
  private func referenceFirings() throws -> [(name: String, value: Double)] {
    let json = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: Self.native)))
    let meco = try XCTUnwrap(json.objectValue?["reference_extra"]?.objectValue?["proxies"]?.objectValue?["meco"]?.objectValue?["b"]?.objectValue)
    let names = try XCTUnwrap(meco["per_module_float32"]?.arrayValue).map { try XCTUnwrap($0.objectValue?["fixture_equivalent"]?.stringValue) }
    let values = try XCTUnwrap(meco["per_module_float64"]?.arrayValue).map { v -> Double in
      switch v {
      case let .number(d): return d
      case let .integer(i): return Double(i)
      default: throw XCTSkip("not a number: \(v)")
      }
    }
    XCTAssertEqual(names.count, values.count)
    return Array(zip(names, values)).map { (name: $0.0, value: $0.1) }
  }

  /// The native trace's module names are the reference's xautodl equivalents, firing for firing
  /// (the reference's four trailing [1, C] and [1, K] outputs, worth 0, are not 4-D maps); the
  /// containers of MeCo's own model appear under the engine's wrapper names.
  func testNativeTraceNamesTheReferenceModules() throws {
    let f = try ReferenceFixture(jsonPath: Self.native)
    let (x, _) = try f.batch(1, dtype: .float64)
    let firings = try XCTUnwrap(MeCo.firings(of: try f.nb201Network(dtype: .float64), image: x.rows(0..<1)))
    let ref = try referenceFirings()
    XCTAssertEqual(firings.count + 4, ref.count)
    var wrappers = 0
    for (fi, r) in zip(firings, ref) {
      if fi.module.hasPrefix("<NAS201Model") {
        wrappers += 1
        XCTAssertTrue(r.name.contains("in MeCo"), "\(fi.module) against \(r.name)")
      } else {
        XCTAssertEqual(fi.module, r.name)
      }
    }
    XCTAssertEqual(wrappers, 4)  // the stem wrapper and the three stage containers
  }

  /// Which reference firings an ONNX export of an NB201 network cannot show: MeCo's own containers
  /// (not in xautodl's model), `skip_connect` edges (`nn.Identity`, removed by the exporter) and
  /// the ReLU of a conv edge whose input node already feeds an earlier conv edge's ReLU (the
  /// exporter merges the two identical Relu nodes). Derived from the arch string alone.
  private func firingsAbsentFromExport(_ arch: NB201Architecture, cells: Int) -> Set<String> {
    var absent: Set<String> = []
    var inputs: [Int] = []  // input node of every edge, in arch-string order
    for j in 1...3 { for i in 0..<j { inputs.append(i) } }
    for c in 0..<cells where c != 5 && c != 11 {
      var reluOf = Set<Int>()
      for (e, op) in arch.edges.enumerated() {
        switch op {
        case .skipConnect: absent.insert("cells.\(c).layers.\(e)")
        case .conv1x1, .conv3x3:
          if !reluOf.insert(inputs[e]).inserted { absent.insert("cells.\(c).layers.\(e).op.0") }
        default: break
        }
      }
    }
    return absent
  }

  /// meco on the ONNX export of the same network and weights: every firing the graph reports is a
  /// reference module with the reference's value; the reference firings it lacks are exactly the
  /// ones an export cannot show; so meco(ONNX) = meco(native) minus those firings, in both dtypes.
  func testONNXMeCoAgainstTheReferenceModulesAndTheNativePath() throws {
    let onnxJSON = try TestPaths.shared("reference/onnx/onnx_nb201_i6111_best.json")
    let fx = try ReferenceFixture(jsonPath: onnxJSON)
    let native = try ReferenceFixture(jsonPath: Self.native)
    let space = try ONNXSpace(datasetsRoot: TestPaths.datasets)
    let ref = try referenceFirings()
    let arch = try native.nb201().architecture
    for dtype in [DType.float64, .float32] {
      let (gnet, batch) = try space.fixtureInputs(fx, dtype: dtype)
      let nnet = try native.nb201Network(dtype: dtype)
      let image = batch.images.rows(0..<1)
      let g = try XCTUnwrap(MeCo.firings(of: gnet, image: image))
      let n = try XCTUnwrap(MeCo.firings(of: nnet, image: image))
      let onnxNames = g.map(\.module)
      XCTAssertEqual(Set(onnxNames).count, onnxNames.count, "one firing per module")
      let absent = firingsAbsentFromExport(arch, cells: 17)
      let expected = n.map(\.module).filter { !$0.hasPrefix("<NAS201Model") && !absent.contains($0) }
      XCTAssertEqual(onnxNames.sorted(), expected.sorted())
      if dtype == .float64 {
        let refValue = Dictionary(ref.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        for fi in g {
          let r = try XCTUnwrap(refValue[fi.module], fi.module)
          let v = try MeCo.minimumCorrelationEigenvalue(fi.tensor, rows: nil)
          XCTAssertEqual(v, r, accuracy: 1e-9 + 1e-7 * Swift.abs(r), fi.module)
        }
      }
      let kept = Set(onnxNames)
      let nativeKept = n.filter { kept.contains($0.module) }
      let onnxValue = try MeCo.score(g), nativeKeptValue = try MeCo.score(nativeKept)
      let tol = dtype == .float64 ? 1e-9 : 1e-4
      XCTAssertEqual(onnxValue, nativeKeptValue, accuracy: tol * Swift.abs(nativeKeptValue), "\(dtype)")
      // The registered proxies read the same trace.
      let (x, y) = try native.batch(1, dtype: dtype)
      let results = evaluate([MeCo(), MeCoOpt(), SWAP()], network: gnet, images: x, labels: y)
      let nativeResults = evaluate([SWAP()], network: nnet, images: x, labels: y)
      XCTAssertEqual(try XCTUnwrap(results[0].value.number), onnxValue, accuracy: 1e-12 * Swift.abs(onnxValue))
      XCTAssertNotNil(results[1].value.number, "meco_opt on the graph: \(results[1].value)")
      // SWAP counts distinct patterns, so merged Relu nodes do not change it: the native count, to a
      // sign flip of a pre-activation within rounding of 0.
      let swapG = try XCTUnwrap(results[2].value.number), swapN = try XCTUnwrap(nativeResults[0].value.number)
      XCTAssertLessThanOrEqual(Swift.abs(swapG - swapN), dtype == .float64 ? 0 : 2, "\(dtype) swap \(swapG) vs \(swapN)")
      print("meco \(dtype): ONNX \(onnxValue) over \(g.count) firings; native \(try MeCo.score(n)) over \(n.count); native over the ONNX modules \(nativeKeptValue); swap \(swapG) vs \(swapN)")
    }
  }

  /// The scope rule of the ONNX module outputs on the other shared exports: ResNet-20's basic
  /// blocks and MobileNetV2's inverted residuals report 4-D module outputs, so meco is present.
  func testONNXMeCoOnOtherNetworks() throws {
    let space = try ONNXSpace(datasetsRoot: TestPaths.datasets)
    for name in ["onnx_resnet_cifar", "onnx_mobilenetv2_w035"] {
      let fx = try ReferenceFixture(jsonPath: try TestPaths.shared("reference/onnx/\(name).json"))
      let (net, batch) = try space.fixtureInputs(fx, dtype: .float32)
      let g = try XCTUnwrap(MeCo.firings(of: net, image: batch.images.rows(0..<1)), name)
      XCTAssertTrue(g.allSatisfy { $0.tensor.rank == 4 && $0.tensor.shape[0] == 1 })
      // ResNet-20 (no map below 8 x 8): every Conv node's output is the output of its own module.
      if name == "onnx_resnet_cifar" {
        XCTAssertGreaterThanOrEqual(g.count, net.graph.nodes.filter { $0.opType == "Conv" }.count, name)
      }
      let v = try MeCo.score(g)
      XCTAssertTrue(v.isFinite, name)
      print("meco \(name): \(v) over \(g.count) firings")
    }
  }

  /// A network reporting a `[1, T, D]` sequence and a `[1, T·D]` vector: the sequence fires (T rows
  /// of D values, as the reference reshapes the first sample to (n, −1)), the vector does not
  /// (n × 1: value 0). Expected λ_min from numpy 2.4.6: `np.linalg.eigvalsh(np.corrcoef(x)).min()`.
  func testSequenceOutputsFireAndVectorsDoNot() throws {
    final class Tokens: TracesEveryModule {
      var training = true
      func callAsFunction(_ x: Variable) -> Variable {
        let a = ForwardTrace.module("tokens") { reshape(x, [1, 4, 6]) }
        return ForwardTrace.module("flat") { reshape(a, [1, 24]) }
      }
    }
    let x: [Double] = [0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 1.5, 0.2, -0.9, 0.0, 2.2, -1.3,
                       -0.6, 0.8, 0.4, -2.1, 1.0, 0.5, 0.9, 0.9, -0.3, 1.4, -1.7, 0.2]
    let firings = try XCTUnwrap(MeCo.firings(of: Tokens(), image: Tensor(doubles: x, shape: [1, 1, 4, 6], dtype: .float64)))
    XCTAssertEqual(firings.map(\.module), ["tokens"])
    XCTAssertEqual(try MeCo.score(firings), 0.07228289352336568, accuracy: 1e-12)
    // Without module reports there is nothing to hook: missing, not 0.
    final class Plain: TracesEveryModule {
      var training = true
      func callAsFunction(_ x: Variable) -> Variable { reshape(x, [1, 24]) }
    }
    XCTAssertNil(MeCo.firings(of: Plain(), image: Tensor(doubles: x, shape: [1, 1, 4, 6], dtype: .float64)))
    // A network that reports some modules only (a Sequential reports its children, not what a
    // custom child does inside): missing, not a partial sum.
    final class Inner: Layer {
      var training = true
      func callAsFunction(_ x: Variable) -> Variable { reshape(ForwardTrace.module("hidden") { reshape(x, [1, 4, 6]) }, [1, 4, 6]) }
    }
    let partial = Sequential([Inner()])
    XCTAssertNil(MeCo.firings(of: partial, image: Tensor(doubles: x, shape: [1, 1, 4, 6], dtype: .float64)))
  }
}
