import Crypto
import Foundation

/// Checks a shipped data file against the SHA-256 its folder's `manifest.json` records, so a
/// damaged or replaced file is an error instead of silently different scores.
///
/// A manifest entry is any JSON object holding `"sha256"` and either `"file": NAME` or sitting
/// under the key NAME (both layouts occur in `Datasets/`). A file the manifest does not list, or a
/// folder without a manifest (a user's own `--data`), is not checked. A file's hash is computed
/// once and remembered by (path, size, modification time) in `$XDG_CACHE_HOME/zcnas/sha256.json`
/// (default `~/.cache/zcnas`), so later runs only stat it; the cache is best effort.
public enum DatasetManifest {
  /// Errors of a file that does not match its manifest.
  public struct Mismatch: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let expected: String
    public let found: String
    public var description: String {
      "\(path): sha256 \(found) does not match \(URL(fileURLWithPath: path).deletingLastPathComponent().path)/manifest.json (\(expected)); the shipped file is damaged or was replaced (restore it with `git checkout -- \(path)`)"
    }
  }

  /// - Throws: ``Mismatch`` when `path` is listed in its folder's manifest with another SHA-256.
  public static func verify(_ path: String) throws {
    let url = URL(fileURLWithPath: path)
    let name = url.lastPathComponent
    guard let expected = try expectedHash(of: name, in: url.deletingLastPathComponent().appendingPathComponent("manifest.json").path) else { return }
    let found = try hash(path)
    guard found == expected.lowercased() else { throw Mismatch(path: path, expected: expected, found: found) }
  }

  /// Whether the file's folder has a manifest that lists it with a SHA-256 (then ``verify(_:)``
  /// checks it).
  public static func lists(_ path: String) -> Bool {
    let url = URL(fileURLWithPath: path)
    return (try? expectedHash(of: url.lastPathComponent, in: url.deletingLastPathComponent().appendingPathComponent("manifest.json").path)) ?? nil != nil
  }

  /// The SHA-256 the manifest records for `name`, or nil.
  static func expectedHash(of name: String, in manifest: String) throws -> String? {
    guard let data = FileManager.default.contents(atPath: manifest),
          let json = try? JSONSerialization.jsonObject(with: data) else { return nil }
    func search(_ v: Any, key: String?) -> String? {
      if let d = v as? [String: Any] {
        if let h = d["sha256"] as? String, (d["file"] as? String) == name || (d["file"] == nil && key == name) { return h }
        for (k, x) in d { if let h = search(x, key: k) { return h } }
      }
      return nil
    }
    return search(json, key: nil)
  }

  private static let lock = NSLock()

  /// Hex SHA-256 of a file, through the cache.
  static func hash(_ path: String) throws -> String {
    let attrs = try FileManager.default.attributesOfItem(atPath: path)
    let size = (attrs[.size] as? NSNumber)?.int64Value ?? -1
    let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    let key = URL(fileURLWithPath: path).standardizedFileURL.path
    lock.lock(); defer { lock.unlock() }
    var cache = readCache()
    if let e = cache[key], e.size == size, e.mtime == mtime { return e.sha256 }
    guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path]) }
    let hex = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    cache[key] = Entry(size: size, mtime: mtime, sha256: hex)
    writeCache(cache)
    return hex
  }

  struct Entry: Codable { var size: Int64; var mtime: Double; var sha256: String }

  static var cacheFile: URL {
    let env = ProcessInfo.processInfo.environment
    let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
      ?? URL(fileURLWithPath: env["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache")
    return base.appendingPathComponent("zcnas/sha256.json")
  }

  static func readCache() -> [String: Entry] {
    guard let d = try? Data(contentsOf: cacheFile) else { return [:] }
    return (try? JSONDecoder().decode([String: Entry].self, from: d)) ?? [:]
  }

  static func writeCache(_ c: [String: Entry]) {
    try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
    if let d = try? JSONEncoder().encode(c) { try? d.write(to: cacheFile, options: .atomic) }
  }
}
