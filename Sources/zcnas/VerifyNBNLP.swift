import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

extension Verify {
  /// Checks one NAS-Bench-NLP fixture: the model with its weights (strict load), its `tokens`,
  /// every recurrent proxy with a reference (hidden_cov per layer) against `value_float64`, and
  /// the hidden states against `ref.hidden_l*`. Prints one line per check; returns (passed, failed).
  func verifyRecurrent(_ f: ReferenceFixture, dtype dt: DType) throws -> (Int, Int) {
    let net: NBNLPNetwork
    let tokens: TokenBatch
    do {
      net = try f.nbnlpNetwork(dtype: dt)
      tokens = try f.tokenBatch()
    } catch { throw CLIError("\(f.jsonPath): \(error)") }
    let refs = f.recurrentReferences
    let have = allRecurrentProxies.filter { refs[$0.name] != nil }
    let context = RecurrentProxyContext(network: net, tokens: tokens)
    var passes = 0, failures = 0
    print("  " + ["proxy", "engine", "reference", "rel.err", "tol", "result", "seconds"].enumerated().map { $1.padding(toLength: $0 == 0 ? 14 : 12, withPad: " ", startingAt: 0) }.joined(separator: " "))
    for p in have {
      let start = Date()
      let v: ProxyValue
      do { v = try p.compute(in: context) } catch { v = .missing(reason: "error: \(error)") }
      let secs = Date().timeIntervalSince(start)
      let c = ReferenceFixture.compareRecurrent(p.name, engine: v, reference: refs[p.name]!, dtype: dt)
      let engine: String
      switch v {
      case let .value(x): engine = String(format: "%.10g", x)
      case let .missing(reason): engine = "missing:" + (reason.split(separator: ":").first.map(String.init) ?? "")
      }
      let cols = [p.name, engine, String(format: "%.10g", c.reference), c.relativeError.map { String(format: "%.2e", $0) } ?? "-",
                  String(format: "%.0e", c.tolerance), c.passed ? "pass" : "FAIL", String(format: "%.3f", secs)]
      print("  " + cols.enumerated().map { $1.padding(toLength: $0 == 0 ? 14 : 12, withPad: " ", startingAt: 0) }.joined(separator: " ") + (c.note.isEmpty ? "" : "  " + c.note))
      if c.passed { passes += 1 } else { failures += 1 }
    }
    // The metric's input: hidden states entering each step, per layer (max abs difference).
    let fwd = context.forward()
    for l in 0..<fwd.incomingHidden.count {
      guard let ref = try? f.tensors.floatTensor("ref.hidden_l\(l + 1)") else { continue }
      let a = fwd.incomingHidden[l].doubles, b = ref.doubles
      let worst = a.count == b.count ? zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0 : .infinity
      let tol = dt == .float32 ? 1e-5 : 1e-6
      let ok = worst <= tol
      print("  " + ["hidden_l\(l + 1)", "max|diff|", String(format: "%.2e", worst), "-", String(format: "%.0e", tol), ok ? "pass" : "FAIL", "-"]
        .enumerated().map { $1.padding(toLength: $0 == 0 ? 14 : 12, withPad: " ", startingAt: 0) }.joined(separator: " "))
      if ok { passes += 1 } else { failures += 1 }
    }
    let covered = Set(allRecurrentProxies.map(\.name))
    let lacking = refs.keys.sorted().filter { !covered.contains($0) }
    if !lacking.isEmpty { print("  not in the engine yet: " + lacking.joined(separator: ", ")) }
    return (passes, failures)
  }
}
