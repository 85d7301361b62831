import Foundation
import ZCAutodiff
import ZCNN
import ZCTensor

/// Where the initial weights of an ONNX network come from.
public enum ONNXInitialisation: Sendable, Equatable {
  /// The file's initializers (the weights the model was exported with): `--init file`.
  case file
  /// PyTorch's default initialisation per layer kind, drawn from `seed` in module order: Conv and
  /// linear weights U(±1/√fan_in) (`kaiming_uniform_(a=√5)`, fan_in = the weight's elements per
  /// output channel), their biases U(±1/√fan_in), batch norm scale 1, shift 0, running mean 0,
  /// running variance 1; LayerNormalization scale 1, bias 0; `nn.MultiheadAttention` (a module with
  /// `in_proj_weight`, or `q/k/v_proj_weight`) those weights `xavier_uniform_`, in_proj_bias and
  /// out_proj.bias 0. Other
  /// initializers (embeddings, class tokens, constants) keep the file's values, since their module
  /// kind is not known from the graph: `--init pytorch-default`.
  case pytorchDefault(seed: UInt64)
}

/// A value flowing through the graph: a float tensor on the tape, or an integer tensor of the
/// shape arithmetic (Shape, Gather, Concat, ... on shapes), which is computed for the actual input
/// on every call and so folded for the given input size.
enum GraphValue {
  case float(Variable)
  case int([Int], [Int])

  var shape: [Int] {
    switch self {
    case let .float(v): return v.shape
    case let .int(_, s): return s
    }
  }
}

/// An image classifier given as an ONNX graph (``ONNXGraph``), run through ZCAutodiff's operations,
/// so every image proxy works on it: input `[N, C, H, W]` (the graph's single data input, with
/// fixed C, H, W), logits `[N, K]` (its first output). The supported ops and attributes are
/// ``ONNXOpTable``'s (docs/onnx.md).
///
/// What the proxies see, as the reference implementations define it for PyTorch modules:
/// - weight layers (``WeightedLayer``, in module order): the weight initializer of every `Conv`
///   and `Gemm` node, and of every 2-D `MatMul` whose weight initializer (directly or through one
///   `Transpose`) is named `weight` or `*.weight` (an `nn.Linear`, not a bare parameter);
/// - the ReLU inputs (nwot, the ReLU-based proxies): the input of every `Relu` node, one entry per
///   node call (PyTorch's `nn.ReLU` and `F.relu` both export as `Relu`). `Clip` (ReLU6), LeakyRelu
///   and the other activations are not hooked, as the reference code hooks `nn.ReLU` only;
/// - batch norm: every `BatchNormalization` node is an ``ONNXBatchNormLayer`` that synflow bypasses;
/// - module outputs (MeCo): the values that leave a scope of the exporter's node names
///   (``ONNXModuleOutputPlan``), reported to a ``ForwardTrace`` that records module outputs.
///
/// Batch norm with `training_mode = 1` normalises with the batch statistics while the module is in
/// training mode and with the running statistics in evaluation mode; with `training_mode = 0` (an
/// eval-mode export) it always uses the running statistics. The running statistics are not
/// updated by a forward pass (no proxy reads them after one).
///
/// Construction checks the graph once at batch 2 (every op supported, every shape consistent);
/// a call with an input of the same `[C, H, W]` then cannot fail.
public final class ONNXNetwork: ImageClassifier, TracesEveryModule {
  public let graph: ONNXGraph
  public let inputShape: [Int]
  public let dtype: DType
  public var training = true
  let root: ONNXModule
  let inputName: String
  let outputName: String
  /// Parameters and buffers by initializer name.
  var parameterByName: [String: Parameter] = [:]
  var bufferOwner: [String: (ONNXModule, String)] = [:]
  /// Integer initializers (shape constants), and float initializers used as constants.
  var constants: [String: GraphValue] = [:]
  /// The layer of a node index (Conv/Gemm/MatMul weight layers, batch norm modules).
  var layerOfNode: [Int: ONNXModule] = [:]
  /// The weight layer whose output (Fisher's activation, after the bias) node k computes: its
  /// Conv/Gemm node, or the bias `Add` that follows a linear layer's MatMul.
  var layerOutputAtNode: [Int: ONNXModule] = [:]
  /// Exact-GELU subgraphs run as one GELU (``GELUFusion``).
  let geluFusion: GELUFusion
  /// Which values are module outputs (``ONNXModuleOutputPlan``), built at the first traced call.
  var cachedModuleOutputPlan: ONNXModuleOutputPlan?

