import Foundation
import ZCNN
import ZCTensor

/// One proxy's result on one network, with the wall time it took (including the shared passes
/// it was first to ask for).
public struct ProxyResult: Sendable {
  public let metric: String
  public let value: ProxyValue
  public let seconds: Double
}

/// The union of the proxies' requirements (what the shared passes must record).
public func requirements(of proxies: [any ZeroCostProxy]) -> ProxyRequirements {
  proxies.reduce(ProxyRequirements()) { $0.union($1.requirements) }
}

/// Computes `proxies` in one context, in order, so each shared pass runs once. A proxy that
/// throws (or does not apply to the context's kind) is reported as missing with the error text,
/// so one failure never loses the others.
public func evaluate(_ proxies: [any ZeroCostProxy], in context: any ProxyContext) -> [ProxyResult] {
  proxies.map { p in
    let start = DispatchTime.now().uptimeNanoseconds
    let v: ProxyValue
    do { v = try p.compute(in: context) } catch { v = .missing(reason: "error: \(error)") }
    return ProxyResult(metric: p.name, value: v, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
}

/// Image-classifier convenience: one ``ImageProxyContext`` for `network` and the minibatch, then
/// ``evaluate(_:in:)``. `runSeed` and `networkSeed` seed proxies that draw their own random numbers
/// (``ImageProxyContext/runSeed``, ``ImageProxyContext/networkSeed``).
public func evaluate(_ proxies: [any ZeroCostProxy], network: any ImageClassifier, images: Tensor, labels: [Int],
                     images2: Tensor? = nil, labels2: [Int]? = nil, runSeed: UInt64 = 0, networkSeed: UInt64 = 0) -> [ProxyResult] {
  let context = ImageProxyContext(network: network, images: images, labels: labels, requirements: requirements(of: proxies),
                                  images2: images2, labels2: labels2, runSeed: runSeed, networkSeed: networkSeed)
  return evaluate(proxies, in: context)
}
