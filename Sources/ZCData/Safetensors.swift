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

/// Errors reading or writing a safetensors file. Each names the file, the tensor when one is to
/// blame, what was expected and what was found.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case truncated(path: String, expectedBytes: Int, foundBytes: Int)
  case badHeader(path: String, reason: String)
  /// A header entry that does not describe a tensor the file can hold.
  case badTensor(path: String, key: String, reason: String)
  case unsupportedDType(path: String, key: String, dtype: String)
  case missingKey(path: String, key: String)
  /// The tensor exists with another kind of dtype than the caller needs (for example F32 labels).
  case wrongDType(path: String, key: String, expected: String, found: String)

  public var description: String {
    switch self {
    case let .unreadable(p, r): return "\(p): cannot read safetensors file: \(r)"
    case let .truncated(p, e, f): return "\(p): truncated safetensors file: expected at least \(e) bytes, found \(f)"
    case let .badHeader(p, r): return "\(p): invalid safetensors header: \(r)"
    case let .badTensor(p, k, r): return "\(p): invalid safetensors header: tensor '\(k)': \(r)"
    case let .unsupportedDType(p, k, d): return "\(p): tensor '\(k)' has dtype \(d); supported: F32, F64, I64, I32, U8"
    case let .missingKey(p, k): return "\(p): no tensor named '\(k)'"
    case let .wrongDType(p, k, e, f): return "\(p): tensor '\(k)' has dtype \(f); expected \(e)"
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
  /// The dtype of every tensor as the header names it ("F32", "F64", "I64", "I32", "U8"; U8 is read as integers 0...255).
  public let dtypes: [String: String]
  /// Keys in the order of their data offsets (the writer's order).
  public let keys: [String]
  /// The `__metadata__` string map (empty when absent).
  public let metadata: [String: String]

  /// Bytes per element of the supported dtypes.
  static let elementSize = ["F32": 4, "F64": 8, "I64": 8, "I32": 4, "U8": 1]

  /// Reads and validates a whole file.
  /// - Throws: ``SafetensorsError`` for an unreadable or truncated file, a header that is not the
  ///   documented JSON, offsets that do not match the shape and dtype or lie outside the file,
  ///   or an unsupported dtype.
  public init(path: String) throws {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw SafetensorsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
    }
    try self.init(data: data, path: path)
  }

  /// Reads and validates the bytes of a file; `path` names it in errors. Every size and offset is
  /// checked against the bytes present before anything is allocated, with checked arithmetic, so
  /// no header makes the reader trap or allocate more than the file holds.
  /// - Throws: ``SafetensorsError`` as ``init(path:)``.
  public init(data: Data, path: String) throws {
    self.path = path
    let bytes = [UInt8](data)
    guard bytes.count >= 8 else {
      throw SafetensorsError.truncated(path: path, expectedBytes: 8, foundBytes: bytes.count)
    }
    var n: UInt64 = 0
    for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    let available = bytes.count - 8
    guard n <= UInt64(available) else {
      throw SafetensorsError.badHeader(path: path, reason: "the 8-byte header length says \(n) bytes, but only \(available) bytes follow it (\(bytes.count)-byte file)")
    }
    let headerLength = Int(n)
    let base = 8 + headerLength
    let dataBytes = bytes.count - base
    let header: [String: JSONValue]
    do {
      let value = try JSONValue.parse(Data(bytes[8..<base]))
      guard let object = value.objectValue else {
        throw SafetensorsError.badHeader(path: path, reason: "the \(headerLength)-byte header is \(value.kind), expected a JSON object of tensors")
      }
      header = object
    } catch let e as SafetensorsError { throw e } catch {
      throw SafetensorsError.badHeader(path: path, reason: "the \(headerLength)-byte header is not JSON: \(error)")
    }

    struct Entry { let key: String; let dtype: String; let shape: [Int]; let count: Int; let begin: Int; let end: Int }
    var entries: [Entry] = []
    var meta: [String: String] = [:]
    for key in header.keys.sorted() {
      let value = header[key]!
      if key == "__metadata__" {
        guard let m = value.objectValue else {
          throw SafetensorsError.badHeader(path: path, reason: "'__metadata__' is \(value.kind), expected an object of strings")
        }
        for (k, v) in m { meta[k] = v.stringValue ?? v.description }
        continue
      }
      func bad(_ reason: String) -> SafetensorsError { .badTensor(path: path, key: key, reason: reason) }
      guard let entry = value.objectValue else { throw bad("expected an object {dtype, shape, data_offsets}, found \(value.kind) \(value)") }
      guard let dtypeValue = entry["dtype"] else { throw bad("missing 'dtype'") }
      guard let dtype = dtypeValue.stringValue else { throw bad("'dtype' is \(dtypeValue.kind) \(dtypeValue), expected a string such as \"F32\"") }
      guard let size = Self.elementSize[dtype] else { throw SafetensorsError.unsupportedDType(path: path, key: key, dtype: dtype) }
      guard let shapeValue = entry["shape"] else { throw bad("missing 'shape'") }
      let shape = shapeValue.arrayValue?.compactMap(\.intValue) ?? []
      guard let dims = shapeValue.arrayValue, shape.count == dims.count else {
        throw bad("'shape' is \(shapeValue.kind) \(shapeValue), expected a list of integers")
      }
      if let d = shape.first(where: { $0 < 0 }) { throw bad("shape \(shape) has the negative dimension \(d)") }
      var count = 1
      if !shape.contains(0) {
        for d in shape {
          let (c, overflow) = count.multipliedReportingOverflow(by: d)
          guard !overflow, c <= dataBytes else {
            throw bad("shape \(shape) has more elements than the \(dataBytes)-byte data section can hold")
          }
          count = c
        }
      } else {
        count = 0
      }
      guard let offsetsValue = entry["data_offsets"] else { throw bad("missing 'data_offsets'") }
      let offs = offsetsValue.arrayValue?.compactMap(\.intValue) ?? []
      guard offs.count == 2, offsetsValue.arrayValue?.count == 2 else {
        throw bad("'data_offsets' is \(offsetsValue.kind) \(offsetsValue), expected [begin, end] (two integers)")
      }
      let (begin, end) = (offs[0], offs[1])
      guard begin >= 0, end >= begin else { throw bad("data_offsets \(offs): expected 0 <= begin <= end") }
      guard end <= dataBytes else {
        throw bad("data_offsets \(offs) end beyond the \(dataBytes)-byte data section (file truncated or offsets wrong)")
      }
      let (need, overflow) = count.multipliedReportingOverflow(by: size)
      guard !overflow, end - begin == need else {
        throw bad("data_offsets \(offs) hold \(end - begin) bytes, but \(dtype) \(shape) needs \(overflow ? "more than Int.max" : "\(need)") bytes")
      }
      entries.append(Entry(key: key, dtype: dtype, shape: shape, count: count, begin: begin, end: end))
    }
    // Tensors may not share bytes (the format lays them out one after another).
    let byOffset = entries.sorted { ($0.begin, $0.end, $0.key) < ($1.begin, $1.end, $1.key) }
    for (a, b) in zip(byOffset, byOffset.dropFirst()) where b.begin < a.end && b.end > b.begin {
      throw SafetensorsError.badTensor(path: path, key: b.key, reason: "data_offsets [\(b.begin), \(b.end)] overlap those of '\(a.key)' [\(a.begin), \(a.end)]")
    }

    var out: [String: StoredTensor] = [:]
    var types: [String: String] = [:]
    bytes.withUnsafeBytes { raw in
      for e in entries {
        let p = UnsafeRawBufferPointer(rebasing: raw[(base + e.begin)..<(base + e.end)])
        types[e.key] = e.dtype
        switch e.dtype {
        case "F32":
          let v = (0..<e.count).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
          out[e.key] = .float(Tensor(v, shape: e.shape))
        case "F64":
          let v = (0..<e.count).map { Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
          out[e.key] = .float(Tensor(v, shape: e.shape))
        case "I64":
          out[e.key] = .int((0..<e.count).map { Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }, shape: e.shape)
        case "U8":
          out[e.key] = .int((0..<e.count).map { Int(p[$0]) }, shape: e.shape)
        default:
          out[e.key] = .int((0..<e.count).map { Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }, shape: e.shape)
        }
      }
    }
    tensors = out
    dtypes = types
    keys = byOffset.map(\.key)
    metadata = meta
  }

  /// The floating-point tensor `key`.
  /// - Throws: ``SafetensorsError/missingKey(path:key:)`` if absent,
  ///   ``SafetensorsError/wrongDType(path:key:expected:found:)`` if it holds integers.
  public func floatTensor(_ key: String) throws -> Tensor {
    switch tensors[key] {
    case let .float(t)?: return t
    case .int?: throw SafetensorsError.wrongDType(path: path, key: key, expected: "a floating-point tensor (F32 or F64)", found: dtypes[key] ?? "integer")
    case nil: throw SafetensorsError.missingKey(path: path, key: key)
    }
  }

  /// The integer tensor `key` as a flat array.
  /// - Throws: ``SafetensorsError/missingKey(path:key:)`` if absent,
  ///   ``SafetensorsError/wrongDType(path:key:expected:found:)`` if it holds floating-point values.
  public func intTensor(_ key: String) throws -> [Int] {
    switch tensors[key] {
    case let .int(v, _)?: return v
    case .float?: throw SafetensorsError.wrongDType(path: path, key: key, expected: "an integer tensor (I64 or I32)", found: dtypes[key] ?? "floating point")
    case nil: throw SafetensorsError.missingKey(path: path, key: key)
    }
  }

  /// What a tensor is, for messages: "F32 [64, 3, 32, 32]", or "no tensor" when absent.
  public func summary(_ key: String) -> String {
    guard let t = tensors[key] else { return "no tensor '\(key)'" }
    return "\(dtypes[key] ?? "?") \(t.shape)"
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

/// 64-bit FNV-1a (Fowler, Noll & Vo; offset basis 0xcbf29ce484222325, prime 0x100000001b3) of
/// `bytes`: the project's non-cryptographic fingerprint of files and architecture texts.
public func fnv1a64<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
  var h: UInt64 = 0xCBF2_9CE4_8422_2325
  for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
  return h
}

/// ``fnv1a64(_:)`` of a file's bytes as 16 hex digits: a fingerprint that tells two weight or
/// batch files apart in the store (not a cryptographic hash).
/// - Throws: ``SafetensorsError/unreadable(path:reason:)`` when the file cannot be read.
public func fileFingerprint(_ path: String) throws -> String {
  guard let d = FileManager.default.contents(atPath: path) else { throw SafetensorsError.unreadable(path: path, reason: "no such file") }
  return String(fnv1a64(d), radix: 16).leftPadded(to: 16)
}

extension String {
  fileprivate func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
