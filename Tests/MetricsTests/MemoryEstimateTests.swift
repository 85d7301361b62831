import Foundation
import Metrics
import TestSupport
import XCTest
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// The memory estimates of the two spaces: exact parameter counts, linear in the batch, close to
/// the measured peak memory, and the check's message.
final class MemoryEstimateTests: XCTestCase {
  private func proxies(_ names: String) -> [any ZeroCostProxy] { names.split(separator: ",").map { registry.named(String($0))! } }

  func testNB201ParameterCountMatchesTheNetwork() throws {
    for (arch, c, n, k) in [(1462, 16, 5, 10), (1651, 16, 5, 10), (6111, 16, 5, 100), (3773, 8, 2, 120), (0, 4, 1, 3)] {
      let a = try NB201Architecture(parsing: NB201Space.fixtureArch(arch))
      var rng = ZCRandom(seed: 0)
      let net = NB201Network(a, channels: c, cellsPerStage: n, numClasses: k, rng: &rng)
      XCTAssertEqual(NB201Space.parameterCount(a, channels: c, cellsPerStage: n, numClasses: k), net.parameterCount, "\(arch) C\(c) N\(n) K\(k)")
    }
  }

  /// Measured peak resident memory per image (MB, slope between batches 50 and 150, one job; see
  /// the estimate's documentation) and the estimate's per-image bytes: never below, at most 1.6×.
  func testNB201EstimateTracksTheMeasuredSlopes() throws {
    let measured: [(Int, String, Double)] = [
      (1462, "grad_norm", 16.1), (1462, "grasp", 35.7), (1462, "snip", 14.1), (1462, "nwot", 12.5), (1462, "fisher", 19.3),
      (1462, "grad_norm,snip,grasp,fisher,synflow,jacob_cov,nwot,plain,l2_norm,params,flops", 36), (1462, "ntk_cond", 24.8),
      (1462, "ntk_cond_eval", 37.4), (1651, "grad_norm", 6.36), (1651, "grasp", 12.6), (3773, "grad_norm", 6.75), (3773, "grasp", 14.1),
      (6111, "grad_norm", 12.7), (6111, "grasp", 30.9),
    ]
    for (arch, names, mb) in measured {
      let a = try NB201Architecture(parsing: NB201Space.fixtureArch(arch))
      let e = NB201Space.memoryEstimate(a, numClasses: 10, imageSize: 32, batchSize: 100, dtype: .float32, proxies: proxies(names))
      let ratio = e.bytesPerSample / (mb * 1e6 * 1.024)  // /usr/bin/time reports KiB
      XCTAssertGreaterThanOrEqual(ratio, 0.95, "\(arch) \(names): estimate \(e.bytesPerSample / 1e6) MB per image, measured \(mb)")
      XCTAssertLessThanOrEqual(ratio, 1.6, "\(arch) \(names): estimate \(e.bytesPerSample / 1e6) MB per image, measured \(mb)")
    }
    let all = NB201Space.memoryEstimate(try NB201Architecture(parsing: NB201Space.fixtureArch(1462)), numClasses: 10, imageSize: 32, batchSize: 1,
                                        dtype: .float32, proxies: registry.applicable(to: .imageClassifier))
    XCTAssertGreaterThanOrEqual(all.bytesPerSample, 53.7e6 * 1.024 * 0.95, "--metrics all measured 53.7 MB per image")
  }

