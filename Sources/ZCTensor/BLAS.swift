import COpenBLAS

/// Row-major GEMM through OpenBLAS: `C = alpha·op(A)·op(B) + beta·C`, op(X) = X or Xᵀ.
/// `op(A)` is m×k, `op(B)` is k×n, `C` is m×n; `lda`, `ldb`, `ldc` are row strides in elements.
public protocol BLASScalar {
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int,
    b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

@inline(__always) private func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
  @inline(__always)
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}

extension Double: BLASScalar {
  @inline(__always)
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_dgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}

/// OpenBLAS run-time configuration.
public enum OpenBLAS {
  /// Name of the kernel family OpenBLAS selected for this CPU (for example "Zen", "Cooperlake").
  public static var coreName: String { String(cString: openblas_get_corename()) }
  /// Number of OpenBLAS threads.
  public static var threads: Int { Int(openblas_get_num_threads()) }
  /// Sets the number of OpenBLAS threads. The engine keeps it at 1 and parallelises above BLAS
  /// (performance notes: two OpenBLAS threads made small LAPACK calls up to 25× slower here).
  public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}

extension Tensor {
  /// Matrix product `op(a)·op(b)` of 2-D tensors (op = transpose when the flag is set), via
  /// `cblas_sgemm`/`cblas_dgemm`. Shapes: op(a) `[m, k]`, op(b) `[k, n]` → `[m, n]`.
  public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2 && a.dtype == b.dtype, "matmul needs 2-D tensors of one dtype, got \(a.shape) \(b.shape)")
    let m = transA ? a.shape[1] : a.shape[0]
    let k = transA ? a.shape[0] : a.shape[1]
    let kb = transB ? b.shape[1] : b.shape[0]
    let n = transB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") · \(b.shape)\(transB ? "ᵀ" : "")")
    let out = Tensor(zeros: [m, n], dtype: a.dtype)
    switch a.dtype {
    case .float32: gemmTensors(a, b, out, transA, transB, m, n, k, Float.self)
    case .float64: gemmTensors(a, b, out, transA, transB, m, n, k, Double.self)
    }
    return out
  }
}

private func gemmTensors<T: TensorScalar>(
  _ a: Tensor, _ b: Tensor, _ out: Tensor, _ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, _: T.Type
) {
  if k == 0 { return }
  T.gemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1, a: a.pointer(T.self), lda: a.shape[1],
         b: b.pointer(T.self), ldb: b.shape[1], beta: 0, c: out.mutablePointer(T.self), ldc: n)
}
