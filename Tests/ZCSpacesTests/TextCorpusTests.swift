import Foundation
import XCTest
import ZCData

/// Tokenizer, vocabulary and batching against the values in the fixtures' json (built by
/// NAS-Bench-NLP's own `data.Corpus` and `utils.batchify` in Python) and the datasets' manifests.
final class TextCorpusTests: XCTestCase {
  static let datasets = fixturesFolder.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Datasets").path

  func testWikiText2VocabularyAndBatchMatchFixture() throws {
    let corpus = try TextCorpus(paths: TextDatasetKind.wikitext2.files.map { Self.datasets + "/" + $0 })
    let url = fixturesFolder.appendingPathComponent("nbnlp/nbnlp_wt2_r1000001_lstm.json")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    let vocab = json["vocabulary"] as! [String: Any]
    XCTAssertEqual(corpus.vocabularySize, vocab["size"] as? Int)
    XCTAssertEqual(Array(corpus.words.prefix(12)), vocab["first_words"] as? [String])
    XCTAssertEqual(corpus.streams.map(\.count), [vocab["valid_tokens"] as! Int, vocab["test_tokens"] as! Int])
    // The fixture's 35x10 batch, word by word and id by id.
    let batch = try corpus.batch(stream: TextDatasetKind.wikitext2.testStream, bptt: 35, batch: 10)
    let tokens = json["tokens"] as! [String: Any]
    XCTAssertEqual(tokens["nbatch"] as? Int, corpus.streams[1].count / 10)
    let words = tokens["words"] as! [[String]]
    for t in 0..<35 { XCTAssertEqual(batch.step(t).map { corpus.words[$0] }, words[t], "step \(t)") }
    let st = try SafetensorsFile(path: url.deletingPathExtension().appendingPathExtension("safetensors").path)
    guard case let .int(ids, shape)? = st.tensors["tokens"] else { return XCTFail("no tokens") }
    XCTAssertEqual(shape, [35, 10])
    XCTAssertEqual(batch.ids, ids)
    // sha256 of the words joined by newlines, when a sha256sum tool is available.
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") {
      let p = Process(), inp = Pipe(), out = Pipe()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
      p.standardInput = inp
      p.standardOutput = out
      try p.run()
      inp.fileHandleForWriting.write(Data(corpus.words.joined(separator: "\n").utf8))
      try inp.fileHandleForWriting.close()
      let digest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
      p.waitUntilExit()
      XCTAssertEqual(String(digest), vocab["sha256_of_words_joined_by_newline"] as? String)
    }
  }

  /// PTB: 10,000 types, token counts from the dataset manifest.
  func testPTBCounts() throws {
    let corpus = try TextCorpus(paths: TextDatasetKind.ptb.files.map { Self.datasets + "/" + $0 })
    XCTAssertEqual(corpus.vocabularySize, 10_000)
    XCTAssertEqual(corpus.streams.map(\.count), [929_589, 73_760, 82_430])
    XCTAssertThrowsError(try corpus.batch(stream: 2, bptt: 10_000, batch: 10)) { e in
      XCTAssertTrue("\(e)".contains("needs 10000"), "\(e)")
    }
  }

  /// A last line without a newline still ends with <eos>; runs of spaces and tabs are one break.
  func testLineAndWhitespaceRules() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("zc-corpus-\(UUID().uuidString).txt").path
    try "a  b\tc\n\nb a".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let c = try TextCorpus(paths: [path])
    XCTAssertEqual(c.words, ["a", "b", "c", "<eos>"])
    XCTAssertEqual(c.streams[0], [0, 1, 2, 3, 3, 1, 0, 3])
  }
}
