import Foundation
import Metrics
import TestSupport
import XCTest
import ZCEngine
import ZCNN
import ZCONNX
import ZCTensor

/// The ViT fixture's per-layer snip and fisher (PyTorch's foresight values, `per_layer_float64`, in
/// `conv_linear_layers` order) against the graph network's layers in float64: the layer mapping
/// (patch conv, MultiheadAttention out_proj, Transpose → MatMul linear1/linear2, head), fisher's
/// activation after the MatMul's bias Add with one value per token on 3-D activations, and the
/// exact zeros PyTorch gives out_proj in both (its forward is never called).
final class ONNXViTPerLayerTests: XCTestCase {
  func testPerLayerSnipAndFisherMatchPyTorch() throws {
    let jsonPath = try TestPaths.shared("reference/onnx/onnx_vit_tiny.json")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as! [String: Any]
    let refs = json["reference"] as! [String: [String: Any]]
    let snipRef = refs["snip"]!["per_layer_float64"] as! [Double], fisherRef = refs["fisher"]!["per_layer_float64"] as! [Double]
    let space = try ONNXSpace(datasetsRoot: TestPaths.datasets)
    let (net, batch) = try space.fixtureInputs(try ReferenceFixture(jsonPath: jsonPath), dtype: .float64)
    let context = ImageProxyContext(network: net, images: batch.images, labels: batch.labels,
                                    requirements: [.labels, .forward, .lossBackward, .layerActivations])
    let layers = context.weightLayers
    XCTAssertEqual(layers.map(\.name), (json["conv_linear_layers"] as! [[String: Any]]).map { $0["name"] as! String })
    let lg = context.lossGradients()
    for (k, layer) in layers.enumerated() {
      // snip: Σ |W ⊙ ∂L/∂W|, or 0 where zero-cost-nas's weight mask is never used.
      let w = layer.weight.value.doubles, g = lg.weights[k].doubles
      let snip = layer.module.forwardIsCalled ? zip(w, g).reduce(0) { $0 + Swift.abs($1.0 * $1.1) } : 0
      XCTAssertEqual(snip, snipRef[k], accuracy: 1e-8 * max(Swift.abs(snipRef[k]), 1e-300), "snip \(layer.name)")
      // fisher (foresight fisher.py): per (sample, axis-1 index) Σ over the later axes of a·∂L/∂a,
      // ½ mean over samples of its square, each counted once per weight element after axis 0.
      var fisher = 0.0
      if let (a, ga) = lg.activations[k] {
        let b = a.shape[0], c = a.shape[1], rest = a.count / (b * c)
        let av = a.doubles, gv = ga.doubles
        for j in 0..<c {
          var sq = 0.0
          for n in 0..<b {
            var s = 0.0
            for i in 0..<rest { s += av[(n * c + j) * rest + i] * gv[(n * c + j) * rest + i] }
            sq += s * s
          }
          fisher += 0.5 * sq / Double(b) * Double(layer.weight.shape.dropFirst().reduce(1, *))
        }
      }
      XCTAssertEqual(fisher, fisherRef[k], accuracy: 1e-8 * max(Swift.abs(fisherRef[k]), 1e-300), "fisher \(layer.name)")
      XCTAssertEqual(snipRef[k] == 0, !layer.module.forwardIsCalled, layer.name)
    }
  }
}
