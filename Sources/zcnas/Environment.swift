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

  /// glibc's allocator returns freed blocks of 128 KiB and more to the kernel at once (mmap below
  /// a threshold it raises only slowly, and heap trimming), so every new activation or gradient
  /// tensor of the next pass costs fresh zero-filled pages: on NAS-Bench-201 scoring the kernel's
  /// page clearing was half of the time of `grad_match_per_sample` (perf, 2026-12-02). Keeping up
  /// to 32 MiB blocks (glibc's largest mmap threshold on 64-bit) in the heap and never trimming it
  /// lets the passes reuse their memory; peak memory is unchanged, the process keeps its peak
  /// until it exits. Values are unaffected (allocation never changes a computed number).
  /// Skipped when GLIBC_TUNABLES sets a malloc tunable (the user's choice wins).
  static func configureAllocator() {
    #if os(Linux) && canImport(Glibc)
    if let t = getenv("GLIBC_TUNABLES"), String(cString: t).contains("glibc.malloc.") { return }
    // mallopt and <malloc.h>'s constants are not in Swift's Glibc module: look the function up
    // (RTLD_DEFAULT is a null handle on Linux); M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-3, 32 << 20)
    _ = mallopt(-1, Int32.max)
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
