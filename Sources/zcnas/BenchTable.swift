import ArgumentParser
import Foundation
import ZCData
import ZCEngine

/// `zcnas bench-table` (hidden): seconds to read a score table into ScoreRows and to format it
/// back to CSV text, for comparing CSV readers and writers (release build).
struct BenchTable: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-table",
    abstract: "Time reading a .csv/.csv.gz score table into rows and formatting it back (median of --repeats).",
    shouldDisplay: false)

  @Argument(help: "Score table (.csv or .csv.gz).") var table: String
  @Option(help: "Timed repetitions (median reported).") var repeats = 5

  func run() throws {
    func median(_ f: () throws -> Void) rethrows -> Double {
      var times: [Double] = []
      for _ in 0..<max(1, repeats) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try f()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
      }
      return times.sorted()[times.count / 2]
    }
    var bytes = 0
    let gunzip = try median { bytes = try Gzip.read(table).count }
    var rows: [ScoreRow] = []
    let read = try median { rows = try ScoreTable.read(table) }
    var text = ""
    let format = median { text = ScoreTable.csv(rows) }
    let original = String(decoding: try Gzip.read(table), as: UTF8.self)
    print("\(table): \(rows.count) rows, \(bytes) bytes of CSV")
    print(String(format: "gzip read only      %.3f s", gunzip))
    print(String(format: "ScoreTable.read     %.3f s (gzip read + parse into ScoreRows)", read))
    print(String(format: "ScoreTable.csv      %.3f s (rows back to CSV text)", format))
    print("re-exported text identical to the file: \(text == original)")
  }
}
