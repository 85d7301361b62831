import ZCAutodiff
import ZCNN

/// Which graph values are module outputs, for ``ForwardTrace``'s module-output trace (MeCo's
/// hooks on every module, Jiang et al. 2023).
///
/// PyTorch's exporter names every node by the scopes of the modules it was traced in and its op:
/// `/cells.0/layers.0/op/op.2/BatchNormalization` ran in module `cells.0`, its child `layers.0`,
/// that one's `op` and `op.2`. A scope is a module call; its outputs are the values produced by its
/// nodes that a node outside it reads (or the graph returns) and no node inside it reads (a value
/// also read inside is an intermediate that the exporter's common-subexpression elimination shared
/// with another module). A value that is the output of several nested scopes is recorded once per
/// scope, innermost first (forward-completion order), under the dotted module name (segments
/// joined by ".", a segment's repetition of its parent's last name dropped: `stem`/`stem.0` is
/// `stem.0`). A node whose name is not of that form (another exporter) is a module of its own,
/// named by the node. The whole network (the root scope) is not recorded.
///
/// What an export cannot show: modules that the exporter removed (an `nn.Identity`, whose output is
/// its input), and module calls merged with an identical earlier call (two ReLUs of one tensor
/// become one `Relu` node, the second module's firing is lost).
struct ONNXModuleOutputPlan {
  /// For a value name, the modules it is an output of, innermost first.
  var modulesOfValue: [String: [String]] = [:]

  init(_ g: ONNXGraph) {
    // Scope path of every node.
    let paths: [[String]] = g.nodes.map { n in
      guard n.name.hasPrefix("/") else { return [n.name] }
      let parts = n.name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
      // "", scope..., op name
      return parts.count > 2 ? Array(parts[1..<(parts.count - 1)]) : []
    }
    var consumers: [String: [Int]] = [:]
    for (k, n) in g.nodes.enumerated() {
      for i in n.inputs where !i.isEmpty { consumers[i, default: []].append(k) }
    }
    let graphOutputs = Set(g.outputs.map(\.name))
    func inside(_ k: Int, _ scope: ArraySlice<String>) -> Bool {
      paths[k].count >= scope.count && paths[k].prefix(scope.count) == scope
    }
    for (k, n) in g.nodes.enumerated() {
      let path = paths[k]
      guard !path.isEmpty else { continue }
      for o in n.outputs where !o.isEmpty {
        let readers = consumers[o] ?? []
        var names: [String] = []
        for depth in stride(from: path.count, through: 1, by: -1) {
          let scope = path.prefix(depth)
          let readInside = readers.contains { inside($0, scope) }
          let readOutside = graphOutputs.contains(o) || readers.contains { !inside($0, scope) }
          if readOutside && !readInside { names.append(Self.dottedName(scope)) }
        }
        if !names.isEmpty { modulesOfValue[o] = names }
      }
    }
  }

  /// `["cells.0", "layers.0", "op", "op.2"]` → `cells.0.layers.0.op.2`; `["stem", "stem.0"]` → `stem.0`.
  static func dottedName(_ scope: ArraySlice<String>) -> String {
    var name = ""
    var previousLast = ""
    for seg in scope {
      var s = seg
      if !previousLast.isEmpty, s.hasPrefix(previousLast + ".") { s = String(s.dropFirst(previousLast.count + 1)) }
      name = name.isEmpty ? s : name + "." + s
      previousLast = seg.split(separator: ".").last.map(String.init) ?? seg
    }
    return name
  }
}

extension ONNXNetwork {
  /// Reports node `k`'s float outputs that are module outputs to the current trace.
  func traceModuleOutputs(_ node: ONNXNode, _ outs: [GraphValue], _ trace: ForwardTrace) {
    let plan = moduleOutputPlan
    for (o, v) in zip(node.outputs, outs) {
      guard let names = plan.modulesOfValue[o], case let .float(x) = v else { continue }
      for name in names { trace.moduleOutput(name, x) }
    }
  }

  var moduleOutputPlan: ONNXModuleOutputPlan {
    if let p = cachedModuleOutputPlan { return p }
    let p = ONNXModuleOutputPlan(graph)
    cachedModuleOutputPlan = p
    return p
  }
}
