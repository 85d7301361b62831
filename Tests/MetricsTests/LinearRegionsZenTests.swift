import Foundation
import Metrics
import XCTest
import ZCAutodiff
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// linear_regions and zen have no PyTorch fixture. These tests check them against values computed
/// independently by Tests/Fixtures/tools/zen_linear_regions_reference.py (plain numpy re-implementation
/// of the networks, float64, on closed-form weights and inputs reproduced below; its printed output is
/// pasted here), and against properties that can fail (brute-force pattern enumeration, crop
/// geometry, determinism, degenerate cells).
final class LinearRegionsZenTests: XCTestCase {
  private let mixedArch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"

  /// The reference script's formulas: weight of the ℓ-th conv/linear module (module order)
  /// sin(1.3 q + 0.7 ℓ + 0.25)·√(2/fan_in); inputs sin(a i + b) over the flat index i.
  private func setFormulaWeights(_ net: some Module) {
    var layer = 0
    for (_, m) in net.namedModules() {
      let p: Parameter
      if let c = m as? Conv2d { p = c.weight } else if let l = m as? Linear { p = l.weight } else { continue }
      let fanIn = p.shape.dropFirst().reduce(1, *)
      let v = (0..<p.value.count).map { sin(1.3 * Double($0) + 0.7 * Double(layer) + 0.25) * (2 / Double(fanIn)).squareRoot() }
      p.value = Tensor(doubles: v, shape: p.shape, dtype: .float64)
      layer += 1
    }
  }

  private func formulaInput(_ shape: [Int], _ a: Double, _ b: Double) -> [Double] {
    (0..<shape.reduce(1, *)).map { sin(a * Double($0) + b) }
  }

  // MARK: linear_regions

  func testThinNetworkPatternCountMatchesNumpyReference() throws {
    var rng = ZCRandom(seed: 1)
    let thin = NB201ThinNetwork(try NB201Architecture(parsing: mixedArch), dtype: .float64, rng: &rng)
    setFormulaWeights(thin)
    let shape = [600, 1, 3, 3]
    let x = zip(formulaInput(shape, 0.61, 0.3), formulaInput(shape, 0.071, 1.1)).map { $0 + 0.5 * $1 }
    let crops = Tensor(doubles: x, shape: shape, dtype: .float64)
    // numpy reference: "linear_regions (batches of 200) = 290, (one batch of 600) = 281".
    XCTAssertEqual(LinearRegions.distinctPatterns(of: thin, inputs: crops, batchSize: 200), 290)
    XCTAssertEqual(LinearRegions.distinctPatterns(of: thin, inputs: crops, batchSize: 600), 281)
  }

  /// A cell whose output is its input (node 3 = skip(node 0)): the only ReLU is lastact's, after
  /// training-mode batch norm with γ = 1, β = 0, so a crop's pattern is (pixel > batch mean) over
  /// its 9 pixels. Enumerated here by brute force. An all-none cell has exactly one pattern.
  func testSkipCellPatternsEqualBruteForceThresholdCodes() throws {
    var rng = ZCRandom(seed: 5)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [6, 3, 12, 12], dtype: .float64, rng: &rng)
    let crops = try XCTUnwrap(LinearRegions.crops(of: images, count: 900, size: 3, seed: 11))
    let skip = NB201ThinNetwork(try NB201Architecture(parsing: "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
                                dtype: .float64, rng: &rng)
    let v = crops.doubles
    var codes = Set<[Bool]>()
    for batch in 0..<3 {
      let part = Array(v[(batch * 300 * 9)..<((batch + 1) * 300 * 9)])
      let mean = part.reduce(0, +) / Double(part.count)
      for r in 0..<300 { codes.insert((0..<9).map { part[r * 9 + $0] > mean }) }
    }
    XCTAssertGreaterThan(codes.count, 50)
    XCTAssertEqual(LinearRegions.distinctPatterns(of: skip, inputs: crops, batchSize: 300), codes.count)
    let none = NB201ThinNetwork(try NB201Architecture(parsing: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), dtype: .float64, rng: &rng)
    XCTAssertEqual(LinearRegions.distinctPatterns(of: none, inputs: crops, batchSize: 300), 1)
  }

