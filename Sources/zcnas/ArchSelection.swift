import Foundation
import ZCTensor

/// The --archs grammar shared by every space: `all`; `sample:N` or `sample:N:SEED` (N distinct
/// positions drawn with SEED, default the run seed, returned in position order); a file with one
/// token per line (`#` starts a comment line); or comma-separated tokens.
enum ArchSelection {
  /// - Parameters:
  ///   - count: how many entries the space's table has (positions 0..<count).
  ///   - noun: what one entry is called in error messages ("architecture", "recipe id").
  ///   - byPosition: the entry at a table position (for `all` and `sample:`).
  ///   - byToken: the entry a token of a file or list names.
  /// - Throws: ``CLIError`` naming --archs and what was found, for a malformed sample, an empty
  ///   file or list, or an unreadable file; errors thrown by `byPosition`/`byToken` pass through
  ///   unchanged (so they should name --archs themselves).
  static func resolve<T>(_ spec: String, count: Int, seed: Int, noun: String,
                         byPosition: (Int) throws -> T, byToken: (String) throws -> T) throws -> [T] {
    if spec == "all" { return try (0..<count).map(byPosition) }
    if spec.hasPrefix("sample:") {
      let parts = spec.dropFirst(7).split(separator: ":")
      guard let n = parts.first.flatMap({ Int($0) }), n >= 1, n <= count, parts.count <= 2 else {
        throw CLIError("--archs: expected sample:N or sample:N:SEED with 1 <= N <= \(count), found '\(spec)'")
      }
      var s = seed
      if parts.count == 2 {
        guard let v = Int(parts[1]) else { throw CLIError("--archs: sample seed '\(parts[1])' is not an integer") }
        s = v
      }
      var rng = ZCRandom(seed: UInt64(bitPattern: Int64(s)))
      return try rng.sampleWithoutReplacement(n, from: count).sorted().map(byPosition)
    }
    if FileManager.default.fileExists(atPath: spec) {
      guard let text = try? String(contentsOfFile: spec, encoding: .utf8) else { throw CLIError("--archs: cannot read file \(spec)") }
      let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
      guard !lines.isEmpty else { throw CLIError("--archs: file \(spec) has no \(noun)s") }
      return try lines.map(byToken)
    }
    // A path-like spec (a folder part, or a file extension, and no arch-string bars) that is not a file.
    let last = spec.split(separator: "/").last.map(String.init) ?? spec
    if !spec.contains("|") && !spec.contains(",") && (spec.contains("/") || last.range(of: #"\.[A-Za-z][A-Za-z0-9]*$"#, options: .regularExpression) != nil) {
      throw CLIError("--archs: no such file '\(spec)' (expected all, sample:N[:SEED], a file, or comma-separated \(noun)s)")
    }
    let tokens = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !tokens.isEmpty else { throw CLIError("--archs: no \(noun) given") }
    return try tokens.map(byToken)
  }
}
