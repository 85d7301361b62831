import Foundation
import TestSupport
import XCTest
import ZCEngine
import ZCTensor

/// Every shipped NAS-Bench-201 score row must be reproducible bit for bit by the engine that ships
/// it (issue 15, item 10). This scores a fixed sample of six architectures with the shipped
/// tables' settings and compares every value exactly (bit pattern, or the same missing reason)
/// with the shipped row, whose `numerics` column names the engine that computed it.
///
/// The sample is the first three architectures of each end of the tables' scoring order (the
/// indices shuffled by Python's `random.Random(2026).shuffle(list(range(15625)))`, which
/// `scripts/score-full.sh` walks from both ends), so a partially regenerated table holds them
/// first; five of the six cells have 3 × 3 convolutions, where earlier builds' values differed.
/// - Only rows with a numerics version are compared (rows without one are from the earlier builds
///   that the regeneration has not reached); a table with none in the sample skips, saying so; a
///   row from another revision of the kernels fails the test: regenerate the tables.
/// - Rows computed with the direct convolution kernels (numerics `avx512`: their AVX-512 build or
///   their AVX2 + FMA build, which give the same bits) are skipped on a CPU with neither: that
///   machine cannot reproduce them bit for bit (its values agree within the fixtures' tolerances).
final class ShippedTableReproductionTests: XCTestCase {
  /// 13393, 10576, 7618 and 1951, 5234, 8233 (CPython 3.11's `order[:3]` and `order[::-1][:3]`).
  static let sample = Array(ScoringOrder.indices.prefix(3)) + ScoringOrder.indices.suffix(3).reversed()
  /// The nine proxies every shipped table has; the proxies added since (meco, ...) are checked too
  /// when the table has them.
  static let metrics = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "params", "flops"]

  func reproduce(_ dataset: String) throws {
    let table = ZCNASRunner.root.appendingPathComponent("Datasets/nb201-scores/nb201_\(dataset)_seed0_b64.csv.gz").path
    let sampleRows = try ScoreTable.read(table).filter { Self.sample.contains($0.archIndex) }
    let allMetrics = Self.metrics + Set(sampleRows.map(\.metric)).subtracting(Self.metrics).sorted()
    XCTAssertEqual(sampleRows.count, Self.sample.count * allMetrics.count, "\(dataset): the sample's rows in the shipped table (\(allMetrics.joined(separator: ",")))")
    // Rows with a numerics version must reproduce; rows from the earlier builds (no version) are
    // what the regeneration has not reached yet.
    let shipped = sampleRows.filter { ($0.numerics ?? "") != "" }
    guard !shipped.isEmpty else {
      throw XCTSkip("\(dataset): the shipped table's sample rows have no numerics version (not yet regenerated; see Datasets/nb201-scores/PROVENANCE.md)")
    }
    let metrics = allMetrics.filter { m in shipped.contains { $0.metric == m } }
    XCTAssertEqual(shipped.count, Self.sample.count * metrics.count, "\(dataset): a proxy is regenerated for the whole sample or not at all")
    let versions = Set(shipped.map { $0.numerics! })
    XCTAssertEqual(versions.count, 1, "\(dataset): one numerics version expected in the sample, found \(versions.sorted())")
    let version = versions.first!
    let parts = version.split(separator: "-").map(String.init)
    guard parts.count == 4 else { return XCTFail("\(dataset): numerics version \(version) is not revision-conv-blas-core") }
    XCTAssertEqual(parts[0], "n\(Numerics.revision)",
                   "\(dataset): the shipped rows were computed by kernels of numerics \(parts[0]); this engine is n\(Numerics.revision): regenerate the tables (scripts/score-full.sh)")
    if parts[1] == "avx512" && CPUFeatures.directConvolution == nil {
      throw XCTSkip("\(dataset): the shipped rows used the direct convolution kernels; this CPU has neither AVX-512 nor AVX2 + FMA, so it cannot reproduce them bit for bit")
    }
    let dir = try temporaryFolder("zc-shipped")
    let out = dir.appendingPathComponent("sample.csv").path
    let p = try ZCNASRunner.process(["score", "--dataset", dataset, "--archs", Self.sample.map(String.init).joined(separator: ","),
                                     "--metrics", metrics.joined(separator: ","), "--batch-size", "64", "--seed", "0", "--jobs", "2",
                                     "--store", dir.appendingPathComponent("s.sqlite").path, "--output", out], in: dir)
    // The BLAS core the shipped rows name (OpenBLAS picks its kernels by this variable).
    p.environment?["OPENBLAS_CORETYPE"] = parts[3]
    let err = Pipe()
    p.standardError = err
    try p.run()
    let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, errText)
    let mine = Dictionary(uniqueKeysWithValues: try ScoreTable.read(out).map { ("\($0.archIndex) \($0.metric)", $0) })
    var differ: [String] = []
    for r in shipped {
      let k = "\(r.archIndex) \(r.metric)"
      guard let m = mine[k] else { differ.append("\(k): not scored"); continue }
      XCTAssertEqual(m.numerics, version, "\(k): this engine's numerics")
      XCTAssertEqual(m.arch, r.arch, k)
      if m.value?.bitPattern != r.value?.bitPattern || m.missingReason != r.missingReason {
        differ.append("\(k): shipped \(r.value.map { "\($0)" } ?? r.missingReason ?? "?"), now \(m.value.map { "\($0)" } ?? m.missingReason ?? "?")")
      }
    }
    XCTAssertEqual(differ, [], "\(dataset): \(differ.count) of \(shipped.count) values differ from the shipped table")
  }

  /// The six cells, from CPython 3.11 (`order[:3] + order[::-1][:3]`), so that this target alone pins them.
  func testSampleIsTheOrdersEnds() { XCTAssertEqual(Self.sample, [13393, 10576, 7618, 1951, 5234, 8233]) }
  func testCIFAR10TableReproduces() throws { try reproduce("cifar10") }
  func testCIFAR100TableReproduces() throws { try reproduce("cifar100") }
}