  func testCropsAreDistinctPatchesOfTheImages() throws {
    var rng = ZCRandom(seed: 7)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [4, 3, 8, 8], dtype: .float64, rng: &rng)
    let x = images.doubles
    let crops = try XCTUnwrap(LinearRegions.crops(of: images, count: 200, size: 3, seed: 3))
    XCTAssertEqual(crops.shape, [200, 1, 3, 3])
    let c = crops.doubles
    var found = Set<[Int]>()
    for n in 0..<200 {
      var hit: [Int]?
      search: for plane in 0..<12 { for top in 0..<6 { for left in 0..<6 {
        if (0..<9).allSatisfy({ c[n * 9 + $0] == x[(plane * 8 + top + $0 / 3) * 8 + left + $0 % 3] }) { hit = [plane, top, left]; break search }
      } } }
      found.insert(try XCTUnwrap(hit, "crop \(n) is not a patch of the images"))
    }
    XCTAssertEqual(found.count, 200, "crops repeat a position")
    XCTAssertEqual(LinearRegions.crops(of: images, count: 200, size: 3, seed: 3)?.doubles, c)
    XCTAssertNotEqual(LinearRegions.crops(of: images, count: 200, size: 3, seed: 4)?.doubles, c)
    XCTAssertNil(LinearRegions.crops(of: images, count: 4 * 3 * 6 * 6 + 1, size: 3, seed: 3))
  }

  func testProxyIsDeterministicAndBounded() throws {
    var rng = ZCRandom(seed: 2)
    let net = NB201Network(try NB201Architecture(parsing: mixedArch), channels: 4, cellsPerStage: 1, imageSize: 16, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [8, 3, 16, 16], dtype: .float32, rng: &rng)
    let labels = Array(0..<8)
    func run(_ run: UInt64, _ network: UInt64) throws -> Double {
      try XCTUnwrap(evaluate([LinearRegions()], network: net, images: images, labels: labels, runSeed: run, networkSeed: network)[0].value.number)
    }
    let a = try run(0, 1)
    XCTAssertEqual(a, try run(0, 1))
    XCTAssertGreaterThan(a, 1)
    XCTAssertLessThanOrEqual(a, 3000)
    XCTAssertNotEqual(a, try run(0, 2))  // another thin network
    // 2 images x 3 channels x 14 x 14 = 1176 crops < 3000: missing, not a smaller count.
    let small = evaluate([LinearRegions()], network: net, images: images.rows(0..<2), labels: [0, 1])[0].value
    XCTAssertNil(small.number)
  }

  // MARK: zen

  func testZenScoreMatchesNumpyReference() throws {
    var rng = ZCRandom(seed: 1)
    let net = NB201Network(try NB201Architecture(parsing: mixedArch), channels: 2, cellsPerStage: 1, imageSize: 8, dtype: .float64, rng: &rng)
    setFormulaWeights(net)
    let shape = [4, 3, 8, 8]
    let x1 = Tensor(doubles: formulaInput(shape, 0.37, 0.1), shape: shape, dtype: .float64)
    let x2 = Tensor(doubles: formulaInput(shape, 0.23, 0.4), shape: shape, dtype: .float64)
    let v = try XCTUnwrap(Zen.score(features: net, network: net, x1: x1, x2: x2, gamma: 0.01).number)
    // numpy reference: "zen = -1.6813066217343255 (log delta -0.9396975156379251, BN term -0.7416091060964004)".
    XCTAssertEqual(v, -1.6813066217343255, accuracy: 1e-9)
  }

  func testGaussianInitialisationAndDegenerateCell() throws {
    var rng = ZCRandom(seed: 4)
    let net = NB201Network(try NB201Architecture(parsing: mixedArch), channels: 8, cellsPerStage: 1, imageSize: 8, dtype: .float64, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [4, 3, 8, 8], dtype: .float64, rng: &rng)
    _ = net(Variable(images))  // moves the running statistics away from 0 / 1
    var g = ZCRandom(seed: 9)
    Zen.gaussianInitialise(net, rng: &g)
    let w = try XCTUnwrap(net.parameter(named: "cells.4.layers.0.op.1.weight")).value.doubles  // 32x32x3x3 conv (third stage)
    let mean = w.reduce(0, +) / Double(w.count)
    let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)
    XCTAssertEqual(mean, 0, accuracy: 0.05)
    XCTAssertEqual(variance, 1, accuracy: 0.05)
    XCTAssertEqual(try XCTUnwrap(net.parameter(named: "classifier.bias")).value.doubles, [Double](repeating: 0, count: 10))
    for (_, m) in net.namedModules() {
      guard let bn = m as? BatchNorm2d else { continue }
      XCTAssertEqual(Set(bn.runningVar.doubles), [1])
      XCTAssertEqual(Set(bn.runningMean.doubles), [0])
      XCTAssertEqual(Set(bn.weight!.value.doubles), [1])
    }
    // All-none cells: the features do not depend on the input, log 0 = -inf: missing.
    let none = NB201Network(try NB201Architecture(parsing: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
                            channels: 4, cellsPerStage: 1, imageSize: 8, rng: &rng)
    let r = evaluate([Zen()], network: none, images: images.to(.float32), labels: [0, 1, 2, 3])[0].value
    guard case let .missing(reason) = r else { return XCTFail("expected missing, got \(r)") }
    XCTAssertTrue(reason.hasPrefix("-inf"), reason)
  }

  func testZenProxyIsDeterministicAndIgnoresPriorPasses() throws {
    var rng = ZCRandom(seed: 6)
    let net = NB201Network(try NB201Architecture(parsing: mixedArch), channels: 4, cellsPerStage: 1, imageSize: 8, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [6, 3, 8, 8], dtype: .float32, rng: &rng)
    let labels = Array(0..<6)
    func zen(_ run: UInt64, _ network: UInt64) throws -> Double {
      try XCTUnwrap(evaluate([Zen()], network: net, images: images, labels: labels, runSeed: run, networkSeed: network)[0].value.number)
    }
    let a = try zen(0, 1)
    _ = net(Variable(images))  // a training-mode pass changes the original's running statistics
    XCTAssertEqual(a, try zen(0, 1))
    XCTAssertNotEqual(a, try zen(0, 2))
    XCTAssertNotEqual(a, try zen(1, 1))
    // The proxy does not change the caller's network.
    let before = net.namedParameters().map { $0.1.value.doubles }
    _ = try zen(3, 3)
    XCTAssertEqual(before, net.namedParameters().map { $0.1.value.doubles })
  }
}

