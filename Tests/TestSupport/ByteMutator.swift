import Foundation
import ZCTensor

/// Seeded byte-level mutations for fuzz-style reader tests: byte flips, truncations, insertions
/// and overwrites with boundary values, biased towards a `focus` range (for example a file's
/// header, where a reader makes its decisions). The same seed gives the same copies.
public struct ByteMutator {
  private var generator: SplitMix64

  public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

  /// The next 64 random bits (the engine's SplitMix64).
  public mutating func next() -> UInt64 { generator.next() }

  /// A uniform integer in `range` (non-empty).
  public mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

  /// What a mutation did, for failure messages.
  public enum Kind: String, CaseIterable { case flip, truncate, insert, overwrite, splice }

  /// One mutated copy of `bytes`: 1 to 3 mutations, 3 in 4 of them inside `focus` (when given).
  public mutating func mutate(_ bytes: [UInt8], focus: Range<Int>? = nil) -> (bytes: [UInt8], kinds: [Kind]) {
    var out = bytes
    var kinds: [Kind] = []
    for _ in 0..<int(1..<4) {
      guard !out.isEmpty else { break }
      func position() -> Int {
        if let f = focus, !f.isEmpty, f.upperBound <= out.count, int(0..<4) != 0 { return int(f) }
        return int(0..<out.count)
      }
      let kind = Kind.allCases[int(0..<Kind.allCases.count)]
      kinds.append(kind)
      switch kind {
      case .flip:
        for _ in 0..<int(1..<9) { let i = position(); out[i] ^= UInt8(truncatingIfNeeded: 1 << int(0..<8)) }
      case .truncate:
        out.removeSubrange(position()...)
      case .insert:
        let i = position()
        out.insert(contentsOf: (0..<int(1..<17)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: i)
      case .overwrite:
        // Boundary values where numbers and lengths live.
        let values: [[UInt8]] = [[0], [0xFF], [0x80], [0x7F], Array("-1".utf8), Array("1e300".utf8), Array("9223372036854775807".utf8),
                                 Array("null".utf8), Array("\"x\"".utf8), Array("[]".utf8), Array("{}".utf8), [0, 0, 0, 0, 0, 0, 0, 0x80]]
        let v = values[int(0..<values.count)]
        let i = position()
        for (k, b) in v.enumerated() where i + k < out.count { out[i + k] = b }
      case .splice:
        // A copy of one range of the file over another.
        let a = int(0..<out.count), n = int(1..<min(64, out.count - a) + 1), b = position()
        let piece = Array(out[a..<(a + n)])
        for (k, x) in piece.enumerated() where b + k < out.count { out[b + k] = x }
      }
    }
    return (out, kinds)
  }
}
