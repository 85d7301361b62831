import Foundation

/// CPU features the engine selects kernels by, read once at run time, so one binary runs on any
/// x86-64 CPU: AVX-512 kernels only where the CPU has AVX-512F, portable code elsewhere.
public enum CPUFeatures {
  /// True when the CPU reports AVX-512 F, BW, DQ and VL (what `-target-cpu skylake-avx512` code
  /// may use; Linux: /proc/cpuinfo flags) and ZCNAS_DIRECT_CONV is not "0".
  public static let hasAVX512: Bool = {
    if ProcessInfo.processInfo.environment["ZCNAS_DIRECT_CONV"] == "0" { return false }
    #if arch(x86_64) && os(Linux)
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    let have = Set(flags.split(whereSeparator: { $0 == " " || $0 == "\t" }))
    return ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"].allSatisfy { have.contains(Substring($0)) }
    #else
    return false
    #endif
  }()
}
