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

/// The kind of model a network is, which decides what a proxy can read from it.
///
/// A proxy declares the kinds it applies to (``ZeroCostProxy/kinds``); a search space declares
/// the one kind its networks are (``SearchSpace/modelKind``), and builds a ``ProxyContext`` of
/// that kind. A new kind (a transformer, a graph network) is a new case here plus a context class.
public enum ModelKind: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
  /// An image classifier: NCHW images `[B, C, H, W]` in, logits `[B, K]` out (NAS-Bench-201).
  case imageClassifier = "image-classifier"
  /// A recurrent language model: tokens `[T, B]` in, hidden states out (NAS-Bench-NLP).
  case recurrentLanguageModel = "recurrent-lm"
  /// A BERT-style transformer encoder: token ids `[B, T]` in, hidden states `[B, T, H]` out (the BERT benchmark).
  case transformer = "transformer"

  public var description: String { rawValue }
}

/// The shared passes of one (network, minibatch) pair, of one ``ModelKind``.
///
/// Concrete contexts are ``ImageProxyContext`` and ``RecurrentProxyContext``. Each pass runs at
/// most once, when the first proxy asks for it. A pass that more than one kind of model offers is
/// a capability protocol (``ActivationCodeSource``, ``SynflowSource``), so a proxy defined on it
/// is written once for every kind.
public protocol ProxyContext: AnyObject {
  /// The kind of model every context of this class wraps.
  static var kind: ModelKind { get }
  /// The kind of model this context wraps (``kind``).
  var modelKind: ModelKind { get }
  /// Samples in the minibatch: B images, or B token sequences.
  var batchSize: Int { get }
  /// What one sample is called in missing-value reasons ("images", "sequences").
  var sampleNoun: String { get }
}

extension ProxyContext {
  public var modelKind: ModelKind { Self.kind }
}

/// A context that yields binary activation codes per sample (NASWOT).
public protocol ActivationCodeSource: ProxyContext {
  /// The NASWOT kernel K `[B, B]` (Float64, exact counts): for each recorded activation a
  /// `[B, U]`, c = (a > 0) per sample, K = Σ c cᵀ + (1 − c)(1 − c)ᵀ (Mellor et al. 2021).
  /// Which activations are recorded is the context's definition (ReLU inputs of an image
  /// classifier; every activation node output of a recurrent cell).
  func activationCodeKernel() -> Tensor
}

/// A context that runs synflow's pass (Tanaka et al. 2020): a Float64 copy of the model with
/// every parameter replaced by |θ|, an all-ones input, R = Σ outputs.
public protocol SynflowSource: ProxyContext {
  /// |W| and ∂R/∂W for every scored weight, aligned.
  func synflowGradients() -> (weights: [Tensor], grads: [Tensor])
}

/// Errors of a proxy that is asked to score a context it cannot read.
public struct ProxyKindError: Error, CustomStringConvertible, Equatable {
  public let proxy: String
  public let kind: ModelKind
  public init(proxy: String, kind: ModelKind) { self.proxy = proxy; self.kind = kind }
  public var description: String { "proxy \(proxy) does not apply to \(kind) models" }
}

/// A zero-cost proxy: a score of an untrained network from one (or two) minibatches.
///
/// Implementations live in `Metrics/`, one file each, and are listed once in the registry
/// (`Metrics/Registry.swift`). They read shared passes from a ``ProxyContext`` instead of running
/// their own. A proxy for one kind of model adopts ``ImageProxy`` or ``RecurrentProxy``; a proxy
/// for several kinds adopts this protocol directly and reads a capability (``ActivationCodeSource``,
/// ``SynflowSource``). Definitions: `docs/metrics.md`.
public protocol ZeroCostProxy: Sendable {
  /// Name as in `docs/metrics.md` (for example "grad_norm"); unique in a registry.
  var name: String { get }
  /// One-line description.
  var summary: String { get }
  var direction: ProxyDirection { get }
  /// The model kinds this proxy is defined for.
  var kinds: Set<ModelKind> { get }
  /// What the proxy needs from an image context's shared passes (ignored by other kinds).
  var requirements: ProxyRequirements { get }
  /// What it holds per sample at its peak (memory estimates); defaulted from ``requirements``.
  var memory: ProxyMemory { get }
  /// Paper and reference implementation the definition follows.
  var source: String { get }
  /// Computes the proxy. Throws only for engine failures (for example LAPACK errors, or
  /// ``ProxyKindError`` for a context of a kind not in ``kinds``); values that cannot be computed
  /// for this architecture are `.missing` with a reason.
  func compute(in context: any ProxyContext) throws -> ProxyValue
}