  public var children: [(String, any Module)] { root.childModules }
  public var ownParameters: [(String, Parameter)] { root.parameters }
  public var ownBuffers: [(String, BufferValue)] { root.ownBuffers }
  public func setBuffer(_ name: String, _ value: BufferValue) throws { try root.setBuffer(name, value) }

  /// Builds the network of `graph` in `dtype` and checks it with a batch of 2 zero images.
  /// - Throws: ``ONNXError`` naming the file: an unsupported op (node, op type, opset), no single
  ///   `[N, C, H, W]` data input, an output that is not `[N, K]`, or a node whose inputs do not fit
  ///   its op (shapes, attributes).
  public convenience init(graph: ONNXGraph, dtype: DType = .float32, initialisation: ONNXInitialisation = .file) throws {
    try ONNXOpTable.check(graph)
    guard graph.inputs.count == 1, let input = graph.inputs.first else {
      throw ONNXError("\(graph.fileName): expected one data input (the images), found \(graph.inputs.count): \(graph.inputs.map(\.name).joined(separator: ", "))")
    }
    guard let dims = input.dims, dims.count == 4, let c = dims[1], let h = dims[2], let w = dims[3], c > 0, h > 0, w > 0 else {
      let found = input.dims.map { "[" + $0.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]" } ?? "no shape"
      throw ONNXError("\(graph.fileName): input '\(input.name)' has \(found), expected rank 4 [batch, C, H, W] with fixed C, H and W")
    }
    guard [0, 1, 11].contains(input.elementType) else {
      throw ONNXError("\(graph.fileName): input '\(input.name)' has element type \(input.elementType), expected float (1) or double (11)")
    }
    try self.init(graph: graph, inputShape: [c, h, w], numClasses: nil, dtype: dtype)
    if case let .pytorchDefault(seed) = initialisation { reinitialise(seed: seed) }
  }

  init(graph: ONNXGraph, inputShape: [Int], numClasses: Int?, dtype: DType) throws {
    self.graph = graph
    self.inputShape = inputShape
    self.dtype = dtype
    inputName = graph.inputs[0].name
    outputName = graph.outputs[0].name
    let built = Self.buildModules(graph, dtype: dtype)
    root = built.root
    parameterByName = built.parameters
    bufferOwner = built.buffers
    constants = built.constants
    layerOfNode = built.layers
    layerOutputAtNode = built.layerOutputs
    geluFusion = GELUFusion(graph)
    for m in layerOfNode.values {
      (m as? ONNXConvLayer)?.owner = self
      (m as? ONNXLinearLayer)?.owner = self
      (m as? ONNXBatchNormLayer)?.owner = self
    }
    if let numClasses {
      classCount = numClasses
    } else {
      let probe = Variable(Tensor(zeros: [2] + inputShape, dtype: dtype))
      let out = try GradMode.withoutRecording { try run(probe) }
      guard out.shape.count == 2, out.shape[0] == 2, out.shape[1] >= 1 else {
        throw ONNXError("\(graph.fileName): output '\(outputName)' has shape \(out.shape) for 2 images, expected [batch, classes]")
      }
      classCount = out.shape[1]
    }
  }

