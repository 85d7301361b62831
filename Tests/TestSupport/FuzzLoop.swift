import Foundation
import XCTest

/// What a fuzz run (``assertByteMutationsLoadOrThrow(_:seed:copies:focus:rejecting:file:line:_:)``) counted.
public struct FuzzOutcome {
  /// Copies that `load` read without throwing.
  public var loaded = 0
  /// Copies refused with the expected error type.
  public var rejected = 0
}

/// The fuzz loop the readers' tests share: `copies` seeded byte-mutated copies of `original`
/// (``ByteMutator``; copy i is mutated with `focus(i)`) are handed to `load` with their index,
/// bytes and what was done to them. Each must either load (`load` returns; it asserts whatever it
/// checks on a loaded copy) or throw an `E` whose text is one line starting with `prefix(i)` (the
/// name the copy was read under, e.g. `copy12.json: `). Any other error fails the test, and a crash
/// fails the process. Asserts that every copy was counted; returns the counts for further checks.
@discardableResult
public func assertByteMutationsLoadOrThrow<E: Error & CustomStringConvertible>(
  _ original: [UInt8], seed: UInt64, copies: Int = 1000, focus: (Int) -> Range<Int>? = { _ in nil },
  rejecting: E.Type, prefix: @escaping (Int) -> String = { _ in "" }, file: StaticString = #filePath, line: UInt = #line,
  _ load: (_ index: Int, _ bytes: Data, _ kinds: [ByteMutator.Kind]) throws -> Void
) -> FuzzOutcome {
  var mutator = ByteMutator(seed: seed)
  var outcome = FuzzOutcome()
  for i in 0..<copies {
    let (bytes, kinds) = mutator.mutate(original, focus: focus(i))
    do {
      try load(i, Data(bytes), kinds)
      outcome.loaded += 1
    } catch let e as E {
      XCTAssertTrue(e.description.hasPrefix(prefix(i)), "copy \(i) \(kinds): \(e)", file: file, line: line)
      XCTAssertFalse(e.description.contains("\n"), "copy \(i) \(kinds): \(e)", file: file, line: line)
      outcome.rejected += 1
    } catch {
      XCTFail("copy \(i) \(kinds): not a \(E.self): \(error)", file: file, line: line)
    }
  }
  XCTAssertEqual(outcome.loaded + outcome.rejected, copies, file: file, line: line)
  return outcome
}
