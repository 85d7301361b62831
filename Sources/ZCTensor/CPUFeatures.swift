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
    /// `-target-cpu skylake-avx512`: needs AVX-512 F, CD, BW, DQ, VL and the Haswell level (``haswellLevel``).
    case avx512
    /// `-target-cpu haswell`: needs AVX2, FMA and the rest of that level (``haswellLevel``).
    case avx2
  }

  /// The CPU's vendor (`vendor_id`, e.g. "AuthenticAMD") and feature flags, from the first
  /// processor of /proc/cpuinfo (Linux on x86-64; nil and empty elsewhere).
  static let cpuinfo: (vendor: String?, flags: Set<Substring>) = {
    #if arch(x86_64) && os(Linux)
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return (nil, []) }
    let lines = text.split(separator: "\n")
    func value(_ key: String) -> Substring? {
      guard let line = lines.first(where: { $0.hasPrefix(key) }), let colon = line.firstIndex(of: ":") else { return nil }
      return line[line.index(after: colon)...]
    }
    let flags = value("flags").map { Set($0.split(whereSeparator: { $0 == " " || $0 == "\t" })) } ?? []
    return (value("vendor_id").map { $0.trimmingCharacters(in: .whitespaces) }, flags)
    #else
    return (nil, [])
    #endif
  }()

  /// Whether the CPU reports `flag` (a /proc/cpuinfo name such as "avx2"; whole words only).
  public static func has(_ flag: String) -> Bool { cpuinfo.flags.contains(Substring(flag)) }

  /// The CPU's vendor string (`vendor_id` of /proc/cpuinfo), nil where unknown.
  public static var vendor: String? { cpuinfo.vendor }

  /// What `-target-cpu haswell` lets the compiler use in any code of such a build, index
  /// arithmetic included: AVX, AVX2, FMA, BMI1, BMI2, F16C, MOVBE, LZCNT ("abm" in /proc/cpuinfo),
  /// POPCNT and SSE4.2 (the x86-64-v3 level; Haswell's AES, PCLMUL and RDRAND are used only
  /// through intrinsics, which these kernels do not call). Virtual machines may mask some of them.
  static let haswellLevel = ["avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "popcnt", "sse4_2"]

  /// The /proc/cpuinfo flags a build's code may use (its `-target-cpu` level).
  public static func requiredFlags(_ build: DirectConvolutionBuild) -> [String] {
    switch build {
    case .avx512: return haswellLevel + ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
    case .avx2: return haswellLevel
    }
  }

  /// Whether the CPU can run a build's code (its flags, not the ZCNAS_DIRECT_CONV setting).
  public static func supports(_ build: DirectConvolutionBuild) -> Bool { requiredFlags(build).allSatisfy(has) }

  /// The build this process uses, nil for none (the portable im2col + GEMM path). The fastest the
  /// CPU supports, unless the environment variable ZCNAS_DIRECT_CONV says otherwise: "0" for none,
  /// "avx2" or "avx512" for that build (to compare the two on an AVX-512 CPU). A build the CPU
  /// cannot run, or any other value, is refused with a warning on standard error and the default
  /// is used.
  public static let directConvolution: DirectConvolutionBuild? = {
    let best = DirectConvolutionBuild.allCases.first(where: supports)
    guard let asked = ProcessInfo.processInfo.environment["ZCNAS_DIRECT_CONV"], !asked.isEmpty else { return best }
    if asked == "0" { return nil }
    if let build = DirectConvolutionBuild(rawValue: asked), supports(build) { return build }
    let why = DirectConvolutionBuild(rawValue: asked) == nil
      ? "expected 0, avx2 or avx512" : "this CPU cannot run the \(asked) build"
    FileHandle.standardError.write(Data("warning: ZCNAS_DIRECT_CONV=\(asked) ignored (\(why)); using \(best?.rawValue ?? "the portable convolution")\n".utf8))
    return best
  }()
}
