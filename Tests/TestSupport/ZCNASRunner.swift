import Foundation
import XCTest

/// Runs the `zcnas` executable that `swift build`/`swift test` built, with the repository's
/// Datasets folder, and captures its status, stdout and stderr.
public enum ZCNASRunner {
  public static var root: URL { TestPaths.root }

  /// Path of the built executable (debug first); skips the test when none is built.
  public static func binary() throws -> String {
    for config in ["debug", "release"] {
      let p = root.appendingPathComponent(".build/\(config)/zcnas").path
      if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw XCTSkip("zcnas executable not built")
  }

  /// A process for `zcnas args` in `dir`, not started.
  public static func process(_ args: [String], in dir: URL) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try binary())
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["ZCNAS_DATASETS"] = root.appendingPathComponent("Datasets").path
    p.environment = env
    return p
  }

  /// Runs `zcnas args` in `dir` to completion, with `environment` added to this process's.
  public static func run(_ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let p = try process(args, in: dir)
    p.environment?.merge(environment) { _, new in new }
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    let out = o.fileHandleForReading.readDataToEndOfFile(), err = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
  }
}

extension XCTestCase {
  /// A fresh temporary folder, removed after the test.
  public func temporaryFolder(_ prefix: String = "zcnas-cli") throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: d) }
    return d
  }
}
