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

/// Computes `proxies` on one network and minibatch, sharing passes through one ``ProxyContext``.
/// Results are in the order of `proxies`. A proxy that throws is reported as missing with the
/// error text, so one failure never loses the others. `runSeed` and `networkSeed` seed proxies that
/// draw their own random numbers (``ProxyContext/runSeed``, ``ProxyContext/networkSeed``).
public func evaluate(_ proxies: [any ZeroCostProxy], network: any ImageClassifier, images: Tensor, labels: [Int],
                     images2: Tensor? = nil, labels2: [Int]? = nil, runSeed: UInt64 = 0, networkSeed: UInt64 = 0) -> [ProxyResult] {
  let needs = proxies.reduce(ProxyRequirements()) { $0.union($1.requirements) }
  let context = ProxyContext(network: network, images: images, labels: labels, requirements: needs, images2: images2, labels2: labels2,
                             runSeed: runSeed, networkSeed: networkSeed)
  return proxies.map { p in
    let start = DispatchTime.now().uptimeNanoseconds
    let v: ProxyValue
    do { v = try p.compute(in: context) } catch { v = .missing(reason: "error: \(error)") }
    return ProxyResult(metric: p.name, value: v, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
}
