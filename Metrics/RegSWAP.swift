import ZCEngine
import ZCNN
import ZCTensor

/// reg_swap (regularised SWAP, Peng et al. ICLR 2024): swap × exp(−(P − μ)²/σ), where P = the
/// number of trainable parameter entries in thousands (every named parameter, batch-norm affine
/// included: the authors' `count_parameters`/1e3 and `cal_regular_factor`), and swap is
/// ``SWAP``'s count (same pass, same 16 images). Higher is better.
///
/// μ and σ: the authors give values only for their DARTS-style spaces; for NAS-Bench-201 (P from
/// 73 to 1,532 thousand) we use μ = 1000, σ = 10⁶, the values of the shared reference fixtures
/// (an illustrative choice, stated in their README), so the prior favours networks near one
/// million parameters with a width of about 1000 thousand. Missing when swap is.
public struct RegSWAP: ImageProxy {
  public let mu: Double
  public let sigma: Double
  public init(mu: Double = 1000, sigma: Double = 1e6) { self.mu = mu; self.sigma = sigma }
  public let name = "reg_swap"
  public let summary = "swap times a Gaussian prior on the parameter count (mu 1000k, sigma 1e6)"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let memory = ProxyMemory(tapes: 0.3)
  public let source = "Peng et al. 2024 (pym1024/SWAP src/metrics/swap.py cal_regular_factor, SWAP(regular=True))"

  /// exp(−(P/1000 − μ)²/σ) for P parameter entries.
  public static func regularFactor(parameters: Int, mu: Double, sigma: Double) -> Double {
    let p = Double(parameters) / 1e3
    return Double.exp(-((p - mu) * (p - mu)) / sigma)
  }

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let s = Swift.min(SWAP.sampleCount, context.images.shape[0])
    guard let n = SWAP.patternCount(network: context.network, images: context.images.rows(0..<s)) else {
      return .missing(reason: "reg_swap: no ReLU with a 4-D input fired")
    }
    let f = Self.regularFactor(parameters: context.network.parameterCount, mu: mu, sigma: sigma)
    return .checked(Double(n) * f, ifNotFinite: "non-finite regular factor")
  }
}
