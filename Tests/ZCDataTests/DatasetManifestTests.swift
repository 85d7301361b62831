import Foundation
import XCTest
import ZCData

/// Shipped files are checked against their manifest's SHA-256: a changed byte is an error naming
/// the file; the hash is remembered by size and modification time.
final class DatasetManifestTests: XCTestCase {
  static let datasets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Datasets")

  func testShippedFilesMatchAndADamagedCopyIsRefused() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zc-manifest-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    setenv("XDG_CACHE_HOME", dir.appendingPathComponent("cache").path, 1)
    defer { unsetenv("XDG_CACHE_HOME") }
    // The shipped subsets pass.
    XCTAssertNoThrow(try ImageDataset(kind: .cifar100, paths: [Self.datasets.appendingPathComponent("cifar100/test_subset.bin").path]))
    XCTAssertNoThrow(try DatasetManifest.verify(Self.datasets.appendingPathComponent("wikitext2/test.txt").path))
    // A copy with its manifest and one changed byte (same size, still well-formed records).
    let folder = dir.appendingPathComponent("cifar100")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Self.datasets.appendingPathComponent("cifar100/manifest.json"), to: folder.appendingPathComponent("manifest.json"))
    var bytes = try Data(contentsOf: Self.datasets.appendingPathComponent("cifar100/test_subset.bin"))
    bytes[100] ^= 0x01
    let damaged = folder.appendingPathComponent("test_subset.bin")
    try bytes.write(to: damaged)
    XCTAssertThrowsError(try ImageDataset(kind: .cifar100, paths: [damaged.path])) { e in
      XCTAssertTrue("\(e)".contains("test_subset.bin: sha256") && "\(e)".contains("does not match"), "\(e)")
    }
    // A file the manifest does not list is not checked.
    let other = folder.appendingPathComponent("mine.bin")
    try bytes.write(to: other)
    XCTAssertNoThrow(try ImageDataset(kind: .cifar100, paths: [other.path]))
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache/zcnas/sha256.json").path), "hashes are cached")
  }
}
