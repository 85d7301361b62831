import ZCEngine
import ZCTensor

/// nwot (NASWOT): one forward pass; for every ReLU, c = (input > 0) per sample, concatenated over
/// ReLUs; K = c cᵀ + (1 − c)(1 − c)ᵀ `[B, B]` (agreement counts, exact, float64);
/// score = log|det K|. Higher is better. Missing when K is singular (log|det K| = −∞).
/// Source: Mellor et al. 2021, "Neural Architecture Search without Training"; NASLib
/// `predictors/utils/pruners/measures/nwot.py` (hooks on ReLU modules only).
public struct NWOT: ZeroCostProxy {
  public init() {}
  public let name = "nwot"
  public let summary = "log|det| of the Hamming-agreement kernel of ReLU activation codes"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.forward, .reluCodes]
  public let source = "Mellor et al. 2021; NASLib nwot"

  public func compute(in context: ProxyContext) throws -> ProxyValue {
    let inputs = context.forward().trace.reluInputs
    let b = context.images.shape[0]
    var k = [Double](repeating: 0, count: b * b)
    for x in inputs {
      let u = x.count / b
      // Binary codes as a float32 0/1 matrix: C Cᵀ is exact (integer counts < 2^24).
      let codes = x.map(.reluMask).to(.float32).reshaped([b, u])
      let cc = Tensor.matmul(codes, codes, transB: true).doubles
      let r = codes.sum(toShape: [b, 1]).doubles
      for i in 0..<b { for j in 0..<b { k[i * b + j] += 2 * cc[i * b + j] + Double(u) - r[i] - r[j] } }
    }
    let (_, logAbs) = try Linalg.logAbsDeterminant(Tensor(k, shape: [b, b]))
    return .checked(logAbs, ifNotFinite: "K is singular (images with identical activation codes)")
  }
}
