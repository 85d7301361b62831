import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSearch
import ZCTensor

/// `zcnas fit`: combination weights fitted on a training split, judged on a held-out split.
struct Fit: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fit proxy-combination weights to a space's ground truth on a training split; report Spearman rho and Kendall tau on the held-out split next to each single proxy.",
    discussion: """
      The architectures the store holds scores of all --metrics for are split at random (--split-seed) into a \
      training part (--train-fraction) and a held-out part. Weights w in [-1, 1]^M of the min-max normalised \
      proxies (normalised over the training part) are chosen by GP-UCB Bayesian optimisation of the training \
      Spearman rho (--iterations evaluations). Single proxies are reported raw (their sign shows whether higher \
      is better); a single proxy's missing values are skipped, while the combination counts them as 0. A \
      lower-is-better ground truth (nbnlp losses) is negated before fitting and scoring, so ρ and τ are always \
      against "higher is better" and a good predictor has positive values.
      """
  )

  @OptionGroup var selection: RunSelection
  @OptionGroup var spaceOptions: SpaceOptions
  @Option(help: "Comma-separated proxies to combine (default nb201: RoBoT's six; nbnlp: every recurrent proxy).") var metrics: String?
  @Option(help: "Ground truth: test, valid or a column of the space's table (default: test).") var target = "test"
  @Option(name: .customLong("train-fraction"), help: "Fraction of the pool used for fitting.") var trainFraction = 0.5
  @Option(name: .customLong("split-seed"), help: "Seed of the train/held-out split and of the optimiser.") var splitSeed = 0
  @Option(help: "Evaluations of the training rho (at least 2M + 8: every single proxy with either sign, then 8 random starts).") var iterations = 60
  @Option(name: .customLong("save-weights"), help: "Write the fitted combination as JSON (for `zcnas search --weights`).") var saveWeights: String?

  func run() throws {
    guard trainFraction > 0 && trainFraction < 1 else { throw CLIError("--train-fraction: expected a number strictly between 0 and 1, found \(trainFraction)") }
    guard iterations >= 1 else { throw CLIError("--iterations: expected at least 1, found \(iterations)") }
    try fit(try spaceOptions.load())
  }

  private func fit(_ space: some SearchSpace) throws {
    if let saveWeights { try checkOutput("--save-weights", saveWeights) }
    let dataset = try spaceOptions.dataset(for: space)
    let gt = try cli { try space.groundTruth(target, dataset: dataset, option: "--target") }
    let column = gt.column + (gt.higherIsBetter ? "" : " (negated: lower is better)")
    let metrics = self.metrics ?? space.defaultCombination.joined(separator: ",")
    let pool = try selection.pool(space: space, dataset: dataset, metrics: metrics, truth: gt).pool
    let truth: (Int) -> Double = { gt.oriented($0)! }
    let usable = Array(pool.archIndices.indices)
    var rng = ZCRandom(seed: UInt64(bitPattern: Int64(splitSeed)))
    let nTrain = Int((Double(usable.count) * trainFraction).rounded())
    guard nTrain >= 3 && usable.count - nTrain >= 3 else {
      throw CLIError("--train-fraction: the pool has \(usable.count) architectures with ground truth; both parts need at least 3")
    }
    let shuffled = rng.sampleWithoutReplacement(usable.count, from: usable.count).map { usable[$0] }
    let trainPos = Array(shuffled.prefix(nTrain)).sorted(), testPos = Array(shuffled.dropFirst(nTrain)).sorted()
    let train = pool.subset(trainPos), test = pool.subset(testPos)
    let yTrain = train.archIndices.map(truth), yTest = test.archIndices.map(truth)
    let fitted: (combination: Combination, trainRho: Double)
    do { fitted = try CombinationFit(iterations: iterations).fit(train: train, targets: yTrain, seed: splitSeed &+ 1) } catch let e as SearchError { throw CLIError("\(e)") }
    var c = fitted.combination
    c.source = "zcnas fit --space \(space.name) --dataset \(dataset) --target \(gt.column) --train-fraction \(trainFraction) --split-seed \(splitSeed) --iterations \(iterations); pool \(pool.count)"
    print("\(space.name) \(dataset): \(train.count) training and \(test.count) held-out \(space.unit)s; ground truth \(column)")
    print("predictor                 train ρ   held-out n  held-out ρ  held-out τ")
    func row(_ name: String, _ trRho: Double, _ n: Int, _ rho: Double, _ tau: Double) {
      print(name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "  %+.4f   %10d     %+.4f     %+.4f", trRho, n, rho, tau))
    }
    for (m, name) in pool.metrics.enumerated() {
      func pairs(_ p: ProxyPool, _ y: [Double]) -> ([Double], [Double]) {
        let idx = p.values.indices.filter { p.values[$0][m] != nil }
        return (idx.map { p.values[$0][m]! }, idx.map { y[$0] })
      }
      let (a, ya) = pairs(train, yTrain), (b, yb) = pairs(test, yTest)
      row(name, Statistics.spearman(a, ya), b.count, Statistics.spearman(b, yb), Statistics.kendall(b, yb))
    }
    let sTest = test.values.map { c.score($0) }
    row("combination (fitted)", fitted.trainRho, test.count, Statistics.spearman(sTest, yTest), Statistics.kendall(sTest, yTest))
    print("(single proxies skip their missing values; the combination counts a missing value as its worst contribution, min(0, w))")
    print("weights: " + zip(c.metrics, c.weights).map { String(format: "%@ %+.3f", $0.0, $0.1) }.joined(separator: ", "))
    if let saveWeights {
      try writeCombination(c, to: saveWeights)
      print("combination written to \(saveWeights)")
    }
  }
}
