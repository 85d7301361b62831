import ZCAutodiff
import ZCData
import ZCNN
import ZCTensor

/// Sizes of the NAS-Bench-NLP language model. The benchmark trained every cell with
/// emsize 400, nhid 600, 3 layers and tied weights (``benchmark``).
public struct NBNLPModelSize: Sendable, Equatable, CustomStringConvertible {
  public var vocabulary: Int
  public var embeddingSize: Int
  public var hiddenSize: Int
  public var layers: Int

  public init(vocabulary: Int, embeddingSize: Int, hiddenSize: Int, layers: Int) {
    self.vocabulary = vocabulary; self.embeddingSize = embeddingSize; self.hiddenSize = hiddenSize; self.layers = layers
  }

  /// emsize 400, nhid 600, 3 layers (NAS-Bench-NLP's training setting).
  public static func benchmark(vocabulary: Int) -> NBNLPModelSize {
    NBNLPModelSize(vocabulary: vocabulary, embeddingSize: 400, hiddenSize: 600, layers: 3)
  }

  /// Hidden units of layer l (0-based): nhid, except the last layer, which has emsize units
  /// because the decoder is tied to the embedding.
  public func hiddenSize(layer l: Int) -> Int { l == layers - 1 ? embeddingSize : hiddenSize }
  /// Input features of layer l: emsize for the first layer, nhid after.
  public func inputSize(layer l: Int) -> Int { l == 0 ? embeddingSize : hiddenSize }

  public var description: String { "emsize \(embeddingSize), nhid \(hiddenSize), \(layers) layers, vocabulary \(vocabulary)" }
}

/// The embedding table `encoder.weight` `[V, emsize]`, initialised U(−0.1, 0.1) as AWDRNNModel.
final class TokenEncoder: Module {
  var training = true
  let weight: Parameter
  init(_ v: Int, _ d: Int, dtype: DType, rng: inout ZCRandom?) {
    weight = Parameter(rng == nil ? Tensor(zeros: [v, d], dtype: dtype) : Initializer.uniform(low: -0.1, high: 0.1).make(shape: [v, d], dtype: dtype, rng: &rng!))
  }
  var ownParameters: [(String, Parameter)] { [("weight", weight)] }
}

/// The decoder `decoder.weight` (the encoder's own parameter: tied) and `decoder.bias` (zeros).
/// Both keys are in the state dict, as in PyTorch.
final class TiedDecoder: Module {
  var training = true
  let weight: Parameter
  let bias: Parameter
  init(tiedTo w: Parameter, vocabulary: Int, dtype: DType) {
    weight = w
    bias = Parameter(Tensor(zeros: [vocabulary], dtype: dtype))
  }
  var ownParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias)] }
}

/// One recurrent layer (`CustomRNN`): the cell applied over the steps, hidden tuple starting at zeros.
public final class NBNLPLayer: Module {
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public let cell: NBNLPCell
  init(_ cell: NBNLPCell) { self.cell = cell }
  public var children: [(String, any Module)] { [("cell", cell)] }
}

/// A forward pass of the NAS-Bench-NLP language model.
public struct NBNLPForward {
  /// The last layer's outputs h_new_0, `[T·B, emsize]` (row t·B + b), what AWDRNNModel.forward
  /// returns (the decoder is applied by the loss, not here).
  public let output: Variable
  /// Per layer: the hidden state h_prev_0 entering each step, `[T, B, H_l]` (row 0 is zeros).
  public let incomingHidden: [Tensor]
  public let trace: RecurrentTrace
}

/// The NAS-Bench-NLP language model (`AWDRNNModel('CustomRNN', …, tie_weights=True)`) in
/// evaluation mode (no dropout): embedding `encoder` → `rnns.0…rnns.{L−1}` (the cell of
/// ``NBNLPRecipe`` over the steps) → tied `decoder`. Parameter names equal the benchmark's
/// PyTorch `state_dict` keys, so reference weights load strictly.
///
/// Initialisation (same distributions as the benchmark, different generator): encoder
/// U(−0.1, 0.1), every cell parameter U(−1/√H_l, 1/√H_l), decoder bias 0.
/// Source: Klyuchnikov et al. 2020, fmsnew/nas-bench-nlp-release `model.py`, `custom_rnn.py`.
public final class NBNLPNetwork: Module {
  /// Stored only: the model has no dropout here, so both modes compute the same.
  public var training = true
  public let recipe: NBNLPRecipe
  public let size: NBNLPModelSize
  public let dtype: DType
  let encoder: TokenEncoder
  public let layers: [NBNLPLayer]
  let rnns: ModuleList
  let decoder: TiedDecoder

  /// Builds and initialises the model from `rng`.
  /// - Throws: ``RecipeError`` when a non-linear node reads `x` in a layer whose input size
  ///   differs from its hidden size (the benchmark's model fails on it too).
  public convenience init(_ recipe: NBNLPRecipe, size: NBNLPModelSize, dtype: DType = .float32, rng: inout ZCRandom) throws {
    var r: ZCRandom? = rng
    try self.init(recipe, size: size, dtype: dtype, optionalRNG: &r)
    rng = r!
  }

