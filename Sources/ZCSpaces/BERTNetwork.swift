import Foundation
import ZCAutodiff
import ZCNN
import ZCTensor

/// Sizes of the FlexiBERT/ELECTRA model (`ElectraConfig`): vocabulary V, embedding E, hidden H,
/// the FFN width of every layer, positions P, token types, LayerNorm ε.
public struct BERTModelSize: Sendable, Equatable, CustomStringConvertible {
  public var vocabulary = 30522
  public var embeddingSize = 128
  public var hiddenSize: Int
  /// I of each layer (`intermediate_size`; the PyTorch reference has one I for all layers).
  public var intermediateSizes: [Int]
  public var positions = 512
  public var typeVocabulary = 2
  public var layerNormEps = 1e-12
  /// `pad_token_id`: the word-embedding row set to zero at initialisation.
  public var padTokenID = 0

  public init(hiddenSize: Int, intermediateSizes: [Int]) { self.hiddenSize = hiddenSize; self.intermediateSizes = intermediateSizes }

  /// How a benchmark entry becomes a model.
  public enum Mode: String, Sendable, CaseIterable {
    /// The entry's `hidden_size` and each layer's `feed_forward_dimension` (the trained networks).
    case benchmark
    /// H = 256 and I = 1024 for every architecture: what `BERT_metrics.ipynb` builds (the
    /// `ElectraConfig` defaults; Serianni & Kalita's published metrics).
    case notebook
  }

  /// The sizes of `a` under `mode`.
  public static func of(_ a: BERTArchitecture, mode: Mode) -> BERTModelSize {
    switch mode {
    case .benchmark: return BERTModelSize(hiddenSize: a.hiddenSize, intermediateSizes: a.layers.map(\.feedForwardDimension))
    case .notebook: return BERTModelSize(hiddenSize: 256, intermediateSizes: a.layers.map { _ in 1024 })
    }
  }

  public var description: String {
    let i = Set(intermediateSizes).count == 1 ? "\(intermediateSizes[0])" : intermediateSizes.map(String.init).joined(separator: "/")
    return "H \(hiddenSize), I \(i), E \(embeddingSize)"
  }
}

/// What the metric hooks of `BERT_metrics.ipynb` record in one forward pass (values, no tape).
public struct BERTForwardRecord {
  /// Every GELU call's output `[B, T, I]`, in call order (layer, then FFN position).
  public var activations: [Tensor] = []
  /// Outputs `[B, T, D]` of the op modules' `query`, `key`, `value`, `weight` and `input` Linears, in call order.
  public var headOutputs: [Tensor] = []
  /// Outputs of each op module's `softmax`: `[B, h, T, T]` (SA), `[B, h', T, T]` (DSC), `[B, h, T, d]` (LT, unused by the model).
  public var softmaxOutputs: [Tensor] = []
}

/// Embeddings (`ElectraEmbeddings`): word, position and token-type tables of E columns and a LayerNorm.
public final class BERTEmbeddings: Module {
  public var training = true
  public let wordEmbeddings: TokenEmbedding
  public let positionEmbeddings: TokenEmbedding
  public let tokenTypeEmbeddings: TokenEmbedding
  public let layerNorm: LayerNormLayer

  init(_ s: BERTModelSize, dtype: DType, rng: inout ZCRandom) {
    wordEmbeddings = TokenEmbedding(s.vocabulary, s.embeddingSize, paddingIndex: s.padTokenID, dtype: dtype, rng: &rng)
    positionEmbeddings = TokenEmbedding(s.positions, s.embeddingSize, dtype: dtype, rng: &rng)
    tokenTypeEmbeddings = TokenEmbedding(s.typeVocabulary, s.embeddingSize, dtype: dtype, rng: &rng)
    layerNorm = LayerNormLayer(s.embeddingSize, eps: s.layerNormEps, dtype: dtype)
  }

