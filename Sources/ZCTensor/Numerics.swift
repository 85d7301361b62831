import COpenBLAS
import Foundation

/// The numerics version: what decides the last bits of every proxy value, recorded in every stored
/// row (`numerics` column) so that a shipped table says which engine reproduces it bit for bit.
///
/// Floating-point sums are not associative, so a value depends on the order in which each kernel
/// adds, not only on the formula. Three things fix that order:
/// 1. ``revision``: the engine's own kernels (convolution, reductions, batch norm, autodiff). It is
///    bumped by hand whenever a change moves any value of any proxy, however little (a new
///    blocking, a fused sweep, a different thread partition). Unchanged when only new proxies or
///    new code paths are added. One recorded exception: commit 4c45fd3 (2026-12-03) moved the
///    last bits of vkdnw_entropy (its per-sample Jacobian now sums a convolution's weight entry
///    directly) without a bump, because no shipped row carried VKDNW and a bump would have
///    relabelled every shipped row; vkdnw_entropy rows that earlier builds stored as `n1` (never
///    shipped) are not reproduced bit for bit. A second, of the same kind: the linear-head path
///    of ZCAutodiff's `perSampleElementJacobian` (2026-12-04) moved the last bits of
///    vkdnw_entropy where a network's classifier has more outputs than inputs (NB201 on CIFAR-100
///    and ImageNet16-120: 100 and 120 classes on 64 features), of which no row is shipped (a bump
///    would again relabel every shipped row); CIFAR-10's VKDNW rows (10 classes) are unchanged.
/// 2. The convolution path chosen at run time: `avx512` (the direct 3×3 kernels, see
///    ``CPUFeatures/directConvolution``) or `portable` (im2col + GEMM everywhere). The name
///    `avx512` is the summation order of the direct kernels, named after their first build: their
///    AVX2 + FMA build adds in the same order and gives the same bits, so it has the same name
///    (an AVX2 machine reproduces rows an AVX-512 machine computed).
/// 3. The BLAS library and the kernel core it chose (OpenBLAS's `openblas_get_config()` version
///    and `openblas_get_corename()`; the core follows `OPENBLAS_CORETYPE` when it is set).
///
/// ``version`` joins them, for example `n1-avx512-openblas0.3.21-haswell`. Two runs with the same
/// version, settings and inputs give bit-identical values; a different version may differ in the
/// last bits (within the reference fixtures' tolerances).
public enum Numerics {
  /// Revision of the engine's own kernels' summation order (see the type's documentation).
  public static let revision = 1

  /// The convolution path this process uses: "avx512" or "portable".
  public static var convolutionPath: String { CPUFeatures.directConvolution == nil ? "portable" : "avx512" }

  /// The BLAS identity: "openblas" + its version + "-" + the core name, lower case (e.g.
  /// "openblas0.3.21-haswell").
  public static var blas: String {
    let config = String(cString: openblas_get_config())  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"
    let words = config.split(separator: " ")
    let release = words.count > 1 && words[0] == "OpenBLAS" ? String(words[1]) : "unknown"
    return "openblas\(release)-\(OpenBLAS.coreName.lowercased())"
  }

  /// The full numerics version stored with every row (see the type's documentation).
  public static let version: String = "n\(revision)-\(convolutionPath)-\(blas)"
}
