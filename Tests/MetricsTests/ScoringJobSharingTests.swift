import Foundation
import Metrics
import TestSupport
import XCTest
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// Two processes may score one store at once (the full-space tables are made that way, two
/// processes walking the same order from opposite ends). An architecture the other process stored
/// after this job started must be skipped when its turn comes, not scored a second time.
final class ScoringJobSharingTests: XCTestCase {
  private final class Builds: @unchecked Sendable {
    private let lock = NSLock()
    private var indices: [Int] = []
    func add(_ i: Int) -> Int { lock.lock(); defer { lock.unlock() }; indices.append(i); return indices.count }
    var all: [Int] { lock.lock(); defer { lock.unlock() }; return indices }
  }

  func testArchitectureStoredByAnotherProcessMeanwhileIsSkipped() throws {
    let dir = try temporaryFolder("zc-share")
    let path = dir.appendingPathComponent("shared.sqlite").path
    let archs = try ["|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|",
                     "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
                     "|none~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"].enumerated()
      .map { ($0.offset + 10, try NB201Architecture(parsing: $0.element)) }
    var rng = ZCRandom(seed: 3)
    let images = Initializer.normal(mean: 0, std: 1).make(shape: [2, 3, 32, 32], dtype: .float32, rng: &rng)
    let datasets = TestPaths.datasets
    let pipeline = try ScoringPipeline(space: try NB201Space(datasetsRoot: datasets), settings: ScoringSettings(dataset: "cifar10", datasetsRoot: datasets),
                                       proxies: [Params()], batch: NB201Space.Batch(images: images, labels: [1, 2], source: "sampled"))
    let other = try ScoreStore(path: path)  // the "other process": its own connection to the file
    let seen = Builds()
    // After this job stores its first architecture, the other process stores the second.
    let (scored, skipped) = try pipeline.run(archs.map { (id: $0.0, architecture: $0.1) }, store: try ScoreStore(path: path), jobs: 1) { done, _, _ in
      if done == 1 && seen.add(done) == 1 {
        let key = ScoreKey(space: "nb201", dataset: "cifar10", archIndex: archs[1].0, metric: "params", seed: 0, batchSize: 2,
                           initialisation: "pytorch-default", batchSource: "sampled", dtype: "float32")
        try? other.write([ScoreRow(key: key, arch: archs[1].1.description, value: .value(-1), seconds: 0, engineVersion: "other")])
      }
    }
    XCTAssertEqual(scored, 2)
    XCTAssertEqual(skipped, 1, "the architecture stored meanwhile must be skipped, not scored again")
    let rows = try ScoreStore(path: path).rows(space: "nb201", dataset: "cifar10")
    XCTAssertEqual(rows.map(\.archIndex).sorted(), [10, 11, 12])
    XCTAssertEqual(rows.first { $0.archIndex == 11 }?.engineVersion, "other", "the other process's row must be kept")
  }
}
