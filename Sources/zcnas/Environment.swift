#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZCTensor

/// OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS once, when the library loads, so
/// they cannot be set from inside the running process. If either is unset, set it and re-execute
/// this binary (Linux: /proc/self/exe) so the new values take effect. A value the user (or the
/// machine) already set is never changed.
///
/// - OPENBLAS_NUM_THREADS=1: the engine parallelises above BLAS; two OpenBLAS threads made small
///   LAPACK calls up to 25x slower on the target machine (performance notes).
/// - OPENBLAS_CORETYPE: OpenBLAS 0.3.21 misclassifies recent virtual CPUs (Zen 4 as Cooperlake,
///   1.2-1.9x slower skinny GEMMs; an unnamed Intel Xeon guest as Prescott, 4x slower sgemm).
///   AMD CPUs get "Zen", Intel CPUs with AVX-512 "SkylakeX", other AVX2+FMA CPUs "Haswell".
///   Set ZCNAS_NO_REEXEC=1 to disable all of this.
enum ProcessEnvironment {
  static func ensureOpenBLASSettings() {
    #if os(Linux)
    if getenv("ZCNAS_NO_REEXEC") != nil { return }
    var changed = false
    if getenv("OPENBLAS_NUM_THREADS") == nil { setenv("OPENBLAS_NUM_THREADS", "1", 1); changed = true }
    if getenv("OPENBLAS_CORETYPE") == nil, let core = preferredCoreType() { setenv("OPENBLAS_CORETYPE", core, 1); changed = true }
    guard changed else { return }
    setenv("ZCNAS_NO_REEXEC", "1", 1)  // never loop
    let args = CommandLine.arguments
    var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
    cargs.append(nil)
    execv("/proc/self/exe", &cargs)
    // execv returned: keep running with the current settings.
    #endif
  }

  /// The OpenBLAS kernel family for this CPU, from /proc/cpuinfo's vendor and whole-word flags
  /// (``CPUFeatures``; nil: leave OpenBLAS to decide).
  static func preferredCoreType() -> String? {
    #if arch(x86_64) && os(Linux)
    guard CPUFeatures.has("avx2") && CPUFeatures.has("fma") else { return nil }
    if CPUFeatures.vendor == "AuthenticAMD" { return "Zen" }
    return CPUFeatures.has("avx512f") ? "SkylakeX" : "Haswell"
    #else
    return nil
    #endif
  }
}
