import ZCEngine
import ZCTensor

/// fisher: for every conv/linear output activation a `[B, K, H, W]` (or `[B, K]`) with loss
/// gradient ∂L/∂a: s_{n,k} = Σ_{h,w} a ⊙ ∂L/∂a; per channel Δ_k = ½ mean_n s_{n,k}²; each Δ_k
/// counted once per weight of output channel k (× fan_in·kh·kw); summed over channels and layers.
/// Higher is better. Source: Theis et al. 2018, "Faster gaze prediction with dense networks and
/// Fisher pruning"; zero-cost-nas `foresight/pruners/measures/fisher.py` (mode "channel").
public struct Fisher: ImageProxy {
  public init() {}
  public let name = "fisher"
  public let summary = "per output channel 0.5*mean over samples of (sum over space of a*dL/da)^2, times weights per channel"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = [.labels, .forward, .lossBackward, .layerActivations]
  public let source = "Theis et al. 2018; zero-cost-nas fisher"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let lg = context.lossGradients()
    var total = 0.0
    for (layer, pair) in zip(context.weightLayers, lg.activations) {
      guard let (a, g) = pair else { continue }  // layer not run in this forward pass
      let b = a.shape[0], k = a.shape[1], hw = a.count / max(b * k, 1)
      precondition(g.shape == a.shape && g.dtype == a.dtype, "fisher: gradient \(g.shape) \(g.dtype) for activation \(a.shape) \(a.dtype)")
      let perWeight = Double(layer.weight.shape.dropFirst().reduce(1, *))
      // Read the activations in place (no Double copies of whole activations), summing in Double.
      switch a.dtype {
      case .float32: Self.addLayer(a.pointer(Float.self), g.pointer(Float.self), b: b, k: k, hw: hw, perWeight: perWeight, into: &total)
      case .float64: Self.addLayer(a.pointer(Double.self), g.pointer(Double.self), b: b, k: k, hw: hw, perWeight: perWeight, into: &total)
      }
    }
    return .checked(total, ifNotFinite: "non-finite activation or gradient")
  }

  /// Adds one layer's channels to `total`, channel by channel: for activation a and gradient g, both
  /// `[b, k, hw]` contiguous, Δ_c = ½ mean_n (Σ_i a·g)² × perWeight.
  private static func addLayer<T: TensorScalar>(_ a: UnsafePointer<T>, _ g: UnsafePointer<T>, b: Int, k: Int, hw: Int,
                                                perWeight: Double, into total: inout Double) {
    for c in 0..<k {
      var sq = 0.0
      for n in 0..<b {
        var s = 0.0
        let base = (n * k + c) * hw
        for i in 0..<hw { s += Double(a[base + i]) * Double(g[base + i]) }
        sq += s * s
      }
      total += 0.5 * sq / Double(b) * perWeight
    }
  }
}
