import Foundation

/// An estimate of the peak memory of scoring one network on one minibatch, made before anything is
/// allocated: a fixed part (weights, their gradients and the copies some proxies make) plus a part
/// linear in the batch size (the activations of the forward/backward passes). It is an estimate,
/// calibrated against measured peak resident memory (each space documents its model and its
/// measurements), meant to refuse configurations that cannot fit, not to predict the last megabyte.
public struct MemoryEstimate: Sendable, Equatable, CustomStringConvertible {
  /// Bytes that do not depend on the batch size (parameters, gradients, copies, the process).
  public var fixedBytes: Double
  /// Bytes per sample of the batch (activations and their gradients).
  public var bytesPerSample: Double
  /// Samples in the batch.
  public var samples: Int

  public init(fixedBytes: Double, bytesPerSample: Double, samples: Int) {
    self.fixedBytes = fixedBytes; self.bytesPerSample = bytesPerSample; self.samples = samples
  }

  /// Activation bytes: ``bytesPerSample`` × ``samples``.
  public var activationBytes: Double { bytesPerSample * Double(samples) }
  /// The whole estimate.
  public var bytes: Double { fixedBytes + activationBytes }

  /// The largest batch that fits in `limit` bytes (0 when the fixed part alone does not fit).
  public func largestBatch(within limit: Double) -> Int {
    guard bytesPerSample > 0 else { return fixedBytes <= limit ? Int.max : 0 }
    return max(0, Int(((limit - fixedBytes) / bytesPerSample).rounded(.down)))
  }

  /// "54.2 GB (parameters and copies 0.1 GB, activations 54.1 GB for 4000 samples)".
  public var description: String {
    "\(MemoryLimit.gigabytes(bytes)) (parameters and copies \(MemoryLimit.gigabytes(fixedBytes)), activations \(MemoryLimit.gigabytes(activationBytes)) for \(samples) samples)"
  }
}

/// The memory a scoring run may use: `--max-memory` (``ScoringSettings/maxMemoryGB``), else the
/// machine's physical memory (or its cgroup limit, when lower).
public enum MemoryLimit {
  /// Physical memory in bytes, or the cgroup (container) memory limit when that is lower.
  public static let physicalBytes: Double = {
    var bytes = Double(ProcessInfo.processInfo.physicalMemory)
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
      if let text = try? String(contentsOfFile: path, encoding: .utf8),
         let limit = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0, limit < bytes {
        bytes = limit
      }
    }
    return bytes
  }()

  /// The limit in bytes for these settings.
  public static func bytes(_ settings: ScoringSettings) -> Double {
    settings.maxMemoryGB.map { $0 * 1e9 } ?? physicalBytes
  }

  /// Where the limit comes from, for messages.
  public static func source(_ settings: ScoringSettings) -> String {
    settings.maxMemoryGB != nil ? "--max-memory" : "this machine's physical memory; --max-memory GB sets another limit"
  }

  /// "12.3 GB" (decimal gigabytes, one decimal; "0.01 GB" precision below 0.1).
  public static func gigabytes(_ bytes: Double) -> String {
    let gb = bytes / 1e9
    return gb >= 0.1 || gb == 0 ? String(format: "%.1f GB", gb) : String(format: "%.2f GB", gb)
  }

  /// Refuses an estimate above the limit.
  /// - Parameters:
  ///   - options: the command-line settings the estimate depends on ("--batch-size 4000").
  ///   - what: what would be scored ("architecture 1462", "the lightest architecture").
  ///   - batchOption: the option that sets the batch size, for the hint (nil: no batch hint).
  /// - Throws: ``SpaceError``: "<options>: scoring <what> needs an estimated X GB (…), above the
  ///   limit of Y GB (<source>); at most --batch-size N fits".
  public static func check(_ e: MemoryEstimate, options: String, what: String, settings: ScoringSettings, batchOption: String? = "--batch-size") throws {
    let limit = bytes(settings)
    guard e.bytes > limit else { return }
    var hint = ""
    if let batchOption {
      let fit = e.largestBatch(within: limit)
      hint = fit >= 1 ? "; at most \(batchOption) \(fit) fits" : "; the parameters and their copies alone exceed it"
    }
    throw SpaceError("\(options): scoring \(what) needs an estimated \(e), above the limit of \(gigabytes(limit)) (\(source(settings)))\(hint)")
  }
}
