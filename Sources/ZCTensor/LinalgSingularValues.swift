import COpenBLAS

extension Linalg {
  /// Singular values of a general matrix, descending (LAPACK `dgesdd`, values only), as
  /// `torch.linalg.svdvals` and `torch.svd(...).S` return them.
  /// - Parameter a: `[m, n]` Float64, finite.
  /// - Returns: min(m, n) singular values, descending (empty for an empty matrix).
  /// - Throws: ``LinalgError/invalidInput(routine:reason:)`` for a non-Float64, non-2-D or
  ///   non-finite input; ``LinalgError/lapack(routine:info:)`` when dgesdd does not converge.
  public static func singularValues(_ a: Tensor) throws -> [Double] {
    guard a.dtype == .float64 else { throw LinalgError.invalidInput(routine: "dgesdd", reason: "expected a Float64 matrix, found \(a.dtype)") }
    guard a.rank == 2 else { throw LinalgError.invalidInput(routine: "dgesdd", reason: "expected a 2-D matrix, found shape \(a.shape)") }
    let m = a.shape[0], n = a.shape[1]
    if m == 0 || n == 0 { return [] }
    var x = Array(UnsafeBufferPointer(start: a.pointer(Double.self), count: m * n))
    if let i = x.firstIndex(where: { !$0.isFinite }) {
      throw LinalgError.invalidInput(routine: "dgesdd", reason: "matrix has a non-finite entry at flat index \(i)")
    }
    var s = [Double](repeating: 0, count: min(m, n))
    var u = [Double](repeating: 0, count: 1), vt = [Double](repeating: 0, count: 1)
    // The row-major [m, n] buffer is the column-major [n, m] matrix Aᵀ, whose singular values are
    // A's; column-major needs no transposed copy, and jobz N references neither U nor Vᵀ.
    let info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "N")), Int32(n), Int32(m), &x, Int32(n), &s, &u, 1, &vt, 1)
    if info != 0 { throw LinalgError.lapack(routine: "dgesdd", info: Int(info)) }
    return s
  }
}