  public var children: [(String, any Module)] {
    [("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings), ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm)]
  }
}

/// The op module of a layer (`layer.operation.operation`): SA, LT or DSC, with the names of the
/// reference (`modeling_electra.py`).
public final class BERTOperation: Module {
  public var training = true
  public let kind: BERTLayerSpec.Operation
  public let heads: Int
  let hidden: Int
  // SA and DSC
  public let query: TokenLinear?, key: TokenLinear?, value: TokenLinear?
  // SA-WMA
  public let weight: TokenLinear?
  // LT
  public let input: TokenLinear?
  // DSC (ConvBERT): SeparableConv1D parameters, the kernel and output projections
  public let depthwise: Parameter?, pointwise: Parameter?, convBias: Parameter?
  public let convKernelLayer: TokenLinear?, convOutLayer: TokenLinear?

  init(_ spec: BERTLayerSpec, hidden h: Int, dtype: DType, rng: inout ZCRandom) {
    kind = spec.operation
    heads = spec.heads
    hidden = h
    var q: TokenLinear?, k: TokenLinear?, v: TokenLinear?, w: TokenLinear?, inp: TokenLinear?
    var dw: Parameter?, pw: Parameter?, cb: Parameter?, ck: TokenLinear?, co: TokenLinear?
    switch spec.operation {
    case .sdp, .wma:
      q = TokenLinear(h, h, dtype: dtype, rng: &rng)
      if spec.operation == .wma { w = TokenLinear(h, h, bias: false, dtype: dtype, rng: &rng) }
      k = TokenLinear(h, h, dtype: dtype, rng: &rng)
      v = TokenLinear(h, h, dtype: dtype, rng: &rng)
    case .dft, .dct:
      inp = TokenLinear(h, h, dtype: dtype, rng: &rng)
    case let .dsc(kernel):
      let (hp, d) = (max(1, spec.heads / 2), h / spec.heads)
      let a = hp * d
      q = TokenLinear(h, a, dtype: dtype, rng: &rng)
      k = TokenLinear(h, a, dtype: dtype, rng: &rng)
      v = TokenLinear(h, a, dtype: dtype, rng: &rng)
      dw = Parameter(Initializer.normal(mean: 0, std: 0.02).make(shape: [h, 1, kernel], dtype: dtype, rng: &rng))
      pw = Parameter(Initializer.normal(mean: 0, std: 0.02).make(shape: [a, h, 1], dtype: dtype, rng: &rng))
      cb = Parameter(Tensor(zeros: [a, 1], dtype: dtype))
      ck = TokenLinear(a, hp * kernel, dtype: dtype, rng: &rng)
      co = TokenLinear(h, a, dtype: dtype, rng: &rng)
    }
    (query, key, value, weight, input) = (q, k, v, w, inp)
    (depthwise, pointwise, convBias, convKernelLayer, convOutLayer) = (dw, pw, cb, ck, co)
  }

  /// The key-conv module `key_conv_attn_layer` (ConvBERT `SeparableConv1D`): `bias` [A, 1],
  /// `depthwise.weight` [H, 1, k], `pointwise.weight` [A, H, 1].
  final class SeparableConv: Module {
    var training = true
    let depthwise: Holder, pointwise: Holder, bias: Parameter
    final class Holder: Module {
      var training = true
      let weight: Parameter
      init(_ w: Parameter) { weight = w }
      var ownParameters: [(String, Parameter)] { [("weight", weight)] }
    }
    init(depthwise: Parameter, pointwise: Parameter, bias: Parameter) {
      self.depthwise = Holder(depthwise); self.pointwise = Holder(pointwise); self.bias = bias
    }
    var ownParameters: [(String, Parameter)] { [("bias", bias)] }
    var children: [(String, any Module)] { [("depthwise", depthwise), ("pointwise", pointwise)] }
  }
  private lazy var separable: SeparableConv? = depthwise.map { SeparableConv(depthwise: $0, pointwise: pointwise!, bias: convBias!) }

  public var children: [(String, any Module)] {
    var out: [(String, any Module)] = []
    if let query { out.append(("query", query)) }
    if let key { out.append(("key", key)) }
    if let value { out.append(("value", value)) }
    if let weight { out.append(("weight", weight)) }
    if let input { out.append(("input", input)) }
    if let separable { out.append(("key_conv_attn_layer", separable)) }
    if let convKernelLayer { out.append(("conv_kernel_layer", convKernelLayer)) }
    if let convOutLayer { out.append(("conv_out_layer", convOutLayer)) }
    return out
  }

  /// The Linear modules inside the op module with their names, in registration order.
  public var linears: [(String, TokenLinear)] { children.compactMap { n, m in (m as? TokenLinear).map { (n, $0) } } }

  /// [B, T, n·d] → [B, n, T, d].
  static func split(_ x: Variable, heads n: Int) -> Variable {
    let (b, t, c) = (x.shape[0], x.shape[1], x.shape[2])
    return permute(reshape(x, [b, t, n, c / n]), [0, 2, 1, 3])
  }
  /// [B, n, T, d] → [B, T, n·d].
  static func merge(_ x: Variable) -> Variable {
    let (b, n, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return reshape(permute(x, [0, 2, 1, 3]), [b, t, n * d])
  }

  /// softmax(Q Kᵀ / √d) V over `n` heads; records the probabilities.
  static func attention(_ q: Variable, _ k: Variable, _ v: Variable, heads n: Int, record: inout BERTForwardRecord?) -> Variable {
    let (qh, kh, vh) = (split(q, heads: n), split(k, heads: n), split(v, heads: n))
    let d = qh.shape[3]
    let scores = scale(batchedMatmul(qh, kh, transB: true), 1 / Double(d).squareRoot())
    let p = softmax(scores)
    record?.softmaxOutputs.append(p.value)
    return merge(batchedMatmul(p, vh))
  }

  /// OP(x): x `[B, T, H]` → `[B, T, H]` (flexibert-model.md, section 5).
  func callAsFunction(_ x: Variable, record: inout BERTForwardRecord?) -> Variable {
    func lin(_ l: TokenLinear, _ z: Variable) -> Variable {
      let y = l(z)
      record?.headOutputs.append(y.value)
      return y
    }
    switch kind {
    case .sdp:
      let q = lin(query!, x), k = lin(key!, x), v = lin(value!, x)
      return Self.attention(q, k, v, heads: heads, record: &record)
    case .wma:
      let q = lin(weight!, lin(query!, x))
      let k = lin(key!, x), v = lin(value!, x)
      return Self.attention(q, k, v, heads: heads, record: &record)
    case .dft, .dct:
      let u = Self.split(lin(input!, x), heads: heads)
      let f = kind == .dft ? fourierTransform2DReal(u) : cosineTransform2D(u)
      if record != nil { record!.softmaxOutputs.append(f.value.softmaxLastAxis()) }
      return Self.merge(f)
    case let .dsc(kernel):
      let hp = max(1, heads / 2), d = hidden / heads
      let q = lin(query!, x), kk = lin(key!, x), vv = lin(value!, x)
      // SeparableConv1D over tokens: depthwise (padding k//2, no bias), pointwise, + bias [A, 1].
      let u = depthwiseConv1d(x, weight: depthwise!.variable)
      let a = pointwise!.shape[0]
      let pw = reshape(pointwise!.variable, [a, hidden])
      let keyConv = add(reshape(linear(reshape(u, [-1, hidden]), weight: pw, bias: nil), [x.shape[0], x.shape[1], a]), reshape(convBias!.variable, [a]))
      let g = multiply(keyConv, q)
      let logits = convKernelLayer!(g)  // [B, T, h'·k]
      let (b, t) = (x.shape[0], x.shape[1])
      let w = softmax(reshape(logits, [b, t, hp, kernel]))  // functional softmax: not hooked
      let o = reshape(convOutLayer!(x), [b, t, hp, d])
      var conv: Variable?
      for j in 0..<kernel {
        let term = multiply(shifted(o, axis: 1, by: j - (kernel - 1) / 2), slice(w, axis: 3, j..<(j + 1)))
        conv = conv.map { add($0, term) } ?? term
      }
      let ctx = Self.attention(q, kk, vv, heads: hp, record: &record)  // [B, T, A]
      return concatenate([ctx, reshape(conv!, [b, t, a])], axis: 2)
    }
  }
}

/// `ElectraSelfOutput`: dense H→H and LayerNorm (module `operation.output`).
public final class BERTSelfOutput: Module {
  public var training = true
  public let dense: TokenLinear
  public let layerNorm: LayerNormLayer
  init(_ h: Int, eps: Double, dtype: DType, rng: inout ZCRandom) {
    dense = TokenLinear(h, h, dtype: dtype, rng: &rng)
    layerNorm = LayerNormLayer(h, eps: eps, dtype: dtype)
  }
  public var children: [(String, any Module)] { [("dense", dense), ("LayerNorm", layerNorm)] }
}

/// The wrapper `layer.operation`: the op module, and for SA and DSC the self-output.
public final class BERTOperationBlock: Module {
  public var training = true
  public let operation: BERTOperation
  public let output: BERTSelfOutput?
  init(_ spec: BERTLayerSpec, _ s: BERTModelSize, dtype: DType, rng: inout ZCRandom) {
    operation = BERTOperation(spec, hidden: s.hiddenSize, dtype: dtype, rng: &rng)
    switch spec.operation {
    case .dft, .dct: output = nil
    default: output = BERTSelfOutput(s.hiddenSize, eps: s.layerNormEps, dtype: dtype, rng: &rng)
    }
  }
  public var children: [(String, any Module)] { [("operation", operation)] + (output.map { [("output", $0)] } ?? []) }
}

/// `ElectraIntermediate`: dense_in H→I then nff − 1 dense I→I, each followed by GELU.
public final class BERTIntermediate: Module {
  public var training = true
  public let denseIn: TokenLinear
  public let denseList: [TokenLinear]
  init(_ h: Int, _ i: Int, count: Int, dtype: DType, rng: inout ZCRandom) {
    denseIn = TokenLinear(h, i, dtype: dtype, rng: &rng)
    var list: [TokenLinear] = []
    for _ in 0..<max(0, count - 1) { list.append(TokenLinear(i, i, dtype: dtype, rng: &rng)) }
    denseList = list
  }
  public var children: [(String, any Module)] { [("dense_in", denseIn)] + (denseList.isEmpty ? [] : [("dense_list", ModuleList(denseList))]) }
}

/// `ElectraOutput`: dense I→H and LayerNorm.
public final class BERTOutput: Module {
  public var training = true
  public let dense: TokenLinear
  public let layerNorm: LayerNormLayer
  init(_ i: Int, _ h: Int, eps: Double, dtype: DType, rng: inout ZCRandom) {
    dense = TokenLinear(i, h, dtype: dtype, rng: &rng)
    layerNorm = LayerNormLayer(h, eps: eps, dtype: dtype)
  }
  public var children: [(String, any Module)] { [("dense", dense), ("LayerNorm", layerNorm)] }
}

/// One encoder layer (`ElectraLayer`).
public final class BERTLayer: Module {
  public var training = true
  public let spec: BERTLayerSpec
  public let operation: BERTOperationBlock
  public let intermediate: BERTIntermediate
  public let output: BERTOutput
  init(_ spec: BERTLayerSpec, _ s: BERTModelSize, intermediateSize i: Int, dtype: DType, rng: inout ZCRandom) {
    self.spec = spec
    operation = BERTOperationBlock(spec, s, dtype: dtype, rng: &rng)
    intermediate = BERTIntermediate(s.hiddenSize, i, count: spec.feedForwardCount, dtype: dtype, rng: &rng)
    output = BERTOutput(i, s.hiddenSize, eps: s.layerNormEps, dtype: dtype, rng: &rng)
  }
  public var children: [(String, any Module)] { [("operation", operation), ("intermediate", intermediate), ("output", output)] }

  func callAsFunction(_ x: Variable, record: inout BERTForwardRecord?) -> Variable {
    let opOut = operation.operation(x, record: &record)
    let y: Variable
    if let so = operation.output { y = so.layerNorm(add(so.dense(opOut), x)) } else { y = opOut }
    var a = gelu(intermediate.denseIn(y))
    record?.activations.append(a.value)
    for l in intermediate.denseList {
      a = gelu(l(a))
      record?.activations.append(a.value)
    }
    return output.layerNorm(add(output.dense(a), y))
  }
}

/// The encoder: `encoder.layer.0 … L−1`.
public final class BERTEncoder: Module {
  public var training = true
  public let layers: [BERTLayer]
  init(_ layers: [BERTLayer]) { self.layers = layers }
  public var children: [(String, any Module)] { [("layer", ModuleList(layers))] }
}

/// The FlexiBERT/ELECTRA model of Serianni & Kalita (2023), `modeling_electra.py` `ElectraModel`
/// without a pooler: embeddings (word + token type, + position, LayerNorm), the projection E→H
/// `embeddings_project` when H ≠ E, and the encoder layers of the architecture
/// (`shared/docs/flexibert-model.md`, sections 3 to 6). Dropout is the identity (p = 0, or p = 0.1
/// not applied: zero-cost proxies here are defined without it) and the attention mask is ignored,
/// as in the reference. Parameter names equal the reference `state_dict` keys (without the
/// `embeddings.position_ids` buffer, which is 0..P−1 and is checked by the loader).
///
/// Initialisation (BERT `_init_weights`, same distributions as the reference, another generator):
/// every Linear weight, embedding table and SeparableConv1D weight ~ N(0, 0.02²), biases 0, the
/// `[PAD]` word row 0, LayerNorm γ = 1, β = 0.
public final class BERTNetwork: Module {
  public var training = true
  public let architecture: BERTArchitecture
  public let size: BERTModelSize
  public let embeddings: BERTEmbeddings
  public let embeddingsProject: TokenLinear?
  public let encoder: BERTEncoder

  /// - Precondition: `size.intermediateSizes.count == architecture.layers.count`.
  public init(_ a: BERTArchitecture, size s: BERTModelSize, dtype: DType, rng: inout ZCRandom) {
    precondition(s.intermediateSizes.count == a.layers.count, "one FFN width per layer")
    architecture = a
    size = s
    embeddings = BERTEmbeddings(s, dtype: dtype, rng: &rng)
    embeddingsProject = s.hiddenSize != s.embeddingSize ? TokenLinear(s.embeddingSize, s.hiddenSize, dtype: dtype, rng: &rng) : nil
    var layers: [BERTLayer] = []
    for (spec, i) in zip(a.layers, s.intermediateSizes) { layers.append(BERTLayer(spec, s, intermediateSize: i, dtype: dtype, rng: &rng)) }
    encoder = BERTEncoder(layers)
  }

  public var children: [(String, any Module)] {
    [("embeddings", embeddings)] + (embeddingsProject.map { [("embeddings_project", $0)] } ?? []) + [("encoder", encoder)]
  }

  /// The forward pass: token ids `[B, T]` (row-major, each < V; T ≤ P), token types 0 →
  /// `last_hidden_state` `[B, T, H]`, and the hooked values when `record` is set.
  /// - Precondition: ids.count == batch · steps, 1 ≤ steps ≤ P, ids in 0..<V (validated by the space).
  public func callAsFunction(ids: [Int], batch: Int, steps: Int, record: Bool) -> (output: Variable, record: BERTForwardRecord?) {
    precondition(ids.count == batch * steps && steps >= 1 && steps <= size.positions, "ids \(ids.count) for [\(batch), \(steps)]")
    var rec: BERTForwardRecord? = record ? BERTForwardRecord() : nil
    let word = embeddings.wordEmbeddings(ids, shape: [batch, steps])
    let type = embeddings.tokenTypeEmbeddings([Int](repeating: 0, count: batch * steps), shape: [batch, steps])
    let pos = embeddings.positionEmbeddings(Array(0..<steps), shape: [steps])
    var x = embeddings.layerNorm(add(add(word, type), pos))
    if let p = embeddingsProject { x = p(x) }
    for layer in encoder.layers { x = layer(x, record: &rec) }
    return (x, rec)
  }
}
