import Foundation
import XCTest
import ZCTensor

final class LinalgTests: XCTestCase {
  /// Q diag(λ) Qᵀ with an orthogonal Q built from a rotation, so the eigenvalues are known.
  private func matrix(eigenvalues: [Double]) -> Tensor {
    let n = eigenvalues.count
    // Householder reflection Q = I − 2 u uᵀ / uᵀu with a fixed u.
    let u = (0..<n).map { Double($0 + 1) }
    let uu = u.reduce(0) { $0 + $1 * $1 }
    var q = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { q[i * n + j] = (i == j ? 1 : 0) - 2 * u[i] * u[j] / uu } }
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += q[i * n + k] * eigenvalues[k] * q[j * n + k] } } }
    return Tensor(a, shape: [n, n])
  }

  func testSymmetricEigenvaluesOfKnownMatrices() throws {
    XCTAssertEqual(try Linalg.symmetricEigenvalues(Tensor([2.0, 1, 1, 2], shape: [2, 2])), [1, 3])
    let want = [-2.0, 0.5, 1, 7, 1e-3]
    let got = try Linalg.symmetricEigenvalues(matrix(eigenvalues: want))
    for (g, w) in zip(got, want.sorted()) { XCTAssertEqual(g, w, accuracy: 1e-12) }
  }

  func testLogDeterminantWithSign() throws {
    let d = try Linalg.logAbsDeterminant(Tensor([4.0, 0, 0, 9], shape: [2, 2]))
    XCTAssertEqual(d.sign, 1)
    XCTAssertEqual(d.logAbs, Foundation.log(36), accuracy: 1e-14)
    let swapRows = try Linalg.logAbsDeterminant(Tensor([0.0, 1, 1, 0], shape: [2, 2]))
    XCTAssertEqual(swapRows.sign, -1)
    XCTAssertEqual(swapRows.logAbs, 0, accuracy: 1e-15)
    let m = try Linalg.logAbsDeterminant(matrix(eigenvalues: [-2, 0.5, 3, 4]))  // det = -12
    XCTAssertEqual(m.sign, -1)
    XCTAssertEqual(m.logAbs, Foundation.log(12), accuracy: 1e-12)
  }

  func testSingularMatrixGivesMinusInfinityLogDeterminant() throws {
    let d = try Linalg.logAbsDeterminant(Tensor([1.0, 2, 2, 4], shape: [2, 2]))
    XCTAssertEqual(d.sign, 0)
    XCTAssertEqual(d.logAbs, -.infinity)
  }

  func testCholeskyFactorAndSolve() throws {
    let a = matrix(eigenvalues: [1, 2, 5])
    let l = try Linalg.cholesky(a)
    let llt = Tensor.matmul(l, l, transB: true).doubles
    for (x, y) in zip(llt, a.doubles) { XCTAssertEqual(x, y, accuracy: 1e-12) }
    XCTAssertEqual(l[0, 1], 0)
    let b = Tensor([1.0, -2, 0.5], shape: [3])
    let x = try Linalg.choleskySolve(l, b)
    let ax = Tensor.matmul(a, x.reshaped([3, 1])).doubles
    for (p, q) in zip(ax, b.doubles) { XCTAssertEqual(p, q, accuracy: 1e-12) }
  }

  func testLapackFailuresBecomeErrorsNamingRoutineAndInfo() {
    XCTAssertThrowsError(try Linalg.cholesky(Tensor([1.0, 2, 2, 1], shape: [2, 2]))) { e in
      XCTAssertEqual(e as? LinalgError, .lapack(routine: "dpotrf", info: 2))
      XCTAssertEqual("\(e)", "LAPACK dpotrf failed with info = 2")
    }
    XCTAssertThrowsError(try Linalg.symmetricEigenvalues(Tensor([1.0, 2, 3], shape: [1, 3]))) { e in
      guard case .invalidInput(let r, _)? = e as? LinalgError else { return XCTFail("\(e)") }
      XCTAssertEqual(r, "dsyevd")
    }
    XCTAssertThrowsError(try Linalg.symmetricEigenvalues(Tensor([Float(1)], shape: [1, 1])))
    XCTAssertThrowsError(try Linalg.logAbsDeterminant(Tensor([1.0, .nan, 0, 1], shape: [2, 2])))
  }
}
