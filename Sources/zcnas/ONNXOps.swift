import ArgumentParser
import Foundation
import ZCONNX

/// `zcnas onnx-ops FILE...`: the op types an ONNX file uses, with counts, and which are missing.
struct ONNXOps: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "onnx-ops",
    abstract: "List the ONNX op types a file uses (with counts) and which the engine does not support.",
    discussion: "Reads and checks each file (a malformed file is a one-line error). Exit status 1 when some op is not supported. The supported ops and attributes are in docs/onnx.md."
  )

  @Argument(help: "ONNX files.") var files: [String]

  func run() throws {
    var missingAny = false
    for path in files {
      let g = try cli { try ONNXGraph(contentsOf: path) }
      print("\(path): IR \(g.irVersion), opset \(g.opset)\(g.producer.isEmpty ? "" : ", producer \(g.producer)"), \(g.nodes.count) nodes, \(g.initializers.count) initializers")
      let usage = ONNXOpTable.usage(g)
      for u in usage { print("  " + u.op.padding(toLength: 22, withPad: " ", startingAt: 0) + String(u.count).padding(toLength: 6, withPad: " ", startingAt: 0) + (u.supported ? "supported" : "MISSING")) }
      if let w = ONNXOpTable.evalModeWarning(g) { print("  warning: " + w) }
      let missing = usage.filter { !$0.supported }.map(\.op)
      if missing.isEmpty { print("  every op is supported") } else { print("  missing: " + missing.joined(separator: ", ")); missingAny = true }
    }
    if missingAny { throw ExitCode(1) }
  }
}
