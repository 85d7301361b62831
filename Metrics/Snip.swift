import ZCEngine
import ZCTensor

/// snip = Σ |W ⊙ ∂L/∂W| over conv/linear weights (connection sensitivity). Higher is better.
/// A layer whose forward is never called (``WeightedLayer/forwardIsCalled``, e.g. the `out_proj` of
/// PyTorch's `nn.MultiheadAttention`) contributes 0: zero-cost-nas multiplies the weight by a mask
/// inside the patched forward, so that mask gets no gradient and `snip` returns zeros for it.
/// Source: Lee et al. 2019, SNIP; zero-cost-nas `foresight/pruners/measures/snip.py`.
public struct Snip: ImageProxy {
  public init() {}
  public let name = "snip"
  public let summary = "sum over conv/linear weights of |W * dL/dW|"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward]
  public let source = "Lee et al. 2019; zero-cost-nas snip"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let grads = zip(context.weightLayers, context.lossGradients().weights).map { layer, g in
      layer.module.forwardIsCalled ? g : Tensor(zeros: g.shape, dtype: g.dtype)
    }
    return .checked(WeightSums.products(context.weights, grads, absolute: true), ifNotFinite: "non-finite weight gradient")
  }
}
