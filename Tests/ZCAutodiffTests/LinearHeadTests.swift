import TestSupport
import XCTest
@testable import ZCAutodiff
import ZCTensor

/// perSampleElementJacobian's linear-head path: which graphs take it (only z = h·Wᵀ (+ c) with
/// fewer features than outputs), and that it gives the derivatives one backward per (sample,
/// output) gives, including the head's own entries.
final class LinearHeadTests: XCTestCase {
  func leaf(_ shape: [Int], seed: UInt64) -> Variable {
    Variable(randomTensor(shape, seed: seed), requiresGrad: true)
  }

  func testOnlyANarrowFullyConnectedHeadIsRecognised() {
    let x = tanh(leaf([4, 3], seed: 1))
    let w = leaf([5, 3], seed: 2), c = leaf([5], seed: 3)
    let head = narrowLinearHead(of: linear(x, weight: w, bias: c))
    XCTAssertTrue(head?.input === x && head?.weight === w && head?.bias === c)
    let noBias = narrowLinearHead(of: linear(x, weight: w, bias: nil))
    XCTAssertTrue(noBias?.input === x && noBias?.weight === w && noBias?.bias == nil)
    // As many or more features than outputs: the per-output path.
    XCTAssertNil(narrowLinearHead(of: linear(x, weight: leaf([3, 3], seed: 4), bias: nil)))
    XCTAssertNil(narrowLinearHead(of: linear(x, weight: leaf([2, 3], seed: 5), bias: nil)))
    // Not transposed as linear's, a weight that is not a leaf, a bias over the batch: no head.
    XCTAssertNil(narrowLinearHead(of: matmul(x, leaf([3, 5], seed: 6))))
    XCTAssertNil(narrowLinearHead(of: matmul(x, multiply(w, w), transB: true)))
    XCTAssertNil(narrowLinearHead(of: add(matmul(x, w, transB: true), leaf([4, 5], seed: 7))))
    // The input a trainable leaf (a parameter, directly or reshaped): no head; a constant input is one.
    XCTAssertNil(narrowLinearHead(of: linear(leaf([4, 3], seed: 10), weight: w, bias: c)))
    XCTAssertNil(narrowLinearHead(of: linear(reshape(leaf([12], seed: 8), [4, 3]), weight: w, bias: c)))
    XCTAssertNotNil(narrowLinearHead(of: linear(Variable(randomTensor([4, 3], seed: 9)), weight: w, bias: c)))
    // The bias first in the add.
    XCTAssertTrue(narrowLinearHead(of: add(c, matmul(x, w, transB: true)))?.bias === c)
  }

  /// z = tanh(x·Aᵀ + e)·Wᵀ + c, through the head (features 2 < outputs 6): every selected
  /// entry (of A, W, c and e) against one ordinary backward per (sample, output).
  func testHeadJacobianEqualsOneBackwardPerOutput() throws {
    let (b, d, f, k) = (3, 4, 2, 6)
    let x = Variable(randomTensor([b, d], seed: 11))
    let a = leaf([f, d], seed: 12), e = leaf([f], seed: 15), w = leaf([k, f], seed: 13), c = leaf([k], seed: 14)
    let h = tanh(add(matmul(x, a, transB: true), e))
    let z = linear(h, weight: w, bias: c)
    XCTAssertNotNil(narrowLinearHead(of: z))
    let params = [a, w, c, e]
    let elements = [5, 7, 4, 1]
    let jac = try XCTUnwrap(perSampleElementJacobian(of: z, withRespectTo: params, elements: elements))
    for bi in 0..<b {
      for ki in 0..<k {
        var seed = [Double](repeating: 0, count: b * k)
        seed[bi * k + ki] = 1
        let g = gradientTensors(of: z, withRespectTo: [a, w, c, e], seed: Variable(Tensor(seed, shape: [b, k])))
        let expected = [g[0].doubles[5], g[1].doubles[7], g[2].doubles[4], g[3].doubles[1]]
        for j in 0..<params.count {
          XCTAssertEqual(jac[(bi * k + ki) * params.count + j], expected[j], accuracy: 1e-12, "b \(bi) k \(ki) parameter \(j)")
        }
      }
    }
  }

  /// W also upstream of the head (h = tanh(tanh(x·Aᵀ)·W + e)), the bias first in the add, and a
  /// head without bias: the inner Jacobian's W terms plus the direct ones, against one ordinary
  /// backward per (sample, output).
  func testHeadWithItsWeightUpstreamAndWithoutBias() throws {
    let (b, d, f, k) = (3, 4, 2, 6)
    let x = Variable(randomTensor([b, d], seed: 21))
    let a = leaf([k, d], seed: 22), e = leaf([f], seed: 23), w = leaf([k, f], seed: 24), c = leaf([k], seed: 25)
    let h = tanh(add(matmul(tanh(matmul(x, a, transB: true)), w), e))
    let params = [a, w, c, e]
    let elements = [9, 3, 2, 1]
    for z in [add(c, matmul(h, w, transB: true)), matmul(h, w, transB: true)] {
      XCTAssertNotNil(narrowLinearHead(of: z))
      let jac = try XCTUnwrap(perSampleElementJacobian(of: z, withRespectTo: params, elements: elements))
      for bi in 0..<b {
        for ki in 0..<k {
          var seed = [Double](repeating: 0, count: b * k)
          seed[bi * k + ki] = 1
          let g = gradientTensors(of: z, withRespectTo: params, seed: Variable(Tensor(seed, shape: [b, k])))
          for j in 0..<params.count {
            XCTAssertEqual(jac[(bi * k + ki) * params.count + j], g[j].doubles[elements[j]], accuracy: 1e-12, "\(z.operation) b \(bi) k \(ki) parameter \(j)")
          }
        }
      }
    }
  }
}
