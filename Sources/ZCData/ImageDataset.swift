import Foundation
import ZCTensor

/// Image datasets the engine can sample minibatches from.
public enum ImageDatasetKind: String, CaseIterable, Sendable {
  case cifar10
  case cifar100
  case imagenet16 = "imagenet16-120"

  /// Bytes of one record in the binary layout: label byte(s) then R, G, B planes, row-major.
  public var recordBytes: Int {
    switch self {
    case .cifar10: return 1 + 3 * 32 * 32
    case .cifar100: return 2 + 3 * 32 * 32
    case .imagenet16: return 1 + 3 * 16 * 16
    }
  }
  public var imageSize: Int { self == .imagenet16 ? 16 : 32 }
  public var numClasses: Int {
    switch self {
    case .cifar10: return 10
    case .cifar100: return 100
    case .imagenet16: return 120
    }
  }
  /// Per-channel mean and std (R, G, B) of pixel/255, as NAS-Bench-201's training code
  /// (xautodl `get_datasets`): CIFAR-10 [125.3, 123.0, 113.9]/255 and [63.0, 62.1, 66.7]/255;
  /// CIFAR-100 [129.3, 124.1, 112.4]/255 and [68.2, 65.4, 70.4]/255; ImageNet16-120
  /// [122.68, 116.66, 104.01]/255 and [63.22, 61.26, 65.09]/255.
  public var normalisation: (mean: [Double], std: [Double]) {
    switch self {
    case .cifar10: return ([125.3, 123.0, 113.9].map { $0 / 255 }, [63.0, 62.1, 66.7].map { $0 / 255 })
    case .cifar100: return ([129.3, 124.1, 112.4].map { $0 / 255 }, [68.2, 65.4, 70.4].map { $0 / 255 })
    case .imagenet16: return ([122.68, 116.66, 104.01].map { $0 / 255 }, [63.22, 61.26, 65.09].map { $0 / 255 })
    }
  }
  /// What a user must provide for this dataset through `--data`.
  public var formatDescription: String {
    switch self {
    case .cifar10: return "CIFAR-10 binary records of 3073 bytes (1 label byte 0-9, then 1024 R, 1024 G, 1024 B bytes of a 32x32 image)"
    case .cifar100: return "CIFAR-100 binary records of 3074 bytes (coarse label byte, fine label byte 0-99, then 3072 pixel bytes of a 32x32 image)"
    case .imagenet16:
      return "ImageNet16-120 as binary records of 769 bytes (1 label byte 0-119, then 256 R, 256 G, 256 B bytes of a 16x16 image, row-major); convert NAS-Bench-201's ImageNet16 batches to this layout"
    }
  }
}

/// A bad or missing data file: which file, what was expected, what was found.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
  case missingFile(path: String, expected: String)
  case badSize(path: String, bytes: Int, recordBytes: Int, expected: String)
  case badLabel(path: String, record: Int, label: Int, classes: Int)
  case tooFewImages(needed: Int, available: Int, paths: [String])

  public var description: String {
    switch self {
    case let .missingFile(p, e): return "\(p): file not found; expected \(e)"
    case let .badSize(p, b, r, e):
      return "\(p): \(b) bytes is not a positive multiple of the \(r)-byte record; expected \(e) (truncated or wrong format?)"
    case let .badLabel(p, r, l, c): return "\(p): record \(r) has label \(l), expected 0..<\(c) (wrong dataset format?)"
    case let .tooFewImages(n, a, ps): return "a batch of \(n) distinct images needs at least \(n) images, found \(a) in \(ps.joined(separator: ", "))"
    }
  }
}

/// Images and labels read from CIFAR-style binary files, held as raw bytes.
public struct ImageDataset: Sendable {
  public let kind: ImageDatasetKind
  public let paths: [String]
  /// Raw records, concatenated in file order.
  let bytes: [UInt8]
  public let labels: [Int]
  public var count: Int { labels.count }

  /// Reads every record of `paths` (in order).
  /// - Throws: ``DatasetError`` for a missing file, a size that is not a multiple of the record
  ///   size (truncated or wrong format) or a label out of range; ``DatasetManifest/Mismatch`` for
  ///   a shipped file whose SHA-256 differs from its folder's manifest.
  public init(kind: ImageDatasetKind, paths: [String]) throws {
    self.kind = kind
    self.paths = paths
    var all: [UInt8] = []
    var labels: [Int] = []
    let r = kind.recordBytes
    for p in paths {
      guard FileManager.default.fileExists(atPath: p), let d = FileManager.default.contents(atPath: p) else {
        throw DatasetError.missingFile(path: p, expected: kind.formatDescription)
      }
      guard d.count > 0, d.count % r == 0 else {
        throw DatasetError.badSize(path: p, bytes: d.count, recordBytes: r, expected: kind.formatDescription)
      }
      try DatasetManifest.verify(p)
      let n = d.count / r
      let labelOffset = kind == .cifar100 ? 1 : 0
      for i in 0..<n {
        let l = Int(d[i * r + labelOffset])
        guard l < kind.numClasses else { throw DatasetError.badLabel(path: p, record: i, label: l, classes: kind.numClasses) }
        labels.append(l)
      }
      all.append(contentsOf: d)
    }
    bytes = all
    self.labels = labels
  }

  /// Images `indices` as a normalised NCHW batch `[B, 3, S, S]`, x = (byte/255 − mean_c)/std_c
  /// computed in Float64 and rounded to `dtype`, with their labels.
  public func batch(_ indices: [Int], dtype: DType = .float32) -> (images: Tensor, labels: [Int]) {
    let s = kind.imageSize, plane = s * s, r = kind.recordBytes
    let skip = kind == .cifar100 ? 2 : 1
    let (mean, std) = kind.normalisation
    var v = [Double](repeating: 0, count: indices.count * 3 * plane)
    for (b, i) in indices.enumerated() {
      precondition(i >= 0 && i < count, "image index \(i) out of range 0..<\(count)")
      let base = i * r + skip
      for c in 0..<3 {
        for p in 0..<plane {
          v[(b * 3 + c) * plane + p] = (Double(bytes[base + c * plane + p]) / 255 - mean[c]) / std[c]
        }
      }
    }
    return (Tensor(doubles: v, shape: [indices.count, 3, s, s], dtype: dtype), indices.map { labels[$0] })
  }

  /// A minibatch of `size` distinct images drawn with a seeded generator (the same seed gives
  /// the same images on every machine); no image repeats within the batch.
  /// - Throws: ``DatasetError/tooFewImages(needed:available:paths:)`` when size > count.
  public func sampleBatch(size: Int, seed: UInt64, dtype: DType = .float32) throws -> (images: Tensor, labels: [Int], indices: [Int]) {
    guard size <= count else { throw DatasetError.tooFewImages(needed: size, available: count, paths: paths) }
    var rng = ZCRandom(seed: seed ^ 0xB47C_5EED)
    let idx = rng.sampleWithoutReplacement(size, from: count)
    let (x, y) = batch(idx, dtype: dtype)
    return (x, y, idx)
  }
}
