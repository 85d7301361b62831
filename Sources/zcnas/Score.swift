import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas score`: the main job, for every space.
struct Score: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score architectures of a search space with zero-cost proxies on one real minibatch; results go to an SQLite store.",
    discussion: """
      Each architecture is built with PyTorch's default initialisation (seeded from --seed and its id), \
      fed one minibatch drawn with --seed, and scored by every proxy in --metrics through shared passes. One \
      row per (space, dataset, architecture, metric, seed, batch size, initialisation, batch, dtype) is stored \
      with its value or missing-value reason, seconds and engine version. Each architecture is written in one \
      transaction: re-running skips what is stored, and an interrupted run loses at most the architectures in \
      progress.

      --archs takes: all; sample:N or sample:N:SEED (N distinct entries, drawn with SEED, default --seed); \
      comma-separated tokens (nb201: arch strings or indices; nbnlp: recipe ids); or a file with one token per line.

      nb201: CIFAR-10/100 minibatches of --batch-size images (default 64) from the shipped subsets (--data for \
      your own files; ImageNet16-120 needs --data). nbnlp: the first --bptt x --batch-size (default 70 x 10) test \
      tokens of --dataset wikitext2 or ptb; --emsize, --nhid, --nlayers set the model (benchmark 400/600/3).
      --metrics standard (the default) is the space's usual suite; --metrics all adds, for nb201, ntk_cond, \
      ntk_trace, ntk_cond_eval, gradsign, zico, epe_nas, grad_match, linear_regions, zen, meco, meco_opt, swap, reg_swap, \
      grad_match_per_sample, az_nas_expressivity, az_nas_progressivity, az_nas_trainability, vkdnw_entropy and vkdnw_dim \
      (tens of seconds per architecture; vkdnw_entropy 0.6-12 s alone; zico needs 2 x --batch-size images).
      """
  )

  @OptionGroup var spaceOptions: SpaceOptions
  @Option(help: "Image files in the dataset's binary format (nb201; default: the shipped CIFAR subset; required for imagenet16-120).")
  var data: [String] = []
  @Option(help: "Comma-separated proxy names; standard (nb201: grad_norm, snip, grasp, fisher, synflow, jacob_cov, nwot, plain, l2_norm, params, flops, 2-5 s per architecture on 2 cores; nbnlp: all five recurrent proxies); or all (every proxy of the space's model kind, with ntk_cond/ntk_trace/gradsign at tens of seconds per architecture). See `zcnas metrics`.")
  var metrics = "standard"
  @Option(parsing: .unconditional, help: "Architectures: all, sample:N[:SEED], tokens (comma-separated), or a file.") var archs = "sample:100"
  @Option(name: .customLong("batch-size"), help: "Samples per minibatch (default: 64 images for nb201, 10 sequences for nbnlp).") var batchSize: Int?
  @Option(parsing: .unconditional, help: "Seed for the minibatch and the initial weights.") var seed = 0
  @OptionGroup var storeOption: StoreOption
  @Option(help: "Also export this run's rows to a .csv, .csv.gz or .jsonl file.") var output: String?
  @Option(help: "Architectures scored in parallel (default: active cores).") var jobs = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: ArgumentHelp("Threads inside each network's kernels (default: active cores / architectures scored at once).", discussion: "Values are bit-identical for every thread count: the kernels split only independent outputs (images, output channels, elements).")) var threads: Int?
  @Option(help: "Network precision (synflow always runs in float64).") var dtype: DType = .float32
  @Option(help: "Load the initial weights (PyTorch state_dict keys) from this safetensors file instead of initialising; one architecture only.")
  var weights: String?
  @Option(help: "Take the minibatch from this safetensors file (nb201: `input`, `labels`; nbnlp: `tokens` [T, B]) instead of sampling it.")
  var batch: String?
  @OptionGroup var memoryLimit: MemoryLimitOptions
  @Option(help: "Score only shard K of N (0 <= K < N) of the selection: a partition by architecture id, the same on every machine (`zcnas merge` joins the shard stores).")
  var shard: String?
  @Flag(help: .hidden) var quiet = false
  @OptionGroup var model: RecurrentModelOptions
  @OptionGroup var bert: BERTModelOptions

  func run() throws {
    try checkJobs(jobs)
    if let t = threads, !(1...64).contains(t) { throw CLIError("--threads: expected 1...64, found \(t)") }
    _ = try memoryLimit.gigabytes()
    try score(try spaceOptions.load())
  }

  /// The run's settings for `space` (everything but the architectures and proxies).
  func settings(for space: some SearchSpace) throws -> ScoringSettings {
    var s = ScoringSettings(dataset: try spaceOptions.dataset(for: space), datasetsRoot: try spaceOptions.data.root())
    s.seed = seed; s.batchSize = batchSize; s.dtype = dtype; s.dataFiles = data; s.batchFile = batch; s.weightsFile = weights
    s.parameters = model.parameters.merging(bert.parameters) { a, _ in a }
    s.maxMemoryGB = try memoryLimit.gigabytes()
    s.threads = threads
    return s
  }

  private func score<S: SearchSpace>(_ space: S) throws {
    if let output { try checkOutput("--output", output, extensions: [".csv", ".csv.gz", ".jsonl"]) }
    let proxies = try selectProxies(metrics, for: space)
    var chosen = try selectArchitectures(archs, in: space, seed: seed)
    if let shard {
      let parts = shard.split(separator: "/").map { Int($0) }
      guard parts.count == 2, let k = parts[0], let n = parts[1], n >= 1, k >= 0, k < n else {
        throw CLIError("--shard: expected K/N with 0 <= K < N, found '\(shard)'")
      }
      chosen = chosen.filter { ArchitectureID.shard(of: $0.id, count: n) == k }
    }
    let pipeline = try cli { try ScoringPipeline(space: space, settings: try settings(for: space), proxies: proxies) }
    let fit = try cli { try pipeline.checkMemory(chosen, jobs: jobs) }
    if fit < jobs && !quiet {
      print("note: scoring \(fit) \(space.unit)(s) at a time instead of --jobs \(jobs): \(jobs) networks would exceed the memory limit of \(MemoryLimit.gigabytes(MemoryLimit.bytes(pipeline.settings)))", to: &stderrStream)
    }
    let store = storeOption.store
    let st = try cli { try ScoreStore(path: store) }
    try cli { try st.ensureWritable() }
    let reporter = ProgressReporter()
    let (scored, skipped) = try cli {
      try pipeline.run(chosen, store: st, jobs: jobs) { done, skipped, total in if !quiet { reporter.update(done: done, skipped: skipped, total: total) } }
    }
    if quiet { return }
    reporter.finish()
    let extra = pipeline.batch.map { space.describe(batch: $0, settings: pipeline.settings) } ?? ""
    if skipped > 0 {
      let other = try cli { try pipeline.otherNumerics(ids: Set(chosen.map(\.id)), store: st) }
      if !other.isEmpty {
        let list = other.sorted { $0.key < $1.key }.map { "\($0.value) with \($0.key)" }.joined(separator: ", ")
        print("note: kept stored rows computed with other numerics (\(list)); this engine is \(Numerics.version) and may differ from them in the last bits; score into a new store to recompute", to: &stderrStream)
      }
    }
    print("scored \(scored) \(space.unit)(s), \(skipped) already stored; \(proxies.count) prox\(proxies.count == 1 ? "y" : "ies")\(extra.isEmpty ? "" : "; " + extra); store \(store)")
    if let output {
      let rows = try cli { try pipeline.storedRows(ids: Set(chosen.map(\.id)), store: st) }
      try Export.write(rows, to: output)
      print("exported \(rows.count) rows to \(output)")
    }
  }
}

/// Proxies by comma-separated names, or "all" for every registered proxy of the space's model kind.
/// - Throws: ``CLIError`` naming --metrics for an unknown name, a proxy of another model kind, or an empty list.
func selectProxies(_ spec: String, for space: some SearchSpace) throws -> [any ZeroCostProxy] {
  let mine = registry.applicable(to: space.modelKind)
  if spec == "all" { return mine }
  if spec == "standard" {
    return try space.standardMetrics.map { n in
      guard let p = proxy(named: n), p.applies(to: space.modelKind) else { throw CLIError("--space \(space.name): its standard suite names '\(n)', which is not a registered proxy of its kind") }
      return p
    }
  }
  var out: [any ZeroCostProxy] = []
  for name in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
    guard let p = proxy(named: name) else {
      throw CLIError("--metrics: unknown proxy '\(name)'; available for --space \(space.name): \(mine.map(\.name).joined(separator: ", "))")
    }
    guard p.applies(to: space.modelKind) else {
      throw CLIError("--metrics: \(name) is a proxy of \(p.kinds.map(\.rawValue).sorted().joined(separator: ", ")) models, not of \(space.modelKind) (--space \(space.name)); available: \(mine.map(\.name).joined(separator: ", "))")
    }
    if !out.contains(where: { $0.name == p.name }) { out.append(p) }
  }
  guard !out.isEmpty else { throw CLIError("--metrics: expected comma-separated proxy names or all, found '\(spec)' (see `zcnas metrics`)") }
  return out
}

/// Architectures from the --archs grammar, as (id, architecture).
func selectArchitectures<S: SearchSpace>(_ spec: String, in space: S, seed: Int) throws -> [(id: Int, architecture: S.Architecture)] {
  try cli {
    if let own = try space.entries(spec: spec) { return own }
    return try ArchSelection.resolve(spec, count: space.entryCount, seed: seed, noun: space.noun, byPosition: { try space.entry(at: $0) },
                              byToken: { try space.entry(token: $0) })
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
