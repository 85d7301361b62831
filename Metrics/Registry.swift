import ZCEngine

/// Every proxy the engine implements, one line each, for every model kind. A proxy that is not
/// implemented is absent; a proxy defined for several kinds (nwot, synflow) is listed once. A
/// duplicate name stops the program at start-up (``ProxyRegistry`` throws; tested).
public let registry: ProxyRegistry = {
  do {
    return try ProxyRegistry([
      GradNorm(),
      Snip(),
      Grasp(),
      Fisher(),
      Synflow(),
      JacobCov(),
      NWOT(),
      Plain(),
      L2Norm(),
      Params(),
      Flops(),
      NTKCond(),
      NTKTrace(),
      NTKCondEval(),
      GradSign(),
      ZiCo(),
      EPENAS(),
      GradMatch(),
      LinearRegions(),
      Zen(),
      HiddenCov(layer: 1),
      HiddenCov(layer: 2),
      HiddenCov(layer: 3),
      MeCo(),
      MeCoOpt(),
      SWAP(),
      RegSWAP(),
      GradMatchPerSample(),
      HeadConfidence(), HeadConfidence(normalized: true),
      HeadSoftmaxConfidence(), HeadSoftmaxConfidence(normalized: true),
      ActivationDistance(), ActivationDistance(normalized: true),
      SynapticDiversity(), SynapticDiversity(normalized: true),
      SynapticSaliency(), SynapticSaliency(normalized: true),
      HeadImportance(), HeadImportance(normalized: true),
      JacobianCov(),
      JacobianCosine(),
      AZNASExpressivity(),
      AZNASProgressivity(),
      AZNASTrainability(),
      VKDNWEntropy(),
      VKDNWDim(),
    ])
  } catch {
    fatalError("Metrics/Registry.swift: \(error)")
  }
}()

/// Every registered proxy, in registration order.
public var allProxies: [any ZeroCostProxy] { registry.proxies }

/// The proxy with this name, or nil.
public func proxy(named name: String) -> (any ZeroCostProxy)? { registry.named(name) }
