import ArgumentParser
import Foundation
import ZCEngine

/// CSV or JSON-lines export of store rows (chosen by the file extension).
enum Export {
  static let columns = ["space", "dataset", "arch_index", "arch", "metric", "seed", "batch_size", "init", "dtype", "value", "missing_reason", "seconds", "engine_version"]

  static func write(_ rows: [ScoreRow], to path: String) throws {
    var out = ""
    if path.hasSuffix(".csv") {
      out = columns.joined(separator: ",") + "\n"
      for r in rows {
        let fields: [String] = [r.space, r.dataset, String(r.archIndex), csvQuote(r.arch), r.metric, String(r.seed), String(r.batchSize),
                                r.initialisation, r.dtype, r.value.map { "\($0)" } ?? "", csvQuote(r.missingReason ?? ""),
                                String(format: "%.6f", r.seconds), r.engineVersion]
        out += fields.joined(separator: ",") + "\n"
      }
    } else if path.hasSuffix(".jsonl") {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      for r in rows { out += String(decoding: try enc.encode(r), as: UTF8.self) + "\n" }
    } else {
      throw CLIError("--output \(path): expected a .csv or .jsonl file name")
    }
    do { try out.write(toFile: path, atomically: true, encoding: .utf8) } catch {
      throw CLIError("--output \(path): cannot write: \(error.localizedDescription)")
    }
  }

  static func csvQuote(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
  }
}
