import ZCAutodiff
import ZCNN
import ZCTensor

/// TE-NAS's thin NAS-Bench-201 network, used to count linear regions (Chen, Gong & Wang 2021,
/// "Neural Architecture Search on ImageNet in Four GPU Hours"; TE-NAS `prune_tenas.py`
/// `model_config_thin` = {C: 1, N: 1, depth: 1, use_stem: False} on `TinyNetworkDarts`):
///
/// input `[B, 1, k, k]` → one cell of `arch` at C = 1 (no stem, so the crop is node 0) →
/// lastact (BatchNorm2d(1) → ReLU) → global average pool → linear classifier (1 → numClasses).
///
/// `depth: 1` keeps only the first cell, so there is no reduction block. Initialisation is TE-NAS's
/// `kaiming_norm_fanin` for the forward pass: conv and linear weights N(0, 2/fan_in), biases 0,
/// batch-norm γ = 1, β = 0. Batch norm starts in training mode (TE-NAS calls `.train()`).
/// Parameter names follow the module tree (`cell.layers.{e}.op.1.weight`, `lastact.0.weight`,
/// `classifier.weight`).
public final class NB201ThinNetwork: Layer {
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public let architecture: NB201Architecture
  let cell: NB201Cell
  let lastact: Sequential
  let classifier: Linear

  /// Builds the thin network of `arch`, drawing the Kaiming-normal weights from `rng` in module order.
  public init(_ arch: NB201Architecture, numClasses: Int = 10, dtype: DType = .float32, rng: inout ZCRandom) {
    architecture = arch
    var scratch = ZCRandom(seed: 0)  // construction draws PyTorch defaults; replaced below
    cell = NB201Cell(arch, channels: 1, dtype: dtype, rng: &scratch)
    lastact = Sequential([BatchNorm2d(1, dtype: dtype), ReLU()])
    classifier = Linear(1, numClasses, dtype: dtype, rng: &scratch)
    // Conv and linear layers in module order; BatchNorm2d is constructed with γ = 1, β = 0 already.
    for (_, m) in namedModules() {
      (m as? any WeightedLayer)?.reinitialise(weight: .kaimingNormal(mode: .fanIn), rng: &rng)
    }
  }

  public var children: [(String, any Module)] { [("cell", cell), ("lastact", lastact), ("classifier", classifier)] }

  /// crops `[B, 1, k, k]` → logits `[B, numClasses]`.
  public func callAsFunction(_ x: Variable) -> Variable {
    classifier(globalAvgPool(lastact(cell(x))))
  }
}

extension NB201Network: ThinNetworkProviding {
  /// TE-NAS crops: one channel, 3×3.
  public var thinInputShape: [Int] { [1, 3, 3] }

  public func makeThinNetwork(dtype: DType, rng: inout ZCRandom) -> any Layer {
    NB201ThinNetwork(architecture, numClasses: numClasses, dtype: dtype, rng: &rng)
  }
}

extension NB201Network: PreGlobalPoolingFeatures {
  /// Output of lastact (BatchNorm2d → ReLU) of the last cell, `[B, 4C, H/4, W/4]`: the tensor
  /// global average pooling reduces (xautodl `TinyNetwork.forward` up to `global_pooling`).
  public func featuresBeforeGlobalPooling(_ x: Variable) -> Variable {
    var f = stem(x)
    for cell in cellLayers { f = cell(f) }
    return lastact(f)
  }
}
