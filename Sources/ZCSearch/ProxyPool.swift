import ZCEngine

/// Errors building a search pool.
public struct PoolError: Error, CustomStringConvertible, Equatable {
  public let reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { reason }
}

/// The architectures a store holds scores for, with their raw proxy values: RoBoT's search domain.
public struct ProxyPool: Sendable {
  /// `[N]` architecture indices (ascending).
  public let archIndices: [Int]
  public let metrics: [String]
  /// `[N][M]` raw values; nil where the store holds a missing value.
  public let values: [[Double?]]
  /// `[M]` missing values per proxy over the pool.
  public let missingCounts: [Int]
  /// `[M]` pool minima and maxima of the present values (0 and 0 for a proxy with none present).
  public let minimum: [Double]
  public let maximum: [Double]

  /// Builds the pool from store rows: every architecture that has a row (value or missing) for every
  /// proxy in `metrics`. When several rows share an architecture and metric (several seeds), the
  /// present values are averaged.
  /// - Throws: ``PoolError`` when a proxy has no rows at all or no architecture has all proxies.
  public init(rows: [ScoreRow], metrics: [String]) throws {
    var byMetric: [String: [Int: [Double]]] = [:]
    var seen: [String: Set<Int>] = [:]
    let wanted = Set(metrics)
    for r in rows where wanted.contains(r.metric) {
      seen[r.metric, default: []].insert(r.archIndex)
      if let v = r.value, v.isFinite { byMetric[r.metric, default: [:]][r.archIndex, default: []].append(v) }
    }
    guard !metrics.isEmpty else { throw PoolError("no proxy named") }
    for m in metrics where seen[m] == nil { throw PoolError("the store holds no \(m) scores for this space and dataset") }
    var common = seen[metrics[0]]!
    for m in metrics.dropFirst() { common.formIntersection(seen[m]!) }
    guard !common.isEmpty else { throw PoolError("no architecture has scores for all of \(metrics.joined(separator: ","))") }
    let archs = common.sorted()
    let vals = archs.map { a in metrics.map { m in byMetric[m]?[a].map { $0.reduce(0, +) / Double($0.count) } } }
    self.init(archIndices: archs, metrics: metrics, values: vals)
  }

  /// The same pool restricted to the positions `keep` (ascending), e.g. a train/held-out split or the
  /// architectures with ground truth. Minima and maxima are recomputed over the subset.
  public func subset(_ keep: [Int]) -> ProxyPool {
    ProxyPool(archIndices: keep.map { archIndices[$0] }, metrics: metrics, values: keep.map { values[$0] })
  }

  /// A pool from explicit values (tests, `zcnas fit` splits).
  public init(archIndices: [Int], metrics: [String], values: [[Double?]]) {
    self.archIndices = archIndices; self.metrics = metrics; self.values = values
    missingCounts = metrics.indices.map { m in values.reduce(0) { $0 + ($1[m] == nil ? 1 : 0) } }
    minimum = metrics.indices.map { m in values.compactMap { $0[m] }.min() ?? 0 }
    maximum = metrics.indices.map { m in values.compactMap { $0[m] }.max() ?? 0 }
  }

  public var count: Int { archIndices.count }

  /// The combination with `weights` normalised over this pool.
  public func combination(_ weights: [Double], source: String = "") -> Combination {
    Combination(metrics: metrics, weights: weights, minimum: minimum, maximum: maximum, source: source)
  }

  /// `[N]` combined scores under `weights`.
  public func scores(_ weights: [Double]) -> [Double] {
    let c = combination(weights)
    return values.map { c.score($0) }
  }

  /// Pool positions ordered by combined score, best first (ties: lower architecture index first).
  public func ranking(_ weights: [Double]) -> [Int] {
    let s = scores(weights)
    return s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : archIndices[$0] < archIndices[$1] }
  }

  /// The pool position with the highest combined score (ties: lower architecture index).
  /// The pool must not be empty.
  public func best(_ weights: [Double]) -> Int {
    precondition(count > 0, "ProxyPool.best on an empty pool")
    let s = scores(weights)
    var b = 0
    for i in 1..<s.count where s[i] > s[b] { b = i }
    return b
  }
}
