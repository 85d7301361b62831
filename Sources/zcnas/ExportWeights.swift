import ArgumentParser
import Foundation
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas export-weights`: the engine's initial weights as safetensors, for loading into PyTorch.
struct ExportWeights: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-weights",
    abstract: "Write the engine's initial weights of one NAS-Bench-201 architecture as safetensors under the official state_dict keys.",
    discussion: """
      The weights are exactly those `zcnas score` uses for the same architecture, --seed and dataset \
      (PyTorch default initialisation drawn from the engine's generator). Load them in PyTorch with \
      `model.load_state_dict(safetensors.torch.load_file(FILE), strict=True)` on xautodl's TinyNetwork.
      """
  )

  @Option(help: "Architecture: an arch string or an index.") var arch: String
  @Option(help: "Dataset (sets the number of classes and image size): cifar10, cifar100 or imagenet16-120.") var dataset = "cifar10"
  @Option(help: "Run seed, as in `zcnas score`.") var seed = 0
  @Option(help: "Precision of the written tensors: float32 or float64.") var dtype = "float32"
  @Option(help: "Output .safetensors file.") var output: String
  @Option(help: "Folder with the shipped data.") var datasets: String?

  func run() throws {
    guard let kind = ImageDatasetKind(rawValue: dataset) else {
      throw CLIError("--dataset: expected one of \(ImageDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(dataset)'")
    }
    guard let dt = DType(rawValue: dtype) else { throw CLIError("--dtype: expected float32 or float64, found '\(dtype)'") }
    let table = try NB201Table(path: try DatasetsFolder.resolve(datasets) + "/nasbench201/nb201.csv")
    let selected = try selectArchitectures(arch, table: table, seed: seed)
    guard selected.count == 1, let (index, a) = selected.first else {
      throw CLIError("--arch: expected one architecture, found \(selected.count)")
    }
    var rng = ZCRandom(seed: NB201ScoringJob.initSeed(runSeed: seed, index: index))
    let net = NB201Network(a, numClasses: kind.numClasses, imageSize: kind.imageSize, dtype: dt, rng: &rng)
    try WeightsIO.save(net, to: output, metadata: ["arch": a.description, "nb201_index": String(index), "seed": String(seed),
                                                   "engine_version": ZeroCostNAS.version, "init": "pytorch-default"])
    print("wrote \(net.stateDictKeys().count) tensors of index \(index) \(a) to \(output)")
  }
}
