import ArgumentParser
import Foundation
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas export-onnx`: a NAS-Bench-201 network with its initial weights as an ONNX file.
struct ExportONNX: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-onnx",
    abstract: "Write a NAS-Bench-201 network with its initial weights as an ONNX file (training-mode batch norm, initializers named by state_dict keys).",
    discussion: """
      The weights are exactly those `zcnas score` uses for the same architecture, --seed and dataset (or --weights). \
      The graph is what PyTorch's exporter writes for xautodl's TinyNetwork in training mode at opset 17 (see \
      docs/onnx.md), so `zcnas score --space onnx --archs FILE` gives the native path's values.
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(parsing: .unconditional, help: "Architecture: an NB201 arch string or index.") var arch: String
  @Option(parsing: .unconditional, help: "Run seed, as in `zcnas score`.") var seed = 0
  @Option(help: "Precision of the written initializers.") var dtype: DType = .float32
  @Option(help: "Load the weights (state_dict keys) from this safetensors file instead of initialising.") var weights: String?
  @Option(help: "Output .onnx file.") var output: String

  func run() throws {
    try checkOutput("--output", output, extensions: [".onnx"])
    let space = try spaceOptions.load()
    guard let nb = space as? NB201Space else { throw CLIError("--space \(space.name): export-onnx supports --space nb201 only") }
    let (id, a) = try cli { () throws -> (Int, NB201Architecture) in
      do { return try nb.entry(token: arch) } catch let e as SpaceError { throw CLIError(e.description.replacingOccurrences(of: "--archs", with: "--arch")) }
    }
    var settings = ScoringSettings(dataset: try spaceOptions.dataset(for: nb), datasetsRoot: try spaceOptions.data.root())
    settings.seed = seed; settings.dtype = dtype; settings.weightsFile = weights
    let pipeline = try cli { try ScoringPipeline(space: nb, settings: settings, proxies: [], batch: nil, buildBatch: false) }
    let net = try cli { try pipeline.network(id: id, architecture: a) }
    let data = try cli { try NB201ONNXExport.model(net) }
    try cli { try data.write(to: URL(fileURLWithPath: output)) }
    print("wrote nb201 id \(id) \(nb.canonical(a)) (\(pipeline.initialisation), \(dtype)) as ONNX to \(output) (\(data.count) bytes)")
  }
}
