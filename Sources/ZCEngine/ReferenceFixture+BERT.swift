import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// The BERT part of a fixture (`kind` "bert", `shared/reference/bert/README.md`), validated.
public struct BERTFixtureSpec: Sendable {
  public let architecture: BERTArchitecture
  public let size: BERTModelSize
  /// Engine proxy name → reference `value_float64`: forward metrics from `reference`, gradient
  /// metrics from `reference_random_cotangent` (the backward of ones is rounding noise).
  public let references: [String: Double]
  /// Engine proxy name → the backward-of-ones `value_float64` (`reference`) of the gradient metrics.
  public let onesReferences: [String: Double]

  /// Fixture metric key → engine proxy name.
  public static let names: [String: String] = [
    "head_confidence": "head_confidence", "head_confidence_normalized": "head_confidence_normalized",
    "head_softmax_confidence": "head_softmax_confidence", "head_softmax_confidence_normalized": "head_softmax_confidence_normalized",
    "activation_distance": "activation_distance", "activation_distance_normalized": "activation_distance_normalized",
    "num_parameters": "params",
    "synaptic_diversity": "synaptic_diversity", "synaptic_diversity_normalized": "synaptic_diversity_normalized",
    "synaptic_saliency": "synaptic_saliency", "synaptic_saliency_normalized": "synaptic_saliency_normalized",
    "head_importance": "head_importance", "head_importance_normalized": "head_importance_normalized",
    "jacobian_score": "jacobian_cov", "jacobian_score_cosine": "jacobian_cosine",
  ]
  /// Fixture keys whose reference comes from the random-cotangent block.
  public static let gradientKeys: Set<String> = [
    "synaptic_diversity", "synaptic_diversity_normalized", "synaptic_saliency", "synaptic_saliency_normalized",
    "head_importance", "head_importance_normalized", "jacobian_score", "jacobian_score_cosine",
  ]

  /// - Throws: ``FixtureError`` naming the field.
  init(_ d: FixtureDocument, path: String) throws {
    func fail(_ r: String) -> FixtureError { FixtureError(path: path, reason: r) }
    guard let layers = d.nasConfig?.objectValue?["encoder_layers"] else { throw fail("missing field 'nas_config.encoder_layers'") }
    guard let bh = d.benchmarkRow?.objectValue?["hidden_size"]?.intValue else { throw fail("missing field 'benchmark_row.hidden_size' (128 or 256)") }
    guard let mc = d.modelConfig?.objectValue, let h = mc["hidden_size"]?.intValue, let i = mc["intermediate_size"]?.intValue,
          (16...4096).contains(h), (16...16384).contains(i) else {
      throw fail("'model_config': expected integer hidden_size (16...4096) and intermediate_size (16...16384)")
    }
    let a: BERTArchitecture
    do { a = try BERTArchitecture(hiddenSize: bh, layersValue: layers) } catch { throw fail("'nas_config': \(error)") }
    var size = BERTModelSize(hiddenSize: h, intermediateSizes: a.layers.map { _ in i })
    for (key, field) in [("vocab_size", \BERTModelSize.vocabulary), ("embedding_size", \.embeddingSize), ("max_position_embeddings", \.positions), ("type_vocab_size", \.typeVocabulary)] {
      if let v = mc[key]?.intValue { guard (1...1_000_000).contains(v) else { throw fail("'model_config.\(key)': out of range, found \(v)") }; size[keyPath: field] = v }
    }
    if let e = mc["layer_norm_eps"], case let .number(x) = e { size.layerNormEps = x }
    guard h % 4 == 0 else { throw fail("'model_config.hidden_size': expected a multiple of the head counts, found \(h)") }
    var refs: [String: Double] = [:], ones: [String: Double] = [:]
    for (key, name) in Self.names {
      if let e = d.reference[key], let v = e.valueFloat64 ?? e.value {
        if Self.gradientKeys.contains(key) { ones[name] = v.value } else { refs[name] = v.value }
      }
      if Self.gradientKeys.contains(key), let e = d.referenceRandomCotangent?[key]?.objectValue?["value_float64"] {
        switch e {
        case let .number(x): refs[name] = x
        case let .integer(x): refs[name] = Double(x)
        case .string("nan"): refs[name] = .nan
        case .string("inf"): refs[name] = .infinity
        case .string("-inf"): refs[name] = -.infinity
        default: throw fail("'reference_random_cotangent.\(key).value_float64': expected a number, found \(e.kind)")
        }
      }
    }
    architecture = a
    self.size = size
    references = refs
    onesReferences = ones
  }
}

