import Foundation
import TestSupport
import XCTest
import ZCAutodiff
import ZCNN
@testable import ZCONNX
import ZCTensor

/// The transformer ops on a small graph, against the same computation written out with loops:
/// input x [N, 2, 4, 4] → MatMul by a [2, 4, 3] initializer (batch axes [N, 2] and [2] broadcast)
/// → LayerNormalization over the last two axes (axis −2, scale and bias [4, 3]) → Softmax on axis 1
/// → exact GELU as PyTorch's exporter writes it (Div by float32 √2, Erf, Add 1, Mul x, Mul 0.5)
/// → Reshape [N, 24] → `head` (Transpose of `head.weight` → MatMul → Add `head.bias`) → logits [N, 3].
enum TransformerModel {
  static func scalar(_ name: String, _ v: Float) -> ONNXProtoTensor { TinyModel.tensor(name, [], [v]) }
  static func attr(_ name: String, float: Float) -> ONNXProtoAttribute { var a = ONNXProtoAttribute(); a.name = name; a.type = 1; a.f = float; return a }
  static func constant(_ name: String, _ t: ONNXProtoTensor) -> ONNXProtoNode {
    var a = ONNXProtoAttribute(); a.name = "value"; a.type = 4; a.t = t
    return TinyModel.node("Constant", name, [], [name], [a])
  }
  static func int64s(_ name: String, _ v: [Int64]) -> ONNXProtoTensor {
    var t = ONNXProtoTensor(); t.name = name; t.dims = [Int64(v.count)]; t.dataType = 7; t.int64Data = v; return t
  }

  static func bytes(edit: (inout ONNXProtoGraph) -> Void = { _ in }) throws -> Data {
    try TinyModel.model { g in
      g.initializer = [
        TinyModel.tensor("w1", [2, 4, 3], TinyModel.values(24, seed: 21)),
        TinyModel.tensor("norm.weight", [4, 3], TinyModel.values(12, seed: 22).map { 1 + $0 }),
        TinyModel.tensor("norm.bias", [4, 3], TinyModel.values(12, seed: 23)),
        TinyModel.tensor("head.weight", [3, 24], TinyModel.values(72, seed: 24)),
        TinyModel.tensor("head.bias", [3], TinyModel.values(3, seed: 25)),
        int64s("flat", [0, -1]),
      ]
      g.node = [
        TinyModel.node("MatMul", "/mm", ["input", "w1"], ["m"]),
        TinyModel.node("LayerNormalization", "/norm", ["m", "norm.weight", "norm.bias"], ["ln"], [TinyModel.attr("axis", int: -2), attr("epsilon", float: 1e-5)]),
        TinyModel.node("Softmax", "/softmax", ["ln"], ["sm"], [TinyModel.attr("axis", int: 1)]),
        constant("sqrt2", scalar("sqrt2", Float(2.0.squareRoot()))),
        TinyModel.node("Div", "/gelu/Div", ["sm", "sqrt2"], ["d"]),
        TinyModel.node("Erf", "/gelu/Erf", ["d"], ["e"]),
        constant("one", scalar("one", 1)),
        TinyModel.node("Add", "/gelu/Add", ["e", "one"], ["a"]),
        TinyModel.node("Mul", "/gelu/Mul", ["sm", "a"], ["p"]),
        constant("half", scalar("half", 0.5)),
        TinyModel.node("Mul", "/gelu/Mul_1", ["p", "half"], ["gelu"]),
        TinyModel.node("Reshape", "/flatten", ["gelu", "flat"], ["f"]),
        TinyModel.node("Transpose", "/head/Transpose", ["head.weight"], ["wt"], [TinyModel.attr("perm", ints: [1, 0])]),
        TinyModel.node("MatMul", "/head/MatMul", ["f", "wt"], ["hm"]),
        TinyModel.node("Add", "/head/Add", ["head.bias", "hm"], ["logits"]),
      ]
      edit(&g)
    }.serializedBytes()
  }

