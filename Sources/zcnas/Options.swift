import ArgumentParser
import Metrics
import Foundation
import ZCEngine
import ZCSearch
import ZCTensor

// Typed command-line values and the option groups every command shares (swift-argument-parser's
// `ExpressibleByArgument` and `@OptionGroup`): valid values appear in `--help`, and a bad value is
// rejected by the parser with the option's name.

extension DType: ExpressibleByArgument, CaseIterable {
  public static var allCases: [DType] { [.float32, .float64] }
}

/// A search space name from ``SpaceRegistry`` (every shipped space, listed in `--help`).
struct SpaceName: ExpressibleByArgument, Hashable, CustomStringConvertible {
  let name: String
  init(_ name: String) { self.name = name }
  init?(argument: String) {
    guard SpaceRegistry.names.contains(argument) else { return nil }
    name = argument
  }
  static var allValueStrings: [String] { SpaceRegistry.names }
  var defaultValueDescription: String { name }
  var description: String { name }
}

/// `--init` of the onnx space.
enum ONNXInitOption: String, ExpressibleByArgument, CaseIterable {
  case file, pytorchDefault = "pytorch-default"
}

/// Every dataset some space scores on; the space checks that it is one of its own.
enum DatasetName: String, ExpressibleByArgument, CaseIterable {
  case cifar10, cifar100, imagenet16 = "imagenet16-120", wikitext2, ptb
}

/// Which of the benchmark's standard ground-truth columns: test or validation; for --space bert
/// also the GLUE mean and the eight task columns (test = glue there).
enum Target: String, ExpressibleByArgument, CaseIterable {
  case test, valid
  case glue, cola, mnli, mrpc, qnli, qqp, rte, sst, sts
}

/// Ground-truth-query strategies of `zcnas robot`.
enum QueryStrategy: String, ExpressibleByArgument, CaseIterable {
  case robot, random, rea
}

/// Training-free strategies of `zcnas search`.
enum FreeStrategy: String, ExpressibleByArgument, CaseIterable {
  case greedy
}

/// RoBoT's acquisition functions.
enum AcquisitionName: String, ExpressibleByArgument, CaseIterable {
  case ucb, ei
}

/// RoBoT's first weight vector: the label-free ensemble's unit vector, or uniform random.
enum RoBoTPrior: String, ExpressibleByArgument, CaseIterable {
  case ensemble, random
}

/// `--store`: the SQLite store.
struct StoreOption: ParsableArguments {
  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
}

/// `--datasets`: where the shipped data is.
struct DatasetsOption: ParsableArguments {
  @Option(help: "Folder with the shipped data (default: found next to the executable or the current directory, or $ZCNAS_DATASETS).")
  var datasets: String?

  /// The resolved `Datasets/` folder. - Throws: ``CLIError`` naming --datasets.
  func root() throws -> String { try DatasetsFolder.resolve(datasets) }
}

/// `--max-memory`, shared by score, verify and bench-suite.
struct MemoryLimitOptions: ParsableArguments {
  @Option(name: .customLong("max-memory"), help: ArgumentHelp("Memory limit in GB for one run (default: this machine's physical memory).",
                                                             discussion: "Configurations whose estimated peak memory (weights, copies and the activations of the passes, linear in the batch size) exceeds it are refused before anything is allocated; score runs fewer architectures at once when --jobs of them would not fit, and bench-suite refuses --workers that do not fit."))
  var maxMemory: Double?

  /// The limit, checked: nil (the machine's memory) or a positive finite number of GB.
  /// - Throws: ``CLIError`` naming `--max-memory`.
  func gigabytes() throws -> Double? {
    if let m = maxMemory, !(m > 0 && m.isFinite) { throw CLIError("--max-memory: expected a positive number of GB, found \(m)") }
    return maxMemory
  }
}

/// `--ensemble`, shared by correlate (its `ensemble` row), search (`--proxy ensemble`) and robot
/// (the `ensemble` candidate).
struct EnsembleOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Members of the label-free log-rank ensemble 'ensemble' (correlate's row; search with --proxy ensemble; robot when --metrics names it): a preset, \(LogRankEnsemble.presetHelp), or proxies, comma-separated (default: \(LogRankEnsemble.defaultMembers.joined(separator: ","))).",
                             discussion: "AZ-NAS-style sum of log(rank/L) over the members, directions from the registry, missing values ranked worst."))
  var ensemble: String?
}

extension LogRankEnsemble {
  /// The ensemble of an `--ensemble` value (nil: the default members) over the registered proxies
  /// of `kind`, with their directions.
  /// - Throws: ``CLIError`` naming `--ensemble` (an unknown member, a proxy without a direction, ...).
  static func fromOption(_ spec: String?, kind: ModelKind) throws -> LogRankEnsemble {
    let mine = registry.applicable(to: kind)
    do {
      return try LogRankEnsemble(members: members(of: spec), direction: { n in mine.first { $0.name == n }?.direction })
    } catch let e as PoolError {
      throw CLIError("--ensemble: \(e.reason.replacingOccurrences(of: "ensemble: ", with: ""))")
    }
  }
}

/// `--space` and `--dataset`, shared by every command that reads a space.
struct SpaceOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Search space.", discussion: SpaceRegistry.spaces.map { "\($0.name): \($0.summary)" }.joined(separator: "; ")))
  var space = SpaceName("nb201")
  @Option(help: "Dataset (default: the space's first: cifar10 for nb201, wikitext2 for nbnlp).") var dataset: DatasetName?
  @OptionGroup var data: DatasetsOption

  /// The space, loaded from the shipped data. - Throws: ``CLIError`` naming --space or the table.
  func load() throws -> any SearchSpace {
    let root = try data.root()
    do { return try SpaceRegistry.make(space.name, datasetsRoot: root) } catch { throw CLIError("\(error)") }
  }

  /// The dataset for `space`: the option, or the space's default.
  /// - Throws: ``CLIError`` naming --dataset when the space does not score on it.
  func dataset(for space: some SearchSpace) throws -> String {
    let d = dataset?.rawValue ?? space.datasets[0]
    guard space.datasets.contains(d) else {
      throw CLIError("--dataset: expected one of \(space.datasets.joined(separator: ", ")) for --space \(space.name), found '\(d)'")
    }
    return d
  }
}

