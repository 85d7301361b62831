import Foundation
import TestSupport
import XCTest

/// Malformed files given to `zcnas`: every one is a one-line error naming the option and the file,
/// with what was expected and what was found, and a non-zero exit; never a crash.
final class MalformedInputTests: XCTestCase {
  private func run(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) { try ZCNASRunner.run(args, in: dir) }

  /// Writes a safetensors-like file: the 8-byte length (default: the header's), the header, the data.
  static func writeSafetensors(_ url: URL, header: String, data: [UInt8] = [], length: UInt64? = nil) throws {
    var out = Data()
    withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    out.append(contentsOf: data)
    try out.write(to: url)
  }

  /// Asserts a failed run with exactly one `Error:` line that contains every text.
  func expectError(_ r: (status: Int32, out: String, err: String), _ texts: [String], _ context: String, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, context, line: line)
    XCTAssertFalse([132, 134, 139].contains(r.status), "\(context): crashed with status \(r.status)", line: line)
    XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, "\(context): \(r.err)", line: line)
    for t in texts { XCTAssertTrue(r.err.contains(t), "\(context): '\(t)' not in \(r.err)", line: line) }
  }

  func testMalformedSafetensorsForWeightsAndBatch() throws {
    let dir = try temporaryFolder()
    let big = dir.appendingPathComponent("big.safetensors")
    try Self.writeSafetensors(big, header: "{}", length: 1 << 63)
    let random = dir.appendingPathComponent("random.safetensors")
    var g = ByteMutator(seed: 3)
    try Data((0..<1000).map { _ in UInt8(truncatingIfNeeded: g.next()) }).write(to: random)
    let negative = dir.appendingPathComponent("negative.safetensors")
    try Self.writeSafetensors(negative, header: #"{"input":{"dtype":"F32","shape":[-1,3,32,32],"data_offsets":[0,0]}}"#)
    let floatLabels = dir.appendingPathComponent("floatlabels.safetensors")
    let images = 2 * 3 * 32 * 32 * 4
    try Self.writeSafetensors(floatLabels, header: #"{"input":{"dtype":"F32","shape":[2,3,32,32],"data_offsets":[0,\#(images)]},"labels":{"dtype":"F32","shape":[2],"data_offsets":[\#(images),\#(images + 8)]}}"#,
                              data: [UInt8](repeating: 0, count: images + 8))
    let floatTokens = dir.appendingPathComponent("floattokens.safetensors")
    try Self.writeSafetensors(floatTokens, header: #"{"tokens":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))
    let store = dir.appendingPathComponent("s.sqlite").path
    let nb201 = ["score", "--archs", "0", "--metrics", "params", "--store", store]
    let nbnlp = ["score", "--space", "nbnlp", "--archs", "1000001", "--metrics", "hidden_cov", "--emsize", "4", "--nhid", "4", "--store", store]
    let length = "invalid safetensors header: the 8-byte header length says 9223372036854775808 bytes, but only 2 bytes follow it"
    let cases: [([String], [String])] = [
      (nb201 + ["--weights", big.path], ["--weights: \(big.path): \(length)"]),
      (nb201 + ["--batch", big.path], ["--batch: \(big.path): \(length)"]),
      (nbnlp + ["--batch", big.path], ["--batch: \(big.path): \(length)"]),
      (nbnlp + ["--weights", big.path], ["--weights: \(big.path): \(length)"]),
      (nb201 + ["--batch", random.path], ["--batch: \(random.path): invalid safetensors header: the 8-byte header length says", "but only 992 bytes follow it (1000-byte file)"]),
      (nb201 + ["--batch", negative.path], ["--batch: \(negative.path): invalid safetensors header: tensor 'input': shape [-1, 3, 32, 32] has the negative dimension -1"]),
      (nb201 + ["--batch", floatLabels.path], ["--batch: \(floatLabels.path): tensor 'labels' has dtype F32; expected an integer tensor (I64 or I32)"]),
      (nbnlp + ["--batch", floatTokens.path], ["--batch \(floatTokens.path): expected an I64 'tokens' tensor [T, B] with T >= 1 and B >= 2, found F32 [2, 2]"]),
    ]
    for (args, texts) in cases { expectError(try run(args, in: dir), texts, args.joined(separator: " ")) }
  }
}
