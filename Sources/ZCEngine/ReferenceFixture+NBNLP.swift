import Foundation
import ZCData
import ZCSpaces
import ZCTensor

/// NAS-Bench-NLP fixtures (`kind` "nbnlp_rnn"; Tests/Fixtures/README.md, "NBNLP keys").
extension ReferenceFixture {
  /// The NAS-Bench-NLP part. - Throws: ``FixtureError`` for a fixture of another kind.
  public func nbnlp() throws -> NBNLPFixtureSpec {
    guard case let .nbnlp(spec) = content else {
      throw FixtureError(path: jsonPath, reason: "kind '\(kind)' is not an NAS-Bench-NLP fixture (no recipe_json_string)")
    }
    return spec
  }

  /// The fixture's model sizes: `model.ntoken`, `model.emsize`, `model.nhid`, `model.nlayers`.
  /// - Throws: ``FixtureError`` for a fixture of another kind.
  public func nbnlpModelSize() throws -> NBNLPModelSize { try nbnlp().size }

  /// The recipe (`recipe_json_string`). - Throws: ``FixtureError`` for a fixture of another kind.
  public func nbnlpRecipe() throws -> NBNLPRecipe { try nbnlp().recipe }

  /// The language model with the fixture's weights (strict load), in `dtype`.
  /// - Throws: ``FixtureError`` (also when the weights cannot fit in memory), ``RecipeError`` or
  ///   ``StateError`` naming the key.
  public func nbnlpNetwork(dtype: DType) throws -> NBNLPNetwork {
    let s = try nbnlp()
    let weights = NBNLPSpace.memoryEstimate(s.recipe, size: s.size, steps: 1, batchSize: 0, dtype: dtype, proxies: [])
    if weights.bytes > MemoryLimit.physicalBytes {
      throw FixtureError(path: jsonPath, reason: "model \(s.size): the weights need an estimated \(MemoryLimit.gigabytes(weights.bytes)), above this machine's \(MemoryLimit.gigabytes(MemoryLimit.physicalBytes))")
    }
    var rng = ZCRandom(seed: 0)
    let net = try NBNLPNetwork(s.recipe, size: s.size, dtype: dtype, rng: &rng)
    try WeightsIO.load(tensors, into: net)
    return net
  }

  /// The `tokens` batch `[T, B]` (I64, time-major).
  /// - Throws: ``FixtureError`` when it is not an integer tensor `[T, B]` with T ≥ 1 and B ≥ 2 or
  ///   an id is outside the vocabulary.
  public func tokenBatch() throws -> TokenBatch {
    guard case let .int(ids, shape)? = tensors.tensors["tokens"], shape.count == 2, shape[0] >= 1, shape[1] >= 2 else {
      throw FixtureError(path: tensors.path, reason: "expected an I64 'tokens' tensor [T, B] with T >= 1 and B >= 2, found \(tensors.summary("tokens"))")
    }
    let v = try nbnlpModelSize().vocabulary
    if let bad = ids.first(where: { $0 < 0 || $0 >= v }) { throw FixtureError(path: tensors.path, reason: "token id \(bad) is outside 0..<\(v)") }
    return TokenBatch(ids: ids, steps: shape[0], batch: shape[1])
  }

  /// Reference hidden covariance of layer l (1-based), `value_float64`; nil when absent.
  public func hiddenCovarianceReference(layer: Int) -> Double? {
    guard case let .nbnlp(s) = content else { return nil }
    return s.layerReferences[layer]
  }
}

extension ReferenceFixture {
  /// Relative tolerance for a recurrent proxy against `value_float64` (README tolerance table:
  /// hidden_covariance rtol 5e-5 for float32 hidden states with a Float64 correlation and
  /// eigen step, 1e-8 for a float64 engine).
  public static func recurrentTolerance(_ metric: String, engine: DType) -> Double {
    engine == .float32 ? 5e-5 : 1e-8
  }

  /// Reference `value_float64` per recurrent proxy name the fixture covers: `hidden_cov` (layer 1)
  /// and `hidden_cov_l<k>` from `reference.hidden_covariance.layers`.
  public var recurrentReferences: [String: Double] {
    var out: [String: Double] = [:]
    guard case let .nbnlp(s) = content else { return [:] }
    for (l, v) in s.layerReferences { out[l == 1 ? "hidden_cov" : "hidden_cov_l\(l)"] = v }
    return out
  }

  /// Compares a recurrent proxy value with its reference (rules of ``compare(_:engine:reference:dtype:snip:)``,
  /// tolerance ``recurrentTolerance(_:engine:)``).
  public static func compareRecurrent(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType) -> Comparison {
    let c = compare(metric, engine: engine, reference: reference, dtype: dtype, snip: nil)
    let tol = recurrentTolerance(metric, engine: dtype)
    let ok = c.relativeError.map { $0 <= tol } ?? c.passed
    return Comparison(metric: metric, engine: engine, reference: reference, relativeError: c.relativeError, tolerance: tol, passed: ok, note: c.note)
  }
}
