import ZCAutodiff
import ZCEngine
import ZCNN
import ZCTensor

/// swap (SWAP, Peng et al. ICLR 2024, "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast
/// NAS"): one training-mode forward pass of the first S = 16 images of the minibatch
/// (`[S, C, H, W]`; batch norm uses those 16 images' statistics). Every ReLU module whose input
/// is 4-D is hooked; its output, flattened per sample and concatenated over modules, gives
/// A `[S, N]`; P = sign(A) ∈ {0, 1} (ReLU output > 0 exactly when its input > 0). swap = the
/// number of distinct columns of P, i.e. of distinct S-bit activation patterns over the N
/// neurons (an integer in 1…min(N, 2^S); neuron order does not matter). Higher is better.
/// NAS-Bench-201: the ReLU of every `ReLUConvBN` (`nor_conv` edges, conv_a and conv_b of the
/// reductions) and the head's `lastact` ReLU.
///
/// Choices. The authors' score function (`src/metrics/swap.py` `SWAP.forward`,
/// `SampleWiseActivationPatterns.calSWAP`) is applied to the network as the engine initialised it
/// (PyTorch's default initialisation), **one pass**, with the 16 images of their correlation
/// script (`correlation.py --input_samples 16`). Their correlation script additionally repeats
/// the score 32 times over N(0, 1) re-initialisations (`network_weight_gaussian_init`) and takes
/// the mean; that protocol is ``authorsProtocolCounts(network:images:repeats:rng:)`` (32 times the
/// cost; tested statistically against the authors' values), not the registered value, whose
/// definition is exactly comparable with the reference (its fixtures' variant b). With fewer
/// than 16 images the whole batch is used. Missing when no ReLU with a 4-D input fires.
public struct SWAP: ImageProxy {
  public init() {}
  public let name = "swap"
  public let summary = "number of distinct sample-wise ReLU activation patterns over 16 images"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  /// Its own forward pass of 16 images, without a tape.
  public let memory = ProxyMemory(tapes: 0.3)
  public let source = "Peng et al. 2024 (pym1024/SWAP src/metrics/swap.py SWAP.forward; correlation.py 16 images)"

  /// Images per pass (the authors' `--input_samples`).
  public static let sampleCount = 16

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let s = Swift.min(Self.sampleCount, context.images.shape[0])
    guard let n = Self.patternCount(network: context.network, images: context.images.rows(0..<s)) else {
      return .missing(reason: "swap: no ReLU with a 4-D input fired")
    }
    return .value(Double(n))
  }

  /// The number of distinct activation patterns of `images` `[S, C, H, W]` (1 ≤ S ≤ 64) through
  /// `network` in its current mode (one forward pass, no gradient), or nil when no ReLU with a 4-D
  /// input fired.
  public static func patternCount(network: some Layer, images: Tensor) -> Int? {
    let s = images.shape[0]
    precondition((1...64).contains(s), "SWAP packs one bit per sample into 64 bits; got \(s) samples")
    let trace = ForwardTrace(reluInputs: true, layerOutputs: false)
    _ = GradMode.$isEnabled.withValue(false) { ForwardTrace.$current.withValue(trace) { network(Variable(images)) } }
    let inputs = trace.reluInputs.filter { $0.rank == 4 && $0.shape[0] == s }
    guard !inputs.isEmpty else { return nil }
    var patterns = Set<UInt64>()
    for t in inputs {
      let per = t.count / s
      let v = t.doubles
      var codes = [UInt64](repeating: 0, count: per)
      for b in 0..<s {
        let base = b * per, bit = UInt64(1) << UInt64(b)
        for j in 0..<per where v[base + j] > 0 { codes[j] |= bit }
      }
      patterns.formUnion(codes)
    }
    return patterns.count
  }

  /// The authors' correlation protocol (`correlation.py`): `repeats` times, re-initialise a copy
  /// of `network` as `network_weight_gaussian_init` (conv and linear weights N(0, 1), biases 0,
  /// batch-norm γ = 1, β = 0; ``Zen/gaussianInitialise(_:rng:)``, draws from `rng`) and count the
  /// patterns of `images` in training mode. Their score is the mean of the counts.
  public static func authorsProtocolCounts<N: ImageClassifier>(network: N, images: Tensor, repeats: Int = 32, rng: inout ZCRandom) -> [Int] {
    let copy = network.copy(dtype: images.dtype)
    var counts: [Int] = []
    for _ in 0..<repeats {
      Zen.gaussianInitialise(copy, rng: &rng)
      counts.append(patternCount(network: copy, images: images) ?? 0)
    }
    return counts
  }
}