  private var classCount = 0
  /// K, the class count: the second axis of the graph's output (read from a run at construction).
  public var numClasses: Int { classCount }

  /// The same network (graph, module tree) with every parameter and buffer copied, in `dtype`.
  public func copy(dtype: DType) -> ONNXNetwork {
    let net: ONNXNetwork
    do { net = try ONNXNetwork(graph: graph, inputShape: inputShape, numClasses: classCount, dtype: dtype) } catch {
      preconditionFailure("rebuilding a checked ONNX network failed: \(error)")
    }
    net.copyState(from: self)
    net.setTraining(training)
    return net
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    do { return try run(x) } catch {
      // Unreachable for inputs of the checked [C, H, W]: the graph ran at construction.
      preconditionFailure("\(error)")
    }
  }

  /// Logits `[N, K]` of images `[N, C, H, W]`. - Throws: ``ONNXError`` when a node's inputs do not fit its op.
  public func run(_ x: Variable) throws -> Variable {
    guard x.shape.count == 4, Array(x.shape.dropFirst()) == inputShape else {
      throw ONNXError("\(graph.fileName): input of shape \(x.shape), expected [batch] + \(inputShape)")
    }
    var env: [String: GraphValue] = [inputName: .float(x)]
    let moduleTrace = ForwardTrace.current.flatMap { $0.recordsModuleOutputs ? $0 : nil }
    for (k, node) in graph.nodes.enumerated() {
      if geluFusion.skipped.contains(k) { continue }
      let value = { (name: String) throws -> GraphValue in
        if let v = env[name] { return v }
        return try self.initializerValue(name, node: node)
      }
      if let xName = geluFusion.geluAt[k] {
        // The fused pattern's last node stands for the whole `nn.GELU` call (its module output).
        let y = GraphValue.float(gelu(try asFloat(try value(xName), node)))
        env[node.outputs[0]] = y
        if let moduleTrace { traceModuleOutputs(node, [y], moduleTrace) }
        continue
      }
      let outs = try evaluate(k, node, value)
      for (o, v) in zip(node.outputs, outs) where !o.isEmpty { env[o] = v }
      if let moduleTrace { traceModuleOutputs(node, outs, moduleTrace) }
    }
    guard let out = env[outputName] ?? (try? initializerValue(outputName, node: nil)) else {
      throw ONNXError("\(graph.fileName): output '\(outputName)' was not computed")
    }
    guard case let .float(y) = out else { throw ONNXError("\(graph.fileName): output '\(outputName)' is an integer tensor, expected logits") }
    if classCount > 0 && (y.shape.count != 2 || y.shape[1] != classCount) {
      throw ONNXError("\(graph.fileName): output '\(outputName)' has shape \(y.shape), expected [batch, \(classCount)]")
    }
    return y
  }

  func initializerValue(_ name: String, node: ONNXNode?) throws -> GraphValue {
    if let p = parameterByName[name] { return .float(p.variable) }
    if let (m, attr) = bufferOwner[name], let t = m.buffer(attr) { return .float(Variable(t)) }
    if let c = constants[name] { return c }
    throw ONNXError("\(graph.fileName): node \(node?.label ?? "?") reads '\(name)', which has no value")
  }

