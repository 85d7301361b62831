import Foundation
import Metrics
import TestSupport
import ZCAutodiff
import XCTest
import ZCEngine
import ZCNN
import ZCONNX
import ZCSpaces
import ZCTensor

/// The ONNX export of the NB201 fixture network (same weights and batch, shared/reference/onnx)
/// scored through the graph network against the native NB201 network: every proxy agrees to the
/// engine's own rounding, except nwot, which hooks the graph's 50 merged `Relu` nodes instead of
/// the module's 80 ReLU calls (both are checked against their own PyTorch references by verify).
final class ONNXNativeEquivalenceTests: XCTestCase {
  func testONNXAndNativeNB201AgreeOnTheSameWeights() throws {
    let onnxJSON = try TestPaths.shared("reference/onnx/onnx_nb201_i6111_best.json")
    let native = try ReferenceFixture(jsonPath: TestPaths.fixtures("nb201/nb201_c10_i6111_best.json"))
    let fx = try ReferenceFixture(jsonPath: onnxJSON)
    let space = try ONNXSpace(datasetsRoot: TestPaths.datasets)
    let names = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "plain", "l2_norm", "params", "epe_nas", "zico", "nwot"]
    let proxies = names.compactMap { proxy(named: $0) }
    XCTAssertEqual(proxies.count, names.count)
    for dtype in [DType.float32, .float64] {
      let (gnet, batch) = try space.fixtureInputs(fx, dtype: dtype)
      let nnet = try native.nb201Network(dtype: dtype)
      let (x, y) = try native.batch(1, dtype: dtype), (x2, y2) = try native.batch(2, dtype: dtype)
      XCTAssertEqual(batch.images.doubles, x.doubles)
      // Same logits, to rounding (the graph adds a node's edges in the exporter's order).
      let la = GradMode.withoutRecording { gnet(Variable(x)) }.value.doubles, lb = GradMode.withoutRecording { nnet(Variable(x)) }.value.doubles
      let logitErr = zip(la, lb).map { Swift.abs($0 - $1) }.max()!
      XCTAssertLessThan(logitErr, dtype == .float32 ? 1e-4 : 1e-10)
      let a = evaluate(proxies, network: gnet, images: x, labels: y, images2: x2, labels2: y2)
      let b = evaluate(proxies, network: nnet, images: x, labels: y, images2: x2, labels2: y2)
      var worst = (name: "", rel: 0.0), worstButZico = (name: "", rel: 0.0)
      for (ra, rb) in zip(a, b) where ra.metric != "nwot" {
        guard let va = ra.value.number, let vb = rb.value.number else { XCTFail("\(ra.metric): \(ra.value) vs \(rb.value)"); continue }
        let rel = va == vb ? 0 : Swift.abs(va - vb) / max(Swift.abs(va), Swift.abs(vb))
        if rel > worst.rel { worst = (ra.metric, rel) }
        if rel > worstButZico.rel && ra.metric != "zico" { worstButZico = (ra.metric, rel) }
        // zico's float32 per-layer sums are dominated by near-coincident gradients (fixture README).
        let tol = dtype == .float32 ? (ra.metric == "zico" ? 1e-3 : 2e-5) : 1e-8
        XCTAssertLessThanOrEqual(rel, tol, "\(dtype) \(ra.metric): onnx \(va) native \(vb)")
      }
      print("ONNX vs native NB201 \(dtype): largest relative difference \(worst.rel) (\(worst.name)), without zico \(worstButZico.rel) (\(worstButZico.name)); max |logit difference| \(logitErr)")
      let nwotA = a.first { $0.metric == "nwot" }!.value.number!, nwotB = b.first { $0.metric == "nwot" }!.value.number!
      XCTAssertNotEqual(nwotA, nwotB)  // 50 merged Relu nodes against 80 ReLU calls
    }
  }
}
