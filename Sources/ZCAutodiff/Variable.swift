import ZCTensor

/// Whether differentiable operations record themselves for reverse-mode differentiation.
///
/// Recording is on by default. ``gradients(of:withRespectTo:seed:createGraph:)`` turns it off while
/// it runs backward functions, unless `createGraph` is set (double backward, as PyTorch's
/// `create_graph=True`). The flag is task-local, so concurrent networks do not interfere.
public enum GradMode {
  @TaskLocal public static var isEnabled = true

  /// Runs `body` with recording off (PyTorch's `torch.no_grad()`).
  public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
    try $isEnabled.withValue(false, operation: body)
  }
}

/// Backward function of a recorded operation: given the node and the cotangent of its output,
/// returns one cotangent per input (nil where the input needs none; `needs[i]` says which are
/// wanted). Cotangents are Variables so that backward passes can themselves be differentiated.
public typealias BackwardFunction = @Sendable (_ node: Variable, _ gradOutput: Variable, _ needs: [Bool]) -> [Variable?]

/// A tensor in a recorded computation (a node of the tape).
///
/// Leaves are created with `Variable(_:requiresGrad:)`; every differentiable operation returns a
/// new Variable that remembers its inputs and its backward function when recording is on and any
/// input requires a gradient. Variables are immutable.
public final class Variable: @unchecked Sendable, CustomStringConvertible {
  /// The value. Replaced by an empty tensor only by ``releaseUnreadValues(reachableFrom:keeping:)``,
  /// for nodes of a recorded backward graph whose value no later backward function reads.
  public private(set) var value: Tensor
  /// Shape of the value (kept when the value is released).
  public let shape: [Int]
  /// Whether this node's backward function reads the values of its inputs (false for ops whose
  /// backward needs only shapes or captured tensors: add, subtract, sum to shape, reshape, ReLU's
  /// backward, average pooling's adjoint).
  let readsInputValues: Bool
  /// Whether this node's backward function reads its own value (false for conv2d's input
  /// gradient, ReLU's backward, add: see ``releaseUnreadValues(reachableFrom:keeping:)``).
  let readsOwnValue: Bool
  /// Whether gradients flow to or through this variable.
  public let requiresGrad: Bool
  /// Name of the operation that produced it ("leaf" for leaves).
  public let operation: String
  /// Inputs of the operation (empty for leaves and constants). Set only at creation; emptied
  /// only while the variable is being released (see `deinit`).
  public private(set) var inputs: [Variable]
  private(set) var backward: BackwardFunction?
  /// The operation's settings that its inputs' shapes do not determine (``conv2d(_:_:_:)``
  /// records its ``Conv2DGeometry``, ``matmul(_:_:transA:transB:)`` its ``MatmulTransposition``),
  /// for code that evaluates part of a derivative itself
  /// (``perSampleElementJacobian(of:withRespectTo:elements:)``); nil for leaves and most operations.
  public let attributes: (any Sendable)?

  /// A leaf (a parameter or input when `requiresGrad`, otherwise a constant).
  public init(_ value: Tensor, requiresGrad: Bool = false) {
    self.value = value
    self.shape = value.shape
    self.readsInputValues = true
    self.readsOwnValue = true
    self.requiresGrad = requiresGrad
    self.operation = "leaf"
    self.inputs = []
    self.backward = nil
    self.attributes = nil
  }

  init(value: Tensor, operation: String, inputs: [Variable], readsInputValues: Bool = true, readsOwnValue: Bool = true,
       attributes: (any Sendable)? = nil, backward: @escaping BackwardFunction) {
    self.value = value
    self.shape = value.shape
    self.readsInputValues = readsInputValues
    self.readsOwnValue = readsOwnValue
    self.requiresGrad = true
    self.operation = operation
    self.inputs = inputs
    self.backward = backward
    self.attributes = attributes
  }

  /// Records an operation when recording is on and an input requires a gradient; otherwise
  /// returns a constant.
  ///
  /// `readsInputValues` / `readsOwnValue`: whether `backward` reads the inputs' values / the
  /// node's own value (default true; false lets ``releaseUnreadValues(reachableFrom:keeping:)``
  /// free values no backward function will read). `attributes`: see ``attributes``.
  public static func record(_ operation: String, _ value: Tensor, inputs: [Variable], readsInputValues: Bool = true,
                            readsOwnValue: Bool = true, attributes: (any Sendable)? = nil,
                            backward: @escaping BackwardFunction) -> Variable {
    if GradMode.isEnabled && inputs.contains(where: { $0.requiresGrad }) {
      return Variable(value: value, operation: operation, inputs: inputs, readsInputValues: readsInputValues,
                      readsOwnValue: readsOwnValue, attributes: attributes, backward: backward)
    }
    return Variable(value)
  }