  /// Runs one layer node on `x` (its other inputs from initializers): a layer module called directly.
  func applyLayerNode(_ k: Int, _ x: Variable) -> Variable {
    let node = graph.nodes[k]
    do {
      let outs = try evaluate(k, node) { name in
        if name == node.inputs[0] { return .float(x) }
        // A weight read through one Transpose (PyTorch's nn.Linear on a rank-3 input): transpose it here.
        if self.parameterByName[name] == nil, let t = self.graph.nodes.firstIndex(where: { $0.outputs.contains(name) }),
           self.graph.nodes[t].opType == "Transpose", let v = try self.evaluate(t, self.graph.nodes[t], { try self.initializerValue($0, node: node) }).first {
          return v
        }
        return try self.initializerValue(name, node: node)
      }
      guard case let .float(y)? = outs.first else { preconditionFailure("layer node \(node.label) gave no float output") }
      // A MatMul layer's bias is the Add after it (nn.Linear called directly includes it).
      var out = y
      if node.opType == "MatMul", let l = layerOfNode[k] as? ONNXLinearLayer, let b = l.bias, layerOutputAtNode[k] !== l { out = add(y, b.variable) }
      // A direct call is a call of the layer's forward: a conv or linear layer's output (after the
      // bias) is traced as in the graph (Fisher's activations). `evaluate` already traced it when
      // the layer's output is this node's (Conv, Gemm, a MatMul without bias).
      if let layer = layerOfNode[k] as? any WeightedLayer, layerOutputAtNode[k] !== layer { ForwardTrace.current?.layerOutput(layer, out) }
      return out
    } catch { preconditionFailure("layer node \(node.label) called directly: \(error)") }
  }

  // MARK: building

  struct Built {
    var root: ONNXModule
    var parameters: [String: Parameter] = [:]
    var buffers: [String: (ONNXModule, String)] = [:]
    var constants: [String: GraphValue] = [:]
    var layers: [Int: ONNXModule] = [:]
    var layerOutputs: [Int: ONNXModule] = [:]
  }

  enum LayerKind { case conv, linear, batchNorm }

  static func split(_ name: String) -> (path: [String], attr: String) {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    return (Array(parts.dropLast()), parts.last ?? name)
  }

