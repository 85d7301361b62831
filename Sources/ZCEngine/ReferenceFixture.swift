import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// A bad reference fixture: which file and what was wrong.
public struct FixtureError: Error, CustomStringConvertible {
  public let path: String
  public let reason: String
  public var description: String { "\(path): \(reason)" }
}

/// A PyTorch reference fixture (`<name>.json` + `<name>.safetensors`, format described in
/// Tests/Fixtures/README.md): initial weights under the official state_dict keys, the input
/// batch(es), and reference proxy values computed by the public implementations.
public struct ReferenceFixture {
  public let name: String
  public let jsonPath: String
  public let json: [String: Any]
  public let tensors: SafetensorsFile

  /// Reads `<folder>/<name>.json` and its safetensors file.
  /// - Throws: ``FixtureError`` or ``SafetensorsError`` naming the file.
  public init(jsonPath: String) throws {
    self.jsonPath = jsonPath
    guard let data = FileManager.default.contents(atPath: jsonPath),
          let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
      throw FixtureError(path: jsonPath, reason: "not a readable JSON object")
    }
    json = dict
    name = (dict["name"] as? String) ?? URL(fileURLWithPath: jsonPath).deletingPathExtension().lastPathComponent
    let st = URL(fileURLWithPath: jsonPath).deletingPathExtension().appendingPathExtension("safetensors").path
    tensors = try SafetensorsFile(path: st)
  }

  /// Every `*.json` fixture in a folder, sorted by name.
  public static func all(in folder: String) throws -> [ReferenceFixture] {
    guard let items = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
      throw FixtureError(path: folder, reason: "not a readable folder")
    }
    return try items.filter { $0.hasSuffix(".json") }.sorted().map { try ReferenceFixture(jsonPath: folder + "/" + $0) }
  }

  public var kind: String { (json["kind"] as? String) ?? "unknown" }

  /// The model's state_dict keys in order (json `state_dict`).
  public var stateKeys: [String] { ((json["state_dict"] as? [[String: Any]]) ?? []).compactMap { $0["key"] as? String } }

  /// The NAS-Bench-201 network with the fixture's weights, in `dtype`.
  /// - Throws: ``FixtureError`` for a non-NB201 fixture or a bad arch string, ``StateError`` for
  ///   missing, unexpected or misshapen weights.
  public func nb201Network(dtype: DType) throws -> NB201Network {
    guard kind == "nb201", let archString = json["arch"] as? String else {
      throw FixtureError(path: jsonPath, reason: "kind '\(kind)' is not an NB201 fixture")
    }
    let arch: NB201Architecture
    do { arch = try NB201Architecture(parsing: archString) } catch { throw FixtureError(path: jsonPath, reason: "\(error)") }
    var rng = ZCRandom(seed: 0)
    let net = NB201Network(arch, channels: (json["C"] as? Int) ?? 16, cellsPerStage: (json["N"] as? Int) ?? 5,
                           numClasses: (json["num_classes"] as? Int) ?? 10, dtype: dtype, rng: &rng)
    try WeightsIO.load(tensors, into: net)
    return net
  }

  /// Input batch `k` (1 or 2): images `[B, 3, H, W]` in `dtype` and integer labels.
  /// - Throws: ``FixtureError`` when the images are not `[B, 3, H, W]`, the label count differs
  ///   from B, or a label is outside 0..<num_classes; ``SafetensorsError`` for a missing key.
  public func batch(_ k: Int, dtype: DType) throws -> (Tensor, [Int]) {
    let (xi, yi) = k == 1 ? ("input", "labels") : ("input2", "labels2")
    let x = try tensors.floatTensor(xi), y = try tensors.intTensor(yi)
    let classes = (json["num_classes"] as? Int) ?? 10
    guard x.rank == 4, x.shape[1] == 3, x.shape[0] == y.count, x.shape[0] >= 1 else {
      throw FixtureError(path: tensors.path, reason: "'\(xi)' has shape \(x.shape) for \(y.count) labels; expected [B, 3, H, W] with B labels")
    }
    if let bad = y.first(where: { $0 < 0 || $0 >= classes }) {
      throw FixtureError(path: tensors.path, reason: "'\(yi)' holds label \(bad), outside 0..<\(classes)")
    }
    return (x.to(dtype), y)
  }

  /// Reference value of `metric` computed in float64 (`value_float64`, or `value` for integers),
  /// with "nan"/"inf"/"-inf" decoded; nil when the fixture has no reference for it.
  public func referenceValue(_ metric: String) -> Double? {
    guard let refs = json["reference"] as? [String: Any], let entry = refs[metric] as? [String: Any] else { return nil }
    return Self.decode(entry["value_float64"] ?? entry["value"])
  }

  /// Metric names with a reference value, sorted.
  public var referencedMetrics: [String] { ((json["reference"] as? [String: Any]) ?? [:]).keys.sorted() }

  static func decode(_ v: Any?) -> Double? {
    if let n = v as? NSNumber { return n.doubleValue }
    switch v as? String {
    case "nan"?: return .nan
    case "inf"?: return .infinity
    case "-inf"?: return -.infinity
    default: return nil
    }
  }

  /// Relative tolerance for comparing an engine value with `value_float64`, from the fixture
  /// README's tolerance table (float32 engines get the measured float32 spread with margin).
  public static func tolerance(_ metric: String, engine: DType) -> Double {
    let f32: [String: Double] = [
      "grad_norm": 5e-3, "snip": 5e-3, "grasp": 5e-2, "fisher": 5e-3, "synflow": 1e-9, "jacob_cov": 5e-4,
      "plain": 1e-1, "l2_norm": 1e-6, "nwot": 1e-6, "epe_nas": 2e-2, "ntk_cond": 3e-2, "gradsign": 3e-3,
      "zico": 5e-2, "params": 0,
    ]
    let f64: [String: Double] = ["synflow": 1e-9, "l2_norm": 1e-12, "nwot": 1e-9, "gradsign": 1e-6, "params": 0]
    return engine == .float32 ? (f32[metric] ?? 1e-2) : (f64[metric] ?? 1e-8)
  }

  /// Result of comparing one engine value with a reference value.
  public struct Comparison {
    public let metric: String
    public let engine: ProxyValue
    public let reference: Double
    /// |a − b| / max(|a|, |b|) (0 when both are 0; nil when a value is missing or non-finite).
    public let relativeError: Double?
    public let tolerance: Double
    public let passed: Bool
    public let note: String
  }

  /// Compares per the README: non-finite references must be missing values with the same raw
  /// value ("nan", "-inf"); exact zeros must be exact zeros; otherwise relative error ≤ tolerance
  /// (plain alternatively passes with an absolute error ≤ 1e-3 × snip).
  public static func compare(_ metric: String, engine: ProxyValue, reference: Double, dtype: DType, snip: Double?) -> Comparison {
    let tol = tolerance(metric, engine: dtype)
    if !reference.isFinite {
      let raw = reference.isNaN ? "nan" : (reference > 0 ? "inf" : "-inf")
      if case let .missing(reason) = engine, reason.hasPrefix(raw + ":") {
        return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: true, note: "both \(raw)")
      }
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: false, note: "reference is \(raw)")
    }
    guard let a = engine.number else {
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: nil, tolerance: tol, passed: false, note: "engine value missing")
    }
    if reference == 0 {
      return Comparison(metric: metric, engine: engine, reference: reference, relativeError: a == 0 ? 0 : 1, tolerance: tol, passed: a == 0, note: "exact zero expected")
    }
    let rel = Swift.abs(a - reference) / max(Swift.abs(a), Swift.abs(reference))
    var ok = rel <= tol
    var note = ""
    if !ok, metric == "plain", let s = snip, Swift.abs(a - reference) <= 1e-3 * s {
      ok = true
      note = "within atol 1e-3 x snip"
    }
    return Comparison(metric: metric, engine: engine, reference: reference, relativeError: rel, tolerance: tol, passed: ok, note: note)
  }
}