  /// The same network with loops, in Float64, with the exact GELU.
  static func byHand(_ x: Tensor, _ p: (String) -> Tensor) -> [Double] {
    let n = x.shape[0]
    let w1 = p("w1"), s = p("norm.weight"), b = p("norm.bias"), wh = p("head.weight"), bh = p("head.bias")
    var out: [Double] = []
    for i in 0..<n {
      var m = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: 3), count: 4), count: 2)
      for c in 0..<2 { for r in 0..<4 { for j in 0..<3 { for k in 0..<4 { m[c][r][j] += x[i, c, r, k] * w1[c, k, j] } } } }
      for c in 0..<2 {
        let flat = m[c].flatMap { $0 }
        let mu = flat.reduce(0, +) / 12
        let v = flat.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 12
        for r in 0..<4 { for j in 0..<3 { m[c][r][j] = (m[c][r][j] - mu) / (v + 1e-5).squareRoot() * s[r, j] + b[r, j] } }
      }
      var g: [Double] = []
      for c in 0..<2 { for r in 0..<4 { for j in 0..<3 {
        let z = Foundation.exp(m[0][r][j]) + Foundation.exp(m[1][r][j])
        let y = Foundation.exp(m[c][r][j]) / z
        g.append(0.5 * y * (1 + Foundation.erf(y / 2.0.squareRoot())))
      } } }
      for o in 0..<3 { out.append((0..<24).reduce(bh[o]) { $0 + g[$1] * wh[o, $1] }) }
    }
    return out
  }
}

final class ONNXTransformerOpsTests: XCTestCase {
  func testSmallTransformerGraphMatchesLoops() throws {
    let g = try ONNXGraph(data: try TransformerModel.bytes(), fileName: "transformer.onnx")
    let net = try ONNXNetwork(graph: g, dtype: .float64)
    XCTAssertEqual(net.numClasses, 3)
    let x = randomTensor([3, 2, 4, 4], seed: 31)
    let y = GradMode.withoutRecording { net(Variable(x)) }.value
    let ref = TransformerModel.byHand(x) { net.parameter(named: $0)!.value }
    XCTAssertEqual(y.shape, [3, 3])
    for (a, b) in zip(y.doubles, ref) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    // The exporter's GELU subgraph ran as one exact GELU (the loops use √2, not its float32 value).
    XCTAssertEqual(net.geluFusion.geluAt.count, 1)
    XCTAssertEqual(net.geluFusion.skipped.count, 4)
    // The input gradient through every op, against finite differences.
    assertGradientsMatch([x], tolerance: 1e-5) { net($0[0]) }
  }

  /// Without the fusion (the GELU's Add reads a second consumer's value), the nodes run literally:
  /// the same function up to the float32 √2 (a relative 1.7e-8 inside erf).
  func testUnfusedGELUNodesRunLiterally() throws {
    let bytes = try TransformerModel.bytes { g in
      // A graph output reading the Erf value keeps the pattern from being fused.
      g.output.append(TinyModel.value("e", [nil, 2, 4, 3]))
    }
    let g = try ONNXGraph(data: bytes, fileName: "transformer.onnx")
    let net = try ONNXNetwork(graph: g, dtype: .float64)
    XCTAssertTrue(net.geluFusion.geluAt.isEmpty)
    let x = randomTensor([2, 2, 4, 4], seed: 32)
    let y = GradMode.withoutRecording { net(Variable(x)) }.value
    let ref = TransformerModel.byHand(x) { net.parameter(named: $0)!.value }
    for (a, b) in zip(y.doubles, ref) { XCTAssertEqual(a, b, accuracy: 1e-6) }
  }

