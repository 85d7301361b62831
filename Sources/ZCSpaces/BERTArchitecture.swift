import Foundation
import ZCData

/// A bad BERT-benchmark architecture text: what was expected and what was found.
public struct BERTArchitectureError: Error, CustomStringConvertible, Equatable {
  public let reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { reason }
}

/// One encoder layer of the FlexiBERT/ELECTRA search space of Serianni & Kalita (2023)
/// (`search_space.json`, `nas_config.encoder_layers[i]` of `data/BERT_benchmark.json`).
public struct BERTLayerSpec: Sendable, Equatable, Hashable {
  /// The layer's token-mixing operation (`operation_type` and `operation_parameter`).
  public enum Operation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// SA-SDP: scaled dot-product self-attention.
    case sdp
    /// SA-WMA: weighted multiplicative attention (an extra bias-free query projection).
    case wma
    /// LT-DFT: real part of the 2-D DFT of each head.
    case dft
    /// LT-DCT: 2-D DCT-II of each head.
    case dct
    /// DSC: ConvBERT's span-based dynamic convolution with kernel 5 or 9, half attention heads.
    case dsc(kernel: Int)

    public var type: String {
      switch self {
      case .sdp, .wma: return "SA"
      case .dft, .dct: return "LT"
      case .dsc: return "DSC"
      }
    }
    public var description: String {
      switch self {
      case .sdp: return "SA-SDP"
      case .wma: return "SA-WMA"
      case .dft: return "LT-DFT"
      case .dct: return "LT-DCT"
      case let .dsc(k): return "DSC-\(k)"
      }
    }
  }

  public var operation: Operation
  /// `num_operation_heads`: 2 or 4.
  public var heads: Int
  /// `feed_forward_dimension`: 512 or 1024 (used in benchmark-size mode only).
  public var feedForwardDimension: Int
  /// `num_feed_forward`: 1 or 3 dense layers in the FFN stack.
  public var feedForwardCount: Int

  public init(operation: Operation, heads: Int, feedForwardDimension: Int, feedForwardCount: Int) {
    self.operation = operation; self.heads = heads; self.feedForwardDimension = feedForwardDimension; self.feedForwardCount = feedForwardCount
  }

  /// The layer as canonical compact JSON, keys sorted (the benchmark CSV's `encoder_layers` form).
  public var canonicalJSON: String {
    let p: String
    switch operation {
    case .sdp: p = "\"SDP\""
    case .wma: p = "\"WMA\""
    case .dft: p = "\"DFT\""
    case .dct: p = "\"DCT\""
    case let .dsc(k): p = "\(k)"
    }
    return "{\"feed_forward_dimension\":\(feedForwardDimension),\"num_feed_forward\":\(feedForwardCount),\"num_operation_heads\":\(heads),\"operation_parameter\":\(p),\"operation_type\":\"\(operation.type)\"}"
  }

  /// Parses one layer object. - Throws: ``BERTArchitectureError`` naming the field.
  public init(json v: JSONValue, index: Int) throws {
    guard let o = v.objectValue else { throw BERTArchitectureError("encoder_layers[\(index)]: expected an object, found \(v.kind)") }
    let known: Set<String> = ["operation_type", "operation_parameter", "num_operation_heads", "feed_forward_dimension", "num_feed_forward"]
    if let extra = o.keys.sorted().first(where: { !known.contains($0) }) {
      throw BERTArchitectureError("encoder_layers[\(index)]: unknown field '\(extra)'; expected \(known.sorted().joined(separator: ", "))")
    }
    func int(_ k: String, _ allowed: [Int]) throws -> Int {
      guard let x = o[k]?.intValue else { throw BERTArchitectureError("encoder_layers[\(index)].\(k): expected an integer in \(allowed), found \(o[k].map { "\($0)" } ?? "nothing")") }
      guard allowed.contains(x) else { throw BERTArchitectureError("encoder_layers[\(index)].\(k): expected one of \(allowed), found \(x)") }
      return x
    }
    guard let type = o["operation_type"]?.stringValue else { throw BERTArchitectureError("encoder_layers[\(index)].operation_type: expected SA, LT or DSC") }
    let param = o["operation_parameter"]
    switch (type, param?.stringValue, param?.intValue) {
    case ("SA", "SDP"?, _): operation = .sdp
    case ("SA", "WMA"?, _): operation = .wma
    case ("LT", "DFT"?, _): operation = .dft
    case ("LT", "DCT"?, _): operation = .dct
    case ("DSC", _, let k?) where k == 5 || k == 9: operation = .dsc(kernel: k)
    default:
      throw BERTArchitectureError("encoder_layers[\(index)]: expected operation SA (SDP, WMA), LT (DFT, DCT) or DSC (5, 9), found \(type) \(param.map { "\($0)" } ?? "without a parameter")")
    }
    heads = try int("num_operation_heads", [2, 4])
    feedForwardDimension = try int("feed_forward_dimension", [512, 1024])
    feedForwardCount = try int("num_feed_forward", [1, 3])
  }
}

