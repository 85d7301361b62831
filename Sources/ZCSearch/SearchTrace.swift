/// One ground-truth query of a search.
public struct SearchStep: Codable, Equatable, Sendable {
  /// 1-based count of distinct architectures queried so far (the budget spent).
  public var query: Int
  public var archIndex: Int
  /// The objective (e.g. `cifar10_valid_acc_12ep`, percent) of this architecture.
  public var objective: Double
  /// The best objective queried so far and its architecture.
  public var bestObjective: Double
  public var bestArchIndex: Int
  /// How it was chosen: "bo" (RoBoT's Bayesian optimisation), "greedy" (RoBoT's exploitation),
  /// "random", "rea-init", "rea" (mutation) or "rea-random" (no unqueried neighbour in the domain).
  public var phase: String
  /// The weight vector that selected it (RoBoT only).
  public var weights: [Double]?
}

/// A finished search: its trajectory and outcome.
public struct SearchResult: Sendable {
  public var strategy: String
  public var seed: Int
  public var steps: [SearchStep]
  /// Architecture with the best objective among those queried (the first one on ties).
  public var bestArchIndex: Int { steps.last?.bestArchIndex ?? -1 }
  /// RoBoT: the weights with the best f(w) in the BO phase (they rank the exploitation phase, whose
  /// queries may end up holding the best objective), and the number of BO evaluations
  /// (each one a GP fit and an acquisition maximisation; repeats of a known architecture cost no budget).
  public var weights: [Double]?
  public var boEvaluations: Int = 0

  public init(strategy: String, seed: Int) { self.strategy = strategy; self.seed = seed; steps = [] }

  /// Records a query of a new architecture.
  mutating func record(_ arch: Int, _ objective: Double, phase: String, weights: [Double]? = nil) {
    var best = objective, bestArch = arch
    if let last = steps.last, last.bestObjective >= objective { best = last.bestObjective; bestArch = last.bestArchIndex }
    steps.append(SearchStep(query: steps.count + 1, archIndex: arch, objective: objective, bestObjective: best,
                            bestArchIndex: bestArch, phase: phase, weights: weights))
  }
}

/// Errors of a search run.
public struct SearchError: Error, CustomStringConvertible, Equatable {
  public let reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { reason }
}
