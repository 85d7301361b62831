import Foundation
import SwiftProtobuf
import ZCData
import ZCTensor

/// A user-facing error about an ONNX file: one line naming the file (and the node, when there is
/// one) and what is wrong. Control characters (a newline inside a node or tensor name read from
/// the file) are written as escapes (`\n`, `\u{1B}`), so the message stays one line.
public struct ONNXError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ message: String) {
    description = message.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
      ? message.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: false) : String($0) }.joined()
      : message
  }
}

/// The data of an ONNX tensor (an initializer or a `Constant`): the same value type as a tensor
/// read from safetensors (``StoredTensor``): floating-point elements as a ``Tensor`` (float32 stays
/// float32, float64 stays float64, float16 is refused), integers and booleans as `[Int]` (row-major).
public typealias ONNXTensorValue = StoredTensor

/// One attribute of a node (ONNX `AttributeProto`); graph-valued attributes are `.unsupported`.
public enum ONNXAttribute: Sendable {
  case float(Double)
  case int(Int)
  case string(String)
  case tensor(ONNXTensorValue)
  case floats([Double])
  case ints([Int])
  case strings([String])
  /// A kind this reader does not read (graphs, sparse tensors, type protos), with its AttributeType.
  case unsupported(Int32)
}

/// One node of an ONNX graph.
public struct ONNXNode: Sendable {
  /// The node's name; when the file gives none, "#k" for the k-th node in file order.
  public let name: String
  public let opType: String
  /// "" for the default domain (ai.onnx).
  public let domain: String
  /// Input value names ("" for an omitted optional input).
  public let inputs: [String]
  public let outputs: [String]
  public let attributes: [String: ONNXAttribute]

  /// `name (OpType)` for messages.
  public var label: String { "'\(name)' (\(opType))" }

  public func int(_ key: String) -> Int? { if case let .int(v)? = attributes[key] { return v } else { return nil } }
  public func int(_ key: String, default d: Int) -> Int { int(key) ?? d }
  public func float(_ key: String, default d: Double) -> Double {
    switch attributes[key] {
    case let .float(v)?: return v
    case let .int(v)?: return Double(v)
    default: return d
    }
  }
  public func ints(_ key: String) -> [Int]? { if case let .ints(v)? = attributes[key] { return v } else { return nil } }
  public func string(_ key: String) -> String? { if case let .string(v)? = attributes[key] { return v } else { return nil } }
  /// The input at `k`, nil when absent or "".
  public func input(_ k: Int) -> String? { k < inputs.count && !inputs[k].isEmpty ? inputs[k] : nil }
}

/// A graph input or output: its name, element type (TensorProto.DataType) and dimensions (nil
/// where symbolic, such as a dynamic batch; `dims` nil when the file gives no shape).
public struct ONNXValueInfo: Sendable {
  public let name: String
  public let elementType: Int32
  public let dims: [Int?]?
}

/// An ONNX model read from a file (ModelProto → graph): nodes in a topological order, initializers by
/// name (and in file order), the graph's non-initializer inputs and its outputs, and the opset of the
/// default domain. Only what a graph network needs is kept; the structural checks (decodable
/// protobuf, an IR version and a graph, tensors whose data fit their dims, every node input produced
/// by an input, an initializer or a node, no value produced twice, no cycle) run here, so every
/// later stage sees a well-formed graph.
///
/// Source: the ONNX IR specification (github.com/onnx/onnx, docs/IR.md and onnx/onnx.proto).
public struct ONNXGraph: Sendable {
  /// The file name used in messages.
  public let fileName: String
  public let irVersion: Int
  /// Version of the default-domain (ai.onnx) operator set.
  public let opset: Int
  public let producer: String
  /// Nodes in a topological order (file order where the file's order is already one).
  public let nodes: [ONNXNode]
  public let initializers: [String: ONNXTensorValue]
  /// Initializer names in file order (the PyTorch exporter writes them in `state_dict` order).
  public let initializerOrder: [String]
  /// Graph inputs that are not initializers (the network's data inputs).
  public let inputs: [ONNXValueInfo]
  public let outputs: [ONNXValueInfo]

