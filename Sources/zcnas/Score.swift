import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas score`: the main job.
struct Score: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score NAS-Bench-201 architectures with zero-cost proxies on one real minibatch; results go to an SQLite store.",
    discussion: """
      Each architecture is built with PyTorch's default initialisation (seeded from --seed and its index), \
      fed one minibatch of --batch-size distinct images drawn with --seed, and scored by every proxy in \
      --metrics through shared passes. One row per (space, dataset, architecture, metric, seed, batch size, \
      initialisation) is stored with its value or missing-value reason, seconds and engine version. Each \
      architecture is written in one transaction: re-running skips what is stored, and an interrupted run \
      loses at most the architectures in progress.

      --archs takes: all; sample:N or sample:N:SEED (N distinct indices, drawn with SEED, default --seed); \
      comma-separated arch strings or indices; or a file with one arch string or index per line.

      --space nbnlp scores NAS-Bench-NLP recipes (--archs: all, sample:N[:SEED], recipe ids or a file of \
      ids, from the WikiText-2 subset) with the recurrent proxies, on the first --bptt x --batch-size test \
      tokens of --dataset wikitext2 or ptb; --emsize, --nhid, --nlayers set the model (benchmark 400/600/3).
      """
  )

  @Option(help: "Search space: nb201 or nbnlp (NAS-Bench-NLP recurrent cells).") var space = "nb201"
  @Option(help: "Dataset: cifar10, cifar100 or imagenet16-120 (default cifar10); wikitext2 or ptb for nbnlp (default wikitext2).") var dataset: String?
  @Option(help: "Image files in the dataset's binary format (default: the shipped CIFAR subset; required for imagenet16-120).")
  var data: [String] = []
  @Option(help: "Comma-separated proxy names, or all (see `zcnas metrics`).") var metrics = "all"
  @Option(help: "Architectures: all, sample:N[:SEED], arch strings or indices (comma-separated), or a file.") var archs = "sample:100"
  @Option(name: .customLong("batch-size"), help: "Images per minibatch (default 64); token sequences for nbnlp (default 10).") var batchSize: Int?
  @Option(help: "Seed for the minibatch and the initial weights.") var seed = 0
  @Option(help: "SQLite store path.") var store = "zcnas.sqlite"
  @Option(help: "Also export this run's rows to a .csv or .jsonl file.") var output: String?
  @Option(help: "Architectures scored in parallel (default: active cores).") var jobs = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "Network precision: float32 or float64 (synflow always runs in float64).") var dtype = "float32"
  @Option(help: "Folder with the shipped data (default: found next to the executable or the current directory).") var datasets: String?
  @Option(help: "Load the initial weights (PyTorch state_dict keys) from this safetensors file instead of initialising; one architecture only.")
  var weights: String?
  @Option(help: "Take the minibatch (`input`, `labels`) from this safetensors file instead of sampling from the dataset.")
  var batch: String?
  @Flag(help: .hidden) var quiet = false
  @Option(help: "nbnlp: tokens per sequence (time steps).") var bptt = 70
  @Option(help: "nbnlp: embedding size (benchmark 400).") var emsize = 400
  @Option(help: "nbnlp: hidden size (benchmark 600).") var nhid = 600
  @Option(help: "nbnlp: recurrent layers (benchmark 3).") var nlayers = 3

  func run() throws {
    if space == "nbnlp" { return try runNBNLP(dataset: dataset ?? "wikitext2", batchSize: batchSize ?? 10) }
    guard space == "nb201" else { throw CLIError("--space: expected nb201 or nbnlp, found '\(space)'") }
    let dataset = self.dataset ?? "cifar10", batchSize = self.batchSize ?? 64
    guard let kind = ImageDatasetKind(rawValue: dataset) else {
      throw CLIError("--dataset: expected one of \(ImageDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(dataset)'")
    }
    guard let dt = DType(rawValue: dtype) else { throw CLIError("--dtype: expected float32 or float64, found '\(dtype)'") }
    guard batchSize >= 2 else { throw CLIError("--batch-size: expected at least 2, found \(batchSize)") }
    guard jobs >= 1 else { throw CLIError("--jobs: expected at least 1, found \(jobs)") }
    let proxies = try selectProxies(metrics)
    let root = try DatasetsFolder.resolve(datasets)
    let table = try NB201Table(path: root + "/nasbench201/nb201.csv")
    let chosen = try selectArchitectures(archs, table: table, seed: seed)
    let paths: [String]
    if !data.isEmpty { paths = data } else if kind == .imagenet16 {
      throw CLIError("--dataset imagenet16-120 needs --data FILE...: ImageNet16-120 images cannot be shipped. Expected \(kind.formatDescription)")
    } else { paths = [root + "/\(kind.rawValue)/train_subset.bin"] }
    let needsSecond = proxies.contains { $0.requirements.contains(.secondBatch) }
    var batches: Batches
    if let batch {
      let file = try SafetensorsFile(path: batch)
      let shape = [3, kind.imageSize, kind.imageSize]
      let (x, y) = try WeightsIO.loadBatch(file, dtype: dt, imageShape: shape)
      batches = Batches(x: x, y: y, source: "file:" + URL(fileURLWithPath: batch).lastPathComponent + "@" + (try fileFingerprint(batch)))
      if file.tensors["input2"] != nil {
        let (x2, y2) = try WeightsIO.loadBatch(file, dtype: dt, imageShape: shape, keys: ("input2", "labels2"))
        batches.x2 = x2; batches.y2 = y2
      }
      for labels in [batches.y, batches.y2 ?? []] {
        if let bad = labels.first(where: { $0 < 0 || $0 >= kind.numClasses }) {
          throw CLIError("--batch \(batch): label \(bad) is outside 0..<\(kind.numClasses) for \(kind.rawValue)")
        }
      }
      guard batches.y.count >= 2 else { throw CLIError("--batch \(batch): expected at least 2 images, found \(batches.y.count)") }
    } else {
      // Two disjoint batches when a proxy needs a second one; the first is the same either way.
      let images = try ImageDataset(kind: kind, paths: paths)
      if needsSecond && images.count < 2 * batchSize {
        let who = proxies.filter { $0.requirements.contains(.secondBatch) }.map(\.name).joined(separator: ", ")
        throw CLIError("--metrics: \(who) needs a second minibatch, so 2 x \(batchSize) distinct images; \(paths.joined(separator: ", ")) holds \(images.count). Use --batch-size \(images.count / 2) or less, or leave \(who) out")
      }
      let (x, y, _) = try images.sampleBatch(size: needsSecond ? 2 * batchSize : batchSize, seed: UInt64(bitPattern: Int64(seed)), dtype: dt)
      batches = Batches(x: x.rows(0..<batchSize), y: Array(y.prefix(batchSize)), source: "sampled")
      if needsSecond { batches.x2 = x.rows(batchSize..<(2 * batchSize)); batches.y2 = Array(y.suffix(batchSize)) }
    }
    try score(kind: kind, dt: dt, proxies: proxies, chosen: chosen, batches: batches)
  }

  /// The minibatch(es) to score with and where they came from.
  struct Batches {
    var x: Tensor
    var y: [Int]
    var source: String
    var x2: Tensor? = nil
    var y2: [Int]? = nil
  }

  private func score(kind: ImageDatasetKind, dt: DType, proxies: [any ZeroCostProxy], chosen: [(Int, NB201Architecture)], batches: Batches) throws {
    let st = try ScoreStore(path: store)
    let y = batches.y
    var job = NB201ScoringJob(dataset: kind, archs: chosen, proxies: proxies, images: batches.x, labels: y, seed: seed, dtype: dt, jobs: jobs)
    job.batchSource = batches.source
    job.images2 = batches.x2
    job.labels2 = batches.y2
    if let weights {
      guard chosen.count == 1 else { throw CLIError("--weights: expected exactly one architecture in --archs, found \(chosen.count)") }
      let file = try SafetensorsFile(path: weights)
      let name = URL(fileURLWithPath: weights).lastPathComponent
      job.initialisation = "weights:" + name + "@" + (try fileFingerprint(weights))
      job.makeNetwork = { _, arch in
        var rng = ZCRandom(seed: 0)
        let net = NB201Network(arch, numClasses: kind.numClasses, imageSize: kind.imageSize, dtype: dt, rng: &rng)
        try WeightsIO.load(file, into: net)
        return net
      }
      // Fail now, with the key, rather than inside the worker.
      _ = try job.makeNetwork!(chosen[0].0, chosen[0].1)
    }
    let reporter = ProgressReporter()
    let (scored, skipped) = try job.run(store: st) { done, skipped, total in if !quiet { reporter.update(done: done, skipped: skipped, total: total) } }
    if quiet { return }
    reporter.finish()
    print("scored \(scored) architecture(s), \(skipped) already stored; \(proxies.count) prox\(proxies.count == 1 ? "y" : "ies"); store \(store)")
    if let output {
      let wanted = Set(chosen.map(\.0))
      let rows = try st.rows(space: space, dataset: kind.rawValue, seed: seed, batchSize: y.count)
        .filter { wanted.contains($0.archIndex) && $0.initialisation == job.initialisation && $0.batchSource == job.batchSource && $0.dtype == dt.rawValue }
      try Export.write(rows, to: output)
      print("exported \(rows.count) rows to \(output)")
    }
  }
}

/// Proxies by comma-separated names ("all" for the registry).
func selectProxies(_ spec: String) throws -> [any ZeroCostProxy] {
  if spec == "all" { return allProxies }
  var out: [any ZeroCostProxy] = []
  for name in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
    guard let p = proxy(named: name) else {
      throw CLIError("--metrics: unknown proxy '\(name)'; available: \(allProxies.map(\.name).joined(separator: ", "))")
    }
    if !out.contains(where: { $0.name == p.name }) { out.append(p) }
  }
  guard !out.isEmpty else { throw CLIError("--metrics: no proxy named") }
  return out
}

/// Architectures from the --archs grammar, as (official index, architecture).
func selectArchitectures(_ spec: String, table: NB201Table, seed: Int) throws -> [(Int, NB201Architecture)] {
  func byIndex(_ i: Int) throws -> (Int, NB201Architecture) {
    guard i >= 0 && i < table.count else { throw CLIError("--archs: index \(i) is outside 0..<\(table.count)") }
    return (i, try NB201Architecture(parsing: table.archs[i]))
  }
  return try ArchSelection.resolve(spec, count: table.count, seed: seed, noun: "architecture", byPosition: byIndex) { t in
    if let i = Int(t) { return try byIndex(i) }
    let a: NB201Architecture
    do { a = try NB201Architecture(parsing: t) } catch { throw CLIError("--archs: \(error)") }
    guard let i = table.index(of: a.description) else { throw CLIError("--archs: '\(t)' is not in the NAS-Bench-201 table") }
    return (i, a)
  }
}

/// Progress on stderr: a bar with count, rate and ETA on a terminal; a plain line every 10 s otherwise.
final class ProgressReporter: @unchecked Sendable {
  private let lock = NSLock()
  private let start = Date()
  private var lastPrint = Date.distantPast
  private let tty = isatty(2) != 0

  func update(done: Int, skipped: Int, total: Int) {
    lock.lock(); defer { lock.unlock() }
    let todo = total - skipped
    let elapsed = Date().timeIntervalSince(start)
    let rate = elapsed > 0 ? Double(done) / elapsed : 0
    let eta = rate > 0 ? Double(todo - done) / rate : 0
    let etaText = done > 0 ? String(format: "ETA %.0f s", eta) : "ETA -"
    let text = String(format: "%d/%d scored (%d stored before), %.2f arch/s, %@", done, todo, skipped, rate, etaText)
    if tty {
      let width = 30, filled = todo > 0 ? width * done / todo : width
      print("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + text, terminator: "", to: &stderrStream)
    } else if Date().timeIntervalSince(lastPrint) >= 10 || done == todo {
      print(text, to: &stderrStream)
      lastPrint = Date()
    }
  }

  func finish() { if tty { print("", to: &stderrStream) } }
}
