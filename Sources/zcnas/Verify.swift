import ArgumentParser
import Foundation
import Metrics
import ZCEngine
import ZCTensor

/// `zcnas verify DIR`: every fixture's proxies against the PyTorch reference values.
struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check the engine against PyTorch reference fixtures (weights, batch and reference proxy values).",
    discussion: """
      For every <name>.json + <name>.safetensors in DIR: build the network, load the weights by their \
      official state_dict keys and the batch, compute every proxy the fixture has a reference for and the \
      engine implements, and print proxy, engine value, reference (value_float64), relative error, \
      tolerance and pass/fail. Proxies the engine lacks, and engine proxies the fixture has no \
      reference for, are listed as such. Exit status 1 on any failure.
      """
  )

  @Argument(help: "Folder of fixtures (for example Tests/Fixtures/nb201).") var folder: String
  @Option(help: "Engine precision: float32 or float64.") var dtype: String = "float32"

  func run() throws {
    guard let dt = DType(rawValue: dtype) else { throw CLIError("--dtype must be float32 or float64, got '\(dtype)'") }
    let fixtures = try ReferenceFixture.all(in: folder)
    guard !fixtures.isEmpty else { throw CLIError("\(folder): no *.json fixtures found") }
    var failures = 0, passes = 0
    for f in fixtures {
      print("\(f.name) (\(f.kind), engine \(dt))")
      if f.kind == "nbnlp_rnn" { let (p, q) = try verifyRecurrent(f, dtype: dt); passes += p; failures += q; continue }
      guard f.kind == "nb201" else { print("  skipped: the engine has no \(f.kind) space yet"); continue }
      let net = try f.nb201Network(dtype: dt)
      let (x, y) = try f.batch(1, dtype: dt)
      let second = f.tensors.tensors["input2"] != nil ? try f.batch(2, dtype: dt) : nil
      let have = allProxies.filter { f.referenceValue($0.name) != nil }
      let results = evaluate(have, network: net, images: x, labels: y, images2: second?.0, labels2: second?.1)
      let snip = results.first { $0.metric == "snip" }?.value.number
      print("  " + ["proxy", "engine", "reference", "rel.err", "tol", "result", "seconds"].map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined(separator: " "))
      for r in results {
        let c = ReferenceFixture.compare(r.metric, engine: r.value, reference: f.referenceValue(r.metric)!, dtype: dt, snip: snip)
        let engine: String
        switch r.value {
        case let .value(v): engine = String(format: "%.6g", v)
        case let .missing(reason): engine = "missing:" + (reason.split(separator: ":").first.map(String.init) ?? "")
        }
        let cols = [r.metric, engine, String(format: "%.6g", c.reference), c.relativeError.map { String(format: "%.2e", $0) } ?? "-",
                    String(format: "%.0e", c.tolerance), c.passed ? "pass" : "FAIL", String(format: "%.3f", r.seconds)]
        print("  " + cols.map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined(separator: " ") + (c.note.isEmpty ? "" : "  " + c.note))
        if c.passed { passes += 1 } else { failures += 1 }
      }
      let lacking = f.referencedMetrics.filter { m in !allProxies.contains { $0.name == m } }
      if !lacking.isEmpty { print("  not in the engine yet: " + lacking.joined(separator: ", ")) }
      let unreferenced = allProxies.filter { f.referenceValue($0.name) == nil }.map(\.name)
      if !unreferenced.isEmpty { print("  no reference value in this fixture (not checked): " + unreferenced.joined(separator: ", ")) }
    }
    print("verify: \(passes) passed, \(failures) failed")
    if failures > 0 { throw ExitCode(1) }
  }
}
