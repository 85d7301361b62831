import XCTest
import ZCAutodiff
import ZCTensor

/// Releasing a long tape: the last reference to a 500,000-operation chain goes away without one
/// stack frame per node (which overflowed the stack: SIGSEGV).
final class TapeReleaseTests: XCTestCase {
  func testLongChainIsReleasedWithoutRecursion() {
    let x = Variable(Tensor([0.5] as [Double], shape: [1]), requiresGrad: true)
    weak var head: Variable?
    do {
      var v = x
      for _ in 0..<500_000 { v = scale(v, 1) }
      head = v
      // Backward over the chain works and is exact (d/dx of x·1^n = 1).
      let g = gradients(of: v, withRespectTo: [x])
      XCTAssertEqual(g[0]?.value.doubles, [1])
      XCTAssertEqual(v.inputs.count, 1)
    }
    XCTAssertNil(head, "the chain is released")
    XCTAssertEqual(x.value.doubles, [0.5], "the leaf is untouched")
  }

  /// A node shared by two users is released only when the second goes.
  func testSharedInputsSurviveTheirFirstUser() {
    let x = Variable(Tensor([2] as [Double], shape: [1]), requiresGrad: true)
    var shared: Variable? = scale(x, 3)
    weak var weakShared = shared
    var a: Variable? = add(shared!, x)
    let b = scale(shared!, 2)
    shared = nil
    a = nil
    XCTAssertNotNil(weakShared, "still an input of b")
    XCTAssertEqual(b.inputs.first?.value.doubles, [6])
    XCTAssertEqual(gradients(of: b, withRespectTo: [x])[0]?.value.doubles, [6])
    _ = a
  }
}
