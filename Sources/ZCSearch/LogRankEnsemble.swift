import Foundation
import ZCEngine

/// A label-free ensemble of proxies ranked together, AZ-NAS style (Lee & Ham, CVPR 2024,
/// "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search"; their NB201 notebook
/// sums `np.log(stats.rankdata(score) / L)` over the proxies): over a population of L
/// architectures, each member proxy is ranked ascending after orienting it by its registry
/// direction (a lower-is-better proxy is negated), ties get their average rank (scipy
/// `rankdata`), and
///
///   ensemble(a) = Σ_members log(rank_m(a) / L)   (≤ 0; higher is better).
///
/// A missing value ranks worst: below every present value, the missing ones tied (as AZ-NAS's
/// −inf). The score depends on the population; ``scores(_:)`` ranks within it,
/// ``Reference`` ranks new architectures against a fixed population (search).
public struct LogRankEnsemble: Sendable, Equatable {
  /// The name under which the ensemble appears in tables and options.
  public static let name = "ensemble"
  /// The recommended members (NAS-Bench-201): synflow, jacob_cov and meco (all three label-free),
  /// the subset of the shipped CIFAR-10 table's proxies with the best Spearman ρ against CIFAR-10
  /// **validation** accuracy over all 15,625 cells (ρ 0.9226; then ρ 0.9303 against test
  /// accuracy). Chosen among the 511 subsets of synflow, jacob_cov, nwot, meco, snip, grad_norm,
  /// fisher, grasp, flops (snip, grad_norm, fisher and grasp use the minibatch's labels); see
  /// docs/metrics.md "ensemble".
  public static let defaultMembers = ["synflow", "jacob_cov", "meco"]

  /// A named choice of members: a published aggregate expressed as this ensemble (same ranks,
  /// same sum of log-ranks), selected by its name wherever members are (`--ensemble NAME`).
  public struct Preset: Sendable, Equatable {
    public let name: String
    public let members: [String]
    /// What it is and where it comes from (paper, reference implementation).
    public let summary: String
  }

  /// The named presets:
  /// - `az_nas`: AZ-NAS's aggregate (Lee & Ham, CVPR 2024; cvlab-yonsei/AZ-NAS
  ///   `NB201/tss_general.ipynb`: `np.log(stats.rankdata(api_flops)/l)` plus the same term of each
  ///   of `compute_az_nas_score`'s expressivity, progressivity and trainability). Its complexity
  ///   term is FLOPs; the notebook reads NAS-Bench-201's `flops` (which counts pooling too), here
  ///   the engine's `flops` proxy (conv and linear multiply-accumulates, a few percent smaller).
  /// - `vkdnw_agg`: VKDNW_agg (Tybl & Neumann, CVPR 2025, "model ranking", the log of the product
  ///   of the ranks of VKDNW, jacov, AZ-NAS expressivity and trainability and FLOPs, i.e. the same
  ///   sum of log-ranks): `vkdnw_entropy`, `jacob_cov`, `az_nas_expressivity`,
  ///   `az_nas_trainability`, `flops`. The VKDNW repository has no code for the aggregate; the
  ///   members are the paper's. (The paper's single-proxy ranking VKDNW_single, lexicographic in
  ///   (`vkdnw_dim`, `vkdnw_entropy`), is not a sum of log-ranks and is not a preset.)
  public static let presets: [Preset] = [
    Preset(name: "az_nas", members: ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops"],
           summary: "AZ-NAS aggregate (Lee & Ham 2024, cvlab-yonsei/AZ-NAS NB201/tss_general.ipynb): expressivity, progressivity, trainability and FLOPs"),
    Preset(name: "vkdnw_agg", members: ["vkdnw_entropy", "jacob_cov", "az_nas_expressivity", "az_nas_trainability", "flops"],
           summary: "VKDNW_agg (Tybl & Neumann 2025): VKDNW entropy, jacov, AZ-NAS expressivity and trainability, FLOPs"),
  ]

  /// The preset called `name`, or nil.
  public static func preset(named name: String) -> Preset? { presets.first { $0.name == name } }

  /// The members an `--ensemble` value names: a preset's name, or proxy names separated by commas
  /// (blanks trimmed); nil gives ``defaultMembers``.
  public static func members(of spec: String?) -> [String] {
    guard let spec else { return defaultMembers }
    let t = spec.trimmingCharacters(in: .whitespaces)
    if let p = preset(named: t) { return p.members }
    return t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }

  /// One line per preset for `--help`: `name (members)`.
  public static var presetHelp: String {
    presets.map { "\($0.name) (\($0.members.joined(separator: ",")))" }.joined(separator: "; ")
  }

  /// The members' description for reports: `az_nas = a, b, c` for a preset's members, else the list.
  public var label: String {
    if let p = Self.presets.first(where: { $0.members == members }) { return "\(p.name) = " + members.joined(separator: ", ") }
    return members.joined(separator: ", ")
  }

  public let members: [String]
  /// +1 for higher-is-better members, −1 for lower-is-better.
  public let signs: [Double]

