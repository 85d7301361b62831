import ZCEngine
import ZCTensor

/// epe_nas: input Jacobian rows J (as jacob_cov) grouped by label in order of first appearance;
/// per class s_c = Σ log(|corrcoef(J_c)| + 1e-5) (a class with one sample gives log(1 + 1e-5));
/// score = Σ_c |s_c|. Defined for at most 100 classes (NASLib's other branch is not implemented).
/// Higher is better. Missing when a row is constant. Source: Lopes et al. 2021, "EPE-NAS";
/// NASLib `predictors/utils/pruners/measures/epe_nas.py`.
public struct EPENAS: ImageProxy {
  public init() {}
  public let name = "epe_nas"
  public let summary = "sum over classes of |sum of log|corrcoef| of the per-class input Jacobians|"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .inputJacobian]
  public let source = "Lopes et al. 2021; NASLib epe_nas"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard context.network.numClasses <= 100 else {
      return .missing(reason: "epe_nas is implemented for at most 100 classes (NASLib's n_classes <= 100 branch)")
    }
    let j = context.inputJacobian()
    var order: [Int] = []
    var rows: [Int: [Int]] = [:]
    for (i, l) in context.labels.enumerated() {
      if rows[l] == nil { order.append(l) }
      rows[l, default: []].append(i)
    }
    var score = 0.0
    for c in order {
      let idx = rows[c]!
      var s = Double.log(1 + 1e-5)
      if idx.count > 1 {
        let jc = Tensor.concatenate(idx.map { j.rows($0..<($0 + 1)) }, axis: 0)
        guard let corr = Statistics.rowCorrelation(jc) else {
          return .missing(reason: "nan: a row of the input Jacobian of class \(c) is constant")
        }
        s = corr.doubles.reduce(0) { $0 + Double.log(Swift.abs($1) + 1e-5) }
      }
      score += Swift.abs(s)
    }
    return .checked(score, ifNotFinite: "non-finite Jacobian correlation")
  }
}