  /// The head is a linear layer (Transpose → MatMul of `head.weight`) whose bias is the Add after
  /// it, and its traced output (fisher's activation) is the value after the bias: the logits.
  func testMatMulLinearLayerOutputIsAfterItsBias() throws {
    let net = try ONNXNetwork(graph: try ONNXGraph(data: try TransformerModel.bytes(), fileName: "t.onnx"), dtype: .float64)
    let layers = net.namedModules().compactMap { n, m in (m as? any WeightedLayer).map { (n, $0) } }
    XCTAssertEqual(layers.map(\.0), ["head"])
    XCTAssertTrue(layers[0].1.bias === net.parameter(named: "head.bias"))
    XCTAssertEqual(layers[0].1.macsPerOutput, 24)
    let trace = ForwardTrace(reluInputs: true, layerOutputs: true)
    let x = randomTensor([2, 2, 4, 4], seed: 33)
    let logits = ForwardTrace.$current.withValue(trace) { net(Variable(x)) }
    XCTAssertEqual(trace.layerOutputs.count, 1)
    XCTAssertEqual(trace.layerOutputs.first?.output.value.doubles, logits.value.doubles)
    XCTAssertTrue(trace.reluInputs.isEmpty, "no Relu node, nothing hooked")
    // Called directly, the layer is nn.Linear: x Wᵀ + b.
    let f = randomTensor([2, 24], seed: 35)
    let direct = GradMode.withoutRecording { layers[0].1(Variable(f)) }.value
    let w = net.parameter(named: "head.weight")!.value, b = net.parameter(named: "head.bias")!.value
    for i in 0..<2 { for o in 0..<3 { XCTAssertEqual(direct[i, o], (0..<24).reduce(b[o]) { $0 + f[i, $1] * w[o, $1] }, accuracy: 1e-12) } }
    // A direct call is traced once, after the bias (as a hook on nn.Linear's forward sees it).
    let directTrace = ForwardTrace(reluInputs: false, layerOutputs: true)
    _ = ForwardTrace.$current.withValue(directTrace) { GradMode.withoutRecording { layers[0].1(Variable(f)) } }
    XCTAssertEqual(directTrace.layerOutputs.count, 1)
    XCTAssertEqual(directTrace.layerOutputs.first?.output.value.doubles, direct.doubles)
  }

  /// A Gemm on `P.out_proj.weight` next to `P.in_proj_weight` is nn.MultiheadAttention's out_proj:
  /// a layer for the weight-gradient proxies, whose forward is never called (snip and fisher see
  /// nothing), also next to `P.q_proj_weight` (kdim/vdim ≠ embed_dim); the same Gemm without such a
  /// sibling is an ordinary layer.
  func testMultiheadAttentionOutProjection() throws {
    func build(sibling: String, initialisation: ONNXInitialisation = .file) throws -> ONNXNetwork {
      let bytes = try TinyModel.bytes { g in
        g.initializer = g.initializer.map { t in
          var t = t
          t.name = t.name.replacingOccurrences(of: "classifier", with: "attn.out_proj")
          return t
        } + [TinyModel.tensor(sibling, [9, 3], TinyModel.values(27, seed: 5))]
        g.node = g.node.map { n in
          var n = n
          n.input = n.input.map { $0.replacingOccurrences(of: "classifier", with: "attn.out_proj") }
          return n
        }
      }
      return try ONNXNetwork(graph: try ONNXGraph(data: bytes, fileName: "mha.onnx"), dtype: .float64, initialisation: initialisation)
    }
    for (sibling, called) in [("attn.in_proj_weight", false), ("attn.q_proj_weight", false), ("attn.other_weight", true)] {
      let net = try build(sibling: sibling)
      let layers = net.namedModules().compactMap { n, m in (m as? any WeightedLayer).map { (n, $0) } }
      XCTAssertEqual(layers.map(\.0), ["features.0", "attn.out_proj"], sibling)
      XCTAssertEqual(layers.map(\.1.forwardIsCalled), [true, called], sibling)
      let trace = ForwardTrace(reluInputs: false, layerOutputs: true)
      _ = ForwardTrace.$current.withValue(trace) { net(Variable(randomTensor([2, 2, 4, 4], seed: 34))) }
      XCTAssertEqual(trace.layerOutputs.count, called ? 2 : 1, sibling)
      // The conv called directly is traced once (its node's output is the layer's).
      let direct = ForwardTrace(reluInputs: false, layerOutputs: true)
      let y = ForwardTrace.$current.withValue(direct) { GradMode.withoutRecording { layers[0].1(Variable(randomTensor([2, 2, 4, 4], seed: 34))) } }
      XCTAssertEqual(direct.layerOutputs.count, 1, sibling)
      XCTAssertEqual(direct.layerOutputs.first?.output.value.doubles, y.value.doubles, sibling)
      // --init pytorch-default: an attention projection weight is xavier_uniform_ (bound √(6/(9 + 3))),
      // a parameter of another name keeps the file's values.
      let file = net.parameter(named: sibling)!.value.doubles
      let re = try build(sibling: sibling, initialisation: .pytorchDefault(seed: 4)).parameter(named: sibling)!.value.doubles
      if called {
        XCTAssertEqual(re, file, sibling)
      } else {
        XCTAssertNotEqual(re, file, sibling)
        XCTAssertLessThanOrEqual(re.map(Swift.abs).max()!, 0.5.squareRoot(), sibling)
      }
    }
  }

