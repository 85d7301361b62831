import COpenBLAS

extension Linalg {
  /// Singular values of a real matrix in descending order (LAPACK `dgesdd`, values only), as
  /// `torch.linalg.svdvals` returns them (used by synaptic_diversity, AZ-NAS trainability, VKDNW).
  /// - Parameter a: `[m, n]` tensor (any dtype; computed in Float64 on a copy).
  /// - Returns: min(m, n) singular values, descending.
  /// - Throws: ``LinalgError`` for a non-2-D or non-finite input, or when dgesdd fails.
  public static func singularValues(_ a: Tensor) throws -> [Double] {
    guard a.rank == 2 else { throw LinalgError.invalidInput(routine: "dgesdd", reason: "expected a matrix, found shape \(a.shape)") }
    let (m, n) = (a.shape[0], a.shape[1])
    var x = a.doubles
    if let i = x.firstIndex(where: { !$0.isFinite }) {
      throw LinalgError.invalidInput(routine: "dgesdd", reason: "matrix has a non-finite entry at flat index \(i)")
    }
    let k = min(m, n)
    if k == 0 { return [] }
    var s = [Double](repeating: 0, count: k)
    // U and Vᵀ are not computed (jobz "N"); LAPACKE still checks their leading dimensions.
    var u = [Double](repeating: 0, count: m * m), vt = [Double](repeating: 0, count: n * n)
    let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "N")), Int32(m), Int32(n), &x, Int32(n), &s, &u, Int32(m), &vt, Int32(n))
    if info != 0 { throw LinalgError.lapack(routine: "dgesdd", info: Int(info)) }
    return s
  }

  /// Nuclear norm ‖A‖_* = Σ singular values (`torch.norm(A, "nuc")`). - Throws: as ``singularValues(_:)``.
  public static func nuclearNorm(_ a: Tensor) throws -> Double { try singularValues(a).reduce(0, +) }
}
