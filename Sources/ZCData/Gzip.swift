import CZlib
import Foundation

/// Errors reading or writing a gzip file.
public struct GzipError: Error, CustomStringConvertible, Equatable {
  public let path: String
  public let reason: String
  public var description: String { "\(path): \(reason)" }
}

/// Whole-file gzip reading and writing through zlib (`gzopen`/`gzread`/`gzwrite`), used for the
/// compressed score tables shipped in `Datasets/`. A file without a gzip header is read as is
/// (zlib's transparent mode), so `.csv` and `.csv.gz` go through the same path.
public enum Gzip {
  /// The decompressed bytes of `path`.
  /// - Throws: ``GzipError`` when the file is missing, unreadable or a corrupt/truncated gzip stream.
  public static func read(_ path: String) throws -> Data {
    guard FileManager.default.fileExists(atPath: path) else { throw GzipError(path: path, reason: "no such file") }
    guard let f = gzopen(path, "rb") else { throw GzipError(path: path, reason: "cannot open for reading") }
    var out = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32($0.count)) }
      // A truncated stream ends with a short read and 0, not -1: zlib then records Z_BUF_ERROR.
      var errnum: Int32 = 0
      let msg = gzerror(f, &errnum).map { String(cString: $0) } ?? "unknown error"
      if n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END) {
        gzclose(f)
        throw GzipError(path: path, reason: errnum == Z_BUF_ERROR ? "truncated gzip data (\(msg))" : "corrupt gzip data (\(msg))")
      }
      if n == 0 { break }
      out.append(contentsOf: chunk[0..<Int(n)])
    }
    let closed = gzclose(f)
    guard closed == Z_OK else { throw GzipError(path: path, reason: closed == Z_BUF_ERROR ? "truncated gzip data" : "gzip error \(closed) on close") }
    return out
  }

  /// Writes `data` gzip-compressed (level 9) to `path`, through a temporary file renamed into place,
  /// so a reader never sees a half-written file.
  /// - Throws: ``GzipError`` when the file cannot be written.
  public static func write(_ data: Data, to path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    guard let f = gzopen(tmp, "wb9") else { throw GzipError(path: path, reason: "cannot open for writing") }
    var ok = true
    data.withUnsafeBytes { buf in
      var offset = 0
      while offset < buf.count && ok {
        let n = min(1 << 20, buf.count - offset)
        ok = gzwrite(f, buf.baseAddress! + offset, UInt32(n)) == Int32(n)
        offset += n
      }
    }
    if gzclose(f) != Z_OK { ok = false }
    guard ok else { unlink(tmp); throw GzipError(path: path, reason: "write failed") }
    guard rename(tmp, path) == 0 else { unlink(tmp); throw GzipError(path: path, reason: "cannot rename into place") }
  }
}