/// The one-backward per-sample route (ntk_cond_eval) against B backward passes through the same
/// batched graph, and its refusal of graphs where samples interact.
final class IndependentSampleGradientTests: XCTestCase {
  func testMatchesPerSampleBackwardPassesInEvaluationMode() throws {
    var rng = ZCRandom(seed: 31)
    let net = NB201Network(try NB201Architecture(parsing: "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"),
                           channels: 4, cellsPerStage: 1, dtype: .float64, rng: &rng)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [5, 3, 8, 8], dtype: .float64, rng: &rng)
    _ = net(Variable(images))  // non-trivial running statistics
    net.setTraining(false)
    let params = net.namedParameters().filter { $0.0.contains("weight") }.map { $0.1.variable }
    let logits = net(Variable(images))
    let fast = try XCTUnwrap(independentPerSampleGradients(of: logits, withRespectTo: params))
    let slow = perSampleGradients(of: logits, withRespectTo: params)
    XCTAssertEqual(fast.map(\.shape), slow.map(\.shape))
    var nonzero = 0
    for (a, b) in zip(fast, slow) {
      for (x, y) in zip(a.doubles, b.doubles) { XCTAssertEqual(x, y, accuracy: 1e-11 * max(1, Swift.abs(y))); if y != 0 { nonzero += 1 } }
    }
    XCTAssertGreaterThan(nonzero, 1000)
    // Training-mode batch norm mixes samples: the route must refuse (nil), not return wrong rows.
    net.setTraining(true)
    XCTAssertNil(independentPerSampleGradients(of: net(Variable(images)), withRespectTo: params))
  }
}