/// The CLI's form of every library error: one line, non-zero exit.
func cli<T>(_ body: () throws -> T) throws -> T {
  do { return try body() } catch let e as CLIError { throw e } catch let e as ExitCode { throw e } catch { throw CLIError("\(error)") }
}

/// The NAS-Bench-NLP model and batch sizes (`score`, `search`, `export-weights`, `bench-suite`);
/// unset values take the benchmark's (bptt 70, emsize 400, nhid 600, nlayers 3).
struct RecurrentModelOptions: ParsableArguments {
  @Option(help: "nbnlp: tokens per sequence (time steps; default 70).") var bptt: Int?
  @Option(help: "nbnlp: embedding size (benchmark 400).") var emsize: Int?
  @Option(help: "nbnlp: hidden size (benchmark 600).") var nhid: Int?
  @Option(help: "nbnlp: recurrent layers (benchmark 3).") var nlayers: Int?
  @Option(name: .customLong("init"), help: "onnx: initial weights: file (the ONNX initializers, default) or pytorch-default (PyTorch's default initialisation of conv, linear and batch-norm layers from --seed and the file's id).")
  var onnxInit: ONNXInitOption?

  /// The values given, by parameter name (``ScoringSettings/parameters``).
  var parameters: [String: Int] {
    var out: [String: Int] = [:]
    for (name, v) in [("bptt", bptt), ("emsize", emsize), ("nhid", nhid), ("nlayers", nlayers)] { if let v { out[name] = v } }
    if let onnxInit { out[ONNXSpace.initParameter] = onnxInit == .file ? 0 : 1 }
    return out
  }
}

/// The BERT model and batch options (`score`, `search`, `export-weights`, `bench-suite`); unset
/// values take the defaults (benchmark sizes, 128 tokens per sequence).
struct BERTModelOptions: ParsableArguments {
  enum Sizes: String, ExpressibleByArgument, CaseIterable { case benchmark, notebook }
  @Option(name: .customLong("bert-sizes"), help: "bert: benchmark (the entry's hidden size and FFN widths, the trained networks; default) or notebook (H 256, FFN 1024 for all, as the paper's metric notebook).")
  var bertSizes: Sizes?
  @Option(name: .customLong("seq-len"), help: "bert: tokens per sequence, [CLS] and [SEP] included (default 128, at most 512).") var seqLen: Int?

  /// The values given, by parameter name (``ScoringSettings/parameters``).
  var parameters: [String: Int] {
    var out: [String: Int] = [:]
    if let b = bertSizes { out["bert_sizes"] = b == .benchmark ? 0 : 1 }
    if let t = seqLen { out["seq_len"] = t }
    return out
  }
}

/// Fails unless `path` can be written as the output of `option`: its folder exists and is a
/// writable folder, the path is not a folder, and (when given) its name ends in one of `extensions`.
/// Commands call it before their work, so a long run never ends in a write error.
/// - Throws: ``CLIError`` naming the option, the path and what is wrong.
func checkOutput(_ option: String, _ path: String, extensions: [String] = []) throws {
  guard !path.isEmpty else { throw CLIError("\(option): expected a file path, found an empty string") }
  if !extensions.isEmpty && !extensions.contains(where: { path.hasSuffix($0) }) {
    throw CLIError("\(option) \(path): expected a file name ending in \(extensions.joined(separator: ", "))")
  }
  let fm = FileManager.default
  var isDir: ObjCBool = false
  if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { throw CLIError("\(option) \(path): is a folder; expected a file") }
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
    throw CLIError("\(option) \(path): the folder \(folder) does not exist")
  }
  guard fm.isWritableFile(atPath: folder) else { throw CLIError("\(option) \(path): the folder \(folder) is not writable") }
}

/// The `--jobs` bound: workers are single-threaded, so more than four per core only adds memory.
func checkJobs(_ jobs: Int) throws {
  let cores = ProcessInfo.processInfo.activeProcessorCount
  guard jobs >= 1 && jobs <= 4 * cores else { throw CLIError("--jobs: expected 1...\(4 * cores) (4 per active core; each job holds one network), found \(jobs)") }
}

/// A readable form of a JSON decoding error: the key path and what was wrong.
func describe(_ error: Error) -> String {
  guard let e = error as? DecodingError else { return "\(error)" }
  func path(_ c: [CodingKey]) -> String { c.isEmpty ? "the top level" : c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
  switch e {
  case let .keyNotFound(k, c): return "missing key '\(k.stringValue)' at \(path(c.codingPath))"
  case let .typeMismatch(t, c): return "\(path(c.codingPath)): expected \(t), \(c.debugDescription.lowercased())"
  case let .valueNotFound(t, c): return "\(path(c.codingPath)): expected \(t), found null"
  case let .dataCorrupted(c): return "\(path(c.codingPath)): \(c.debugDescription)"
  @unknown default: return "\(error)"
  }
}

/// A ground-truth value for a report column: two decimals for percentages, three otherwise; "-"
/// where the architecture has none.
func formatTruth(_ g: GroundTruth, _ id: Int) -> String {
  g.values[id].map { String(format: g.unit == "percent" ? "%.2f" : "%.3f", $0) } ?? "-"
}
