import ZCTensor

/// Whether a larger proxy value predicts a better architecture.
public enum ProxyDirection: String, Sendable, Codable {
  case higherIsBetter = "higher"
  case lowerIsBetter = "lower"
  /// No declared direction (for example `plain`, a signed diagnostic).
  case unspecified = "-"
}

/// What a proxy needs from the shared per-(network, batch) context, so the engine runs each
/// expensive pass once for all requested proxies.
public struct ProxyRequirements: OptionSet, Sendable, Hashable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// True labels of the batch.
  public static let labels = ProxyRequirements(rawValue: 1 << 0)
  /// One forward pass of the batch (training-mode batch norm).
  public static let forward = ProxyRequirements(rawValue: 1 << 1)
  /// Gradient of the mean cross-entropy w.r.t. the conv/linear weights.
  public static let lossBackward = ProxyRequirements(rawValue: 1 << 2)
  /// Exact Hessian–vector product of the loss (double backward).
  public static let hessian = ProxyRequirements(rawValue: 1 << 3)
  /// Gradient of the summed logits w.r.t. the input images.
  public static let inputJacobian = ProxyRequirements(rawValue: 1 << 4)
  /// A float64 copy of the network.
  public static let float64 = ProxyRequirements(rawValue: 1 << 5)
  /// A second minibatch.
  public static let secondBatch = ProxyRequirements(rawValue: 1 << 6)
  /// ReLU input signs from the forward pass.
  public static let reluCodes = ProxyRequirements(rawValue: 1 << 7)
  /// Conv/linear outputs and their loss gradients (Fisher).
  public static let layerActivations = ProxyRequirements(rawValue: 1 << 8)
  /// A copy of the initial network in evaluation mode (batch norm with its running statistics),
  /// taken before any training-mode pass updates those statistics.
  public static let evaluationMode = ProxyRequirements(rawValue: 1 << 9)

  /// Human-readable names of the set members.
  public var names: [String] {
    let all: [(ProxyRequirements, String)] = [
      (.labels, "labels"), (.forward, "forward"), (.lossBackward, "backward"), (.hessian, "hessian"),
      (.inputJacobian, "input-jacobian"), (.float64, "float64"), (.secondBatch, "second-batch"),
      (.reluCodes, "relu-codes"), (.layerActivations, "activations"), (.evaluationMode, "eval-mode"),
    ]
    return all.filter { contains($0.0) }.map(\.1)
  }
}

/// A proxy's result: a finite number, or missing with the reason (never a silent 0 or NaN).
public enum ProxyValue: Sendable, Equatable, CustomStringConvertible {
  case value(Double)
  case missing(reason: String)

  /// `.value(v)` when v is finite; otherwise `.missing` whose reason starts with the raw value
  /// ("nan", "inf", "-inf") followed by `reason`.
  public static func checked(_ v: Double, ifNotFinite reason: String) -> ProxyValue {
    if v.isFinite { return .value(v) }
    let raw = v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")
    return .missing(reason: "\(raw): \(reason)")
  }

  public var number: Double? {
    if case let .value(v) = self { return v }
    return nil
  }

  public var description: String {
    switch self {
    case let .value(v): return "\(v)"
    case let .missing(r): return "missing (\(r))"
    }
  }
}

/// A zero-cost proxy: a score of an untrained network from one (or two) minibatches.
///
/// Implementations live in `Metrics/`, one file each, and are registered in one list. They read
/// shared passes from the ``ProxyContext`` instead of running their own.
public protocol ZeroCostProxy: Sendable {
  /// Name as in `metric-definitions.md` (for example "grad_norm").
  var name: String { get }
  /// One-line description.
  var summary: String { get }
  var direction: ProxyDirection { get }
  var requirements: ProxyRequirements { get }
  /// Paper and reference implementation the definition follows.
  var source: String { get }
  /// Computes the proxy. Throws only for engine failures (for example LAPACK errors); values that
  /// cannot be computed for this architecture are `.missing` with a reason.
  func compute(in context: ProxyContext) throws -> ProxyValue
}
