import Foundation
import ZCData
import ZCSpaces

/// A zero-cost proxy for recurrent language models (the NAS-Bench-NLP space): a score of an
/// untrained ``NBNLPNetwork`` from one minibatch of tokens.
///
/// The image-classifier protocol ``ZeroCostProxy`` reads logits, labels and image Jacobians from
/// a ``ProxyContext``; recurrent proxies read hidden states and recurrent activations from a
/// ``RecurrentProxyContext`` instead. Implementations live in `Metrics/`, one file each, and are
/// registered in `allRecurrentProxies`. Names follow `metric-definitions.md`.
public protocol RecurrentProxy: Sendable {
  /// Name, unique among recurrent proxies (for example "hidden_cov").
  var name: String { get }
  /// One-line description.
  var summary: String { get }
  var direction: ProxyDirection { get }
  /// Paper and reference implementation the definition follows.
  var source: String { get }
  /// Computes the proxy. Throws only for engine failures (LAPACK); values that cannot be computed
  /// for this architecture are `.missing` with a reason.
  func compute(in context: RecurrentProxyContext) throws -> ProxyValue
}

/// Computes recurrent `proxies` on one network and token batch, sharing passes through one
/// ``RecurrentProxyContext``. Results are in the order of `proxies`; a proxy that throws is
/// reported as missing with the error text.
public func evaluateRecurrent(_ proxies: [any RecurrentProxy], network: NBNLPNetwork, tokens: TokenBatch) -> [ProxyResult] {
  let context = RecurrentProxyContext(network: network, tokens: tokens)
  return proxies.map { p in
    let start = DispatchTime.now().uptimeNanoseconds
    let v: ProxyValue
    do { v = try p.compute(in: context) } catch { v = .missing(reason: "error: \(error)") }
    return ProxyResult(metric: p.name, value: v, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
}