  /// Releases the tape behind this variable without recursion. Left alone, releasing the last
  /// reference to a long chain (a recurrent cell unrolled over 10^5 steps, a recipe with a 10^5-node
  /// chain) releases each input from inside its user's deinit, one stack frame per node, and
  /// overflows the stack (SIGSEGV). Here the inputs move to a work list; each one this variable
  /// held the last reference to gives up its own inputs (and its backward function, which may
  /// capture them) to the list before it is released, so every deinit is shallow.
  deinit {
    guard !inputs.isEmpty else { return }
    var pending = inputs
    inputs = []
    backward = nil
    while var v = pending.popLast() {
      if isKnownUniquelyReferenced(&v) && !v.inputs.isEmpty {
        pending.append(contentsOf: v.inputs)
        v.inputs = []
        v.backward = nil
      }
    }
  }

  /// Replaces the value by an empty tensor of the same dtype (see ``releaseUnreadValues(reachableFrom:keeping:)``).
  func releaseValue() { value = Tensor(zeros: [0], dtype: value.dtype) }

  /// Gives up the inputs and the backward function (the reverse pass of
  /// ``gradientsReleasingGraph(of:withRespectTo:seed:keeping:)``, after this node's backward ran).
  func releaseTape() {
    guard !inputs.isEmpty || backward != nil else { return }
    let old = inputs
    inputs = []
    backward = nil
    _ = old  // released here; a last reference to a long chain unwinds through deinit's work list
  }

  public var dtype: DType { value.dtype }
  public var isLeaf: Bool { backward == nil }

  /// The same value, cut off from the tape (PyTorch's `detach()`).
  public func detached() -> Variable { Variable(value) }

  public var description: String { "Variable(\(operation), \(value))" }
}

/// Frees the values of recorded nodes that no backward function will read: a node reachable
/// from `roots` (through inputs), not reachable from `keeping`, not itself a root, whose own
/// backward does not read its value and whose every user (among the nodes reachable from
/// `roots`) has a backward that does not read input values. The node keeps its shape, inputs
/// and backward function, so the graph can still be differentiated exactly as before (the same
/// backward functions run on the same values); only `value` becomes an empty tensor.
///
/// For a graph recorded by a backward pass with `createGraph` (GraSP's first-order graph: the
/// input gradients of convolutions and partial sums of gradient accumulation are read by no
/// second-order backward), called once that pass is done and before anything else uses the
/// graph. `keeping`: graphs whose values stay (the shared forward pass). Callers must not read
/// `value` of the released nodes (only the roots' values are guaranteed).
/// - Returns: the bytes of the values released.
@discardableResult
public func releaseUnreadValues(reachableFrom roots: [Variable], keeping: [Variable]) -> Int {
  var kept = Set<ObjectIdentifier>()
  var stack = keeping
  while let v = stack.popLast() {
    if kept.insert(ObjectIdentifier(v)).inserted { stack.append(contentsOf: v.inputs) }
  }
  let rootIDs = Set(roots.map { ObjectIdentifier($0) })
  var nodes: [ObjectIdentifier: Variable] = [:]
  var readByUser = Set<ObjectIdentifier>()
  stack = roots
  while let v = stack.popLast() {
    let id = ObjectIdentifier(v)
    if kept.contains(id) || nodes[id] != nil { continue }
    nodes[id] = v
    for u in v.inputs {
      if v.readsInputValues { readByUser.insert(ObjectIdentifier(u)) }
      stack.append(u)
    }
  }
  var bytes = 0
  for (id, v) in nodes where !rootIDs.contains(id) && !readByUser.contains(id) && !v.readsOwnValue && !v.isLeaf {
    bytes += v.value.count * v.value.dtype.byteSize
    v.releaseValue()
  }
  return bytes
}

/// Reverse-mode gradients of `output` with respect to `inputs`.
///
/// Computes the vector–Jacobian product seedᵀ·∂output/∂input for each input. With `seed` nil the
/// seed is ones of the output's shape ("backward of ones"; for a scalar loss this is dL/dx).
/// Each backward function runs once, in reverse topological order; only the part of the graph
/// that leads to a requested input is visited, and an operation computes only the input
/// cotangents that lead somewhere.
///
/// - Parameters:
///   - output: any recorded Variable.
///   - inputs: leaves or intermediate Variables.
///   - seed: cotangent with the shape and dtype of `output`.
///   - createGraph: record the backward computation so the result can be differentiated again
///     (exact Hessian–vector products).
/// - Returns: one gradient per input, with the input's shape, or nil where the output does not
///   depend on that input through recorded operations.
public func gradients(of output: Variable, withRespectTo inputs: [Variable], seed: Variable? = nil, createGraph: Bool = false) -> [Variable?] {
  backpropagate(output, inputs, seed: seed, createGraph: createGraph, keeping: nil)
}