  /// - Parameters: members, in order; `direction` looks a member's direction up (the registry).
  /// - Throws: ``PoolError`` for no member, a duplicate, the ensemble itself, an unknown proxy
  ///   or one without a declared direction.
  public init(members: [String], direction: (String) -> ProxyDirection?) throws {
    guard !members.isEmpty else { throw PoolError("ensemble: expected at least one member proxy") }
    var seen = Set<String>()
    var signs: [Double] = []
    for m in members {
      guard m != Self.name else { throw PoolError("ensemble: cannot be its own member") }
      guard seen.insert(m).inserted else { throw PoolError("ensemble: '\(m)' is named twice") }
      guard let d = direction(m) else { throw PoolError("ensemble: unknown proxy '\(m)'") }
      switch d {
      case .higherIsBetter: signs.append(1)
      case .lowerIsBetter: signs.append(-1)
      case .unspecified: throw PoolError("ensemble: '\(m)' has no declared direction, so it cannot be ranked")
      }
    }
    self.members = members
    self.signs = signs
  }

  /// The ensemble score of every architecture of a population: `values[i][m]` is member m's raw
  /// value for architecture i (nil or non-finite: missing, ranked worst). `[N]` scores.
  public func scores(_ values: [[Double?]]) -> [Double] {
    let n = values.count
    var total = [Double](repeating: 0, count: n)
    guard n > 0 else { return total }
    for m in members.indices {
      precondition(values.allSatisfy { $0.count == members.count }, "ensemble: every row needs \(members.count) values")
      let keys = values.map { row -> Double in
        guard let v = row[m], v.isFinite else { return -.infinity }
        return signs[m] * v
      }
      let r = Statistics.ranks(keys)  // ascending, ties averaged (scipy.stats.rankdata "average")
      for i in 0..<n { total[i] += Foundation.log(r[i] / Double(n)) }
    }
    return total
  }

  /// `pool` with one more column, ``name``, holding ``scores(_:)`` of its member columns over the
  /// pool (no value missing), so RoBoT can weigh the ensemble as one candidate proxy.
  /// - Throws: ``PoolError`` when a member is not a column of the pool.
  public func appended(to pool: ProxyPool) throws -> ProxyPool {
    let cols = try members.map { m -> Int in
      guard let c = pool.metrics.firstIndex(of: m) else { throw PoolError("ensemble: the pool has no \(m) column") }
      return c
    }
    let s = scores(pool.values.map { row in cols.map { row[$0] } })
    return ProxyPool(archIndices: pool.archIndices, metrics: pool.metrics + [Self.name], values: zip(pool.values, s).map { $0 + [$1] })
  }

  /// A pool whose columns are `metrics` in order, where the name ``name`` stands for this
  /// ensemble's column: over the architectures with rows of every named proxy and every member,
  /// the ensemble ranks within that population (RoBoT then weighs it as one candidate proxy).
  /// - Throws: ``PoolError`` as ``ProxyPool/init(rows:metrics:)``.
  public func pool(rows: [ScoreRow], metrics: [String]) throws -> ProxyPool {
    let plain = metrics.filter { $0 != Self.name }
    let needed = plain + members.filter { !plain.contains($0) }
    let full = try appended(to: try ProxyPool(rows: rows, metrics: needed))
    let cols = metrics.map { full.metrics.firstIndex(of: $0)! }
    return ProxyPool(archIndices: full.archIndices, metrics: metrics, values: full.values.map { row in cols.map { row[$0] } })
  }

  /// A fixed population to rank new architectures against (greedy search scores architectures
  /// one by one): per member, the sorted oriented present values of the population and its size L.
  public struct Reference: Sendable {
    public let sorted: [[Double]]
    public let count: Int
  }

  /// The reference population of `values` (rows as in ``scores(_:)``).
  public func reference(_ values: [[Double?]]) -> Reference {
    Reference(sorted: members.indices.map { m in values.compactMap { $0[m] }.filter(\.isFinite).map { signs[m] * $0 }.sorted() }, count: values.count)
  }

  /// The score of one architecture (member values `v`, nil = missing) inserted into `reference`:
  /// Σ log(r_m / (L + 1)) with r_m = 1 + #{x < v} + #{x = v}/2 over the population's present
  /// values (the architecture's rank among the L + 1, ties halved), and r_m = 1/2 (below every
  /// present value) when v is missing.
  public func score(_ v: [Double?], against reference: Reference) -> Double {
    precondition(v.count == members.count, "ensemble: \(members.count) values expected")
    var total = 0.0
    for m in members.indices {
      var r = 0.5
      if let x = v[m], x.isFinite {
        let key = signs[m] * x, s = reference.sorted[m]
        let below = lowerBound(s, key), upTo = upperBound(s, key)
        r = 1 + Double(below) + Double(upTo - below) / 2
      }
      total += Foundation.log(r / Double(reference.count + 1))
    }
    return total
  }
}

private func lowerBound(_ a: [Double], _ x: Double) -> Int {
  var lo = 0, hi = a.count
  while lo < hi { let mid = (lo + hi) / 2; if a[mid] < x { lo = mid + 1 } else { hi = mid } }
  return lo
}

private func upperBound(_ a: [Double], _ x: Double) -> Int {
  var lo = 0, hi = a.count
  while lo < hi { let mid = (lo + hi) / 2; if a[mid] <= x { lo = mid + 1 } else { hi = mid } }
  return lo
}
