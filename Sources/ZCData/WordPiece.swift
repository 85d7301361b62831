import Foundation

/// A bad vocabulary file or an impossible packing request.
public struct WordPieceError: Error, CustomStringConvertible, Equatable {
  public let path: String
  public let reason: String
  public var description: String { "\(path): \(reason)" }
}

/// BERT's uncased WordPiece tokenizer (Devlin et al. 2019; Hugging Face `BertTokenizer` with
/// `do_lower_case=True`, and `tokenizers`' `BertNormalizer` + `BertPreTokenizer` + `WordPiece`):
///
/// 1. clean: drop U+0000, U+FFFD and control characters; every whitespace character becomes a space;
/// 2. put spaces around CJK ideographs;
/// 3. lower-case, then strip accents (NFD, remove non-spacing marks, Unicode category Mn);
/// 4. split on whitespace, and split off every punctuation character (ASCII symbols
///    33–47, 58–64, 91–96, 123–126 and Unicode categories P*) as its own token;
/// 5. WordPiece: each word of at most 100 characters becomes the greedy longest-match-first
///    sequence of vocabulary pieces, continuation pieces prefixed "##"; a word with no such
///    segmentation (or longer) becomes `[UNK]`.
///
/// The vocabulary is a file with one piece per line; line i (0-based) is id i.
public struct WordPieceTokenizer: Sendable {
  public let pieces: [String]
  public let ids: [String: Int]
  public let unknown: String
  public let maxCharactersPerWord = 100

  /// Reads `vocab.txt` (UTF-8, one piece per line).
  /// - Throws: ``WordPieceError`` when the file cannot be read, is empty, repeats a piece, or lacks
  ///   `[UNK]`, `[CLS]`, `[SEP]` or `[PAD]`.
  public init(vocabularyPath path: String) throws {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw WordPieceError(path: path, reason: "cannot read the vocabulary (expected a UTF-8 file, one WordPiece per line)")
    }
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    try self.init(pieces: lines, path: path)
  }

  /// A tokenizer over `pieces` (id = position). - Throws: ``WordPieceError`` as ``init(vocabularyPath:)``.
  public init(pieces: [String], path: String = "vocabulary") throws {
    guard !pieces.isEmpty else { throw WordPieceError(path: path, reason: "the vocabulary is empty") }
    var ids: [String: Int] = [:]
    for (i, p) in pieces.enumerated() {
      if ids[p] != nil { throw WordPieceError(path: path, reason: "line \(i + 1): the piece '\(p)' appears twice") }
      ids[p] = i
    }
    for special in ["[UNK]", "[CLS]", "[SEP]", "[PAD]"] where ids[special] == nil {
      throw WordPieceError(path: path, reason: "the vocabulary has no \(special) entry")
    }
    self.pieces = pieces
    self.ids = ids
    unknown = "[UNK]"
  }

  public func id(_ piece: String) -> Int { ids[piece] ?? ids[unknown]! }

  static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
    switch s.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
    default: return false
    }
  }

  static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
    if s == " " || s == "\t" || s == "\n" || s == "\r" { return true }
    return s.properties.generalCategory == .spaceSeparator
  }

  static func isControl(_ s: Unicode.Scalar) -> Bool {
    if s == "\t" || s == "\n" || s == "\r" { return false }
    switch s.properties.generalCategory {
    case .control, .format: return true
    default: return false
    }
  }

  static func isCJK(_ v: UInt32) -> Bool {
    (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v) || (0x2A700...0x2B73F).contains(v)
      || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
  }

  /// Steps 1–4: the basic tokens of `text`.
  public func basicTokens(_ text: String) -> [String] {
    var cleaned = String.UnicodeScalarView()
    for s in text.unicodeScalars {
      if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
      if Self.isWhitespace(s) { cleaned.append(" "); continue }
      if Self.isCJK(s.value) { cleaned.append(" "); cleaned.append(s); cleaned.append(" "); continue }
      cleaned.append(s)
    }
    let lowered = String(cleaned).lowercased().decomposedStringWithCanonicalMapping
    var tokens: [String] = []
    var current = String.UnicodeScalarView()
    func flush() { if !current.isEmpty { tokens.append(String(current)); current = String.UnicodeScalarView() } }
    for s in lowered.unicodeScalars {
      if s.properties.generalCategory == .nonspacingMark { continue }
      if Self.isWhitespace(s) { flush(); continue }
      if Self.isPunctuation(s) { flush(); tokens.append(String(Character(s))); continue }
      current.append(s)
    }
    flush()
    return tokens
  }

  /// Step 5 for one basic token: its WordPieces (or `[UNK]`).
  public func wordPieces(_ word: String) -> [String] {
    let chars = Array(word.unicodeScalars)
    if chars.count > maxCharactersPerWord { return [unknown] }
    var out: [String] = []
    var start = 0
    while start < chars.count {
      var end = chars.count
      var found: String?
      while start < end {
        var piece = String(String.UnicodeScalarView(chars[start..<end]))
        if start > 0 { piece = "##" + piece }
        if ids[piece] != nil { found = piece; break }
        end -= 1
      }
      guard let f = found else { return [unknown] }
      out.append(f)
      start = end
    }
    return out
  }

  /// The WordPieces of `text` (no special tokens).
  public func tokenize(_ text: String) -> [String] { basicTokens(text).flatMap { wordPieces($0) } }

  /// The ids of `text`'s WordPieces (no special tokens).
  public func encode(_ text: String) -> [Int] { tokenize(text).map { id($0) } }

  /// Packs lines into `count` sequences of `length` tokens, `[CLS]` + (length − 2) WordPieces +
  /// `[SEP]`: from the first line on, blank lines (no WordPieces) skipped, each sequence fills its
  /// pieces from whole consecutive lines; the line that overflows is cut and its rest dropped; the
  /// next sequence starts at the next line. The rule of the BERT reference fixtures
  /// (`shared/reference/bert/README.md`, "Input batch").
  /// - Returns: `count` × `length` ids, row-major `[B, T]`.
  /// - Throws: ``WordPieceError`` naming `name` when the text runs out first, or `length` < 3.
  public func packedBatch(lines: [String], count: Int, length: Int, name: String) throws -> [Int] {
    guard length >= 3 else { throw WordPieceError(path: name, reason: "sequence length \(length): expected at least 3 ([CLS], a piece, [SEP])") }
    let fill = length - 2
    var out: [Int] = []
    out.reserveCapacity(count * length)
    var line = 0
    for s in 0..<count {
      var seq: [Int] = []
      while seq.count < fill {
        guard line < lines.count else {
          throw WordPieceError(path: name, reason: "the text ran out after \(s) of \(count) sequences of \(length) tokens")
        }
        let ids = encode(lines[line])
        line += 1
        seq += ids.prefix(fill - seq.count)
      }
      out.append(id("[CLS]"))
      out += seq
      out.append(id("[SEP]"))
    }
    return out
  }
}
