import ZCAutodiff
import ZCNN
import ZCTensor

/// NAS-Bench-NLP `MultiLinear`: y = Σ_i x_i W_iᵀ + b, with one weight `weights.i` `[H_out, H_in(i)]`
/// per input and one bias `[H_out]`.
final class MultiLinear: Module {
  var training = true
  let weights: [Parameter]
  let bias: Parameter

  init(inputSizes: [Int], outputSize: Int, dtype: DType, rng: inout ZCRandom?) {
    // CustomRNN.reset_parameters: every cell parameter U(−1/√H, 1/√H).
    let bound = 1 / Double(outputSize).squareRoot()
    func make(_ shape: [Int]) -> Tensor {
      guard rng != nil else { return Tensor(zeros: shape, dtype: dtype) }
      return Initializer.uniform(low: -bound, high: bound).make(shape: shape, dtype: dtype, rng: &rng!)
    }
    weights = inputSizes.map { Parameter(make([outputSize, $0])) }
    bias = Parameter(make([outputSize]))
  }

  var ownParameters: [(String, Parameter)] { weights.enumerated().map { ("weights.\($0.offset)", $0.element) } + [("bias", bias)] }

  /// Inputs `[N, H_in(i)]` (or precomputed products, see ``NBNLPCell``) → `[N, H_out]`.
  func callAsFunction(_ terms: [Variable]) -> Variable {
    terms.dropFirst().reduce(terms[0], add) + bias.variable
  }
}

/// Modules under fixed names (PyTorch `nn.ModuleDict`).
final class ModuleDict: Module {
  var training = true
  let items: [(String, any Module)]
  init(_ items: [(String, any Module)]) { self.items = items }
  var children: [(String, any Module)] { items }
}

/// One product input·Wᵀ of a linear node (a "term"), recorded so that dR/dW can be formed as
/// one GEMM Σ_terms (∂R/∂term)ᵀ·input instead of one outer product per step.
public struct LinearTerm {
  /// The weight's ``Parameter`` (identity).
  public let weight: ObjectIdentifier
  /// The input `[N, H_in]`.
  public let input: Tensor
  /// The product `[N, H_out]`, a node of the tape.
  public let output: Variable
}

/// What one recurrent forward pass records for the proxies.
public struct RecurrentTrace {
  /// Whether activation outputs are kept (NASWOT codes of the recurrent activations).
  public let recordsActivations: Bool
  /// Whether linear terms are kept (synflow).
  public let recordsLinearTerms: Bool
  /// Outputs `[B, H]` of every activation node, in evaluation order, step by step, layer by layer.
  public internal(set) var activations: [Tensor] = []
  /// Every linear term, in evaluation order.
  public internal(set) var linearTerms: [LinearTerm] = []
  public init(recordsActivations: Bool, recordsLinearTerms: Bool = false) {
    self.recordsActivations = recordsActivations
    self.recordsLinearTerms = recordsLinearTerms
  }
}

/// One NAS-Bench-NLP recurrent cell (`CustomRNNCell`) with its linear nodes' weights under
/// `components.<node>.weights.<i>` / `.bias` (sorted node names, as the benchmark's ModuleDict).
///
/// A linear node's input `x` gets a weight `[H, inputSize]`; every other input `[H, H]`.
public final class NBNLPCell: Module {
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public let recipe: NBNLPRecipe
  public let inputSize: Int
  public let hiddenSize: Int
  let linears: [String: MultiLinear]
  let components: ModuleDict

  init(_ recipe: NBNLPRecipe, inputSize: Int, hiddenSize: Int, dtype: DType, rng: inout ZCRandom?) {
    self.recipe = recipe
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    var items: [(String, any Module)] = []
    var linears: [String: MultiLinear] = [:]
    for node in recipe.linearNodes {
      let m = MultiLinear(inputSizes: node.inputs.map { $0 == "x" ? inputSize : hiddenSize }, outputSize: hiddenSize, dtype: dtype, rng: &rng)
      linears[node.name] = m
      items.append((node.name, m))
    }
    self.linears = linears
    components = ModuleDict(items)
  }

  public var children: [(String, any Module)] { [("components", components)] }

  /// Whether a non-linear node reads `x` directly (then each step needs its `[B, inputSize]` rows).
  var readsXDirectly: Bool { recipe.nodes.values.contains { $0.op != .linear && $0.inputs.contains("x") } }

  /// Products x·W_iᵀ of every linear input that reads `x`, for all steps at once:
  /// `xs` `[T·B, inputSize]` → per (node, input position) a `[T·B, H]` variable. Equal to the
  /// per-step products (one GEMM instead of T).
  func inputProjections(_ xs: Variable, trace: inout RecurrentTrace) -> [String: [Int: Variable]] {
    var out: [String: [Int: Variable]] = [:]
    for name in linears.keys.sorted() {
      let m = linears[name]!
      for (i, input) in recipe.nodes[name]!.inputs.enumerated() where input == "x" {
        let y = matmul(xs, m.weights[i].variable, transB: true)
        if trace.recordsLinearTerms { trace.linearTerms.append(LinearTerm(weight: ObjectIdentifier(m.weights[i]), input: xs.value, output: y)) }
        out[name, default: [:]][i] = y
      }
    }
    return out
  }

  /// One step: hidden tuple `[B, H]` × k → new hidden tuple. `projections` holds this step's rows
  /// of ``inputProjections(_:)``.
  func step(x: Variable?, hidden: [Variable], projections: [String: [Int: Variable]], trace: inout RecurrentTrace) -> [Variable] {
    var values: [String: Variable] = [:]
    if let x { values["x"] = x }
    for (i, h) in hidden.enumerated() { values["h_prev_\(i)"] = h }
    for name in recipe.order {
      let node = recipe.nodes[name]!
      let v: Variable
      switch node.op {
      case .linear:
        let m = linears[name]!
        let terms = node.inputs.enumerated().map { i, input -> Variable in
          if let p = projections[name]?[i] { return p }
          let y = matmul(values[input]!, m.weights[i].variable, transB: true)
          if trace.recordsLinearTerms { trace.linearTerms.append(LinearTerm(weight: ObjectIdentifier(m.weights[i]), input: values[input]!.value, output: y)) }
          return y
        }
        v = m(terms)
      case .blend:
        let (a, b, c) = (values[node.inputs[0]]!, values[node.inputs[1]]!, values[node.inputs[2]]!)
        v = a * b + addScalar(negate(a), 1) * c
      case .elementwiseProd: v = values[node.inputs[0]]! * values[node.inputs[1]]!
      case .elementwiseSum: v = values[node.inputs[0]]! + values[node.inputs[1]]!
      case .tanh: v = ZCAutodiff.tanh(values[node.inputs[0]]!)
      case .sigmoid: v = sigmoid(values[node.inputs[0]]!)
      case .leakyRelu: v = leakyRelu(values[node.inputs[0]]!, slope: 0.01)
      }
      if node.op.isActivation && trace.recordsActivations { trace.activations.append(v.value) }
      values[name] = v
    }
    return (0..<recipe.hiddenTupleSize).map { values["h_new_\($0)"]! }
  }
}
