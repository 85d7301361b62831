/// A NAS-Bench-201 cell operation (Dong & Yang, ICLR 2020; xautodl `OPS`).
public enum NB201Operation: String, CaseIterable, Sendable, Codable {
  case none
  case skipConnect = "skip_connect"
  case conv1x1 = "nor_conv_1x1"
  case conv3x3 = "nor_conv_3x3"
  case avgPool3x3 = "avg_pool_3x3"
}

/// Malformed NAS-Bench-201 arch string: the position, the token found and what was expected.
public struct NB201ParseError: Error, CustomStringConvertible, Equatable {
  public let input: String
  public let token: String
  public let expected: String

  public var description: String {
    "invalid NAS-Bench-201 arch string '\(input)': found '\(token)', expected \(expected)"
  }
}

/// A NAS-Bench-201 cell: a DAG on 4 nodes whose 6 edges (i → j, i < j) each carry one operation.
///
/// Arch string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`: node 1 takes edge from node 0; node 2 from
/// nodes 0, 1; node 3 from nodes 0, 1, 2. `edges` are in that order (1←0, 2←0, 2←1, 3←0, 3←1, 3←2).
public struct NB201Architecture: Hashable, Sendable, CustomStringConvertible {
  public static let edgeCount = 6
  /// (target node, source node) of each edge, in arch-string order.
  public static let edgeEnds: [(to: Int, from: Int)] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]

  public var edges: [NB201Operation]

  public init(edges: [NB201Operation]) {
    precondition(edges.count == 6, "a NAS-Bench-201 cell has 6 edges, got \(edges.count)")
    self.edges = edges
  }

  /// Parses an arch string.
  /// - Throws: ``NB201ParseError`` naming the offending token.
  public init(parsing s: String) throws {
    let trimmed = s.trimmingCharacters(in: .whitespaces)
    let nodes = trimmed.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
    guard nodes.count == 3 else {
      throw NB201ParseError(input: s, token: "\(nodes.count) group(s) separated by '+'", expected: "3 groups |..|+|..|..|+|..|..|..|")
    }
    var ops: [NB201Operation] = []
    for (k, group) in nodes.enumerated() {
      guard group.hasPrefix("|"), group.hasSuffix("|"), group.count >= 2 else {
        throw NB201ParseError(input: s, token: group, expected: "a group of the form |op~i|...| for node \(k + 1)")
      }
      let items = group.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false).map(String.init)
      guard items.count == k + 1 else {
        throw NB201ParseError(input: s, token: group, expected: "\(k + 1) edge(s) into node \(k + 1)")
      }
      for (j, item) in items.enumerated() {
        let parts = item.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw NB201ParseError(input: s, token: item, expected: "op~\(j)") }
        guard let op = NB201Operation(rawValue: parts[0]) else {
          throw NB201ParseError(input: s, token: parts[0], expected: "one of " + NB201Operation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard parts[1] == String(j) else {
          throw NB201ParseError(input: s, token: item, expected: "source node \(j) ('\(parts[0])~\(j)')")
        }
        ops.append(op)
      }
    }
    self.init(edges: ops)
  }

  /// The canonical arch string.
  public var description: String {
    var s = ""
    var e = 0
    for node in 1...3 {
      if node > 1 { s += "+" }
      s += "|"
      for j in 0..<node {
        s += "\(edges[e].rawValue)~\(j)|"
        e += 1
      }
    }
    return s
  }

  /// All 5⁶ = 15,625 cells in lexicographic edge order (not the official index order; the
  /// official order is the row order of the NAS-Bench-201 table, see ``NB201Table``).
  public static var all: [NB201Architecture] {
    var out: [NB201Architecture] = []
    out.reserveCapacity(15625)
    for code in 0..<15625 {
      var c = code
      var ops = [NB201Operation](repeating: .none, count: 6)
      for e in stride(from: 5, through: 0, by: -1) { ops[e] = NB201Operation.allCases[c % 5]; c /= 5 }
      out.append(NB201Architecture(edges: ops))
    }
    return out
  }

  /// Whether every operation of the cell lies on a path from the input (node 0) to the output
  /// (node 3) through operations that are not `none`, and at least one such path exists (NASLib's
  /// "valid" cells, used by published correlations that leave out cells with dead operations).
  /// An operation on edge i → j is on such a path when node i is reachable from node 0 and node 3
  /// from node j. 9,444 of the 15,625 cells; derived from the arch string only.
  public var everyOperationOnInputOutputPath: Bool {
    let live = Self.edgeEnds.indices.filter { edges[$0] != .none }.map { Self.edgeEnds[$0] }
    var fromInput: Set<Int> = [0]
    for e in live.sorted(by: { $0.to < $1.to }) where fromInput.contains(e.from) { fromInput.insert(e.to) }
    var toOutput: Set<Int> = [3]
    for e in live.sorted(by: { $0.from > $1.from }) where toOutput.contains(e.to) { toOutput.insert(e.from) }
    guard fromInput.contains(3) else { return false }
    return live.allSatisfy { fromInput.contains($0.from) && toOutput.contains($0.to) }
  }

  /// The 24 architectures that differ from this one in exactly one edge.
  public var neighbours: [NB201Architecture] {
    var out: [NB201Architecture] = []
    for e in 0..<6 {
      for op in NB201Operation.allCases where op != edges[e] {
        var n = edges
        n[e] = op
        out.append(NB201Architecture(edges: n))
      }
    }
    return out
  }
}

import Foundation
