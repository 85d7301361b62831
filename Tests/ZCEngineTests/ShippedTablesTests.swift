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
  static let added: [String: Set<String>] = ["cifar10": addedProxies.union(azNAS).union(gradMatch), "cifar100": addedProxies.union(azNAS).union(gradMatch)]
  static let addedProxies: Set<String> = ["meco", "meco_opt", "swap", "reg_swap"]
  /// Proxies being added (PROVENANCE.md says for how many architectures), in groups scored
  /// together: each architecture has all of a group or none of it, with numerics; the
  /// missing-value rules hold on the architectures covered.
  static let partial: [String: [Set<String>]] = ["cifar10": [vkdnw]]
  static let azNAS: Set<String> = ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability"]
  /// The gradient-matching pair (issue 19, item 5).
  static let gradMatch: Set<String> = ["grad_match", "grad_match_per_sample"]
  /// VKDNW's single proxy and its dimension term (issue 19, item 1).
  static let vkdnw: Set<String> = ["vkdnw_entropy", "vkdnw_dim"]
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

  /// Whether the cell of `arch` computes exactly its input x: node 3 is 1·x when every edge that
  /// carries a non-zero value into it is skip_connect and their coefficients sum to 1 (a
  /// convolution or pooling of a non-zero node is not a multiple of x; of a zero node, zero, as
  /// batch norm of zeros is zero at initialisation). Parsed from the string alone.
  static func isIdentity(_ arch: String) -> Bool {
    // nil: not a multiple of x; otherwise the coefficient c of c·x (0: the zero tensor).
    var value: [Int?] = [1, nil, nil, nil]
    for (n, node) in arch.split(separator: "+").enumerated() where n < 3 {
      var sum: Int? = 0
      for edge in node.split(separator: "|").map({ $0.split(separator: "~") }) where edge.count == 2 {
        guard let from = Int(edge[1]), from <= n else { return false }
        let input = value[from]
        let term: Int?
        switch edge[0] {
        case "none": term = 0
        case "skip_connect": term = input
        default: term = input == 0 ? 0 : nil
        }
        if let s = sum, let t = term { sum = s + t } else { sum = nil }
      }
      value[n + 1] = sum
    }
    return value[3] == 1
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
  ///   - identity: the indices whose cell ``isIdentity(_:)``.
  func check(_ dataset: String, benchmark: [Int: String], disconnected: Set<Int>, identity: Set<Int>) throws -> [String: Set<Int>] {
    let path = Self.root.appendingPathComponent("Datasets/nb201-scores/nb201_\(dataset)_seed0_b64.csv.gz").path
    let rows = try ScoreTable.read(path)
    let groups = Self.partial[dataset] ?? []
    let partial = Set(groups.joined())
    let metrics = Self.metrics.union(Self.added[dataset] ?? []).union(partial)
    XCTAssertTrue(partial.isDisjoint(with: Self.metrics.union(Self.added[dataset] ?? [])), "\(dataset): a proxy both added and partial")
    // The architectures each partial group covers (a group not listed covers all 15,625).
    var coverage: [Set<String>: Set<Int>] = [:]
    var expectedRows = 15_625 * (metrics.count - partial.count)
    for group in groups {
      let byArch = Dictionary(grouping: rows.filter { group.contains($0.metric) }, by: \.archIndex)
      XCTAssertEqual(byArch.values.filter { Set($0.map(\.metric)) != group }.count, 0, "\(dataset): architectures with some of \(group.sorted()) but not all")
      coverage[group] = Set(byArch.keys)
      // score-full.sh walks its seeded order from both ends, so what a partial run stored (and
      // PROVENANCE.md calls a uniform random sample) is a prefix and a suffix of that order.
      XCTAssertTrue(ScoringOrder.isPrefixAndSuffix(Set(byArch.keys)), "\(dataset): \(group.sorted()) do not cover a prefix and a suffix of score-full.sh's order")
      expectedRows += byArch.count * group.count
    }
    func covered(_ group: Set<String>) -> Set<Int> { coverage[group] ?? Set(0..<15_625) }
    XCTAssertEqual(rows.count, expectedRows)
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
    XCTAssertEqual(Set(missing.keys).subtracting(["jacob_cov", "nwot"]).subtracting(Self.azNAS).subtracting(Self.gradMatch), [])
    XCTAssertEqual(missing["jacob_cov"], disconnected)
    XCTAssertTrue(missing["nwot", default: []].isSubset(of: disconnected))
    // AZ-NAS (where shipped): the eigen-entropies are 0/0 on the all-zero features of exactly the
    // disconnected cells; the trainability term is -inf exactly where a cell passes the signs
    // through unchanged (it computes x).
    if metrics.isSuperset(of: Self.azNAS) {
      let on = covered(Self.azNAS)
      XCTAssertGreaterThan(on.intersection(disconnected).count, 0, "\(dataset): no disconnected cell among the AZ-NAS rows")
      XCTAssertGreaterThan(on.intersection(identity).count, 0, "\(dataset): no identity cell among the AZ-NAS rows")
      XCTAssertEqual(missing["az_nas_expressivity", default: []], disconnected.intersection(on), "\(dataset): az_nas_expressivity missing")
      XCTAssertEqual(missing["az_nas_progressivity", default: []], disconnected.intersection(on), "\(dataset): az_nas_progressivity missing")
      XCTAssertEqual(missing["az_nas_trainability", default: []], identity.intersection(on), "\(dataset): az_nas_trainability missing")
    }
    // Gradient matching (where shipped): no conv or linear weight has a gradient exactly when the
    // output cannot depend on the input, i.e. on the disconnected cells.
    if metrics.isSuperset(of: Self.gradMatch) {
      let on = covered(Self.gradMatch)
      XCTAssertGreaterThan(on.intersection(disconnected).count, 0, "\(dataset): no disconnected cell among the grad_match rows")
      XCTAssertEqual(missing["grad_match", default: []], disconnected.intersection(on), "\(dataset): grad_match missing")
      XCTAssertEqual(missing["grad_match_per_sample", default: []], disconnected.intersection(on), "\(dataset): grad_match_per_sample missing")
    }
    // VKDNW (where shipped): never missing (every NB201 cell is read by the per-sample Jacobian;
    // disconnected cells give 0.0, the all-none cell -0.0). vkdnw_dim counts the parameter
    // tensors: 21 outside the cells (stem conv and batch norm 3, two residual blocks 7 each, last
    // batch norm 2, classifier 2) and 3 per convolution edge (ReLU-conv-BN: weight, BN weight, BN
    // bias) in each of 15 cells.
    if metrics.isSuperset(of: Self.vkdnw) {
      let on = covered(Self.vkdnw)
      XCTAssertGreaterThan(on.count, 0, "\(dataset): no architecture with VKDNW rows")
      XCTAssertNil(missing["vkdnw_entropy"], "\(dataset): vkdnw_entropy missing")
      XCTAssertNil(missing["vkdnw_dim"], "\(dataset): vkdnw_dim missing")
      var wrong: [Int] = []
      for r in rows where r.metric == "vkdnw_dim" {
        let convs = r.arch.split(separator: "|").filter { $0.hasPrefix("nor_conv_") }.count
        if r.value != Double(21 + 45 * convs) { wrong.append(r.archIndex) }
      }
      XCTAssertEqual(wrong, [], "\(dataset): vkdnw_dim is not the parameter-tensor count of the arch string")
    }
    return missing
  }

  /// ``isIdentity(_:)`` on cells worked by hand, and its count over the space (400, as a Python
  /// version of the same rule counts).
  func testIdentityCells() throws {
    XCTAssertTrue(Self.isIdentity("|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))
    // A convolution of the zero node 2 adds zero (index 9 of the benchmark).
    XCTAssertTrue(Self.isIdentity("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"))
    XCTAssertFalse(Self.isIdentity("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"), "2x")
    XCTAssertFalse(Self.isIdentity("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"), "x + conv(x)")
    XCTAssertFalse(Self.isIdentity("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "zero")
    let archs = try Self.benchmarkArchs()
    XCTAssertEqual(archs.values.filter(Self.isIdentity).count, 400)
  }

  /// Both tables, and PROVENANCE.md's claim that their missing values fall on the same architectures
  /// (nwot on 201 cells).
  func testShippedTables() throws {
    let benchmark = try Self.benchmarkArchs()
    XCTAssertEqual(Set(benchmark.keys), Set(0..<15_625))
    let disconnected = Set(benchmark.filter { Self.isDisconnected($0.value) }.keys)
    XCTAssertEqual(disconnected.count, 341, "NAS-Bench-201 has 341 cells without a none-free path")
    let identity = Set(benchmark.filter { Self.isIdentity($0.value) }.keys)
    XCTAssertTrue(identity.isDisjoint(with: disconnected))
    let c10 = try check("cifar10", benchmark: benchmark, disconnected: disconnected, identity: identity)
    let c100 = try check("cifar100", benchmark: benchmark, disconnected: disconnected, identity: identity)
    // The proxies both tables have are missing on the same architectures.
    let common = Self.metrics.union(Self.added["cifar10"]!.intersection(Self.added["cifar100"]!)).subtracting(Self.partial.values.joined().joined())
    XCTAssertEqual(c10.filter { common.contains($0.key) }, c100.filter { common.contains($0.key) })
    XCTAssertEqual(c10["nwot"]?.count, 201)
    // AZ-NAS reads Gaussian images and no classifier output, so its values do not depend on the
    // dataset; the CIFAR-100 rows were taken from the CIFAR-10 ones on that ground (PROVENANCE.md,
    // 300 of them scored with --dataset cifar100 and found equal first). Every value, bit for
    // bit, and every missing reason must agree.
    func azNASValues(_ dataset: String) throws -> [String: String] {
      let path = Self.root.appendingPathComponent("Datasets/nb201-scores/nb201_\(dataset)_seed0_b64.csv.gz").path
      let rows = try ScoreTable.read(path).filter { Self.azNAS.contains($0.metric) }
      return Dictionary(uniqueKeysWithValues: rows.map {
        ("\($0.archIndex) \($0.metric)", $0.value.map { String($0.bitPattern) } ?? "missing: \($0.missingReason ?? "")")
      })
    }
    let az10 = try azNASValues("cifar10"), az100 = try azNASValues("cifar100")
    XCTAssertEqual(az10.count, 15_625 * 3)
    XCTAssertEqual(az10.filter { az100[$0.key] != $0.value }.count, 0, "AZ-NAS values that differ between the CIFAR-10 and CIFAR-100 tables")
  }
}
