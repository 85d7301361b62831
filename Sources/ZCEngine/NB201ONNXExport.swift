import Foundation
import ZCNN
import ZCONNX
import ZCSpaces
import ZCTensor

/// A NAS-Bench-201 network as an ONNX graph (issue 17, `zcnas export-onnx`): the op sequence of
/// xautodl's `TinyNetwork` in training mode, as PyTorch's TorchScript exporter writes it with
/// `training=TrainingMode.TRAINING, do_constant_folding=False` (opset 17: Conv, training-mode
/// BatchNormalization, Relu, AveragePool, Add, Mul by 0 for `none` edges, GlobalAveragePool,
/// Flatten, Gemm with transB = 1), the network's weights as initializers named by their
/// `state_dict` keys, in state_dict order (`num_batches_tracked` is not a graph tensor and is left
/// out, as PyTorch does). One difference from PyTorch's exporter: every cell edge keeps its own
/// `Relu` node (the exporter merges identical `Relu(x)` calls), so nwot on the graph counts the
/// module's 80 ReLU calls and an export scores exactly as the native network.
public enum NB201ONNXExport {
  /// The ONNX bytes of `network` with its current weights (in its dtype).
  /// - Throws: ``ONNXError`` when a weight the graph needs is missing (not an NB201 network).
  public static func model(_ network: NB201Network) throws -> Data {
    let w = ONNXModelWriter(name: "nb201_tiny_network", producer: "zcnas \(ZeroCostNAS.version)")
    var have = Set<String>()
    for (name, m) in network.namedModules() {
      let prefix = name.isEmpty ? "" : name + "."
      for (p, param) in m.ownParameters { w.initializer(prefix + p, param.value); have.insert(prefix + p) }
      for (b, buffer) in m.ownBuffers {
        if case let .float(t) = buffer { w.initializer(prefix + b, t); have.insert(prefix + b) }
      }
    }
    func need(_ key: String) throws -> String {
      guard have.contains(key) else { throw ONNXError("export-onnx: the network has no tensor '\(key)'") }
      return key
    }
    func conv(_ x: String, _ key: String, kernel: Int, stride: Int, pad: Int) throws -> String {
      try w.node("Conv", [x, need(key + ".weight")], name: "/\(key)/Conv",
                 attributes: [ONNXModelWriter.ints("dilations", [1, 1]), ONNXModelWriter.int("group", 1), ONNXModelWriter.ints("kernel_shape", [kernel, kernel]),
                              ONNXModelWriter.ints("pads", [pad, pad, pad, pad]), ONNXModelWriter.ints("strides", [stride, stride])])
    }
    func bn(_ x: String, _ key: String) throws -> String {
      try w.node("BatchNormalization", [x, need(key + ".weight"), need(key + ".bias"), need(key + ".running_mean"), need(key + ".running_var")],
                 name: "/\(key)/BatchNormalization",
                 attributes: [ONNXModelWriter.float("epsilon", 1e-5), ONNXModelWriter.float("momentum", 0.9), ONNXModelWriter.int("training_mode", 1)], outputs: 3)
    }
    func reluConvBN(_ x: String, _ key: String, kernel: Int, stride: Int, pad: Int) throws -> String {
      let r = w.node("Relu", [x], name: "/\(key)/op.0/Relu")
      return try bn(try conv(r, key + ".op.1", kernel: kernel, stride: stride, pad: pad), key + ".op.2")
    }
    let arch = network.architecture, n = network.cellsPerStage
    var x = try bn(try conv("input", "stem.0", kernel: 3, stride: 1, pad: 1), "stem.1")
    for i in 0..<(3 * n + 2) {
      let key = "cells.\(i)"
      if i == n || i == 2 * n + 1 {
        let b = try reluConvBN(try reluConvBN(x, key + ".conv_a", kernel: 3, stride: 2, pad: 1), key + ".conv_b", kernel: 3, stride: 1, pad: 1)
        let p = w.node("AveragePool", [x], name: "/\(key)/downsample/downsample.0/AveragePool",
                       attributes: [ONNXModelWriter.int("ceil_mode", 0), ONNXModelWriter.int("count_include_pad", 1), ONNXModelWriter.ints("kernel_shape", [2, 2]),
                                    ONNXModelWriter.ints("pads", [0, 0, 0, 0]), ONNXModelWriter.ints("strides", [2, 2])])
        let d = try conv(p, key + ".downsample.1", kernel: 1, stride: 1, pad: 0)
        x = w.node("Add", [d, b], name: "/\(key)/Add")
        continue
      }
      var nodes = [x]
      var e = 0
      for j in 1...3 {
        var acc: String?
        for k in 0..<j {
          let edge = key + ".layers.\(e)"
          let out: String
          switch arch.edges[e] {
          case .none: out = w.node("Mul", [nodes[k], w.constant(0, name: "/\(edge)/Constant", elementType: network.dtype == .float32 ? 1 : 11)], name: "/\(edge)/Mul")
          case .skipConnect: out = nodes[k]
          case .conv1x1: out = try reluConvBN(nodes[k], edge, kernel: 1, stride: 1, pad: 0)
          case .conv3x3: out = try reluConvBN(nodes[k], edge, kernel: 3, stride: 1, pad: 1)
          case .avgPool3x3:
            out = w.node("AveragePool", [nodes[k]], name: "/\(edge)/AveragePool",
                         attributes: [ONNXModelWriter.int("ceil_mode", 0), ONNXModelWriter.int("count_include_pad", 0), ONNXModelWriter.ints("kernel_shape", [3, 3]),
                                      ONNXModelWriter.ints("pads", [1, 1, 1, 1]), ONNXModelWriter.ints("strides", [1, 1])])
          }
          acc = acc.map { w.node("Add", [$0, out], name: "/\(key)/Add_\(e)") } ?? out
          e += 1
        }
        nodes.append(acc!)
      }
      x = nodes[3]
    }
    let r = w.node("Relu", [try bn(x, "lastact.0")], name: "/lastact/lastact.1/Relu")
    let g = w.node("GlobalAveragePool", [r], name: "/GlobalAveragePool")
    let f = w.node("Flatten", [g], name: "/Flatten", attributes: [ONNXModelWriter.int("axis", 1)])
    w.node("Gemm", [f, try need("classifier.weight"), try need("classifier.bias")], name: "/classifier/Gemm",
           attributes: [ONNXModelWriter.float("alpha", 1), ONNXModelWriter.float("beta", 1), ONNXModelWriter.int("transB", 1)], output: "logits")
    return try w.serialized(input: "input", inputShape: network.inputShape, output: "logits", classes: network.numClasses, dtype: network.dtype)
  }
}
