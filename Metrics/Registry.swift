import ZCEngine

/// Every proxy the engine implements: one line each. A proxy that is not implemented is absent.
public let allProxies: [any ZeroCostProxy] = [
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
]

/// The proxy with this name, or nil.
public func proxy(named name: String) -> (any ZeroCostProxy)? { allProxies.first { $0.name == name } }

/// Every proxy for recurrent models (the nbnlp space): one line each.
public let allRecurrentProxies: [any RecurrentProxy] = [
  HiddenCov(layer: 1),
  HiddenCov(layer: 2),
  HiddenCov(layer: 3),
  RecurrentNWOT(),
  RecurrentSynflow(),
]

/// The recurrent proxy with this name, or nil.
public func recurrentProxy(named name: String) -> (any RecurrentProxy)? { allRecurrentProxies.first { $0.name == name } }