extension ReferenceFixture {
  /// The BERT part. - Throws: ``FixtureError`` for a fixture of another kind.
  public func bert() throws -> BERTFixtureSpec {
    guard case let .bert(s) = content else { throw FixtureError(path: jsonPath, reason: "kind '\(kind)' is not a BERT fixture") }
    return s
  }

  /// The BERT model with the fixture's weights (strict load, `embeddings.position_ids` checked to
  /// be 0..P−1 and not stored), in `dtype`.
  /// - Throws: ``FixtureError``, ``StateError`` naming the key.
  public func bertNetwork(dtype: DType) throws -> BERTNetwork {
    let s = try bert()
    var rng = ZCRandom(seed: 0)
    let net = BERTNetwork(s.architecture, size: s.size, dtype: dtype, rng: &rng)
    try BERTSpace.loadWeights(tensors, into: net)
    return net
  }

  /// `input_ids` `[B, T]` (I64) with ids < V and T ≤ P, and `ref.cotangent` `[B, T, H]` when present.
  /// - Throws: ``FixtureError`` naming the tensor.
  public func bertBatch(dtype: DType) throws -> (ids: [Int], batch: Int, steps: Int, cotangent: Tensor?) {
    let s = try bert()
    guard case let .int(ids, shape)? = tensors.tensors["input_ids"], shape.count == 2, shape[0] >= 1, (1...s.size.positions).contains(shape[1]) else {
      throw FixtureError(path: tensors.path, reason: "expected an I64 'input_ids' tensor [B, T] with T <= \(s.size.positions), found \(tensors.summary("input_ids"))")
    }
    if let bad = ids.first(where: { $0 < 0 || $0 >= s.size.vocabulary }) { throw FixtureError(path: tensors.path, reason: "'input_ids' holds \(bad), outside 0..<\(s.size.vocabulary)") }
    var cot: Tensor?
    if tensors.tensors["ref.cotangent"] != nil {
      let c = try tensors.floatTensor("ref.cotangent")
      guard c.shape == [shape[0], shape[1], s.size.hiddenSize] else {
        throw FixtureError(path: tensors.path, reason: "'ref.cotangent' has shape \(c.shape); expected \([shape[0], shape[1], s.size.hiddenSize])")
      }
      cot = c.to(dtype)
    }
    return (ids, shape[0], shape[1], cot)
  }

  /// Relative tolerance of a BERT proxy against `value_float64` (the fixture README's table).
  public static func bertTolerance(_ metric: String, engine: DType) -> Double {
    let base = metric.replacingOccurrences(of: "_normalized", with: "")
    let f32: [String: Double] = ["params": 0, "activation_distance": 1e-4, "head_confidence": 2e-6, "head_softmax_confidence": 2e-6,
                                 "synaptic_diversity": 5e-6, "synaptic_saliency": 2e-6, "head_importance": 3e-6, "jacobian_cov": 5e-5, "jacobian_cosine": 1e-6]
    let f64: [String: Double] = ["params": 0, "activation_distance": 1e-6, "head_confidence": 1e-10, "head_softmax_confidence": 1e-10,
                                 "synaptic_diversity": 1e-9, "synaptic_saliency": 1e-10, "head_importance": 1e-10, "jacobian_cov": 1e-7, "jacobian_cosine": 1e-10]
    return (engine == .float32 ? f32[base] : f64[base]) ?? 1e-6
  }
}
