import Foundation

/// A JSON value decoded with its exact type: an integer stays an integer (`16`, not `16.5` or
/// `"16"`), `true` is not 1, and a value that does not fit an `Int` is a ``number(_:)``. Used where
/// a reader checks each field itself, to say what it expected and what it found.
public enum JSONValue: Decodable, Sendable, Equatable, CustomStringConvertible {
  case null
  case bool(Bool)
  case integer(Int)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let b = try? c.decode(Bool.self) { self = .bool(b) }
    else if let i = try? c.decode(Int.self) { self = .integer(i) }
    else if let d = try? c.decode(Double.self) { self = .number(d) }
    else if let s = try? c.decode(String.self) { self = .string(s) }
    else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
    else { self = .object(try c.decode([String: JSONValue].self)) }
  }

  /// Decodes a whole document. - Throws: a one-line reason (``JSONValue/reason(_:)``) when the
  /// bytes are not JSON.
  public static func parse(_ data: Data) throws -> JSONValue {
    do { return try JSONDecoder().decode(JSONValue.self, from: data) } catch { throw JSONReadError(reason: reason(error)) }
  }

  /// What kind of value this is, for messages ("a string", "a list", ...).
  public var kind: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .integer: return "an integer"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "a list"
    case .object: return "an object"
    }
  }

  /// Compact JSON-like text, cut at 60 characters.
  public var description: String {
    let full: String
    switch self {
    case .null: full = "null"
    case let .bool(b): full = "\(b)"
    case let .integer(i): full = "\(i)"
    case let .number(d): full = "\(d)"
    case let .string(s): full = "\"\(s)\""
    case let .array(a): full = "[" + a.prefix(16).map(\.description).joined(separator: ", ") + (a.count > 16 ? ", ..." : "") + "]"
    case let .object(o): full = "{" + o.keys.sorted().prefix(8).map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + (o.count > 8 ? ", ..." : "") + "}"
    }
    return full.count > 60 ? String(full.prefix(57)) + "..." : full
  }

  public var intValue: Int? { if case let .integer(i) = self { return i }; return nil }
  public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
  public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
  public var objectValue: [String: JSONValue]? { if case let .object(o) = self { return o }; return nil }

  /// One line describing a decoding error: where (`a.b[2]`), what was expected and what was
  /// found, without the multi-line dump of `DecodingError`'s own description.
  public static func reason(_ error: Error) -> String {
    func at(_ path: [CodingKey]) -> String {
      var out = ""
      for k in path {
        if let i = k.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + k.stringValue }
      }
      return out
    }
    func clean(_ s: String) -> String { s.split(whereSeparator: \.isNewline).joined(separator: " ") }
    func field(_ path: [CodingKey]) -> String { let f = at(path); return f.isEmpty ? "the document" : "'\(f)'" }
    /// "found a list" from "Expected to decode X but found an array instead."
    func found(_ debug: String) -> String {
      guard let r = debug.range(of: "but found "), let end = debug.range(of: " instead", range: r.upperBound..<debug.endIndex) else { return clean(debug) }
      let what = String(debug[r.upperBound..<end.lowerBound])
      let names = ["an array": "a list", "a dictionary": "an object", "bool": "a boolean", "a bool": "a boolean", "number": "a number", "null value": "null"]
      return "found " + (names[what] ?? what)
    }
    guard let e = error as? DecodingError else { return clean("\(error)") }
    switch e {
    case let .typeMismatch(type, ctx):
      // Our own leaf types (exact integers, reference numbers) say "expected ..., found ..." themselves.
      if ctx.debugDescription.hasPrefix("expected ") { return "\(field(ctx.codingPath)): \(ctx.debugDescription)" }
      return "\(field(ctx.codingPath)): expected \(typeName(type)), \(found(ctx.debugDescription))"
    case let .valueNotFound(type, ctx):
      return "\(field(ctx.codingPath)): expected \(typeName(type)), found null"
    case let .keyNotFound(key, ctx):
      return "missing field '\(at(ctx.codingPath + [key]))'"
    case let .dataCorrupted(ctx):
      let detail = ctx.underlyingError.map { clean("\($0)") } ?? ""
      let base = (ctx.codingPath.isEmpty ? "" : "\(field(ctx.codingPath)): ") + clean(ctx.debugDescription)
      return detail.isEmpty || base.contains(detail) ? base : base + " (" + String(detail.prefix(160)) + ")"
    @unknown default:
      return clean("\(e)")
    }
  }

  static func typeName(_ t: Any.Type) -> String {
    switch t {
    case is Int.Type: return "an integer"
    case is Double.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "a boolean"
    case is JSONValue.Type: return "a value"
    default:
      let n = String(describing: t)
      if n.hasPrefix("Array") { return "a list" }
      if n.hasPrefix("Dictionary") { return "an object" }
      return n
    }
  }
}

/// Bytes that are not a JSON document: the parser's reason, one line.
public struct JSONReadError: Error, CustomStringConvertible {
  public let reason: String
  public var description: String { reason }
}
