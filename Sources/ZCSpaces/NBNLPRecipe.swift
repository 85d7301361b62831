import Foundation

/// A malformed NAS-Bench-NLP cell recipe: which node (when one is to blame) and what was wrong.
public struct RecipeError: Error, CustomStringConvertible, Equatable {
  /// The offending node, or nil for a problem of the whole recipe (for example bad JSON).
  public let node: String?
  public let reason: String
  public init(node: String?, _ reason: String) { self.node = node; self.reason = reason }
  public var description: String { node.map { "recipe node '\($0)': \(reason)" } ?? "recipe: \(reason)" }
}

/// A NAS-Bench-NLP recurrent cell ("recipe"): a DAG of nodes, each `{op, input}`, computed once
/// per time step from the inputs `x` (the layer input at this step) and `h_prev_0…h_prev_{k-1}`
/// (the hidden tuple of the previous step). The new hidden tuple is `(h_new_0, …, h_new_{k-1})`,
/// k = ``hiddenTupleSize`` = 1 + the largest `h_new_i` index; `h_new_0` is the layer's output.
///
/// Semantics follow NAS-Bench-NLP `custom_rnn.py` (Klyuchnikov et al. 2020,
/// fmsnew/nas-bench-nlp-release): see ``NBNLPRecipe/Op``.
public struct NBNLPRecipe: Sendable, Equatable, CustomStringConvertible {
  /// Node operations.
  public enum Op: String, Sendable, CaseIterable {
    /// Σ_i W_i·input_i + b (one weight per input, one bias); any number ≥ 1 of inputs.
    case linear
    /// blend(a, b, c) = a⊙b + (1 − a)⊙c; exactly 3 inputs.
    case blend
    /// a⊙b; exactly 2 inputs.
    case elementwiseProd = "elementwise_prod"
    /// a + b; exactly 2 inputs.
    case elementwiseSum = "elementwise_sum"
    case tanh = "activation_tanh"
    case sigmoid = "activation_sigm"
    /// Leaky ReLU with negative slope 0.01 (PyTorch's default).
    case leakyRelu = "activation_leaky_relu"

    /// Allowed input counts.
    var arity: ClosedRange<Int> {
      switch self {
      case .linear: return 1...Int.max
      case .blend: return 3...3
      case .elementwiseProd, .elementwiseSum: return 2...2
      case .tanh, .sigmoid, .leakyRelu: return 1...1
      }
    }
    public var isActivation: Bool { self == .tanh || self == .sigmoid || self == .leakyRelu }
  }

  /// One computed node.
  public struct Node: Sendable, Equatable {
    public let name: String
    public let op: Op
    /// Input names: other nodes, `x` or `h_prev_i`, in order (the order of a linear node's weights).
    public let inputs: [String]
  }

  /// Nodes by name.
  public let nodes: [String: Node]
  /// The computed nodes in a valid evaluation order (deterministic: among ready nodes, the
  /// smallest name first).
  public let order: [String]
  /// Number of hidden states carried between steps.
  public let hiddenTupleSize: Int
  /// Canonical JSON (sorted keys, no spaces), the form the benchmark table stores.
  public let canonicalJSON: String

  public var description: String { canonicalJSON }

