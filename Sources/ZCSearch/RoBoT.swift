import ZCTensor

/// RoBoT: Bayesian optimisation over the weights of a proxy combination, then greedy exploitation
/// (He et al., ICLR 2024, "Robustifying and Boosting Training-Free Neural Architecture Search",
/// Algorithm 1; reference code `nasbench201/search.py` of the RoBoT repository).
///
/// f(w) is the objective (a benchmark's ground truth, e.g. 12-epoch validation accuracy) of the
/// pool architecture that maximises the combined score s_w (``Combination``), w ∈ [−1, 1]^M.
/// A Gaussian process (Matérn 5/2, hyperparameters by marginal likelihood) models f, and UCB
/// (κ = 2.576) chooses the next w. Only distinct architectures count against the budget. BO stops
/// after `boIterations` evaluations of f, when the budget is spent, or after `patience`
/// consecutive evaluations that found no new architecture; the rest of the budget goes to the
/// best-ranked unqueried architectures under the best weights found (greedy exploitation).
public struct RoBoT: Sendable {
  public var pool: ProxyPool
  /// Distinct architectures to query.
  public var budget: Int
  /// Evaluations of f in the BO phase (RoBoT: the budget).
  public var boIterations: Int
  /// Consecutive BO evaluations without a new architecture before exploitation starts (nil: never).
  public var patience: Int?
  public var acquisition: Acquisition = .ucb(kappa: 2.576)
  /// Random candidates and Nelder–Mead refinements of the acquisition maximiser, and GP
  /// hyperparameter restarts (the BayesianOptimization package RoBoT uses: 10,000 random points,
  /// 10 L-BFGS-B refinements, 5 restarts).
  public var candidates = 10_000
  public var refinements = 10
  public var gpRestarts = 5
  /// The first weight vector evaluated (nil: uniform in [−1, 1]^M from the seed). Starting at a
  /// label-free ranking (the log-rank ensemble's unit vector) makes its top architecture the first
  /// query, a prior that BO then improves on.
  public var initialWeights: [Double]? = nil

  public init(pool: ProxyPool, budget: Int, boIterations: Int? = nil, patience: Int? = nil) {
    self.pool = pool; self.budget = budget; self.boIterations = boIterations ?? budget; self.patience = patience
  }

  /// Runs one search.
  /// - Parameters:
  ///   - seed: seeds the first weight vector, the GP restarts and the acquisition candidates.
  ///   - objective: ground truth of an architecture index (higher is better; finite for every pool member).
  /// - Returns: the trajectory (one step per distinct architecture, phase "bo" or "greedy"), the
  ///   weights with the best f found by BO (which also rank the exploitation phase) and the number
  ///   of BO evaluations.
  /// - Throws: ``SearchError`` for a budget outside 1...pool size or a non-finite objective; GP errors.
  public func run(seed: Int, objective: (Int) -> Double) throws -> SearchResult {
    guard budget >= 1 && budget <= pool.count else { throw SearchError("budget: expected 1...\(pool.count) (the pool size), found \(budget)") }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    let m = pool.metrics.count
    let lower = [Double](repeating: -1, count: m), upper = [Double](repeating: 1, count: m)
    var result = SearchResult(strategy: "robot", seed: seed)
    var xs: [[Double]] = [], ys: [Double] = []
    var queried = Set<Int>()
    var bestW: [Double] = [], bestF = -Double.infinity
    var sinceNew = 0
    func evaluate(_ w: [Double]) throws {
      let arch = pool.archIndices[pool.best(w)]
      let f = objective(arch)
      guard f.isFinite else { throw SearchError("objective of architecture \(arch) is \(f); drop it from the pool") }
      xs.append(w); ys.append(f)
      if f >= bestF { bestF = f; bestW = w }
      if queried.insert(arch).inserted { result.record(arch, f, phase: "bo", weights: w); sinceNew = 0 } else { sinceNew += 1 }
      result.boEvaluations += 1
    }
    if let w0 = initialWeights {
      guard w0.count == m, w0.allSatisfy({ $0 >= -1 && $0 <= 1 }) else { throw SearchError("initial weights: expected \(m) values in [-1, 1], found \(w0)") }
      try evaluate(w0)
    } else {
      try evaluate((0..<m).map { _ in rng.nextUniform(-1, 1) })
    }
    while result.boEvaluations < boIterations && queried.count < budget && sinceNew < (patience ?? Int.max) {
      let gp = try GaussianProcess.fit(x: xs, y: ys, restarts: gpRestarts, rng: &rng)
      try evaluate(try acquisition.maximise(gp, lower: lower, upper: upper, candidates: candidates, refine: refinements, rng: &rng).x)
    }
    result.weights = bestW
    for i in pool.ranking(bestW) where queried.count < budget {
      let arch = pool.archIndices[i]
      if queried.insert(arch).inserted { result.record(arch, objective(arch), phase: "greedy", weights: bestW) }
    }
    return result
  }
}

