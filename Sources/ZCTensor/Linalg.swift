import COpenBLAS

/// A LAPACK routine reported failure (`info ≠ 0`) or its input was unusable.
public enum LinalgError: Error, CustomStringConvertible, Equatable {
  /// `routine` returned `info`. For dpotrf, info > 0 means the leading minor of that order is not
  /// positive definite; for dsyevd, info > 0 means the algorithm failed to converge; info < 0 means
  /// argument -info was illegal.
  case lapack(routine: String, info: Int)
  /// The input was not a square Float64 matrix of the expected size, or contained NaN/inf.
  case invalidInput(routine: String, reason: String)

  public var description: String {
    switch self {
    case let .lapack(routine, info): return "LAPACK \(routine) failed with info = \(info)"
    case let .invalidInput(routine, reason): return "\(routine): \(reason)"
    }
  }
}

/// Float64 dense linear algebra through LAPACKE (row-major). Inputs are `[n, n]` Float64 tensors;
/// they are copied, never modified. Source: LAPACK 3.11 (Anderson et al., LAPACK Users' Guide).
public enum Linalg {
  private static func checkSquare(_ a: Tensor, _ routine: String) throws -> Int {
    guard a.dtype == .float64 else { throw LinalgError.invalidInput(routine: routine, reason: "expected a Float64 matrix, found \(a.dtype)") }
    guard a.rank == 2, a.shape[0] == a.shape[1] else {
      throw LinalgError.invalidInput(routine: routine, reason: "expected a square matrix, found shape \(a.shape)")
    }
    let p = a.pointer(Double.self)
    for i in 0..<a.count where !p[i].isFinite {
      throw LinalgError.invalidInput(routine: routine, reason: "matrix has a non-finite entry at flat index \(i)")
    }
    return a.shape[0]
  }

  /// Eigenvalues of a symmetric matrix in ascending order (LAPACK `dsyevd`, values only; the lower
  /// triangle is read).
  /// - Parameter a: `[n, n]` Float64, symmetric.
  /// - Returns: `n` eigenvalues, ascending.
  /// - Throws: ``LinalgError`` when the input is not square Float64 or finite, or dsyevd fails.
  public static func symmetricEigenvalues(_ a: Tensor) throws -> [Double] {
    let n = try checkSquare(a, "dsyevd")
    if n == 0 { return [] }
    var m = Array(UnsafeBufferPointer(start: a.pointer(Double.self), count: n * n))
    var w = [Double](repeating: 0, count: n)
    let info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "N")), Int8(UInt8(ascii: "L")), Int32(n), &m, Int32(n), &w)
    if info != 0 { throw LinalgError.lapack(routine: "dsyevd", info: Int(info)) }
    return w
  }

  /// log|det A| and the sign of det A, from an LU factorisation with partial pivoting (`dgetrf`).
  ///
  /// A singular matrix (an exactly zero pivot, dgetrf info > 0) gives `(sign: 0, logAbs: -inf)`,
  /// as `torch.linalg.slogdet` does; callers decide whether that is a missing value.
  /// - Parameter a: `[n, n]` Float64.
  /// - Throws: ``LinalgError`` for a non-square, non-Float64 or non-finite input, or info < 0.
  public static func logAbsDeterminant(_ a: Tensor) throws -> (sign: Double, logAbs: Double) {
    let n = try checkSquare(a, "dgetrf")
    if n == 0 { return (1, 0) }
    var m = Array(UnsafeBufferPointer(start: a.pointer(Double.self), count: n * n))
    var piv = [Int32](repeating: 0, count: n)
    let info = LAPACKE_dgetrf(LAPACK_ROW_MAJOR, Int32(n), Int32(n), &m, Int32(n), &piv)
    if info < 0 { throw LinalgError.lapack(routine: "dgetrf", info: Int(info)) }
    if info > 0 { return (0, -.infinity) }
    var sign = 1.0, logAbs = 0.0
    for i in 0..<n {
      let d = m[i * n + i]
      if d == 0 { return (0, -.infinity) }
      if d < 0 { sign = -sign }
      if piv[i] != Int32(i + 1) { sign = -sign }
      logAbs += Double.log(Swift.abs(d))
    }
    return (sign, logAbs)
  }

  /// Lower Cholesky factor L with A = L Lᵀ (`dpotrf`), as a `[n, n]` tensor with zeros above the diagonal.
  /// - Throws: `LinalgError.lapack(routine: "dpotrf", info: k)` when the leading minor of order k
  ///   is not positive definite; ``LinalgError/invalidInput(routine:reason:)`` for bad input.
  public static func cholesky(_ a: Tensor) throws -> Tensor {
    let n = try checkSquare(a, "dpotrf")
    var m = Array(UnsafeBufferPointer(start: a.pointer(Double.self), count: n * n))
    if n > 0 {
      let info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int32(n), &m, Int32(n))
      if info != 0 { throw LinalgError.lapack(routine: "dpotrf", info: Int(info)) }
    }
    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { m[i * n + j] = 0 } }
    return Tensor(m, shape: [n, n])
  }

  /// Solves A X = B given the lower Cholesky factor L of A (`dpotrs`).
  /// - Parameters:
  ///   - l: `[n, n]` Float64 from ``cholesky(_:)``.
  ///   - b: `[n]` or `[n, k]` Float64 right-hand side(s).
  /// - Returns: X with the shape of `b`.
  /// - Throws: ``LinalgError`` for mismatched shapes or a dpotrs failure.
  public static func choleskySolve(_ l: Tensor, _ b: Tensor) throws -> Tensor {
    let n = try checkSquare(l, "dpotrs")
    guard b.dtype == .float64, (b.rank == 1 || b.rank == 2), b.shape[0] == n else {
      throw LinalgError.invalidInput(routine: "dpotrs", reason: "right-hand side must be Float64 [\(n)] or [\(n), k], found \(b.dtype) \(b.shape)")
    }
    let k = b.rank == 1 ? 1 : b.shape[1]
    var m = Array(UnsafeBufferPointer(start: l.pointer(Double.self), count: n * n))
    var x = b.doubles
    if n > 0 && k > 0 {
      let info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int32(n), Int32(k), &m, Int32(n), &x, Int32(k))
      if info != 0 { throw LinalgError.lapack(routine: "dpotrs", info: Int(info)) }
    }
    return Tensor(x, shape: b.shape)
  }
}
