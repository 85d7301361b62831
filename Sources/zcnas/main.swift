import ArgumentParser
import Foundation
import ZCTensor

ProcessEnvironment.ensureOpenBLASSettings()

/// `zcnas`: rank neural architectures without training them.
struct ZCNAS: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "zcnas",
    abstract: "ZeroCostNAS: rank neural architectures without training them (zero-cost proxies).",
    discussion: """
      Builds networks from benchmark search spaces, initialises them, feeds one real minibatch and \
      computes zero-cost proxies. OpenBLAS runs single-threaded (OPENBLAS_NUM_THREADS=1 unless set).
      """,
    version: "zcnas \(ZeroCostNAS.version)",
    subcommands: [Score.self, Correlate.self, MetricsList.self, Verify.self, ExportTable.self, ImportTable.self, Merge.self, Robot.self, Fit.self, Search.self, ExportWeights.self, Bench.self, BenchSuite.self, BenchTable.self, ONNXOps.self, ExportONNX.self]
  )
}

// `zcnas help NAME` for a command that does not exist is an error, not a help page (exit 64).
let args = CommandLine.arguments
if args.count >= 3, args[1] == "help" {
  let names = ZCNAS.configuration.subcommands.map { $0._commandName }
  if !names.contains(args[2]) {
    FileHandle.standardError.write(Data("Error: help: no command '\(args[2])'; commands: \(names.joined(separator: ", "))\n".utf8))
    exit(64)
  }
}

ZCNAS.main()
