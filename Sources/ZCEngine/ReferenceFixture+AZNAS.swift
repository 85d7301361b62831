import Foundation
import ZCData
import ZCNN
import ZCSpaces
import ZCTensor

/// One more way to run a fixture's proxies, with its own reference values: the AZ-NAS / VKDNW
/// variants `a` (the authors' protocol, on the stored re-initialised weights, Gaussian input and
/// signs) and `b` (the fixture's own weights and input, the stored signs), fixture README section
/// "Newer proxies (AZ-NAS, MeCo, SWAP, VKDNW)".
public struct FixtureVariant {
  /// "a" or "b".
  public let name: String
  /// What the variant runs on, for the report.
  public let summary: String
  /// `value_float64` by proxy name.
  public let references: [String: Double]
  /// Why the variant cannot run (its tensors are absent), or nil.
  public let skipped: String?
  /// Builds the context for the proxies to run (nil when skipped).
  public let makeContext: (([any ZeroCostProxy]) -> any ProxyContext)?
}

extension ReferenceFixture {
  /// `reference_extra.proxies.<proxy>.<variant>.value_float64` by proxy name (numbers and
  /// "nan"/"inf"/"-inf") for the AZ-NAS-protocol proxies (``ReferenceFixture/usesAZNASProtocol(_:)``;
  /// MeCo and SWAP are checked with the fixture's own proxies); empty when the fixture has no
  /// `reference_extra`.
  public func extraReferences(variant: String) -> [String: Double] {
    guard let proxies = document.referenceExtra?.objectValue?["proxies"]?.objectValue else { return [:] }
    var out: [String: Double] = [:]
    for (proxy, entry) in proxies where Self.usesAZNASProtocol(proxy) {
      guard let v = entry.objectValue?[variant]?.objectValue?["value_float64"] else { continue }
      switch v {
      case let .integer(i): out[proxy] = Double(i)
      case let .number(d): out[proxy] = d
      case .string("nan"): out[proxy] = .nan
      case .string("inf"): out[proxy] = .infinity
      case .string("-inf"): out[proxy] = -.infinity
      default: continue
      }
    }
    return out
  }

  /// `<folder>/<name>.aznas.safetensors`, next to the fixture's json.
  public var azNASTensorsPath: String {
    URL(fileURLWithPath: jsonPath).deletingPathExtension().path + ".aznas.safetensors"
  }

  /// The signs' keys and shapes from `reference_extra.extra_tensors_file.keys_signs`.
  func signKeys() throws -> [(key: String, feature: Int, shape: [Int])] {
    guard let list = document.referenceExtra?.objectValue?["extra_tensors_file"]?.objectValue?["keys_signs"]?.arrayValue else {
      throw FixtureError(path: jsonPath, reason: "'reference_extra.extra_tensors_file.keys_signs': expected a list of {key, feature_index, unpacked_shape}")
    }
    return try list.enumerated().map { i, item in
      let o = item.objectValue
      guard let key = o?["key"]?.stringValue, let f = o?["feature_index"]?.intValue, f >= 1,
            let dims = o?["unpacked_shape"]?.arrayValue, case let shape = dims.compactMap(\.intValue), shape.count == dims.count, shape.allSatisfy({ $0 > 0 })
      else { throw FixtureError(path: jsonPath, reason: "'reference_extra.extra_tensors_file.keys_signs[\(i)]': expected {key, feature_index >= 1, unpacked_shape of positive integers}, found \(item)") }
      return (key, f, shape)
    }
  }

  /// The AZ-NAS protocol tensors of variant `a` (the stored re-initialised weights and Gaussian
  /// `input`) or `b` (the fixture's weights and `input`), both with the stored signs, in `dtype`.
  /// - Throws: ``SafetensorsError`` for an unreadable `.aznas.safetensors` or a missing key;
  ///   ``FixtureError`` for signs or an input of the wrong shape; ``StateError`` for weights
  ///   that do not fit the network.
  public func azNASInputs(variant: String, dtype: DType) throws -> AZNASProtocolInputs {
    let extra = try SafetensorsFile(path: azNASTensorsPath)
    var signs: [Int: Tensor] = [:]
    for s in try signKeys() {
      let bytes = try extra.intTensor(s.key)
      guard let t = AZNASProtocol.unpackSigns(bytes, shape: s.shape, dtype: dtype) else {
        throw FixtureError(path: extra.path, reason: "'\(s.key)' holds \(bytes.count) bytes; expected \((s.shape.reduce(1, *) + 7) / 8) packed bits (U8) for \(s.shape)")
      }
      signs[s.feature] = t
    }
    switch variant {
    case "a":
      let net = try nb201Network(dtype: dtype)  // the architecture and sizes; weights replaced below
      var floats: [String: Tensor] = [:], ints: [String: Int] = [:]
      for (key, t) in extra.tensors where key != "input" && !key.hasPrefix("aznas.") {
        switch t {
        case let .float(x): floats[key] = x
        case let .int(v, shape):
          guard v.count == 1 else { throw SafetensorsError.badTensor(path: extra.path, key: key, reason: "an integer tensor \(shape) where a model's integer buffer is one number") }
          ints[key] = v[0]
        }
      }
      try net.loadState(floats: floats, integers: ints)
      let x = try extra.floatTensor("input")
      guard x.rank == 4, Array(x.shape.dropFirst()) == net.inputShape else {
        throw FixtureError(path: extra.path, reason: "'input' has shape \(x.shape); expected [B] + \(net.inputShape)")
      }
      return AZNASProtocolInputs(network: net, images: x.to(dtype), signs: signs)
    default:
      let net = try nb201Network(dtype: dtype)
      let (x, _) = try batch(1, dtype: dtype)
      return AZNASProtocolInputs(network: net, images: x, signs: signs)
    }
  }

  /// Variants `a` and `b` of an NB201 fixture with `reference_extra` (none for other fixtures):
  /// each runs the proxies on an ``ImageProxyContext`` whose ``ImageProxyContext/azNASInputs``
  /// are the variant's stored tensors. Skipped with a reason when `.aznas.safetensors` is absent.
  /// - Throws: as ``azNASInputs(variant:dtype:)`` and ``batch(_:dtype:)``.
  public func azNASVariants(dtype: DType) throws -> [FixtureVariant] {
    guard case .nb201 = content, document.referenceExtra != nil else { return [] }
    let summaries = ["a": "authors' protocol: stored kaiming re-initialisation, Gaussian input, stored signs",
                     "b": "fixture weights and input, stored signs"]
    var out: [FixtureVariant] = []
    for v in ["a", "b"] {
      let refs = extraReferences(variant: v)
      if refs.isEmpty { continue }
      guard FileManager.default.fileExists(atPath: azNASTensorsPath) else {
        out.append(FixtureVariant(name: v, summary: summaries[v]!, references: refs,
                                  skipped: "\(azNASTensorsPath) is absent (the stored re-initialised weights, input and signs)", makeContext: nil))
        continue
      }
      let inputs = try azNASInputs(variant: v, dtype: dtype)
      let (x, y) = try batch(1, dtype: dtype)
      let net = try nb201Network(dtype: dtype)
      out.append(FixtureVariant(name: v, summary: summaries[v]!, references: refs, skipped: nil) { proxies in
        let c = ImageProxyContext(network: net, images: x, labels: y, requirements: proxies.reduce(into: ProxyRequirements()) { $0.formUnion($1.requirements) })
        c.azNASInputs = inputs
        return c
      })
    }
    return out
  }
}