  /// The module tree, parameters and layer assignment of a graph (no checks: ``ONNXOpTable`` and the probe run do those).
  static func buildModules(_ g: ONNXGraph, dtype: DType) -> Built {
    let producer: [String: ONNXNode] = Dictionary(g.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
    var consumers: [String: [Int]] = [:]
    for (k, n) in g.nodes.enumerated() { for i in Set(n.inputs) where !i.isEmpty { consumers[i, default: []].append(k) } }
    let graphOutputs = Set(g.outputs.map(\.name))
    func isFloatInit(_ name: String?) -> Bool {
      guard let name, case .float? = g.initializers[name] else { return false }
      return true
    }
    // Which initializers are batch-norm statistics (buffers), and which paths are layers.
    var bufferNames = Set<String>()
    var pathKind: [[String]: (LayerKind, Int, String)] = [:]  // path -> (kind, node index, weight name)
    for (k, n) in g.nodes.enumerated() where n.domain.isEmpty {
      switch n.opType {
      case "Conv", "Gemm":
        if let w = n.input(1), isFloatInit(w) {
          let p = split(w).path
          if pathKind[p] == nil { pathKind[p] = (n.opType == "Conv" ? .conv : .linear, k, w) }
        }
      case "MatMul":
        var w = n.input(1)
        if let name = w, !isFloatInit(name), let t = producer[name], t.opType == "Transpose", isFloatInit(t.input(0)) { w = t.input(0) }
        if let w, isFloatInit(w), split(w).attr == "weight" {
          let p = split(w).path
          if pathKind[p] == nil { pathKind[p] = (.linear, k, w) }
        }
      case "BatchNormalization":
        let ins = (1...4).map { n.input($0) }
        if ins.allSatisfy(isFloatInit) {
          for name in ins.dropFirst(2) { bufferNames.insert(name!) }
          let paths = Set(ins.map { split($0!).path })
          if paths.count == 1, let p = paths.first, pathKind[p] == nil { pathKind[p] = (.batchNorm, k, ins[0]!) }
        }
      default: break
      }
    }
    let root = ONNXModule()
    var built = Built(root: root)
    var modules: [[String]: ONNXModule] = [[]: root]
    func module(_ path: [String]) -> ONNXModule {
      if let m = modules[path] { return m }
      let parent = module(Array(path.dropLast()))
      let m: ONNXModule
      if let (kind, _, w) = pathKind[path] {
        guard case let .float(t)? = g.initializers[w] else { preconditionFailure("layer weight \(w) is not a float initializer") }
        let p = Parameter(t.to(dtype))
        built.parameters[w] = p
        switch kind {
        case .conv: m = ONNXConvLayer(weight: p)
        case .linear:
          // Gemm transB = 1 and Transpose→MatMul weights are [out, in]; plain MatMul weights [in, out].
          m = ONNXLinearLayer(weight: p, inFeatures: t.shape.count == 2 ? t.shape[1] : 1)
        case .batchNorm: m = ONNXBatchNormLayer()
        }
      } else {
        m = ONNXModule()
      }
      parent.childModules.append((path.last ?? "", m))
      modules[path] = m
      return m
    }
    for name in g.initializerOrder {
      guard let value = g.initializers[name] else { continue }
      switch value {
      case .int:
        built.constants[name] = .int(Self.intData(value), value.shape)
      case let .float(t):
        let (path, attr) = split(name)
        let m = module(path)
        if bufferNames.contains(name) {
          m.floatBuffers.append((attr, t.to(dtype)))
          built.buffers[name] = (m, attr)
        } else {
          let p = built.parameters[name] ?? Parameter(t.to(dtype))
          built.parameters[name] = p
          m.parameters.append((attr, p))
        }
      }
    }
    // Layer assignments by node; linear layers whose weight is [in, out] (plain MatMul, Gemm transB = 0).
    for (k, n) in g.nodes.enumerated() where n.domain.isEmpty {
      switch n.opType {
      case "Conv", "Gemm", "MatMul":
        var w = n.input(1)
        var transposed = n.opType == "Gemm" && n.int("transB", default: 0) == 1
        if n.opType == "MatMul", let name = w, !isFloatInit(name), let t = producer[name], t.opType == "Transpose" { w = t.input(0); transposed = true }
        guard let w, let entry = pathKind[split(w).path], entry.2 == w, let m = modules[split(w).path] else { continue }
        if let c = m as? ONNXConvLayer, entry.0 == .conv, n.opType == "Conv" {
          if layerOfNode(built, c) == nil { c.nodeIndex = k }
          built.layers[k] = c
          built.layerOutputs[k] = c
          if let b = n.input(2), let bp = built.parameters[b], c.bias == nil { c.bias = bp }
        } else if let l = m as? ONNXLinearLayer, entry.0 == .linear, n.opType != "Conv" {
          if layerOfNode(built, l) == nil { l.nodeIndex = k }
          if let wt = l.weight.shape.count == 2 ? l.weight.shape : nil { l.inFeatures = transposed ? wt[1] : wt[0] }
          built.layers[k] = l
          if n.opType == "Gemm", let b = n.input(2), let bp = built.parameters[b], l.bias == nil { l.bias = bp }
          // nn.MultiheadAttention reads out_proj.weight itself and never calls out_proj's forward.
          let path = split(w).path
          if path.last == "out_proj" {
            let owner = path.dropLast().joined(separator: ".")
            let prefix = owner.isEmpty ? "" : owner + "."
            if g.initializers[prefix + "in_proj_weight"] != nil || g.initializers[prefix + "q_proj_weight"] != nil { l.forwardCalled = false }
          }
          // A MatMul's bias is the single Add that reads its output and the initializer `<module>.bias`
          // (PyTorch's exporter writes nn.Linear on a rank-3 input as MatMul + Add): the layer's output is after it.
          if n.opType == "MatMul", let out = n.outputs.first, !graphOutputs.contains(out), let users = consumers[out], users.count == 1,
             g.nodes[users[0]].opType == "Add", g.nodes[users[0]].inputs.count == 2,
             let other = g.nodes[users[0]].inputs.first(where: { $0 != out }),
             other == (path + ["bias"]).joined(separator: "."), let bp = built.parameters[other], bp.shape.count == 1 {
            // Attached also when the forward is never called (out_proj), so that
            // `--init pytorch-default` zeroes it as nn.MultiheadAttention does.
            if l.bias == nil { l.bias = bp }
            if l.forwardCalled { built.layerOutputs[users[0]] = l }
          } else if l.forwardCalled {
            built.layerOutputs[k] = l
          }
        }
      case "BatchNormalization":
        if let s = n.input(1), let m = modules[split(s).path] as? ONNXBatchNormLayer, pathKind[split(s).path]?.1 == k {
          m.nodeIndex = k
          built.layers[k] = m
        } else {
          let m = ONNXBatchNormLayer()
          m.nodeIndex = k
          root.childModules.append(("<batchnorm \(n.name)>", m))
          built.layers[k] = m
        }
      default: break
      }
    }
    return built
  }

  private static func layerOfNode(_ b: Built, _ m: ONNXModule) -> Int? { b.layers.first { $0.value === m }?.key }

  static func intData(_ v: ONNXTensorValue) -> [Int] {
    switch v {
    case let .int(d, _): return d
    case let .float(t): return t.doubles.map { Int($0) }
    }
  }

  /// PyTorch's default initialisation from `seed`, in module order: conv and linear layers
  /// (`kaiming_uniform_(a=√5)` weights, U(±1/√fan_in) biases), batch norm (1, 0, 0, 1),
  /// LayerNormalization scale 1 and bias 0 (`nn.LayerNorm.reset_parameters`), and
  /// `nn.MultiheadAttention` (a module with `in_proj_weight`, or `q_proj_weight`/`k_proj_weight`/
  /// `v_proj_weight` when kdim/vdim differ; `_reset_parameters`): those weights `xavier_uniform_`,
  /// in_proj_bias 0, out_proj's bias 0 (its weight as a linear layer's).
  func reinitialise(seed: UInt64) {
    var rng = ZCRandom(seed: seed)
    var layerNormParameters: [String: Double] = [:]
    for n in graph.nodes where n.opType == "LayerNormalization" {
      if let s = n.input(1) { layerNormParameters[s] = 1 }
      if let b = n.input(2) { layerNormParameters[b] = 0 }
    }
    func fill(_ p: Parameter, _ v: Double) { p.value = Tensor(repeating: v, shape: p.shape, dtype: dtype) }
    for (_, m) in namedModules() {
      if let l = m as? any WeightedLayer {
        let shape = l.weight.shape
        guard shape.count >= 2 else { continue }
        l.weight.value = Initializer.pytorchDefaultWeight.make(shape: shape, dtype: dtype, rng: &rng)
        if let b = l.bias {
          if l.forwardIsCalled {
            b.value = Initializer.pytorchDefaultBias(weightShape: shape).make(shape: b.shape, dtype: dtype, rng: &rng)
          } else {
            fill(b, 0)  // nn.MultiheadAttention's out_proj.bias
          }
        }
      } else if let bn = m as? ONNXBatchNormLayer {
        bn.resetParameters()
      } else if let om = m as? ONNXModule {
        // nn.MultiheadAttention: in_proj_weight, or q/k/v_proj_weight when kdim/vdim differ from
        // embed_dim (the module the out_proj rule recognises by either).
        let projections = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"]
          .compactMap { name in om.parameters.first(where: { $0.0 == name })?.1 }.filter { $0.shape.count == 2 }
        guard !projections.isEmpty else { continue }
        for w in projections { w.value = Initializer.xavierUniform(gain: 1).make(shape: w.shape, dtype: dtype, rng: &rng) }
        if let b = om.parameters.first(where: { $0.0 == "in_proj_bias" })?.1 { fill(b, 0) }
      }
    }
    for (name, v) in layerNormParameters { if let p = parameterByName[name] { fill(p, v) } }
  }
}
