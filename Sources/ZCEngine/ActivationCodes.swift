import ZCTensor

/// NASWOT's activation-code kernel (Mellor et al. 2021, "Neural Architecture Search without
/// Training"; NASLib `predictors/utils/pruners/measures/nwot.py`), shared by every model kind.
public enum ActivationCodes {
  /// K `[B, B]` in Float64 from recorded activations, each `[B, …]` (U = count / B units per
  /// sample): c = (a > 0) as a 0/1 row per sample, K += c cᵀ + (1 − c)(1 − c)ᵀ = 2 c cᵀ + U − rᵢ − rⱼ
  /// with r = row sums. The 0/1 products run as a float32 GEMM, exact for counts below 2^24.
  /// - Precondition: every tensor's element count is a multiple of `batch`.
  public static func kernel(_ activations: [Tensor], batch b: Int) -> Tensor {
    var k = [Double](repeating: 0, count: b * b)
    for x in activations {
      precondition(x.count % b == 0, "activation of \(x.count) elements for a batch of \(b)")
      let u = x.count / b
      let codes = x.map(.reluMask).to(.float32).reshaped([b, u])
      let cc = Tensor.matmul(codes, codes, transB: true).doubles
      let r = codes.sum(toShape: [b, 1]).doubles
      for i in 0..<b { for j in 0..<b { k[i * b + j] += 2 * cc[i * b + j] + Double(u) - r[i] - r[j] } }
    }
    return Tensor(k, shape: [b, b])
  }
}
