import ZCAutodiff
import ZCTensor

/// A classifier that exposes its feature map before global average pooling (Zen-NAS's
/// `forward_pre_GAP`): images `[B] + inputShape` → features `[B, C, H, W]`, the tensor the
/// classifier head pools. Search spaces opt in; proxies that need it report a missing value for
/// networks that do not.
public protocol PreGlobalPoolingFeatures: AnyObject {
  func featuresBeforeGlobalPooling(_ x: Variable) -> Variable
}

/// A network that can build TE-NAS's thin counterpart of itself: the same cell with one
/// channel and no stem, fed single-channel crops (the linear-region count of Chen et al. 2021).
public protocol ThinNetworkProviding: AnyObject {
  /// Shape of one input of the thin network, `[1, k, k]` (TE-NAS: 1×3×3 crops).
  var thinInputShape: [Int] { get }
  /// A new thin network in `dtype`, initialised from `rng` as the space's definition says.
  func makeThinNetwork(dtype: DType, rng: inout ZCRandom) -> any Layer
}
