import Foundation
import TestSupport
import XCTest
import ZCData
import ZCTensor

/// The safetensors reader on malformed files: every size and offset is checked (no trap, no
/// allocation beyond the file), and each error names the file, the tensor, what was expected and
/// what was found.
final class SafetensorsTests: XCTestCase {
  /// A file of an 8-byte little-endian length, the header text and the data bytes.
  private func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
  }

  private func error(_ data: Data) -> SafetensorsError? {
    do { _ = try SafetensorsFile(data: data, path: "t.safetensors"); return nil } catch let e as SafetensorsError { return e } catch {
      XCTFail("not a SafetensorsError: \(error)"); return nil
    }
  }

  private func expect(_ data: Data, _ texts: [String], line: UInt = #line) {
    guard let e = error(data) else { return XCTFail("accepted", line: line) }
    let d = e.description
    XCTAssertTrue(d.hasPrefix("t.safetensors: "), "names the file: \(d)", line: line)
    XCTAssertFalse(d.contains("\n"), "one line: \(d)", line: line)
    for t in texts { XCTAssertTrue(d.contains(t), "'\(d)' should contain '\(t)'", line: line) }
  }

  /// 2^63 and other lengths past the end: a clear error, not an overflow trap (exit 132) or a
  /// nonsense "expected at least 2180042127782220074 bytes".
  func testHeaderLengthIsBoundedByTheFile() {
    expect(file(header: "{}", length: 1 << 63), ["header length says 9223372036854775808 bytes", "only 2 bytes follow it"])
    expect(file(header: "{}", length: UInt64.max), ["only 2 bytes follow it"])
    expect(file(header: "{}", length: 3), ["header length says 3 bytes", "only 2 bytes follow it"])
    expect(Data([1, 2, 3]), ["expected at least 8 bytes, found 3"])
    // Random bytes: the first 8 read as a length far beyond the file.
    var g = ByteMutator(seed: 1)
    expect(Data((0..<1000).map { _ in UInt8(truncatingIfNeeded: g.next()) } ), ["header length says", "bytes follow it (1000-byte file)"])
    expect(file(header: "not json"), ["the 8-byte header is not JSON"])
    expect(file(header: "[1, 2]"), ["header is a list, expected a JSON object of tensors"])
  }

  func testShapeDTypeAndOffsetsAreValidated() {
    let eight = [UInt8](repeating: 0, count: 8)
    expect(file(header: #"{"a":{"dtype":"F32","shape":[-1,3],"data_offsets":[0,0]}}"#), ["tensor 'a'", "shape [-1, 3] has the negative dimension -1"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2,"3"],"data_offsets":[0,24]}}"#), ["tensor 'a'", "'shape' is a list", "expected a list of integers"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#), ["tensor 'a'", "expected a list of integers"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight),
           ["tensor 'a'", "more elements than the 8-byte data section can hold"])
    expect(file(header: #"{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#), ["tensor 'a' has dtype BF16; supported: F32, F64, I64, I32, U8"])
    expect(file(header: #"{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}"#), ["tensor 'a'", "'dtype' is an integer 7, expected a string"])
    expect(file(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#), ["tensor 'a'", "missing 'dtype'"])
    expect(file(header: #"{"a":"F32"}"#), ["tensor 'a'", "expected an object {dtype, shape, data_offsets}, found a string"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0]),
           ["tensor 'a'", "data_offsets [0, 8] end beyond the 3-byte data section"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
           ["tensor 'a'", "data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12 bytes"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eight), ["tensor 'a'", "expected 0 <= begin <= end"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, data: eight), ["tensor 'a'", "expected 0 <= begin <= end"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, data: eight), ["tensor 'a'", "expected [begin, end]"])
    expect(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
           ["tensor 'b'", "overlap those of 'a' [0, 8]"])
    expect(file(header: #"{"__metadata__":[1]}"#), ["'__metadata__' is a list, expected an object of strings"])
  }

  /// A tensor with the wrong kind of dtype is not reported as absent.
  func testWrongDTypeIsNamed() throws {
    let path = try temporaryFolder("zcdata").appendingPathComponent("b.safetensors").path
    try SafetensorsFile.write([("labels", .float(Tensor([0, 1] as [Float], shape: [2]))), ("tokens", .int([1, 2], shape: [2]))], to: path)
    let f = try SafetensorsFile(path: path)
    XCTAssertThrowsError(try f.intTensor("labels")) {
      XCTAssertEqual("\($0)", "\(path): tensor 'labels' has dtype F32; expected an integer tensor (I64 or I32)")
    }
    XCTAssertThrowsError(try f.floatTensor("tokens")) {
      XCTAssertEqual("\($0)", "\(path): tensor 'tokens' has dtype I64; expected a floating-point tensor (F32 or F64)")
    }
    XCTAssertThrowsError(try f.intTensor("nosuch")) { XCTAssertEqual("\($0)", "\(path): no tensor named 'nosuch'") }
    XCTAssertEqual(f.summary("tokens"), "I64 [2]")
    XCTAssertEqual(f.dtypes, ["labels": "F32", "tokens": "I64"])
  }

  /// A valid file still reads exactly as before: keys in offset order, values bit for bit.
  func testWriterRoundTrip() throws {
    let path = try temporaryFolder("zcdata").appendingPathComponent("w.safetensors").path
    let a = Tensor([1.5, -2, .infinity, 0] as [Float], shape: [2, 2]), b = Tensor([3.25] as [Double], shape: [1])
    try SafetensorsFile.write([("z", .float(a)), ("a", .float(b)), ("n", .int([-7], shape: [])), ("e", .float(Tensor([] as [Float], shape: [0, 3])))],
                              metadata: ["fixture": "x"], to: path)
    let f = try SafetensorsFile(path: path)
    XCTAssertEqual(f.keys, ["z", "a", "n", "e"])
    XCTAssertEqual(try f.floatTensor("z").floats.map(\.bitPattern), a.floats.map(\.bitPattern))
    XCTAssertEqual(try f.floatTensor("a").doubles, [3.25])
    XCTAssertEqual(try f.intTensor("n"), [-7])
    XCTAssertEqual(f.tensors["e"]?.shape, [0, 3])
    XCTAssertEqual(f.metadata, ["fixture": "x"])
  }

  /// 1,000 seeded byte-mutated copies of a real fixture file (flips, truncations, insertions,
  /// boundary values, splices; 3 in 4 inside the header): each loads or throws a
  /// ``SafetensorsError``, and what loads is consistent (element counts match shapes).
  func testFuzzedFixtureFilesLoadOrThrow() throws {
    let path = TestPaths.fixtures("nb201/nb201_c10_i1651_allnone.safetensors")
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerEnd = 8 + Int(original[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    let r = assertByteMutationsLoadOrThrow(original, seed: 15, focus: { _ in 0..<headerEnd }, rejecting: SafetensorsError.self,
                                           prefix: { "copy\($0): " }) { i, bytes, kinds in
      let f = try SafetensorsFile(data: bytes, path: "copy\(i)")
      for (k, t) in f.tensors {
        let n = t.shape.reduce(1, *)
        switch t {
        case let .float(x): XCTAssertEqual(x.count, n, "copy \(i) \(kinds) \(k)")
        case let .int(v, _): XCTAssertEqual(v.count, n, "copy \(i) \(kinds) \(k)")
        }
      }
    }
    let (loaded, thrown) = (r.loaded, r.rejected)
    print("fuzz: \(loaded) loaded, \(thrown) rejected")
    XCTAssertGreaterThan(loaded, 0, "some mutations (in the data) leave a valid file")
    XCTAssertGreaterThan(thrown, 500, "most header mutations are rejected")
  }
}