  func testEstimateIsLinearInTheBatchAndTheCheckSaysWhatFits() throws {
    let a = try NB201Architecture(parsing: NB201Space.fixtureArch(1462))
    let p = proxies("grad_norm,grasp")
    let e1 = NB201Space.memoryEstimate(a, numClasses: 10, imageSize: 32, batchSize: 1000, dtype: .float32, proxies: p)
    let e2 = NB201Space.memoryEstimate(a, numClasses: 10, imageSize: 32, batchSize: 2000, dtype: .float32, proxies: p)
    XCTAssertEqual(e2.bytes - e1.bytes, 1000 * e1.bytesPerSample, accuracy: 1)
    let f64 = NB201Space.memoryEstimate(a, numClasses: 10, imageSize: 32, batchSize: 1000, dtype: .float64, proxies: p)
    XCTAssertEqual(f64.bytesPerSample, 2 * e1.bytesPerSample, accuracy: 1)
    var s = ScoringSettings(dataset: "cifar10", datasetsRoot: TestPaths.datasets)
    s.maxMemoryGB = 24
    XCTAssertThrowsError(try MemoryLimit.check(e1, options: "--batch-size 1000", what: "architecture 1462", settings: s)) { e in
      let text = "\(e)"
      XCTAssertTrue(text.hasPrefix("--batch-size 1000: scoring architecture 1462 needs an estimated "), text)
      XCTAssertTrue(text.contains("above the limit of 24.0 GB (--max-memory); at most --batch-size \(e1.largestBatch(within: 24e9)) fits"), text)
      XCTAssertFalse(text.contains("\n"))
    }
    XCTAssertLessThanOrEqual(e1.fixedBytes + Double(e1.largestBatch(within: 24e9)) * e1.bytesPerSample, 24e9)
    XCTAssertGreaterThan(e1.fixedBytes + Double(e1.largestBatch(within: 24e9) + 1) * e1.bytesPerSample, 24e9)
    s.maxMemoryGB = 100
    XCTAssertNoThrow(try MemoryLimit.check(e1, options: "--batch-size 1000", what: "architecture 1462", settings: s))
  }

  func testNBNLPParameterCountAndSizes() throws {
    let table = try NBNLPTable(path: TestPaths.datasets + "/nasbench_nlp/nbnlp_wikitext2_subset.csv")
    for id in [1000000, 1000001, 1008700] {
      let r = try NBNLPRecipe(json: try XCTUnwrap(table.recipe(id: id)))
      let size = NBNLPModelSize(vocabulary: 50, embeddingSize: 6, hiddenSize: 10, layers: 3)
      var rng = ZCRandom(seed: 0)
      let net = try NBNLPNetwork(r, size: size, rng: &rng)
      // The decoder's weight is the encoder's (tied): counted once.
      let distinct = net.namedParameters().filter { $0.0 != "decoder.weight" }.reduce(0) { $0 + $1.1.value.count }
      XCTAssertEqual(NBNLPSpace.parameterCount(r, size: size), distinct, "\(id)")
      // Weights alone at nhid 100000: far beyond any machine (the 80 GB allocation of issue 15).
      let huge = NBNLPSpace.memoryEstimate(r, size: NBNLPModelSize(vocabulary: 18328, embeddingSize: 400, hiddenSize: 100_000, layers: 3), steps: 70,
                                           batchSize: 10, dtype: .float32, proxies: [])
      XCTAssertGreaterThan(huge.fixedBytes, 80e9, "\(id)")
    }
    // Measured: 1.47 GB peak for the five recurrent proxies at nhid 1800, batch 10 (recipe 1000001).
    let r = try NBNLPRecipe(json: try XCTUnwrap(table.recipe(id: 1000001)))
    let e = NBNLPSpace.memoryEstimate(r, size: NBNLPModelSize(vocabulary: 18328, embeddingSize: 400, hiddenSize: 1800, layers: 3), steps: 70,
                                      batchSize: 10, dtype: .float32, proxies: registry.applicable(to: .recurrentLanguageModel))
    XCTAssertGreaterThanOrEqual(e.bytes, 1.47e9 * 1.024)
    XCTAssertLessThanOrEqual(e.bytes, 1.6 * 1.47e9 * 1.024)
  }
}

extension NB201Space {
  /// Arch strings of the cells the calibration measured (NAS-Bench-201 indices).
  static func fixtureArch(_ index: Int) -> String {
    switch index {
    case 1462: return "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    case 1651: return "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    case 3773: return "|avg_pool_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|avg_pool_3x3~1|skip_connect~2|"
    case 6111: return "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    default: return "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|"
    }
  }
}
