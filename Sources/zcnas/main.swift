import ArgumentParser
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
    subcommands: [Score.self, Correlate.self, MetricsList.self, Verify.self, ExportTable.self, ImportTable.self, Robot.self, Fit.self, Search.self, ExportWeights.self, Bench.self, BenchSuite.self, BenchTable.self]
  )
}

ZCNAS.main()
