import Foundation
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// The position-embedding gradient G `[P, E]` as X = Gᵀ `[E, P]` rows in Float64 (all P rows,
/// those at t ≥ T are zero), or nil.
func positionGradientRows(_ c: TransformerProxyContext) -> [[Double]]? {
  guard let g = c.gradient(of: c.network.embeddings.positionEmbeddings.weight) else { return nil }
  let (p, e) = (g.shape[0], g.shape[1])
  let v = g.doubles
  return (0..<e).map { j in (0..<p).map { v[$0 * e + j] } }
}

/// jacobian_cov (Serianni & Kalita 2023's "Jacobian score", after Mellor et al. 2021's jacob_cov,
/// on the position embeddings instead of the input): X = (∂L/∂W_pos)ᵀ `[E, P]`, C = corrcoef(X)
/// `[E, E]` (variables are embedding dimensions, observations positions; Float64), v its
/// eigenvalues, score = −Σ (log(v + 1e-5) + 1/(v + 1e-5)). The rows of ∂L/∂W_pos sum to 0 (the
/// embedding LayerNorm removes the mean over E), so C is singular and one eigenvalue contributes
/// about −1e5. L = ⟨c, last_hidden_state⟩ with the seeded N(0, 1) cotangent. Higher is better.
/// Missing when a dimension has zero variance (corrcoef 0/0) or v + 1e-5 ≤ 0.
/// C is symmetric, so its eigenvalues come from LAPACK dsyevd (the notebook uses `numpy.linalg.eig`).
/// Source: training-free-nas `BERT_metrics.ipynb`, `jacobian_score` → `covariance`.
/// - Throws: ``LinalgError`` when dsyevd fails.
public struct JacobianCov: SingleKindProxy {
  public typealias Context = TransformerProxyContext
  public init() {}
  public let name = "jacobian_cov"
  public let summary = "-sum(log(v + 1e-5) + 1/(v + 1e-5)) over eigenvalues of corrcoef of the position-embedding gradient"
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas BERT_metrics.ipynb jacobian_score/covariance (N(0,1) cotangent: this project's correction)"

  /// numpy.corrcoef of the rows of `x` (`[n][m]`), `[n, n]` Float64; nil when a row has zero variance.
  static func corrcoef(_ x: [[Double]]) -> Tensor? {
    let n = x.count, m = x.first?.count ?? 0
    let centred = x.map { r -> [Double] in let mu = r.reduce(0, +) / Double(m); return r.map { $0 - mu } }
    var c = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in i..<n {
      var s = 0.0
      for k in 0..<m { s += centred[i][k] * centred[j][k] }
      c[i * n + j] = s; c[j * n + i] = s
    } }
    let d = (0..<n).map { c[$0 * n + $0] }
    if d.contains(where: { !($0 > 0) }) { return nil }
    for i in 0..<n { for j in 0..<n {
      c[i * n + j] = i == j ? 1 : Swift.min(1, Swift.max(-1, c[i * n + j] / (d[i].squareRoot() * d[j].squareRoot())))
    } }
    return Tensor(c, shape: [n, n])
  }

  public func compute(in context: TransformerProxyContext) throws -> ProxyValue {
    guard let x = positionGradientRows(context) else { return .missing(reason: "nan: no position-embedding gradient") }
    guard let c = Self.corrcoef(x) else { return .missing(reason: "nan: an embedding dimension's gradient has zero variance over positions (corrcoef 0/0)") }
    let v = try Linalg.symmetricEigenvalues(c)
    let score = -v.reduce(0.0) { $0 + Foundation.log($1 + 1e-5) + 1 / ($1 + 1e-5) }
    return .checked(score, ifNotFinite: "an eigenvalue at or below -1e-5")
  }
}