/// Random search: distinct architectures drawn uniformly from the domain (Li & Talwalkar, 2019).
public struct RandomSearch: Sendable {
  public var domain: [Int]
  public var budget: Int
  public init(domain: [Int], budget: Int) { self.domain = domain; self.budget = budget }

  /// - Throws: ``SearchError`` for a budget outside 1...domain size.
  public func run(seed: Int, objective: (Int) -> Double) throws -> SearchResult {
    guard budget >= 1 && budget <= domain.count else { throw SearchError("budget: expected 1...\(domain.count) (the pool size), found \(budget)") }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    var result = SearchResult(strategy: "random", seed: seed)
    for i in rng.sampleWithoutReplacement(budget, from: domain.count) { result.record(domain[i], objective(domain[i]), phase: "random") }
    return result
  }
}

/// Regularised evolution (Real et al., AAAI 2019, "Regularized Evolution for Image Classifier
/// Architecture Search", Algorithm 1): a population of `population` architectures, initially
/// random; each cycle samples `sampleSize` members, mutates the best of them (one random
/// one-edit neighbour not yet queried), adds the child and removes the oldest member. When every
/// neighbour of the parent is queried or outside the domain (a sampled pool), the child is a random
/// unqueried architecture, recorded with phase "rea-random" so that its share is visible.
/// (RoBoT's script calls a different scheme "REA": T/3 random starts, always mutating the best
/// member, no tournament or ageing.)
public struct RegularisedEvolution: Sendable {
  public var domain: [Int]
  public var budget: Int
  public var population: Int
  public var sampleSize: Int
  /// One-edit neighbours of an architecture index (NAS-Bench-201: 24).
  public var neighbours: @Sendable (Int) -> [Int]

  public init(domain: [Int], budget: Int, population: Int = 10, sampleSize: Int = 3, neighbours: @escaping @Sendable (Int) -> [Int]) {
    self.domain = domain; self.budget = budget; self.population = population; self.sampleSize = sampleSize; self.neighbours = neighbours
  }

  /// - Throws: ``SearchError`` for a budget outside 1...domain size or a bad population/sample size.
  public func run(seed: Int, objective: (Int) -> Double) throws -> SearchResult {
    guard budget >= 1 && budget <= domain.count else { throw SearchError("budget: expected 1...\(domain.count) (the pool size), found \(budget)") }
    guard population >= 1, sampleSize >= 1, sampleSize <= population else {
      throw SearchError("population and sample size: expected 1 <= sample size <= population, found \(sampleSize) and \(population)")
    }
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(seed)))
    let inDomain = Set(domain)
    var result = SearchResult(strategy: "rea", seed: seed)
    var queried = Set<Int>()
    var members: [(arch: Int, fitness: Double)] = []
    for i in rng.sampleWithoutReplacement(min(population, budget), from: domain.count) {
      let a = domain[i], f = objective(a)
      queried.insert(a); members.append((a, f)); result.record(a, f, phase: "rea-init")
    }
    while queried.count < budget {
      let picks = rng.sampleWithoutReplacement(min(sampleSize, members.count), from: members.count)
      var parent = members[picks[0]]
      for p in picks.dropFirst() where members[p].fitness > parent.fitness { parent = members[p] }
      let options = neighbours(parent.arch).filter { inDomain.contains($0) && !queried.contains($0) }
      let child: Int
      let phase: String
      if options.isEmpty {
        let rest = domain.filter { !queried.contains($0) }
        child = rest[rng.nextInt(below: rest.count)]; phase = "rea-random"
      } else { child = options[rng.nextInt(below: options.count)]; phase = "rea" }
      let f = objective(child)
      queried.insert(child); members.append((child, f)); result.record(child, f, phase: phase)
      if members.count > population { members.removeFirst() }
    }
    return result
  }
}
