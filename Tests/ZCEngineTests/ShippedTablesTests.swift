import Foundation
import TestSupport
import XCTest
import ZCData
import ZCEngine

/// The precomputed tables in `Datasets/nb201-scores/` are what PROVENANCE.md says they are: the
/// whole NAS-Bench-201 space, the nine proxies (and those added since) once each, one scoring
/// setting, and missing values only where the cell cannot carry the input to the output.
final class ShippedTablesTests: XCTestCase {
  static let root = TestPaths.root
  static let metrics: Set<String> = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "params", "flops"]
  /// Proxies added to the tables after the nine, each scored for the whole space by one engine
  /// (numerics version on every row); PROVENANCE.md, "Proxies added since".
  static let added: [String: Set<String>] = ["cifar10": addedProxies, "cifar100": addedProxies]
  static let addedProxies: Set<String> = ["meco", "meco_opt", "swap", "reg_swap"]
  static let ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

  /// Whether every path from cell node 0 to node 3 of `arch` (`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`)
  /// passes through `none`. Parsed here from the string alone, independently of ZCSpaces.
  static func isDisconnected(_ arch: String) -> Bool {
    let nodes = arch.split(separator: "+")
    guard nodes.count == 3 else { XCTFail("not a NAS-Bench-201 arch string: \(arch)"); return false }
    var reaches = [true, false, false, false]
    for (n, node) in nodes.enumerated() {
      // Node n + 1 has one edge from each of nodes 0...n, written `op~from`.
      let edges = node.split(separator: "|").map { $0.split(separator: "~") }
      XCTAssertEqual(edges.map { $0.count == 2 ? Int($0[1]) : nil }, Array(0...n), "node \(n + 1) of \(arch)")
      for edge in edges where edge.count == 2 {
        XCTAssertTrue(ops.contains(String(edge[0])), "unknown op in \(arch)")
        if let from = Int(edge[1]), from <= n, edge[0] != "none", reaches[from] { reaches[n + 1] = true }
      }
    }
    return !reaches[3]
  }

  /// The arch string of every index in the NAS-Bench-201 table the product ships (official order).
  static func benchmarkArchs() throws -> [Int: String] {
    let text = try String(contentsOfFile: root.appendingPathComponent("Datasets/nasbench201/nb201.csv").path, encoding: .utf8)
    var archs: [Int: String] = [:]
    for line in text.split(separator: "\n").dropFirst() {
      let f = line.split(separator: ",", maxSplits: 2)
      archs[Int(f[0])!] = String(f[1])
    }
    return archs
  }

  /// Checks one table; returns its missing values as metric → architecture indices.
  /// - Parameters:
  ///   - benchmark: index → arch string, from ``benchmarkArchs()``.
  ///   - disconnected: the indices whose cell ``isDisconnected(_:)``.
  func check(_ dataset: String, benchmark: [Int: String], disconnected: Set<Int>) throws -> [String: Set<Int>] {
    let path = Self.root.appendingPathComponent("Datasets/nb201-scores/nb201_\(dataset)_seed0_b64.csv.gz").path
    let rows = try ScoreTable.read(path)
    let metrics = Self.metrics.union(Self.added[dataset] ?? [])
    XCTAssertEqual(rows.count, 15_625 * metrics.count)
    // Re-exporting the imported rows gives the shipped file's text byte for byte.
    XCTAssertTrue(ScoreTable.csv(rows) == String(decoding: try Gzip.read(path), as: UTF8.self), "\(dataset): re-export differs from the shipped table")
    // Regenerated rows carry one numerics version; the others (from earlier builds) none. An
    // architecture's nine proxies are regenerated whole or not at all; added proxies always carry it.
    let versions = Set(rows.compactMap(\.numerics))
    XCTAssertLessThanOrEqual(versions.count, 1, "\(dataset): numerics versions \(versions.sorted())")
    let byArch = Dictionary(grouping: rows.filter { Self.metrics.contains($0.metric) }, by: \.archIndex)
    XCTAssertEqual(byArch.values.filter { Set($0.map { $0.numerics ?? "" }).count != 1 }.count, 0, "\(dataset): architectures whose nine proxies have mixed numerics")
    XCTAssertEqual(rows.filter { !Self.metrics.contains($0.metric) && ($0.numerics ?? "").isEmpty }.count, 0, "\(dataset): added proxies' rows without a numerics version")
    var metricsOf: [Int: Set<String>] = [:]
    var missing: [String: Set<Int>] = [:]
    for r in rows {
      XCTAssertEqual([r.space, r.dataset, r.initialisation, r.batchSource, r.dtype, r.engineVersion],
                     ["nb201", dataset, "pytorch-default", "sampled", "float32", "0.1.0"])
      XCTAssertEqual([r.seed, r.batchSize], [0, 64])
      XCTAssertTrue(metrics.contains(r.metric), r.metric)
      XCTAssertEqual(r.arch, benchmark[r.archIndex], "index \(r.archIndex) is not the NAS-Bench-201 architecture of that index")
      let firstTime = metricsOf[r.archIndex, default: []].insert(r.metric).inserted
      XCTAssertTrue(firstTime, "\(r.archIndex) \(r.metric) twice")
      if let v = r.value {
        XCTAssertTrue(v.isFinite, "\(r.archIndex) \(r.metric) = \(v)")
      } else {
        missing[r.metric, default: []].insert(r.archIndex)
      }
    }
    XCTAssertEqual(Set(metricsOf.keys), Set(0..<15_625))
    // Only jacob_cov and nwot may be missing, and only on disconnected cells; jacob_cov on all of
    // them (the output cannot depend on the image).
    XCTAssertEqual(Set(missing.keys).subtracting(["jacob_cov", "nwot"]), [])
    XCTAssertEqual(missing["jacob_cov"], disconnected)
    XCTAssertTrue(missing["nwot", default: []].isSubset(of: disconnected))
    return missing
  }

  /// Both tables, and PROVENANCE.md's claim that their missing values fall on the same architectures
  /// (nwot on 201 cells).
  func testShippedTables() throws {
    let benchmark = try Self.benchmarkArchs()
    XCTAssertEqual(Set(benchmark.keys), Set(0..<15_625))
    let disconnected = Set(benchmark.filter { Self.isDisconnected($0.value) }.keys)
    XCTAssertEqual(disconnected.count, 341, "NAS-Bench-201 has 341 cells without a none-free path")
    let c10 = try check("cifar10", benchmark: benchmark, disconnected: disconnected)
    let c100 = try check("cifar100", benchmark: benchmark, disconnected: disconnected)
    XCTAssertEqual(c10, c100)
    XCTAssertEqual(c10["nwot"]?.count, 201)
  }
}
