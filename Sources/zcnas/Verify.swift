import ArgumentParser
import Foundation
import Metrics
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// `zcnas verify DIR`: every fixture's proxies against the PyTorch reference values, for every space.
struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check the engine against PyTorch reference fixtures (weights, batch and reference proxy values).",
    discussion: """
      For every <name>.json + <name>.safetensors in DIR: find the space of the fixture's kind (nb201, \
      nbnlp_rnn), build its network, load the weights by their official state_dict keys and the batch, compute \
      every proxy the fixture has a reference for and the engine implements, and print proxy, engine value, \
      reference (value_float64), relative error, tolerance and pass/fail, then the space's further checks \
      (nbnlp: hidden states). Proxies the engine lacks, and engine proxies the fixture has no reference for, \
      are listed as such. A malformed fixture (a json field missing, of the wrong type or out of bounds, a bad \
      safetensors file, weights that do not load, an estimated memory above the limit) is a FAIL line with its \
      file and reason, and the other fixtures still run. Exit status 1 on any failure; a folder in which no \
      reference value was checked is an error.
      """
  )

  @Argument(help: "Folder of fixtures (for example Tests/Fixtures/nb201).") var folder: String
  @Option(help: "Engine precision.") var dtype: DType = .float32
  @OptionGroup var data: DatasetsOption
  @OptionGroup var memoryLimit: MemoryLimitOptions

  func run() throws {
    _ = try memoryLimit.gigabytes()
    let files = try cli { try ReferenceFixture.load(folder: folder) }
    guard !files.isEmpty else { throw CLIError("\(folder): no *.json fixtures found") }
    let root = try data.root()
    var failures = 0, passes = 0
    var unusable: [String] = []
    var spaces: [String: any SearchSpace] = [:]  // each space's table is read once
    for (path, loaded) in files {
      let file = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
      // A bad fixture is a FAIL line with its reason; the others still run.
      do {
        let f = try loaded.get()
        print("\(f.name) (\(f.kind), engine \(dtype))")
        guard let name = SpaceRegistry.name(fixtureKind: f.kind) else {
          print("  skipped: the engine has no space for fixtures of kind \(f.kind) yet"); continue
        }
        let space = try spaces[name] ?? SpaceRegistry.make(name, datasetsRoot: root)
        spaces[name] = space
        let (p, q) = try verify(f, in: space)
        passes += p; failures += q
        fflush(nil)  // show each fixture as it finishes, also through a pipe
      } catch {
        if case .failure = loaded { print("\(file)") }
        print("  FAIL: \(error)")  // the fixture's file and reason, one line
        failures += 1
        unusable.append(file)
      }
    }
    let note = unusable.isEmpty ? "" : " (\(unusable.count) fixture(s) could not be checked: \(unusable.joined(separator: ", ")))"
    print("verify: \(passes) passed, \(failures) failed\(note)")
    if failures > 0 { throw ExitCode(1) }
    if passes == 0 { throw CLIError("\(folder): no reference value was checked in \(files.count) fixture(s); expected at least one value the engine computes") }
  }

  /// Checks one fixture in `space`; prints a line per check and returns (passed, failed).
  /// - Throws: the fixture's error (bad inputs, weights, memory), printed as its FAIL line.
  private func verify<S: SearchSpace>(_ f: ReferenceFixture, in space: S) throws -> (Int, Int) {
    let refs = space.references(f)
    let mine = registry.applicable(to: space.modelKind)
    let have = mine.filter { refs[$0.name] != nil }
    if let e = f.memoryEstimate(proxies: have, dtype: dtype) {
      var limit = ScoringSettings(dataset: space.datasets[0], datasetsRoot: "")
      limit.maxMemoryGB = memoryLimit.maxMemory  // checked in run()
      try MemoryLimit.check(e, options: f.jsonPath, what: "this fixture", settings: limit, batchOption: nil)
    }
    let inputs: (network: S.Network, batch: S.Batch)
    do { inputs = try space.fixtureInputs(f, dtype: dtype) } catch let e as StateError {
      throw FixtureError(path: f.tensors.path, reason: "\(e)")  // a weight key: name the file it is in
    } catch let e as RecipeError {
      throw FixtureError(path: f.jsonPath, reason: "\(e)")
    }
    let (net, batch) = inputs
    let context = space.context(network: net, batch: batch, proxies: have, runSeed: 0, networkSeed: 0)
    let results = evaluate(have, in: context)
    var passes = 0, failures = 0
    func line(_ cols: [String], note: String) {
      print("  " + cols.enumerated().map { $1.padding(toLength: $0 == 0 ? max(14, $1.count) : 12, withPad: " ", startingAt: 0) }.joined(separator: " ") + (note.isEmpty ? "" : "  " + note))
    }
    line(["proxy", "engine", "reference", "rel.err", "tol", "result", "seconds"], note: "")
    for r in results {
      let c = space.compare(r.metric, engine: r.value, reference: refs[r.metric]!, dtype: dtype, results: results)
      let engine: String
      switch r.value {
      case let .value(v): engine = String(format: "%.10g", v)
      case let .missing(reason): engine = "missing:" + (reason.split(separator: ":").first.map(String.init) ?? "")
      }
      line([r.metric, engine, String(format: "%.10g", c.reference), c.relativeError.map { String(format: "%.2e", $0) } ?? "-",
            String(format: "%.0e", c.tolerance), c.passed ? "pass" : "FAIL", String(format: "%.3f", r.seconds)], note: c.note)
      if c.passed { passes += 1 } else { failures += 1 }
    }
    for c in space.extraChecks(f, context: context, dtype: dtype) {
      line([c.metric, c.engine.number.map { String(format: "%.2e", $0) } ?? "-", "-", "-", String(format: "%.0e", c.tolerance), c.passed ? "pass" : "FAIL", "-"], note: c.note)
      if c.passed { passes += 1 } else { failures += 1 }
    }
    let lacking = refs.keys.sorted().filter { m in !mine.contains { $0.name == m } }
    if !lacking.isEmpty { print("  not in the engine yet: " + lacking.joined(separator: ", ")) }
    // reference_extra: the AZ-NAS / VKDNW variants (a: authors' protocol, b: fixture tensors).
    var variantChecked = Set<String>()
    let variants = try f.azNASVariants(dtype: dtype)
    for v in variants {
      let vp = mine.filter { v.references[$0.name] != nil }
      if vp.isEmpty { continue }
      guard let make = v.makeContext else { print("  variant \(v.name) not checked: \(v.skipped ?? "")"); continue }
      print("  variant \(v.name) (\(v.summary)):")
      for r in evaluate(vp, in: make(vp)) {
        let c = space.compare(r.metric, engine: r.value, reference: v.references[r.metric]!, dtype: dtype, results: [])
        let engine: String
        switch r.value {
        case let .value(x): engine = String(format: "%.10g", x)
        case let .missing(reason): engine = "missing:" + (reason.split(separator: ":").first.map(String.init) ?? "")
        }
        line([r.metric + "[\(v.name)]", engine, String(format: "%.10g", c.reference), c.relativeError.map { String(format: "%.2e", $0) } ?? "-",
              String(format: "%.0e", c.tolerance), c.passed ? "pass" : "FAIL", String(format: "%.3f", r.seconds)], note: c.note)
        if c.passed { passes += 1 } else { failures += 1 }
        variantChecked.insert(r.metric)
      }
      fflush(nil)
    }
    let vlacking = Set(variants.flatMap { $0.references.keys }).filter { m in !mine.contains { $0.name == m } }
    if !vlacking.isEmpty { print("  reference_extra proxies not in the engine: " + vlacking.sorted().joined(separator: ", ")) }
    let unreferenced = mine.filter { refs[$0.name] == nil && !variantChecked.contains($0.name) }.map(\.name)
    if !unreferenced.isEmpty { print("  no reference value in this fixture (not checked): " + unreferenced.joined(separator: ", ")) }
    return (passes, failures)
  }
}
