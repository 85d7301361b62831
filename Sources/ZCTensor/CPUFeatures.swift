import Foundation

/// CPU features the engine selects kernels by, read once at run time, so one binary runs on any
/// x86-64 CPU: the direct convolution kernels where the CPU has AVX-512 or AVX2 + FMA, portable
/// code elsewhere.
public enum CPUFeatures {
  /// Which build of the direct 3×3 convolution kernels (`ZCConvAVX512`, `ZCConvAVX2`: one source
  /// compiled for two instruction sets) a process uses.
  ///
  /// Both builds sum every output element in the same order with fused multiply-adds (SIMD lanes
  /// hold independent outputs, never parts of one sum), so they give the same bits; only their
  /// speed differs. Their values therefore share one numerics version (``Numerics/convolutionPath``).
  public enum DirectConvolutionBuild: String, Sendable, CaseIterable {
    /// `-target-cpu skylake-avx512`: needs AVX-512 F, BW, DQ, VL and FMA.
    case avx512
    /// `-target-cpu haswell`: needs AVX2 and FMA.
    case avx2
  }

  /// The CPU's feature flags (Linux: the first `flags` line of /proc/cpuinfo; empty elsewhere).
  static let flags: Set<Substring> = {
    #if arch(x86_64) && os(Linux)
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    return Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" }))
    #else
    return []
    #endif
  }()

  /// Whether the CPU can run a build's code (its flags, not the ZCNAS_DIRECT_CONV setting).
  public static func supports(_ build: DirectConvolutionBuild) -> Bool {
    let need: [Substring]
    switch build {
    case .avx512: need = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]
    case .avx2: need = ["avx2", "fma"]
    }
    return need.allSatisfy { flags.contains($0) }
  }

  /// The build this process uses, nil for none (the portable im2col + GEMM path). The fastest the
  /// CPU supports, unless the environment variable ZCNAS_DIRECT_CONV says otherwise: "0" for none,
  /// "avx2" for the AVX2 build on an AVX-512 CPU (to compare the two; a CPU without AVX2 and FMA
  /// gets none).
  public static let directConvolution: DirectConvolutionBuild? = {
    switch ProcessInfo.processInfo.environment["ZCNAS_DIRECT_CONV"] {
    case "0": return nil
    case "avx2": return supports(.avx2) ? .avx2 : nil
    default: return DirectConvolutionBuild.allCases.first(where: supports)
    }
  }()
}