  init(_ recipe: NBNLPRecipe, size: NBNLPModelSize, dtype: DType, optionalRNG rng: inout ZCRandom?) throws {
    precondition(size.layers >= 1 && size.embeddingSize >= 1 && size.hiddenSize >= 1 && size.vocabulary >= 1, "bad model size \(size)")
    self.recipe = recipe
    self.size = size
    self.dtype = dtype
    encoder = TokenEncoder(size.vocabulary, size.embeddingSize, dtype: dtype, rng: &rng)
    var layers: [NBNLPLayer] = []
    for l in 0..<size.layers {
      let cell = NBNLPCell(recipe, inputSize: size.inputSize(layer: l), hiddenSize: size.hiddenSize(layer: l), dtype: dtype, rng: &rng)
      if cell.readsXDirectly && cell.inputSize != cell.hiddenSize {
        let node = recipe.order.first { recipe.nodes[$0]!.op != .linear && recipe.nodes[$0]!.inputs.contains("x") }!
        throw RecipeError(node: node, "reads x (\(cell.inputSize) features in layer \(l + 1)) with a non-linear op, but the hidden size is \(cell.hiddenSize)")
      }
      layers.append(NBNLPLayer(cell))
    }
    self.layers = layers
    rnns = ModuleList(layers)
    decoder = TiedDecoder(tiedTo: encoder.weight, vocabulary: size.vocabulary, dtype: dtype)
  }

  public var children: [(String, any Module)] { [("encoder", encoder), ("rnns", rnns), ("decoder", decoder)] }

  /// The embedding table `[V, emsize]` (also the decoder's weight).
  public var embeddingWeight: Parameter { encoder.weight }

  /// The same model with every parameter copied and converted to `dtype`, optionally transformed
  /// (for example |θ| for synflow).
  public func copy(dtype: DType, transform: ((Tensor) -> Tensor)? = nil) -> NBNLPNetwork {
    var none: ZCRandom? = nil
    let c = try! NBNLPNetwork(recipe, size: size, dtype: dtype, optionalRNG: &none)
    c.copyState(from: self, transform: transform)
    return c
  }

  /// A copy of the recurrent layers only (every `rnns.*` parameter, converted to `dtype` and
  /// optionally transformed), with a one-word placeholder embedding: for passes that feed their
  /// own embedding output (synflow), without copying the `[V, emsize]` table.
  public func recurrentCopy(dtype: DType, transform: ((Tensor) -> Tensor)? = nil) -> NBNLPNetwork {
    var none: ZCRandom? = nil
    var small = size
    small.vocabulary = 1
    let c = try! NBNLPNetwork(recipe, size: small, dtype: dtype, optionalRNG: &none)
    let mine = Dictionary(uniqueKeysWithValues: namedParameters().filter { $0.0.hasPrefix("rnns.") }.map { ($0.0, $0.1) })
    for (name, p) in c.namedParameters() where name.hasPrefix("rnns.") {
      let v = mine[name]!.value.to(dtype)
      p.value = transform?(v) ?? v
    }
    return c
  }

  /// Weight tensors of the cells' linear nodes (`rnns.l.cell.components.<node>.weights.<i>`), in
  /// state-dict order; biases excluded.
  public var cellWeights: [(String, Parameter)] {
    namedParameters().filter { $0.0.hasPrefix("rnns.") && $0.0.contains(".weights.") }
  }

  /// Runs the model on a token batch (ids must be < vocabulary).
  /// - Parameters:
  ///   - tokens: `[T, B]` time-major ids.
  ///   - embedded: optional replacement for the embedding output `[T·B, emsize]` (synflow feeds ones).
  ///   - recordActivations: keep every activation node's output in the trace.
  ///   - recordLinearTerms: keep every linear node's input·Wᵀ product in the trace.
  public func callAsFunction(_ tokens: TokenBatch, embedded: Variable? = nil, recordActivations: Bool = false,
                             recordLinearTerms: Bool = false) -> NBNLPForward {
    let (t, b) = (tokens.steps, tokens.batch)
    var x = embedded ?? embedding(encoder.weight.variable, tokens.ids)
    precondition(x.shape == [t * b, size.embeddingSize], "embedding output \(x.shape), expected \([t * b, size.embeddingSize])")
    var trace = RecurrentTrace(recordsActivations: recordActivations, recordsLinearTerms: recordLinearTerms)
    var incoming: [Tensor] = []
    for layer in layers {
      let cell = layer.cell
      let proj = cell.inputProjections(x, trace: &trace)
      var hidden = (0..<cell.recipe.hiddenTupleSize).map { _ in Variable(Tensor(zeros: [b, cell.hiddenSize], dtype: dtype)) }
      var outputs: [Variable] = []
      var entering: [Tensor] = []
      for s in 0..<t {
        let rows = (s * b)..<((s + 1) * b)
        let p = proj.mapValues { $0.mapValues { slice($0, axis: 0, rows) } }
        entering.append(hidden[0].value)
        hidden = cell.step(x: cell.readsXDirectly ? slice(x, axis: 0, rows) : nil, hidden: hidden, projections: p, trace: &trace)
        outputs.append(hidden[0])
      }
      incoming.append(Tensor.concatenate(entering, axis: 0).reshaped([t, b, cell.hiddenSize]))
      x = concatenate(outputs, axis: 0)
    }
    return NBNLPForward(output: x, incomingHidden: incoming, trace: trace)
  }
}