  /// Parses a recipe from its JSON text (`{"node": {"op": "...", "input": ["..."]}, ...}`).
  /// - Throws: ``RecipeError`` for malformed JSON and everything ``init(nodes:)`` rejects.
  public init(json: String) throws {
    guard let data = json.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
      throw RecipeError(node: nil, "expected a JSON object of nodes, found '\(json.prefix(60))'")
    }
    var nodes: [(String, String, [String])] = []
    for name in dict.keys.sorted() {
      guard let spec = dict[name] as? [String: Any] else { throw RecipeError(node: name, "expected an object with 'op' and 'input'") }
      guard let op = spec["op"] as? String else { throw RecipeError(node: name, "missing 'op' (a string)") }
      guard let inputs = spec["input"] as? [String] else { throw RecipeError(node: name, "missing 'input' (a list of node names)") }
      nodes.append((name, op, inputs))
    }
    try self.init(nodes: nodes)
  }

  /// Builds and validates a recipe from (name, op, inputs) triples.
  /// - Throws: ``RecipeError`` naming the node for: a reserved name (`x`, `h_prev_i`) used as a
  ///   node; an unknown op; a wrong number of inputs; a dangling input (neither a node, `x`, nor
  ///   `h_prev_i` with i < hidden tuple size); a cycle; a missing `h_new_0` (or a missing
  ///   `h_new_i` below the largest index).
  public init(nodes raw: [(name: String, op: String, inputs: [String])]) throws {
    var nodes: [String: Node] = [:]
    var tuple = 0
    for (name, opName, inputs) in raw {
      if name == "x" || Self.hiddenIndex(name, prefix: "h_prev_") != nil {
        throw RecipeError(node: name, "'\(name)' is a cell input and cannot be defined as a node")
      }
      guard nodes[name] == nil else { throw RecipeError(node: name, "defined twice") }
      guard let op = Op(rawValue: opName) else {
        throw RecipeError(node: name, "unknown op '\(opName)'; expected one of \(Op.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      guard op.arity.contains(inputs.count) else {
        let want = op.arity.upperBound == Int.max ? "at least \(op.arity.lowerBound)" : "\(op.arity.lowerBound)"
        throw RecipeError(node: name, "op \(opName) takes \(want) input(s), found \(inputs.count)")
      }
      nodes[name] = Node(name: name, op: op, inputs: inputs)
      if let i = Self.hiddenIndex(name, prefix: "h_new_") { tuple = max(tuple, i + 1) }
    }
    guard nodes["h_new_0"] != nil else { throw RecipeError(node: "h_new_0", "missing: every recipe needs the output node h_new_0") }
    for i in 0..<tuple where nodes["h_new_\(i)"] == nil {
      throw RecipeError(node: "h_new_\(i)", "missing: h_new_\(tuple - 1) exists, so the hidden tuple has \(tuple) states")
    }
    for name in nodes.keys.sorted() {
      for input in nodes[name]!.inputs where nodes[input] == nil && input != "x" {
        if let i = Self.hiddenIndex(input, prefix: "h_prev_") {
          if i >= tuple { throw RecipeError(node: name, "input '\(input)' has no h_new_\(i) (hidden tuple size \(tuple))") }
        } else {
          throw RecipeError(node: name, "dangling input '\(input)': expected a node, x or h_prev_0..\(tuple - 1)")
        }
      }
    }
    // Kahn's algorithm over computed nodes; the smallest ready name goes first.
    var pending = Dictionary(uniqueKeysWithValues: nodes.values.map { n in (n.name, Set(n.inputs.filter { nodes[$0] != nil }).count) })
    var users: [String: [String]] = [:]
    for n in nodes.values { for i in Set(n.inputs) where nodes[i] != nil { users[i, default: []].append(n.name) } }
    // Ready nodes in a binary min-heap: O(n log n) for any shape (10^5 nodes all ready at once included).
    var ready = MinHeap(pending.filter { $0.value == 0 }.map(\.key))
    var order: [String] = []
    while let n = ready.pop() {
      order.append(n)
      for u in users[n] ?? [] {
        pending[u]! -= 1
        if pending[u] == 0 { ready.push(u) }
      }
    }
    if order.count < nodes.count {
      let stuck = Set(nodes.keys).subtracting(order)
      // Name a node on a cycle: follow stuck inputs until a node repeats.
      // Iterative, linear in the path length (a recipe may have 10^5 nodes).
      var seen: [String] = []
      var position: [String: Int] = [:]
      var cur = stuck.min()!
      while position[cur] == nil {
        position[cur] = seen.count
        seen.append(cur)
        cur = nodes[cur]!.inputs.first { stuck.contains($0) }!
      }
      let cycle = seen[position[cur]!...] + [cur]
      throw RecipeError(node: cur, "cycle: " + cycle.joined(separator: " <- "))
    }
    self.nodes = nodes
    self.order = order
    hiddenTupleSize = tuple
    let parts = nodes.keys.sorted().map { k -> String in
      let n = nodes[k]!
      return "\"\(k)\":{\"input\":[" + n.inputs.map { "\"\($0)\"" }.joined(separator: ",") + "],\"op\":\"\(n.op.rawValue)\"}"
    }
    canonicalJSON = "{" + parts.joined(separator: ",") + "}"
  }

  /// Linear nodes in sorted name order (the order of PyTorch's `ModuleDict` built from the
  /// benchmark's sorted-key JSON).
  public var linearNodes: [Node] { nodes.keys.sorted().compactMap { nodes[$0]!.op == .linear ? nodes[$0] : nil } }

  /// i for names `<prefix>i` with i a decimal number, else nil.
  static func hiddenIndex(_ name: String, prefix: String) -> Int? {
    guard name.hasPrefix(prefix) else { return nil }
    let rest = name.dropFirst(prefix.count)
    guard !rest.isEmpty, rest.allSatisfy(\.isASCII), rest.allSatisfy(\.isNumber) else { return nil }
    return Int(rest)
  }
}

/// A binary min-heap of names (Kahn's algorithm above: the smallest ready name first).
private struct MinHeap {
  private var items: [String] = []
  init(_ names: [String]) { for n in names { push(n) } }

  mutating func push(_ x: String) {
    items.append(x)
    var i = items.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard items[i] < items[parent] else { break }
      items.swapAt(i, parent)
      i = parent
    }
  }

  mutating func pop() -> String? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let top = items.removeLast()
    var i = 0
    while true {
      let l = 2 * i + 1, r = l + 1
      var m = i
      if l < items.count && items[l] < items[m] { m = l }
      if r < items.count && items[r] < items[m] { m = r }
      if m == i { break }
      items.swapAt(i, m)
      i = m
    }
    return top
  }
}
