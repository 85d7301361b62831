import Foundation
import ZCTensor

/// A tensor read from a safetensors file: floating-point data as a ``Tensor``, integer data as `[Int]`.
public enum StoredTensor: Sendable {
  case float(Tensor)
  case int([Int], shape: [Int])

  public var shape: [Int] {
    switch self {
    case let .float(t): return t.shape
    case let .int(_, s): return s
    }
  }
}

/// Errors reading or writing a safetensors file. Each names the file and what was wrong.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case truncated(path: String, expectedBytes: Int, foundBytes: Int)
  case badHeader(path: String, reason: String)
  case unsupportedDType(path: String, key: String, dtype: String)
  case missingKey(path: String, key: String)

  public var description: String {
    switch self {
    case let .unreadable(p, r): return "\(p): cannot read safetensors file: \(r)"
    case let .truncated(p, e, f): return "\(p): truncated safetensors file: expected at least \(e) bytes, found \(f)"
    case let .badHeader(p, r): return "\(p): invalid safetensors header: \(r)"
    case let .unsupportedDType(p, k, d): return "\(p): tensor '\(k)' has dtype \(d); supported: F32, F64, I64, I32"
    case let .missingKey(p, k): return "\(p): no tensor named '\(k)'"
    }
  }
}

/// Reader and writer for the safetensors format (Hugging Face, documented at
/// huggingface.co/docs/safetensors): an 8-byte little-endian header length n, n bytes of JSON
/// `{key: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then raw
/// little-endian data; offsets are relative to the end of the header.
public struct SafetensorsFile: Sendable {
  public let path: String
  /// Tensors by key.
  public let tensors: [String: StoredTensor]
  /// Keys in the order of their data offsets (the writer's order).
  public let keys: [String]
  /// The `__metadata__` string map (empty when absent).
  public let metadata: [String: String]

  /// Reads and validates a whole file.
  /// - Throws: ``SafetensorsError`` for an unreadable or truncated file, a header that is not the
  ///   documented JSON, offsets that do not match the shape and dtype or lie outside the file,
  ///   or an unsupported dtype.
  public init(path: String) throws {
    self.path = path
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw SafetensorsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    guard data.count >= 8 else { throw SafetensorsError.truncated(path: path, expectedBytes: 8, foundBytes: data.count) }
    let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
    guard n <= UInt64(data.count - 8) else {
      throw SafetensorsError.truncated(path: path, expectedBytes: 8 + Int(clamping: n), foundBytes: data.count)
    }
    let headerData = data.subdata(in: 8..<(8 + Int(n)))
    guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
      throw SafetensorsError.badHeader(path: path, reason: "the \(n)-byte header is not a JSON object")
    }
    let base = 8 + Int(n)
    var out: [String: StoredTensor] = [:]
    var order: [(String, Int)] = []
    var meta: [String: String] = [:]
    for (key, value) in header {
      if key == "__metadata__" {
        if let m = value as? [String: Any] { for (k, v) in m { meta[k] = "\(v)" } }
        continue
      }
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
            let shape = entry["shape"] as? [Int], let offs = entry["data_offsets"] as? [Int], offs.count == 2 else {
        throw SafetensorsError.badHeader(path: path, reason: "entry '\(key)' lacks dtype, shape or data_offsets")
      }
      let size: Int
      switch dtype {
      case "F32", "I32": size = 4
      case "F64", "I64": size = 8
      default: throw SafetensorsError.unsupportedDType(path: path, key: key, dtype: dtype)
      }
      var count = 1
      for d in shape {
        let (c, o) = count.multipliedReportingOverflow(by: d)
        guard d >= 0, !o, c <= data.count else {
          throw SafetensorsError.badHeader(path: path, reason: "'\(key)': shape \(shape) is larger than the file")
        }
        count = c
      }
      guard offs[0] >= 0, offs[1] >= offs[0], offs[1] <= data.count, offs[1] - offs[0] == count * size else {
        throw SafetensorsError.badHeader(path: path, reason: "'\(key)': data_offsets \(offs) do not hold \(dtype) \(shape) (\(count * size) bytes)")
      }
      guard base + offs[1] <= data.count else {
        throw SafetensorsError.truncated(path: path, expectedBytes: base + offs[1], foundBytes: data.count)
      }
      let raw = data.subdata(in: (base + offs[0])..<(base + offs[1]))
      order.append((key, offs[0]))
      switch dtype {
      case "F32":
        let v = raw.withUnsafeBytes { p in (0..<count).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
        out[key] = .float(Tensor(v, shape: shape))
      case "F64":
        let v = raw.withUnsafeBytes { p in (0..<count).map { Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) } }
        out[key] = .float(Tensor(v, shape: shape))
      case "I64":
        let v = raw.withUnsafeBytes { p in (0..<count).map { Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) } }
        out[key] = .int(v, shape: shape)
      default:
        let v = raw.withUnsafeBytes { p in (0..<count).map { Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) } }
        out[key] = .int(v, shape: shape)
      }
    }
    tensors = out
    keys = order.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
    metadata = meta
  }

  /// The floating-point tensor `key`.
  /// - Throws: ``SafetensorsError/missingKey(path:key:)`` if absent or not floating point.
  public func floatTensor(_ key: String) throws -> Tensor {
    guard case let .float(t)? = tensors[key] else { throw SafetensorsError.missingKey(path: path, key: key) }
    return t
  }

  /// The integer tensor `key` as a flat array.
  public func intTensor(_ key: String) throws -> [Int] {
    guard case let .int(v, _)? = tensors[key] else { throw SafetensorsError.missingKey(path: path, key: key) }
    return v
  }

  /// Writes `tensors` (in the given order) to `path` with optional string metadata.
  /// Float32 tensors are stored as F32, Float64 as F64, integers as I64.
  public static func write(_ tensors: [(String, StoredTensor)], metadata: [String: String] = [:], to path: String) throws {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var body = Data()
    for (key, t) in tensors {
      let begin = body.count
      let dtype: String
      switch t {
      case let .float(x):
        dtype = x.dtype == .float32 ? "F32" : "F64"
        switch x.dtype {
        case .float32: for v in x.floats { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        case .float64: for v in x.doubles { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        }
      case let .int(v, _):
        dtype = "I64"
        for e in v { withUnsafeBytes(of: Int64(e).littleEndian) { body.append(contentsOf: $0) } }
      }
      header[key] = ["dtype": dtype, "shape": t.shape, "data_offsets": [begin, body.count]]
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(body)
    do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
      throw SafetensorsError.unreadable(path: path, reason: "cannot write: \((error as NSError).localizedDescription)")
    }
  }
}

/// 64-bit FNV-1a hash of a file's bytes as 16 hex digits: a fingerprint that tells two weight or
/// batch files apart in the store (not a cryptographic hash).
/// - Throws: ``SafetensorsError/unreadable(path:reason:)`` when the file cannot be read.
public func fileFingerprint(_ path: String) throws -> String {
  guard let d = FileManager.default.contents(atPath: path) else { throw SafetensorsError.unreadable(path: path, reason: "no such file") }
  var h: UInt64 = 0xCBF2_9CE4_8422_2325
  for b in d { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
  return String(h, radix: 16).leftPadded(to: 16)
}

extension String {
  fileprivate func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