  /// Bad attributes and shapes are one-line errors naming the node.
  func testTransformerOpErrors() throws {
    func error(_ edit: @escaping (inout ONNXProtoGraph) -> Void) throws -> String {
      let g = try ONNXGraph(data: try TransformerModel.bytes(edit: edit), fileName: "bad.onnx")
      do { _ = try ONNXNetwork(graph: g); return "" } catch { return "\(error)" }
    }
    let gelu = try error { g in g.node[0] = TinyModel.node("Gelu", "/gelu", ["input"], ["m"], [{ var a = ONNXProtoAttribute(); a.name = "approximate"; a.type = 3; a.s = Data("cubic".utf8); return a }()]) }
    XCTAssertTrue(gelu.contains("bad.onnx: node '/gelu' (Gelu)") && gelu.contains("approximate 'cubic'"), gelu)
    let axis = try error { g in g.node[1].attribute[0] = TinyModel.attr("axis", int: 4) }
    XCTAssertTrue(axis.contains("node '/norm'") && axis.contains("axis 4"), axis)
    let scale = try error { g in g.initializer[1] = TinyModel.tensor("norm.weight", [5], TinyModel.values(5, seed: 1)) }
    XCTAssertTrue(scale.contains("node '/norm'") && scale.contains("scale has shape [5]"), scale)
    let mm = try error { g in g.initializer[0] = TinyModel.tensor("w1", [2, 5, 3], TinyModel.values(30, seed: 1)) }
    XCTAssertTrue(mm.contains("node '/mm'") && mm.contains("do not multiply"), mm)
    let softmax = try error { g in g.node[2].attribute[0] = TinyModel.attr("axis", int: -7) }
    XCTAssertTrue(softmax.contains("node '/softmax'") && softmax.contains("axis -7"), softmax)
    XCTAssertFalse(softmax.contains("\n"))
  }

