import ZCEngine
import ZCTensor

/// hidden_cov (Serianni & Kalita 2023, "Training-free Neural Architecture Search for RNNs and
/// Transformers"): the hidden state h_{t−1} entering every step of one recurrent layer forms
/// X `[H units, B·T samples]`; C = correlation matrix between units (numpy `corrcoef`, Float64);
/// v = eigenvalues of C; score = −Σ (log(v + 1e-5) + 1/(v + 1e-5)). Higher is better; the maximum
/// is −H (uncorrelated units). Missing when a unit has zero variance (the correlation is
/// undefined; the reference returns NaN), the hidden states are not finite, or the network has
/// fewer layers.
/// Source: aaronserianni/training-free-nas `RNN_metrics.ipynb` (`jacobian_score` of the
/// recorded hidden states, `hidden_scores`). Registered as `hidden_cov` (layer 1, the paper's
/// headline score) and `hidden_cov_l2`, `hidden_cov_l3`.
public struct HiddenCov: RecurrentProxy {
  /// 1-based recurrent layer.
  public let layer: Int
  public init(layer: Int = 1) {
    precondition(layer >= 1)
    self.layer = layer
  }
  public var name: String { layer == 1 ? "hidden_cov" : "hidden_cov_l\(layer)" }
  public var summary: String { "eigenvalue score of the correlation between hidden units of recurrent layer \(layer) over steps and batch" }
  public let direction = ProxyDirection.higherIsBetter
  public let source = "Serianni & Kalita 2023; training-free-nas RNN_metrics hidden_scores"

  public func compute(in context: RecurrentProxyContext) throws -> ProxyValue {
    guard let x = context.hiddenStateMatrix(layer: layer) else {
      return .missing(reason: "no layer \(layer): the network has \(context.network.size.layers) recurrent layer(s)")
    }
    if let bad = x.doubles.first(where: { !$0.isFinite }) {
      return .missing(reason: "\(bad.isNaN ? "nan" : "inf"): the hidden states of layer \(layer) are not finite (the recurrence overflowed)")
    }
    guard let c = Statistics.rowCorrelation(x) else {
      return .missing(reason: "nan: a hidden unit of layer \(layer) has zero variance over the batch (correlation undefined)")
    }
    return .checked(try Statistics.eigenScore(c), ifNotFinite: "an eigenvalue of the correlation matrix is below -1e-5")
  }
}
