import ArgumentParser
import Foundation
import ZCData
import Metrics
import ZCEngine
import ZCTensor

/// `zcnas export-weights`: the engine's initial weights as safetensors, for loading into PyTorch.
struct ExportWeights: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-weights",
    abstract: "Write the engine's initial weights of one architecture as safetensors under the official state_dict keys.",
    discussion: """
      The weights are exactly those `zcnas score` uses for the same architecture, --seed, space and dataset \
      (PyTorch default initialisation drawn from the engine's generator). Load them in PyTorch with \
      `model.load_state_dict(safetensors.torch.load_file(FILE), strict=True)` on xautodl's TinyNetwork (nb201) \
      or NAS-Bench-NLP's AWDRNNModel (nbnlp, with --emsize/--nhid/--nlayers as scored).
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(parsing: .unconditional, help: "Architecture: one token of the space (nb201: an arch string or an index; nbnlp: a recipe id).") var arch: String
  @Option(parsing: .unconditional, help: "Run seed, as in `zcnas score`.") var seed = 0
  @Option(help: "Precision of the written tensors.") var dtype: DType = .float32
  @OptionGroup var model: RecurrentModelOptions
  @OptionGroup var bert: BERTModelOptions
  @Option(help: "Output .safetensors file.") var output: String

  func run() throws { try export(try spaceOptions.load()) }

  private func export(_ space: some SearchSpace) throws {
    try checkOutput("--output", output, extensions: [".safetensors"])
    let (id, a) = try cli { () throws -> (Int, _) in
      do { return try space.entry(token: arch) } catch let e as SpaceError { throw CLIError(e.description.replacingOccurrences(of: "--archs", with: "--arch")) }
    }
    var settings = ScoringSettings(dataset: try spaceOptions.dataset(for: space), datasetsRoot: try spaceOptions.data.root())
    settings.seed = seed; settings.dtype = dtype
    settings.parameters = model.parameters.merging(bert.parameters) { a, _ in a }
    let pipeline = try cli { try ScoringPipeline(space: space, settings: settings, proxies: [], batch: nil, buildBatch: false) }
    let net = try cli { try pipeline.network(id: id, architecture: a) }
    try cli {
      try WeightsIO.save(net, to: output, metadata: ["arch": space.canonical(a), "space": space.name, "id": String(id),
                                                     "seed": String(seed), "engine_version": ZeroCostNAS.version, "init": pipeline.initialisation])
    }
    print("wrote \(net.stateDictKeys().count) tensors of \(space.name) id \(id) \(space.canonical(a).prefix(120)) to \(output)")
  }
}
