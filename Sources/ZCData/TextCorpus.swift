import Foundation

/// A bad text file or an impossible batch request.
public struct TextCorpusError: Error, CustomStringConvertible, Equatable {
  public let path: String
  public let reason: String
  public var description: String { "\(path): \(reason)" }
}

/// A minibatch of token ids, time-major: `ids[t * batch + b]` is step t of stream b
/// (`[bptt, batch]`, as NAS-Bench-NLP's `get_batch`).
public struct TokenBatch: Sendable, Equatable {
  public let ids: [Int]
  public let steps: Int
  public let batch: Int

  public init(ids: [Int], steps: Int, batch: Int) {
    precondition(ids.count == steps * batch, "\(ids.count) ids for [\(steps), \(batch)]")
    self.ids = ids; self.steps = steps; self.batch = batch
  }

  /// The ids of step t, one per stream.
  public func step(_ t: Int) -> ArraySlice<Int> { ids[(t * batch)..<((t + 1) * batch)] }
}

/// A word-level corpus tokenized as NAS-Bench-NLP's `data.Corpus.tokenize` (the AWD-LSTM
/// word-language-model reader): every file is read line by line (`\n`), each line becomes its
/// whitespace-separated words followed by `<eos>`, and a word gets the next id (from 0) the first
/// time it appears. Files are read in the order given, all into one vocabulary; each file's id
/// stream is kept separately.
///
/// Whitespace is ASCII space, tab, CR, vertical tab and form feed (Python's `str.split()` also
/// splits on other Unicode spaces, which the shipped WikiText-2 and PTB files do not contain).
public struct TextCorpus: Sendable {
  /// Words by id.
  public let words: [String]
  /// Ids by word.
  public let ids: [String: Int]
  /// Token ids per file, in the order the files were given.
  public let streams: [[Int]]

  /// Tokenizes `paths` in order into one vocabulary.
  /// - Throws: ``TextCorpusError`` when a file cannot be read, is not UTF-8, is empty, or differs
  ///   from the SHA-256 of its folder's manifest.
  public init(paths: [String]) throws {
    var words: [String] = [], ids: [String: Int] = [:], streams: [[Int]] = []
    for path in paths {
      guard let data = FileManager.default.contents(atPath: path) else { throw TextCorpusError(path: path, reason: "cannot read the file") }
      guard String(data: data, encoding: .utf8) != nil else { throw TextCorpusError(path: path, reason: "not UTF-8 text") }
      guard !data.isEmpty else { throw TextCorpusError(path: path, reason: "empty file") }
      do { try DatasetManifest.verify(path) } catch { throw TextCorpusError(path: path, reason: "\(error)") }
      var stream: [Int] = []
      stream.reserveCapacity(data.count / 5)
      func id(_ w: String) -> Int {
        if let i = ids[w] { return i }
        ids[w] = words.count
        words.append(w)
        return words.count - 1
      }
      let eos = "<eos>"
      data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
        let bytes = buf.bindMemory(to: UInt8.self)
        var i = 0, wordStart = -1
        let n = bytes.count
        while i < n {
          let c = bytes[i]
          let isSpace = c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C
          if c == 0x0A || isSpace {
            if wordStart >= 0 {
              stream.append(id(String(decoding: UnsafeBufferPointer(rebasing: bytes[wordStart..<i]), as: UTF8.self)))
              wordStart = -1
            }
            if c == 0x0A { stream.append(id(eos)) }
          } else if wordStart < 0 {
            wordStart = i
          }
          i += 1
        }
        // A last line without a newline is still a line.
        if wordStart >= 0 { stream.append(id(String(decoding: UnsafeBufferPointer(rebasing: bytes[wordStart..<n]), as: UTF8.self))) }
        if n > 0 && bytes[n - 1] != 0x0A { stream.append(id(eos)) }
      }
      streams.append(stream)
    }
    self.words = words
    self.ids = ids
    self.streams = streams
  }

  /// Number of words in the vocabulary.
  public var vocabularySize: Int { words.count }

  /// Minibatch `index` of `stream`, NAS-Bench-NLP `utils.batchify` then `get_batch(data, index·bptt)`:
  /// the stream is cut into `batch` contiguous columns of nbatch = ⌊count / batch⌋ tokens, and
  /// `tokens[t, b] = stream[b·nbatch + index·bptt + t]` for t < bptt.
  /// - Throws: ``TextCorpusError`` when the stream is too short for that batch.
  public func batch(stream k: Int, bptt: Int, batch: Int, index: Int = 0, name: String = "stream") throws -> TokenBatch {
    let s = streams[k]
    let nbatch = s.count / batch
    let start = index * bptt
    guard bptt >= 1, batch >= 1, start + bptt <= nbatch else {
      throw TextCorpusError(path: name, reason: "\(s.count) tokens give \(nbatch) steps per stream for batch \(batch); batch \(index) with bptt \(bptt) needs \(start + bptt)")
    }
    var ids = [Int](repeating: 0, count: bptt * batch)
    for t in 0..<bptt { for b in 0..<batch { ids[t * batch + b] = s[b * nbatch + start + t] } }
    return TokenBatch(ids: ids, steps: bptt, batch: batch)
  }
}

/// The text datasets shipped in `Datasets/` for the NAS-Bench-NLP space.
public enum TextDatasetKind: String, CaseIterable, Sendable {
  case wikitext2
  case ptb

  /// Files in vocabulary order, relative to the Datasets folder (NAS-Bench-NLP's `Corpus` reads
  /// train, valid, test; WikiText-2's train split is not shipped, see its PROVENANCE.md).
  public var files: [String] {
    switch self {
    case .wikitext2: return ["wikitext2/valid.txt", "wikitext2/test.txt"]
    case .ptb: return ["ptb/ptb.train.txt", "ptb/ptb.valid.txt", "ptb/ptb.test.txt"]
    }
  }

  /// Index in ``files`` of the test split (the minibatch source, as Serianni & Kalita 2023).
  public var testStream: Int { files.count - 1 }
}