/// ``gradients(of:withRespectTo:seed:createGraph:)`` without `createGraph`, freeing the recorded
/// graph as it goes (PyTorch's `retain_graph=False`): once a node's backward function has run
/// (every node that uses it ran before it), the node gives up its inputs and its backward
/// function, so the tensors only they kept alive are freed during the pass instead of after it.
/// Nodes reachable from `keeping` (for example a shared forward pass that later passes reuse)
/// are left intact. The same backward functions run in the same order on the same values, so the
/// gradients are bit for bit those of ``gradients(of:withRespectTo:seed:createGraph:)``.
///
/// After the call, the graph behind `output` (outside `keeping`) cannot be differentiated again.
/// Used for GraSP's Hessian–vector product, whose double-backward graph has no later use
/// (issue 16: it sets the suite's peak memory).
public func gradientsReleasingGraph(of output: Variable, withRespectTo inputs: [Variable], seed: Variable? = nil,
                                    keeping: [Variable]) -> [Variable?] {
  var kept = Set<ObjectIdentifier>()
  var stack = keeping
  while let v = stack.popLast() {
    if kept.insert(ObjectIdentifier(v)).inserted { stack.append(contentsOf: v.inputs) }
  }
  return backpropagate(output, inputs, seed: seed, createGraph: false, keeping: kept)
}

/// The reverse pass of both entry points; `keeping` nil retains the whole graph, otherwise every
/// node outside it is released once processed (see ``gradientsReleasingGraph(of:withRespectTo:seed:keeping:)``).
private func backpropagate(_ output: Variable, _ inputs: [Variable], seed: Variable?, createGraph: Bool,
                           keeping: Set<ObjectIdentifier>?) -> [Variable?] {
  let seedVar = seed ?? Variable(Tensor(repeating: 1, shape: output.shape, dtype: output.dtype))
  precondition(seedVar.shape == output.shape, "seed shape \(seedVar.shape) differs from output shape \(output.shape)")
  guard output.requiresGrad else { return inputs.map { _ in nil } }

  // Topological order (inputs before users) of the nodes reachable from the output.
  var order: [Variable] = []
  var visited = Set<ObjectIdentifier>()
  var stack: [(Variable, Int)] = [(output, 0)]
  visited.insert(ObjectIdentifier(output))
  while let (node, next) = stack.popLast() {
    if next < node.inputs.count {
      stack.append((node, next + 1))
      let child = node.inputs[next]
      if child.requiresGrad && !visited.contains(ObjectIdentifier(child)) {
        visited.insert(ObjectIdentifier(child))
        stack.append((child, 0))
      }
    } else {
      order.append(node)
    }
  }

  // Which nodes lead to a requested input.
  let targets = Set(inputs.map { ObjectIdentifier($0) })
  var leads = Set<ObjectIdentifier>()
  for node in order {
    let id = ObjectIdentifier(node)
    if targets.contains(id) || node.inputs.contains(where: { leads.contains(ObjectIdentifier($0)) }) {
      leads.insert(id)
    }
  }

  var grads: [ObjectIdentifier: Variable] = [ObjectIdentifier(output): seedVar]
  var results: [ObjectIdentifier: Variable] = [:]
  GradMode.$isEnabled.withValue(createGraph) {
    // Reverse topological order; popping drops the list's reference to each node once processed.
    while let node = order.popLast() {
      let id = ObjectIdentifier(node)
      defer {
        if let keeping, !keeping.contains(id) { node.releaseTape() }
      }
      guard leads.contains(id), let g = grads[id] else { continue }
      if targets.contains(id) { results[id] = g }
      guard let backward = node.backward else { continue }
      grads[id] = nil
      let needs = node.inputs.map { leads.contains(ObjectIdentifier($0)) }
      if !needs.contains(true) { continue }
      let inputGrads = backward(node, g, needs)
      precondition(inputGrads.count == node.inputs.count, "\(node.operation) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
      for (k, input) in node.inputs.enumerated() where needs[k] {
        guard let ig = inputGrads[k] else { continue }
        precondition(ig.shape == input.shape, "\(node.operation): gradient \(ig.shape) for input \(input.shape)")
        let iid = ObjectIdentifier(input)
        if let existing = grads[iid] { grads[iid] = add(existing, ig) } else { grads[iid] = ig }
      }
    }
  }
  return inputs.map { results[ObjectIdentifier($0)] }
}

/// Gradients as tensors, with zeros (not nil) where `output` does not depend on an input.
public func gradientTensors(of output: Variable, withRespectTo inputs: [Variable], seed: Variable? = nil) -> [Tensor] {
  let g = gradients(of: output, withRespectTo: inputs, seed: seed)
  return zip(g, inputs).map { $0?.value ?? Tensor(zeros: $1.shape, dtype: $1.dtype) }
}