/// What a proxy holds per sample at its peak, for memory estimates (``MemoryEstimate``): multiples
/// of one sample's recorded forward pass (the tape) and of the parameter bytes (per-sample
/// gradients). Measured, not derived; see `NB201Space.memoryEstimate` for the calibration.
public struct ProxyMemory: Sendable, Equatable {
  /// Forward tapes per sample (1.25 for one forward and backward, 2.75 for a double backward).
  public var tapes: Double
  /// Parameter-sized tensors per sample (the NTK proxies' per-sample gradients).
  public var parameterCopies: Double
  public init(tapes: Double, parameterCopies: Double = 0) { self.tapes = tapes; self.parameterCopies = parameterCopies }
}

extension ZeroCostProxy {
  public var requirements: ProxyRequirements { [] }

  /// Default per-sample memory from the shared passes a proxy reads: a double backward 2.75
  /// tapes, traced layer activations 1.5, any other forward or backward pass 1.25, none 0. A
  /// proxy that runs passes of its own (zen, grad_match, the NTK proxies) declares its own.
  public var memory: ProxyMemory {
    if requirements.contains(.hessian) { return ProxyMemory(tapes: 2.75) }
    if requirements.contains(.layerActivations) { return ProxyMemory(tapes: 1.5) }
    if !requirements.isDisjoint(with: [.forward, .lossBackward, .inputJacobian, .evaluationMode]) { return ProxyMemory(tapes: 1.25) }
    return ProxyMemory(tapes: 0)
  }
  /// Whether this proxy is defined for `kind`.
  public func applies(to kind: ModelKind) -> Bool { kinds.contains(kind) }
}

/// A proxy of one model kind: reads that kind's concrete context (``ImageProxyContext``,
/// ``RecurrentProxyContext``) instead of an `any ProxyContext`.
public protocol SingleKindProxy: ZeroCostProxy {
  associatedtype Context: ProxyContext
  func compute(in context: Context) throws -> ProxyValue
}

extension SingleKindProxy {
  public var kinds: Set<ModelKind> { [Context.kind] }
  public func compute(in context: any ProxyContext) throws -> ProxyValue {
    guard let c = context as? Context else { throw ProxyKindError(proxy: name, kind: context.modelKind) }
    return try compute(in: c)
  }
}

/// A proxy of image classifiers only: reads an ``ImageProxyContext``.
public protocol ImageProxy: SingleKindProxy where Context == ImageProxyContext {}

/// A proxy of recurrent language models only: reads a ``RecurrentProxyContext``.
public protocol RecurrentProxy: SingleKindProxy where Context == RecurrentProxyContext {}

/// A registry entry that cannot be added.
public struct RegistryError: Error, CustomStringConvertible, Equatable {
  public let reason: String
  public init(reason: String) { self.reason = reason }
  public var description: String { reason }
}

/// The one list of proxies: names are unique (a duplicate is a ``RegistryError``), lookups are by
/// name and by model kind. Order is registration order (tables and `zcnas metrics` follow it).
public struct ProxyRegistry: Sendable {
  public private(set) var proxies: [any ZeroCostProxy] = []

  /// - Throws: ``RegistryError`` when two proxies share a name, or a proxy declares no kind.
  public init(_ proxies: [any ZeroCostProxy]) throws {
    for p in proxies { try register(p) }
  }

  /// Adds a proxy. - Throws: ``RegistryError`` for a duplicate name or an empty ``ZeroCostProxy/kinds``.
  public mutating func register(_ p: any ZeroCostProxy) throws {
    guard !p.name.isEmpty else { throw RegistryError(reason: "a proxy has an empty name") }
    if proxies.contains(where: { $0.name == p.name }) {
      throw RegistryError(reason: "proxy '\(p.name)' is registered twice (one proxy serves every model kind it declares)")
    }
    guard !p.kinds.isEmpty else { throw RegistryError(reason: "proxy '\(p.name)' declares no model kind") }
    proxies.append(p)
  }

  /// The proxy with this name, or nil.
  public func named(_ name: String) -> (any ZeroCostProxy)? { proxies.first { $0.name == name } }

  /// The proxies defined for `kind`, in registration order.
  public func applicable(to kind: ModelKind) -> [any ZeroCostProxy] { proxies.filter { $0.applies(to: kind) } }

  /// Position of a name in registration order (for sorting tables), or nil.
  public func position(of name: String) -> Int? { proxies.firstIndex { $0.name == name } }
}
