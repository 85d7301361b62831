import Foundation
import TestSupport
import XCTest
import ZCData

/// The WordPiece tokenizer against the BERT reference fixtures' token ids (Hugging Face
/// `BertTokenizerFast` on the same text and vocabulary) and against hand-checked BERT rules.
final class WordPieceTests: XCTestCase {
  func tokenizer() throws -> WordPieceTokenizer {
    try WordPieceTokenizer(vocabularyPath: TestPaths.datasets + "/bert_benchmark/vocab.txt")
  }

  /// The packed batch of every shared BERT fixture equals its `input_ids` [8, 128] id for id, and
  /// every line's WordPieces equal the fixture's `lines_used` counts.
  func testPackedBatchEqualsFixtureIDs() throws {
    let folder = try TestPaths.shared("reference/bert")
    let tok = try tokenizer()
    let text = try String(contentsOfFile: TestPaths.datasets + "/wikitext2/test.txt", encoding: .utf8)
    let lines = text.components(separatedBy: "\n")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".safetensors.gz") }.sorted()
    XCTAssertFalse(files.isEmpty)
    for f in files {
      let st = try SafetensorsFile(data: try Gzip.read(folder + "/" + f), path: f)
      guard case let .int(ids, shape)? = st.tensors["input_ids"] else { return XCTFail("\(f): no input_ids") }
      let mine = try tok.packedBatch(lines: lines, count: shape[0], length: shape[1], name: "test.txt")
      XCTAssertEqual(mine, ids, f)
      // Per-line counts from the json.
      let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + f.replacingOccurrences(of: ".safetensors.gz", with: ".json")))) as! [String: Any]
      let used = (json["input"] as! [String: Any])["lines_used"] as! [[String: Any]]
      for u in used {
        let line = u["line"] as! Int, n = u["tokens_in_line"] as! Int
        XCTAssertEqual(tok.tokenize(lines[line - 1]).count, n, "\(f) line \(line)")
      }
    }
  }

  /// BERT uncased rules: lower-casing, accent stripping, punctuation split, `##` continuations,
  /// `[UNK]` for a word without a segmentation; ids are vocabulary lines.
  func testBasicRules() throws {
    let tok = try tokenizer()
    XCTAssertEqual(tok.tokenize("Hello, World!"), ["hello", ",", "world", "!"])
    XCTAssertEqual(tok.tokenize("Café  naïve\tRÉSUMÉ"), ["cafe", "naive", "resume"])
    XCTAssertEqual(tok.tokenize("<unk> @-@"), ["<", "un", "##k", ">", "@", "-", "@"])
    XCTAssertEqual(tok.tokenize("playing"), ["playing"])
    XCTAssertEqual(tok.wordPieces(String(repeating: "a", count: 101)), ["[UNK]"])
    XCTAssertEqual(tok.wordPieces("\u{2603}\u{2603}\u{2603}qqq"), ["[UNK]"])
    XCTAssertEqual(tok.id("[PAD]"), 0)
    XCTAssertEqual(tok.id("[UNK]"), 100)
    XCTAssertEqual(tok.id("[CLS]"), 101)
    XCTAssertEqual(tok.id("[SEP]"), 102)
  }

  func testBadVocabularyAndShortText() throws {
    XCTAssertThrowsError(try WordPieceTokenizer(vocabularyPath: "/nonexistent/vocab.txt")) { e in
      XCTAssertTrue("\(e)".contains("/nonexistent/vocab.txt"))
    }
    XCTAssertThrowsError(try WordPieceTokenizer(pieces: ["[UNK]", "a", "a", "[CLS]", "[SEP]", "[PAD]"])) { e in XCTAssertTrue("\(e)".contains("twice")) }
    let tok = try tokenizer()
    XCTAssertThrowsError(try tok.packedBatch(lines: ["hello world"], count: 2, length: 8, name: "short.txt")) { e in
      XCTAssertTrue("\(e)".contains("ran out"))
    }
  }
}