  /// `--init pytorch-default` on transformer modules: LayerNormalization scale 1 and bias 0;
  /// nn.MultiheadAttention in_proj_weight xavier_uniform_ (bound √(6/(64 + 192))), in_proj_bias and
  /// out_proj.bias 0; linear layers kaiming_uniform_(a=√5) weights and U(±1/√fan_in) biases.
  func testPyTorchDefaultInitialisationOfTransformerModules() throws {
    let small = try ONNXNetwork(graph: try ONNXGraph(data: try TransformerModel.bytes(), fileName: "t.onnx"), dtype: .float64,
                                initialisation: .pytorchDefault(seed: 3))
    XCTAssertEqual(Set(small.parameter(named: "norm.weight")!.value.doubles), [1])
    XCTAssertEqual(Set(small.parameter(named: "norm.bias")!.value.doubles), [0])
    let path = TestPaths.fixtures("onnx/vit/onnx_vit_tiny.onnx")
    let file = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path), dtype: .float64)
    let net = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path), dtype: .float64, initialisation: .pytorchDefault(seed: 3))
    let w = net.parameter(named: "blocks.0.self_attn.in_proj_weight")!.value.doubles
    let bound = (6.0 / (64 + 192)).squareRoot()
    XCTAssertNotEqual(w, file.parameter(named: "blocks.0.self_attn.in_proj_weight")!.value.doubles)
    XCTAssertLessThanOrEqual(w.map(Swift.abs).max()!, bound)
    XCTAssertGreaterThan(w.map(Swift.abs).max()!, 0.99 * bound)
    // The fixture's file already holds 0 in these biases and 1/0 in its LayerNorms (PyTorch's own
    // init), so they are first set to other values: the check then fails if reinitialise skips them.
    let zeroed = ["blocks.0.self_attn.in_proj_bias", "blocks.1.self_attn.in_proj_bias",
                  "blocks.0.self_attn.out_proj.bias", "blocks.1.self_attn.out_proj.bias", "blocks.0.norm1.bias", "norm.bias"]
    let ones = ["blocks.0.norm1.weight", "blocks.1.norm2.weight", "norm.weight"]
    let edited = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path), dtype: .float64)
    for name in zeroed + ones {
      let p = try XCTUnwrap(edited.parameter(named: name), name)
      XCTAssertEqual(Set(p.value.doubles).count, 1, "\(name): one value in the file")
      p.value = Tensor(repeating: 0.25, shape: p.shape, dtype: .float64)
    }
    edited.reinitialise(seed: 3)
    for name in zeroed { XCTAssertEqual(Set(edited.parameter(named: name)!.value.doubles), [0], name) }
    for name in ones { XCTAssertEqual(Set(edited.parameter(named: name)!.value.doubles), [1], name) }
    XCTAssertEqual(edited.parameter(named: "blocks.0.self_attn.in_proj_weight")!.value.doubles, w, "the same draws as --init pytorch-default")
    let b = net.parameter(named: "blocks.0.linear1.bias")!.value.doubles  // fan_in 64
    XCTAssertNotEqual(b, file.parameter(named: "blocks.0.linear1.bias")!.value.doubles)
    XCTAssertLessThanOrEqual(b.map(Swift.abs).max()!, 1 / 8.0)
    XCTAssertGreaterThan(b.map(Swift.abs).max()!, 0.9 / 8.0)
    // An out_proj exported as Transpose → MatMul → Add (nn.Linear on a rank-3 input): its bias is
    // the Add's, zeroed too, and its forward is still never called (no traced output).
    let mha = try TransformerModel.bytes { g in
      g.initializer = g.initializer.map { t in
        var t = t
        t.name = t.name.replacingOccurrences(of: "head.", with: "attn.out_proj.")
        return t
      } + [TinyModel.tensor("attn.in_proj_weight", [72, 24], TinyModel.values(72 * 24, seed: 6))]
      g.node = g.node.map { n in
        var n = n
        n.input = n.input.map { $0.replacingOccurrences(of: "head.", with: "attn.out_proj.") }
        return n
      }
    }
    let fromFile = try ONNXNetwork(graph: try ONNXGraph(data: mha, fileName: "mha.onnx"), dtype: .float64)
    XCTAssertNotEqual(Set(fromFile.parameter(named: "attn.out_proj.bias")!.value.doubles), [0])
    let reset = try ONNXNetwork(graph: try ONNXGraph(data: mha, fileName: "mha.onnx"), dtype: .float64, initialisation: .pytorchDefault(seed: 3))
    XCTAssertEqual(Set(reset.parameter(named: "attn.out_proj.bias")!.value.doubles), [0])
    let trace = ForwardTrace(reluInputs: false, layerOutputs: true)
    _ = ForwardTrace.$current.withValue(trace) { reset(Variable(randomTensor([2, 2, 4, 4], seed: 36))) }
    XCTAssertTrue(trace.layerOutputs.isEmpty, "out_proj's forward is never called")
    // Deterministic: the same seed gives the same weights.
    let again = try ONNXNetwork(graph: try ONNXGraph(contentsOf: path), dtype: .float64, initialisation: .pytorchDefault(seed: 3))
    XCTAssertEqual(again.parameter(named: "blocks.1.linear2.weight")!.value.doubles, net.parameter(named: "blocks.1.linear2.weight")!.value.doubles)
  }

  /// docs/onnx.md's op table lists exactly the reader's op table.
  func testDocsOpTableIsTheReadersTable() throws {
    let doc = try String(contentsOfFile: TestPaths.root.appendingPathComponent("docs/onnx.md").path, encoding: .utf8)
    let documented = doc.split(separator: "\n").compactMap { line -> String? in
      guard line.hasPrefix("| `") else { return nil }
      let parts = line.split(separator: "`")
      return parts.count > 1 ? String(parts[1]) : nil
    }
    XCTAssertEqual(Set(documented), Set(ONNXOpTable.supported.keys))
    XCTAssertEqual(documented.count, ONNXOpTable.supported.count)
  }
}
