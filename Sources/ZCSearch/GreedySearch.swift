import ZCTensor

/// One step of a training-free greedy search.
public struct GreedyStep: Codable, Equatable, Sendable {
  /// Distinct architectures scored so far (the budget spent).
  public var scored: Int
  /// The architecture the search stands on after this step, and its score.
  public var currentArchIndex: Int
  public var currentScore: Double
  /// The best-scoring architecture seen so far and its score.
  public var bestArchIndex: Int
  public var bestScore: Double
  /// "start", "move" (to a better neighbour) or "restart" (local optimum; new random start).
  public var event: String
}

/// Training-free greedy local search (hill climbing with random restarts) over a benchmark space,
/// queried with proxy scores only, never ground truth. From a seeded random start it scores the
/// unscored one-edit neighbours (24 per NAS-Bench-201 architecture), moves to the best neighbour
/// when it beats the current architecture, and restarts from a new random architecture at a local
/// optimum, until `budget` distinct architectures are scored. The answer is the best-scoring
/// architecture seen. Plain hill climbing with random restarts over the benchmark's edit graph;
/// the scheme is ours (NASWOT samples N random architectures and TE-NAS prunes a supernet; neither
/// climbs), so compare it with them at an equal number of scored architectures.
public struct GreedySearch: Sendable {
  /// The architecture ids the search may visit (restarts draw uniformly from them).
  public var domain: [Int]
  /// Number of ids in ``domain``.
  public var spaceSize: Int { domain.count }
  public var budget: Int
  /// One-edit neighbours of an id ([] in a space without a neighbourhood).
  public var neighbours: @Sendable (Int) -> [Int]

  /// - Parameters:
  ///   - domain: the ids the search may visit; a neighbour outside it is never proposed by the
  ///     space (``SearchSpace/neighbours(of:)``).
  ///   - neighbours: one-edit neighbours of an id; a space without a neighbourhood returns [], and
  ///     the search then restarts at random after every architecture (random sampling ranked by
  ///     the score).
  public init(domain: [Int], budget: Int, neighbours: @escaping @Sendable (Int) -> [Int]) {
    self.domain = domain; self.budget = budget; self.neighbours = neighbours
  }

  /// The search over ids 0..<spaceSize.
  public init(spaceSize: Int, budget: Int, neighbours: @escaping @Sendable (Int) -> [Int]) {
    self.init(domain: Array(0..<spaceSize), budget: budget, neighbours: neighbours)
  }

  /// Runs the search.
  /// - Parameters:
  ///   - seed: seeds the starts and the neighbour order.
  ///   - score: scores a batch of architecture indices (higher is better; nil = missing, never chosen).
  /// - Returns: the steps (one per move, restart and the start) and all scores seen.
  /// - Throws: ``SearchError`` for a budget outside 1...spaceSize; whatever `score` throws.
  public func run(seed: Int, score: ([Int]) throws -> [Double?]) throws -> (steps: [GreedyStep], scores: [Int: Double?]) {
    guard budget >= 1 && budget <= spaceSize else { throw SearchError("budget: expected 1...\(spaceSize), found \(budget)") }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    var known: [Int: Double?] = [:]
    var order: [Int] = []
    var steps: [GreedyStep] = []
    var best = -1, bestScore = -Double.infinity
    func value(_ a: Int) -> Double { (known[a] ?? nil) ?? -Double.infinity }
    func scoreNew(_ archs: [Int]) throws {
      let fresh = Array(archs.filter { known[$0] == nil }.prefix(budget - known.count))
      if fresh.isEmpty { return }
      let s = try score(fresh)
      for (a, v) in zip(fresh, s) {
        known[a] = .some(v); order.append(a)
        if let v, v > bestScore || best < 0 { if v > bestScore { bestScore = v; best = a } }
      }
    }
    func randomUnscored() -> Int? {
      guard known.count < spaceSize else { return nil }
      while true { let a = domain[rng.nextInt(below: domain.count)]; if known[a] == nil { return a } }
    }
    guard var current = randomUnscored() else { return ([], [:]) }
    try scoreNew([current])
    steps.append(GreedyStep(scored: known.count, currentArchIndex: current, currentScore: value(current), bestArchIndex: best, bestScore: bestScore, event: "start"))
    while known.count < budget {
      var nbrs = neighbours(current)
      for i in stride(from: nbrs.count - 1, to: 0, by: -1) { nbrs.swapAt(i, rng.nextInt(below: i + 1)) }
      try scoreNew(nbrs)
      let top = nbrs.max { value($0) < value($1) }
      if let top, value(top) > value(current) {
        current = top
        steps.append(GreedyStep(scored: known.count, currentArchIndex: current, currentScore: value(current), bestArchIndex: best, bestScore: bestScore, event: "move"))
      } else {
        guard known.count < budget, let next = randomUnscored() else { break }
        current = next
        try scoreNew([current])
        steps.append(GreedyStep(scored: known.count, currentArchIndex: current, currentScore: value(current), bestArchIndex: best, bestScore: bestScore, event: "restart"))
      }
    }
    return (steps, known)
  }
}
