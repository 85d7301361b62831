import ZCEngine
import ZCTensor

/// grad_match: the batch is split into two halves, each run as its own minibatch; g¹, g² are the
/// loss gradients w.r.t. the conv/linear weights; per layer the cosine ⟨g¹, g²⟩/(‖g¹‖‖g²‖);
/// score = mean over layers (layers with a zero gradient are left out). Lower is better, the
/// sign it has measured on CIFAR-10 validation accuracy (issue 19): on 193 NAS-Bench-201
/// architectures with a value (`sample:200:1`, batch 64, seed 0; 7 all-zero-gradient cells
/// missing) Spearman ρ = −0.17, Kendall τ = −0.11 against `cifar10_valid_acc` (−0.19 / −0.13
/// against test accuracy); earlier, on 287 architectures of `sample:300:1`, ρ = −0.22 against test.
///
/// Defined by this project: a zero-cost variant of gradient matching. Hu et al. 2022
/// ("Generalizing Few-Shot NAS with Gradient Matching") compare the gradients of different
/// operations on a trained supernet to decide how to split it; here the two gradients come from
/// two disjoint halves of one batch on the untrained network, measuring how consistently the
/// architecture's weights are pushed by different data. There is no published reference value.
public struct GradMatch: ImageProxy {
  public init() {}
  public let name = "grad_match"
  public let summary = "mean over layers of the cosine between loss gradients of the two batch halves (project-defined)"
  public let direction = ProxyDirection.lowerIsBetter
  public let requirements: ProxyRequirements = [.labels]
  /// Its own forward and backward of each half batch.
  public let memory = ProxyMemory(tapes: 0.75)
  public let source = "this project (zero-cost variant of Hu et al. 2022 gradient matching)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard context.images.shape[0] >= 2 else { return .missing(reason: "grad_match needs at least 2 images") }
    let (g1, g2) = context.halfBatchWeightGradients()
    var cosines: [Double] = []
    for (a, b) in zip(g1, g2) {
      let x = a.doubles, y = b.doubles
      var dot = 0.0, nx = 0.0, ny = 0.0
      for j in 0..<x.count { dot += x[j] * y[j]; nx += x[j] * x[j]; ny += y[j] * y[j] }
      if nx > 0 && ny > 0 { cosines.append(dot / (nx.squareRoot() * ny.squareRoot())) }
    }
    guard !cosines.isEmpty else { return .missing(reason: "nan: every layer's gradient is zero") }
    return .checked(cosines.reduce(0, +) / Double(cosines.count), ifNotFinite: "non-finite gradient")
  }
}