/// An architecture of the BERT benchmark of Serianni & Kalita (ACL 2023): the benchmark's
/// `hidden_size` (128 or 256) and its 2 or 4 encoder layers.
public struct BERTArchitecture: Sendable, Equatable, Hashable, CustomStringConvertible {
  public var hiddenSize: Int
  public var layers: [BERTLayerSpec]

  public init(hiddenSize: Int, layers: [BERTLayerSpec]) { self.hiddenSize = hiddenSize; self.layers = layers }

  /// The `encoder_layers` list as canonical compact JSON (keys sorted, as the benchmark CSV).
  public var layersJSON: String { "[" + layers.map(\.canonicalJSON).joined(separator: ",") + "]" }

  /// `{"encoder_layers":[...],"hidden_size":H}`, compact, keys sorted: the stored `arch` text.
  public var canonicalJSON: String { "{\"encoder_layers\":\(layersJSON),\"hidden_size\":\(hiddenSize)}" }

  public var description: String { "h\(hiddenSize) " + layers.map { "\($0.operation)/h\($0.heads)/ff\($0.feedForwardCount)x\($0.feedForwardDimension)" }.joined(separator: " ") }

  /// Parses `layers` (a JSON list of layer objects) with a hidden size.
  /// - Throws: ``BERTArchitectureError`` naming the field.
  public init(hiddenSize: Int, layersJSON text: String) throws {
    guard [128, 256].contains(hiddenSize) else { throw BERTArchitectureError("hidden_size: expected 128 or 256, found \(hiddenSize)") }
    let v: JSONValue
    do { v = try JSONValue.parse(Data(text.utf8)) } catch { throw BERTArchitectureError("encoder_layers: not JSON (\(error))") }
    try self.init(hiddenSize: hiddenSize, layersValue: v)
  }

  /// Parses a decoded `encoder_layers` list. - Throws: ``BERTArchitectureError`` naming the field.
  public init(hiddenSize: Int, layersValue v: JSONValue) throws {
    guard let list = v.arrayValue, !list.isEmpty, list.count <= 16 else {
      throw BERTArchitectureError("encoder_layers: expected a list of 1 to 16 layer objects, found \(v.kind)")
    }
    self.hiddenSize = hiddenSize
    layers = try list.enumerated().map { try BERTLayerSpec(json: $1, index: $0) }
  }

  /// Parses the canonical text `{"encoder_layers":[...],"hidden_size":H}`.
  /// - Throws: ``BERTArchitectureError`` naming the field.
  public init(json text: String) throws {
    let v: JSONValue
    do { v = try JSONValue.parse(Data(text.utf8)) } catch { throw BERTArchitectureError("expected an architecture as JSON {\"encoder_layers\": [...], \"hidden_size\": 128 or 256}, found text that is not JSON") }
    guard let o = v.objectValue, let layers = o["encoder_layers"], let h = o["hidden_size"]?.intValue else {
      throw BERTArchitectureError("expected an architecture as JSON {\"encoder_layers\": [...], \"hidden_size\": 128 or 256}, found \(v.kind) without those keys")
    }
    guard [128, 256].contains(h) else { throw BERTArchitectureError("hidden_size: expected 128 or 256, found \(h)") }
    try self.init(hiddenSize: h, layersValue: layers)
  }
}
