import ArgumentParser
import Foundation

/// Locates the product's `Datasets/` folder: `--datasets`, then $ZCNAS_DATASETS, then the folders
/// above the executable (a `.build/<config>/zcnas` inside the repository), then the folders above
/// the current directory.
enum DatasetsFolder {
  static func resolve(_ option: String?) throws -> String {
    let fm = FileManager.default
    func ok(_ p: String) -> Bool { fm.fileExists(atPath: p + "/nasbench201/nb201.csv") }
    if let o = option {
      guard ok(o) else { throw CLIError("--datasets \(o): expected a folder containing nasbench201/nb201.csv") }
      return o
    }
    if let e = ProcessInfo.processInfo.environment["ZCNAS_DATASETS"] {
      guard ok(e) else { throw CLIError("ZCNAS_DATASETS=\(e): expected a folder containing nasbench201/nb201.csv") }
      return e
    }
    var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
    if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") { starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent()) }
    starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
    for start in starts {
      var dir = start
      for _ in 0..<8 {
        let cand = dir.appendingPathComponent("Datasets").path
        if ok(cand) { return cand }
        dir = dir.deletingLastPathComponent()
      }
    }
    throw CLIError("cannot find the Datasets folder (with nasbench201/nb201.csv): pass --datasets DIR or set ZCNAS_DATASETS")
  }
}

/// Standard error, for progress and diagnostics.
struct StandardError: TextOutputStream {
  mutating func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
nonisolated(unsafe) var stderrStream = StandardError()

/// A user-facing error: printed as one line ("Error: ...") with a non-zero exit status.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
