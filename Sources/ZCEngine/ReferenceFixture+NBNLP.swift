import Foundation
import ZCData
import ZCSpaces
import ZCTensor

/// NAS-Bench-NLP fixtures (`kind` "nbnlp_rnn"; Tests/Fixtures/README.md, "NBNLP keys").
extension ReferenceFixture {
  /// The fixture's model sizes: `model.ntoken`, `model.emsize`, `model.nhid`, `model.nlayers`.
  /// - Throws: ``FixtureError`` when the json lacks them.
  public func nbnlpModelSize() throws -> NBNLPModelSize {
    guard let m = json["model"] as? [String: Any], let v = m["ntoken"] as? Int, let e = m["emsize"] as? Int,
          let h = m["nhid"] as? Int, let l = m["nlayers"] as? Int else {
      throw FixtureError(path: jsonPath, reason: "expected model.ntoken, emsize, nhid and nlayers")
    }
    return NBNLPModelSize(vocabulary: v, embeddingSize: e, hiddenSize: h, layers: l)
  }

  /// The recipe (`recipe_json_string`).
  /// - Throws: ``FixtureError`` wrapping the ``RecipeError``.
  public func nbnlpRecipe() throws -> NBNLPRecipe {
    guard kind == "nbnlp_rnn", let text = json["recipe_json_string"] as? String else {
      throw FixtureError(path: jsonPath, reason: "kind '\(kind)' is not an NAS-Bench-NLP fixture (no recipe_json_string)")
    }
    do { return try NBNLPRecipe(json: text) } catch { throw FixtureError(path: jsonPath, reason: "\(error)") }
  }

  /// The language model with the fixture's weights (strict load), in `dtype`.
  /// - Throws: ``FixtureError``, ``RecipeError`` or ``StateError`` naming the key.
  public func nbnlpNetwork(dtype: DType) throws -> NBNLPNetwork {
    var rng = ZCRandom(seed: 0)
    let net = try NBNLPNetwork(try nbnlpRecipe(), size: try nbnlpModelSize(), dtype: dtype, rng: &rng)
    try WeightsIO.load(tensors, into: net)
    return net
  }

  /// The `tokens` batch `[T, B]` (I64, time-major).
  /// - Throws: ``FixtureError`` when it is not rank 2 or an id is outside the vocabulary.
  public func tokenBatch() throws -> TokenBatch {
    guard case let .int(ids, shape)? = tensors.tensors["tokens"], shape.count == 2 else {
      throw FixtureError(path: tensors.path, reason: "expected an I64 'tokens' tensor [T, B]")
    }
    let v = try nbnlpModelSize().vocabulary
    if let bad = ids.first(where: { $0 < 0 || $0 >= v }) { throw FixtureError(path: tensors.path, reason: "token id \(bad) is outside 0..<\(v)") }
    return TokenBatch(ids: ids, steps: shape[0], batch: shape[1])
  }

  /// Reference hidden covariance of layer l (1-based), `value_float64`; nil when absent.
  public func hiddenCovarianceReference(layer: Int) -> Double? {
    guard let refs = json["reference"] as? [String: Any], let hc = refs["hidden_covariance"] as? [String: Any],
          let layers = hc["layers"] as? [[String: Any]] else { return nil }
    return layers.first { ($0["layer"] as? Int) == layer }.flatMap { Self.decode($0["value_float64"]) }
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
    for l in 1...8 {
      if let v = hiddenCovarianceReference(layer: l) { out[l == 1 ? "hidden_cov" : "hidden_cov_l\(l)"] = v }
    }
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