  /// Reads and checks an ONNX file.
  /// - Throws: ``ONNXError`` naming the file: unreadable, empty, not decodable as an ONNX ModelProto,
  ///   no graph, a tensor whose data does not match its dims or has an unsupported type, a node that
  ///   reads a value nothing produces (a missing initializer), a value produced twice, a cycle.
  public init(contentsOf path: String) throws {
    let name = URL(fileURLWithPath: path).lastPathComponent
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw ONNXError("\(path): cannot read the file (\(error.localizedDescription))")
    }
    try self.init(data: data, fileName: name)
  }

  /// Reads and checks ONNX bytes; `fileName` is used in messages. - Throws: as ``init(contentsOf:)``.
  public init(data: Data, fileName: String) throws {
    self.fileName = fileName
    guard !data.isEmpty else { throw ONNXError("\(fileName): the file is empty, expected an ONNX model") }
    var options = BinaryDecodingOptions()
    options.messageDepthLimit = 64
    let model: ONNXProtoModel
    do { model = try ONNXProtoModel(serializedBytes: data, options: options) } catch {
      throw ONNXError("\(fileName): not an ONNX model (protobuf decoding failed: \(error))")
    }
    guard model.irVersion > 0 else { throw ONNXError("\(fileName): not an ONNX model (no ir_version)") }
    guard model.irVersion <= 1000 else { throw ONNXError("\(fileName): not an ONNX model (ir_version \(model.irVersion))") }
    guard let g = model.graph else { throw ONNXError("\(fileName): not an ONNX model (no graph)") }
    irVersion = Int(model.irVersion)
    producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
    guard let op = model.opsetImport.first(where: { $0.domain == "" || $0.domain == "ai.onnx" }) else {
      throw ONNXError("\(fileName): the model imports no default-domain (ai.onnx) operator set")
    }
    guard op.version >= 1 && op.version <= 1000 else { throw ONNXError("\(fileName): ai.onnx opset version \(op.version) is not valid") }
    opset = Int(op.version)
    guard g.sparseInitializerCount == 0 else { throw ONNXError("\(fileName): sparse initializers are not supported") }

    var inits: [String: ONNXTensorValue] = [:]
    var order: [String] = []
    for t in g.initializer {
      guard !t.name.isEmpty else { throw ONNXError("\(fileName): an initializer has no name") }
      guard inits[t.name] == nil else { throw ONNXError("\(fileName): initializer '\(t.name)' appears twice") }
      inits[t.name] = try Self.tensorValue(t, fileName: fileName, what: "initializer '\(t.name)'")
      order.append(t.name)
    }
    initializers = inits
    initializerOrder = order

    func info(_ v: ONNXProtoValueInfo) -> ONNXValueInfo {
      let tt = v.type?.tensorType
      let dims = tt?.shape.map { s in s.dim.map { d -> Int? in d.dimValue.flatMap { $0 >= 0 && $0 < Int64(Int32.max) ? Int($0) : nil } } }
      return ONNXValueInfo(name: v.name, elementType: tt?.elemType ?? 0, dims: dims)
    }
    inputs = g.input.filter { inits[$0.name] == nil }.map(info)
    outputs = g.output.map(info)
    guard !outputs.isEmpty else { throw ONNXError("\(fileName): the graph has no output") }

    // Nodes, then a topological order (Kahn's algorithm, stable in file order).
    var parsed: [ONNXNode] = []
    for (k, n) in g.node.enumerated() {
      var attrs: [String: ONNXAttribute] = [:]
      let nodeName = n.name.isEmpty ? "#\(k)" : n.name
      for a in n.attribute {
        attrs[a.name] = try Self.attribute(a, fileName: fileName, node: "'\(nodeName)' (\(n.opType))")
      }
      parsed.append(ONNXNode(name: nodeName, opType: n.opType, domain: n.domain == "ai.onnx" ? "" : n.domain,
                             inputs: n.input, outputs: n.output, attributes: attrs))
    }
    var producerOf: [String: Int] = [:]
    let available = Set(inputs.map(\.name)).union(inits.keys)
    for (k, n) in parsed.enumerated() {
      for o in n.outputs where !o.isEmpty {
        if available.contains(o) { throw ONNXError("\(fileName): node \(n.label) writes '\(o)', which is a graph input or initializer") }
        if let other = producerOf[o] { throw ONNXError("\(fileName): '\(o)' is produced by both node \(parsed[other].label) and node \(n.label)") }
        producerOf[o] = k
      }
    }
    var indegree = [Int](repeating: 0, count: parsed.count)
    var users = [[Int]](repeating: [], count: parsed.count)
    for (k, n) in parsed.enumerated() {
      for i in n.inputs where !i.isEmpty {
        if let p = producerOf[i] { indegree[k] += 1; users[p].append(k) } else if !available.contains(i) {
          throw ONNXError("\(fileName): node \(n.label) reads '\(i)', which no node, graph input or initializer produces (a missing initializer?)")
        }
      }
    }
    var ready = (0..<parsed.count).filter { indegree[$0] == 0 }.reversed() as [Int]
    var sorted: [ONNXNode] = []
    while let k = ready.popLast() {
      sorted.append(parsed[k])
      var released: [Int] = []
      for u in users[k] { indegree[u] -= 1; if indegree[u] == 0 { released.append(u) } }
      ready.append(contentsOf: released.sorted().reversed())
      ready.sort(by: >)
    }
    if sorted.count < parsed.count, let k = indegree.firstIndex(where: { $0 > 0 }) {
      throw ONNXError("\(fileName): the graph has a cycle (node \(parsed[k].label) depends on its own output)")
    }
    nodes = sorted
    for o in outputs where producerOf[o.name] == nil && !available.contains(o.name) {
      throw ONNXError("\(fileName): graph output '\(o.name)' is produced by no node")
    }
  }

  /// Counts of each op type, sorted by name.
  public var opCounts: [(op: String, count: Int)] {
    var c: [String: Int] = [:]
    for n in nodes { c[n.domain.isEmpty ? n.opType : n.domain + "." + n.opType, default: 0] += 1 }
    return c.keys.sorted().map { ($0, c[$0]!) }
  }

  // MARK: decoding helpers

  /// A float32 attribute as the shortest decimal that rounds to the same float32 (Swift's
  /// `description`), read as a Double: the value the exporter was given (PyTorch's batch-norm eps
  /// 1e-5 is stored as the float32 9.99999974e-06 and read back as 1e-5).
  static func decimal(_ f: Float) -> Double { f.isFinite ? Double(f.description) ?? Double(f) : Double(f) }

  static func attribute(_ a: ONNXProtoAttribute, fileName: String, node: String) throws -> ONNXAttribute {
    func str(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }
    switch a.type {
    case 1: return .float(decimal(a.f))
    case 2: return .int(try checkedInt(a.i, fileName: fileName, what: "attribute '\(a.name)' of node \(node)"))
    case 3: return .string(str(a.s))
    case 4:
      guard let t = a.t else { throw ONNXError("\(fileName): attribute '\(a.name)' of node \(node) is a tensor with no value") }
      return .tensor(try tensorValue(t, fileName: fileName, what: "attribute '\(a.name)' of node \(node)"))
    case 6: return .floats(a.floats.map(decimal))
    case 7: return .ints(try a.ints.map { try checkedInt($0, fileName: fileName, what: "attribute '\(a.name)' of node \(node)") })
    case 8: return .strings(a.strings.map(str))
    case 0:
      // IR < 3 files may omit the type: infer it from the field that is set.
      if a.t != nil { return try attribute(with(a, type: 4), fileName: fileName, node: node) }
      if !a.ints.isEmpty { return try attribute(with(a, type: 7), fileName: fileName, node: node) }
      if !a.floats.isEmpty { return .floats(a.floats.map(decimal)) }
      if !a.s.isEmpty { return .string(str(a.s)) }
      if a.i != 0 { return .int(try checkedInt(a.i, fileName: fileName, what: "attribute '\(a.name)' of node \(node)")) }
      return .float(decimal(a.f))
    default: return .unsupported(a.type)
    }
  }

  private static func with(_ a: ONNXProtoAttribute, type: Int32) -> ONNXProtoAttribute { var b = a; b.type = type; return b }

  static func checkedInt(_ v: Int64, fileName: String, what: String) throws -> Int {
    // Every integer is used as a size, axis or index; |v| < 2^53 keeps arithmetic on them exact and
    // far from overflow (INT64_MAX/MIN, the "to the end" markers of Slice, are clamped there).
    if v == Int64.max || v == Int64.min { return Int(v) }
    guard Swift.abs(v) < (1 << 53) else { throw ONNXError("\(fileName): \(what) holds the integer \(v), outside ±2^53") }
    return Int(v)
  }

  /// The value of a TensorProto. - Throws: ``ONNXError`` for external data, an unsupported type,
  /// negative or huge dims, or data of the wrong length.
  static func tensorValue(_ t: ONNXProtoTensor, fileName: String, what: String) throws -> ONNXTensorValue {
    guard t.dataLocation == 0 else { throw ONNXError("\(fileName): \(what) keeps its data in an external file, which is not supported") }
    var count = 1
    var shape: [Int] = []
    for d in t.dims {
      guard d >= 0 && d <= Int64(Int32.max) else { throw ONNXError("\(fileName): \(what) has dimension \(d)") }
      let (p, o) = count.multipliedReportingOverflow(by: Int(d))
      guard !o && p <= 1 << 31 else { throw ONNXError("\(fileName): \(what) has dims \(t.dims), too many elements") }
      count = p
      shape.append(Int(d))
    }
    let raw = t.rawData
    func elementSize(_ s: Int) throws {
      guard raw.count == count * s else { throw ONNXError("\(fileName): \(what) has \(raw.count) bytes of data for dims \(shape) (expected \(count * s))") }
    }
    func rawValues<T>(_: T.Type) -> [T] {
      raw.withUnsafeBytes { buf in (0..<count).map { buf.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) } }
    }
    func checkCount(_ n: Int) throws {
      guard n == count else { throw ONNXError("\(fileName): \(what) has \(n) values for dims \(shape) (expected \(count))") }
    }
    switch t.dataType {
    case 1:  // FLOAT
      if !raw.isEmpty { try elementSize(4); return .float(Tensor(rawValues(UInt32.self).map { Float(bitPattern: UInt32(littleEndian: $0)) }, shape: shape)) }
      try checkCount(t.floatData.count)
      return .float(Tensor(t.floatData, shape: shape))
    case 11:  // DOUBLE
      if !raw.isEmpty { try elementSize(8); return .float(Tensor(rawValues(UInt64.self).map { Double(bitPattern: UInt64(littleEndian: $0)) }, shape: shape)) }
      try checkCount(t.doubleData.count)
      return .float(Tensor(t.doubleData, shape: shape))
    case 7:  // INT64
      let v: [Int64]
      if !raw.isEmpty { try elementSize(8); v = rawValues(UInt64.self).map { Int64(bitPattern: UInt64(littleEndian: $0)) } } else { try checkCount(t.int64Data.count); v = t.int64Data }
      return .int(try v.map { try checkedInt($0, fileName: fileName, what: what) }, shape: shape)
    case 6, 5, 3, 4, 2, 9:  // INT32, INT16, INT8, UINT16, UINT8, BOOL (int32_data holds them all)
      let size = [6: 4, 5: 2, 3: 1, 4: 2, 2: 1, 9: 1][t.dataType]!
      if !raw.isEmpty {
        try elementSize(size)
        let v: [Int] = raw.withUnsafeBytes { buf in
          (0..<count).map { k -> Int in
            switch t.dataType {
            case 6: return Int(Int32(littleEndian: buf.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
            case 5: return Int(Int16(littleEndian: buf.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
            case 4: return Int(UInt16(littleEndian: buf.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
            case 3: return Int(buf.load(fromByteOffset: k, as: Int8.self))
            default: return Int(buf.load(fromByteOffset: k, as: UInt8.self))
            }
          }
        }
        return .int(t.dataType == 9 ? v.map { $0 != 0 ? 1 : 0 } : v, shape: shape)
      }
      try checkCount(t.int32Data.count)
      return .int(t.int32Data.map { t.dataType == 9 ? ($0 != 0 ? 1 : 0) : Int($0) }, shape: shape)
    default:
      let names: [Int32: String] = [0: "UNDEFINED", 8: "STRING", 10: "FLOAT16", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16"]
      throw ONNXError("\(fileName): \(what) has element type \(names[t.dataType] ?? String(t.dataType)), which is not supported (float, double and integer types are)")
    }
  }
}
