import Foundation
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// jacobian_cosine (Serianni & Kalita 2023's "Jacobian score cosine", the CSV's "Jacobian Score
/// Normalized"): X = (∂L/∂W_pos)ᵀ `[E, P]`, each row normalised to unit length (a zero row stays
/// zero), D = clip(1 − X̂ X̂ᵀ, 0, 2) with a zero diagonal (`sklearn.metrics.pairwise_distances`,
/// metric "cosine"), S = 1 − D − I (off-diagonal cosine similarity, zero diagonal), value =
/// 1 − (Σ_ij |S_ij|^(1/20) / 2) / (E² − E). Float64. L = ⟨c, last_hidden_state⟩ with the seeded
/// N(0, 1) cotangent. Higher is better. Source: training-free-nas `BERT_metrics.ipynb`,
/// `jacobian_score_cosine` → `cosine`.
public struct JacobianCosine: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public init() {}
  public let name = "jacobian_cosine"
  public let summary = "1 - mean |off-diagonal cosine similarity|^(1/20) / 2 of the position-embedding gradient's dimensions"
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb jacobian_score_cosine/cosine (N(0,1) cotangent: this project's correction)"

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    guard let x = positionGradientRows(context) else { return .missing(reason: "nan: no position-embedding gradient") }
    let e = x.count
    guard e >= 2 else { return .missing(reason: "nan: fewer than two embedding dimensions (E² − E = 0)") }
    let unit = x.map { r -> [Double] in
      let n = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
      return n > 0 ? r.map { $0 / n } : r
    }
    var total = 0.0
    for i in 0..<e { for j in 0..<e where i != j {
      var s = 0.0
      for k in 0..<unit[i].count { s += unit[i][k] * unit[j][k] }
      let d = Swift.min(2, Swift.max(0, 1 - s))
      total += Foundation.pow(Swift.abs(1 - d), 1.0 / 20)
    } }
    return .checked(1 - (total / 2) / Double(e * e - e), ifNotFinite: "non-finite gradient")
  }
}
