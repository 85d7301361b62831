import Foundation
import XCTest
import ZCData
import ZCEngine
import ZCTensor

/// 1,000 seeded byte-level mutations of a real score table (flips, truncations, insertions,
/// deletions) go through the reader: each parses or throws a ``TableError``; none crashes. Valid
/// outputs still hold a value or a reason in every row.
final class ScoreTableFuzzTests: XCTestCase {
  func testMutatedTablesNeverCrashTheReader() throws {
    let metrics = ["nwot", "synflow", "grasp"]
    let cell = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
    let recipe = #"{"h_new_0":{"input":["x","h_prev_0"],"op":"linear"}}"#
    var rows: [ScoreRow] = []
    for i in 0..<12 {
      let key = ScoreKey(space: i < 6 ? "nb201" : "nbnlp", dataset: "cifar10", archIndex: i, metric: metrics[i % 3], seed: 0,
                         batchSize: 64, initialisation: "pytorch-default", batchSource: "sampled", dtype: "float32")
      let value: ProxyValue = i == 4 ? .missing(reason: "-inf: K is singular, \"quoted\"") : .value(Double(i) * 1.5e-3 - 2)
      rows.append(ScoreRow(key: key, arch: i < 6 ? cell : recipe, value: value, seconds: 0.25, engineVersion: "0.1.0"))
    }
    let original = Array(ScoreTable.csv(rows).utf8)
    var rng = ZCRandom(seed: 2026)
    var parsed = 0, rejected = 0
    let specials: [UInt8] = [0x22, 0x2C, 0x0A, 0x0D, 0x00, 0xFF, 0x2D, 0x65, 0x7C]
    for _ in 0..<1000 {
      var b = original
      for _ in 0..<(1 + rng.nextInt(below: 4)) {
        let at = rng.nextInt(below: max(1, b.count))
        switch rng.nextInt(below: 5) {
        case 0: if !b.isEmpty { b[at] ^= UInt8(1 << rng.nextInt(below: 8)) }
        case 1: b = Array(b.prefix(at))
        case 2: b.insert(specials[rng.nextInt(below: specials.count)], at: min(at, b.count))
        case 3: if !b.isEmpty { b.remove(at: at) }
        default: if !b.isEmpty { b[at] = specials[rng.nextInt(below: specials.count)] }
        }
      }
      do {
        let back = try ScoreTable.parse(String(decoding: b, as: UTF8.self), source: "fuzz.csv")
        XCTAssertTrue(back.allSatisfy { $0.value != nil || $0.missingReason != nil })
        parsed += 1
      } catch is TableError {
        rejected += 1
      }
    }
    XCTAssertEqual(parsed + rejected, 1000)
    XCTAssertGreaterThan(rejected, 100, "most mutations must be caught")
  }
}
