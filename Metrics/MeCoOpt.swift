import ZCEngine
import ZCSpaces
import ZCTensor

/// meco_opt (MeCo_opt, Jiang et al. NeurIPS 2023): ``MeCo`` with each firing's correlation matrix
/// restricted to 8 of its n rows, chosen uniformly without replacement, and the firing's value
/// scaled back: min eig(R[picks, picks]) × n / 8. Same pass, firings and cleaning as meco.
/// Higher is better.
///
/// The picks: the reference draws them with Python's `random.sample(range(n), 8)`, unseeded in
/// the authors' script; here every firing draws its own from a generator seeded by the run seed
/// (``ImageProxyContext/runSeed``), in firing order, so every architecture of a run uses the same
/// sequence of draws. Checked against the reference by replaying its recorded picks
/// (``MeCo/optScore(_:picks:)``). Missing when a firing has fewer than 8 rows (the reference
/// raises), the network reports no module output meco keeps, or a value is not finite.
public struct MeCoOpt: ImageProxy {
  public init() {}
  public let name = "meco_opt"
  public let summary = "meco on 8 randomly chosen channels per module output, rescaled by n/8"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let memory = ProxyMemory(tapes: 0.05)
  public let source = "Jiang et al. 2023 (HamsterMimi/MeCo correlation/NAS_Bench_201.py get_score, measure meco_opt)"

  /// Rows per firing.
  public static let picked = 8

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let firings = MeCo.firings(of: context.network, image: context.images.rows(0..<1)) else {
      return .missing(reason: MeCo.noFirings(context.network).replacingOccurrences(of: "meco:", with: "meco_opt:"))
    }
    if let small = firings.first(where: { $0.tensor.shape[1] < Self.picked }) {
      return .missing(reason: "meco_opt: \(small.module) has \(small.tensor.shape[1]) channels, fewer than \(Self.picked)")
    }
    var rng = ZCRandom(seed: context.runSeed ^ 0x3EC0_0F7A_51D2_8B64)
    let picks = firings.map { rng.sampleWithoutReplacement(Self.picked, from: $0.tensor.shape[1]) }
    return .checked(try MeCo.optScore(firings, picks: picks), ifNotFinite: "a correlation eigenvalue is not finite")
  }
}

extension MeCo {
  /// Σ over firings of min eig(R restricted to `picks[i]`) × n_i / |picks[i]| (MeCo_opt), summed
  /// in Float64; `picks` holds one list of row indices per firing, in firing order.
  /// - Throws: ``LinalgError`` from dsyevd.
  public static func optScore(_ firings: [Firing], picks: [[Int]]) throws -> Double {
    precondition(picks.count == firings.count, "meco_opt: \(picks.count) pick lists for \(firings.count) firings")
    var total = 0.0
    for (f, p) in zip(firings, picks) where !p.isEmpty {
      total += try minimumCorrelationEigenvalue(f.tensor, rows: p) * Double(f.tensor.shape[1]) / Double(p.count)
    }
    return total
  }
}
