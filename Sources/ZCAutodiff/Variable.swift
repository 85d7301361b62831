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
  /// The value.
  public let value: Tensor
  /// Whether gradients flow to or through this variable.
  public let requiresGrad: Bool
  /// Name of the operation that produced it ("leaf" for leaves).
  public let operation: String
  /// Inputs of the operation (empty for leaves and constants). Set only at creation; emptied
  /// only while the variable is being released (see `deinit`).
  public private(set) var inputs: [Variable]
  private(set) var backward: BackwardFunction?

  /// A leaf (a parameter or input when `requiresGrad`, otherwise a constant).
  public init(_ value: Tensor, requiresGrad: Bool = false) {
    self.value = value
    self.requiresGrad = requiresGrad
    self.operation = "leaf"
    self.inputs = []
    self.backward = nil
  }

  init(value: Tensor, operation: String, inputs: [Variable], backward: @escaping BackwardFunction) {
    self.value = value
    self.requiresGrad = true
    self.operation = operation
    self.inputs = inputs
    self.backward = backward
  }

  /// Records an operation when recording is on and an input requires a gradient; otherwise
  /// returns a constant.
  public static func record(_ operation: String, _ value: Tensor, inputs: [Variable], backward: @escaping BackwardFunction) -> Variable {
    if GradMode.isEnabled && inputs.contains(where: { $0.requiresGrad }) {
      return Variable(value: value, operation: operation, inputs: inputs, backward: backward)
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

  public var shape: [Int] { value.shape }
  public var dtype: DType { value.dtype }
  public var isLeaf: Bool { backward == nil }

  /// The same value, cut off from the tape (PyTorch's `detach()`).
  public func detached() -> Variable { Variable(value) }

  public var description: String { "Variable(\(operation), \(value))" }
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
    for node in order.reversed() {
      let id = ObjectIdentifier(node)
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
