import ArgumentParser
import Foundation
import ZCTensor

/// `zcnas bench`: kernel throughput in GFLOP/s (release build, one thread).
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure conv2d forward/backward GFLOP/s at NAS-Bench-201 shapes next to sgemm (one thread).",
    discussion: """
      Shapes: batch N (default 64); C = 16, 32, 64 at 32, 16, 8 pixels; 3x3 (padding 1) and 1x1 kernels, \
      C_in = C_out = C, stride 1. FLOPs = 2 * N * C_out * H * W * C_in * k * k per pass. Each figure is \
      the median of --repeats timed runs after one warm-up. Build with `swift build -c release`.
      """
  )

  @Option(help: "Batch size.") var batch = 64
  @Option(help: "Timed repetitions per measurement (median reported).") var repeats = 5

  func validate() throws {
    guard batch >= 1 else { throw CLIError("--batch must be at least 1, got \(batch)") }
    guard repeats >= 1 else { throw CLIError("--repeats must be at least 1, got \(repeats)") }
  }

  func run() throws {
    OpenBLAS.setThreads(1)
    print("zcnas \(ZeroCostNAS.version)  OpenBLAS core: \(OpenBLAS.coreName)  threads: \(OpenBLAS.threads)  OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
    let gemm = sgemmGFLOPs(n: 1024)
    print(String(format: "sgemm 1024x1024x1024: %.1f GFLOP/s", gemm))
    print("layer              pass       median ms   GFLOP/s   vs sgemm")
    var rng = ZCRandom(seed: 0)
    for (c, hw) in [(16, 32), (32, 16), (64, 8)] {
      for k in [3, 1] {
        let g = Conv2DGeometry(stride: 1, padding: k / 2)
        let x = Initializer.normal(mean: 0, std: 1).make(shape: [batch, c, hw, hw], rng: &rng)
        let w = Initializer.pytorchDefaultWeight.make(shape: [c, c, k, k], rng: &rng)
        let y = Convolution.forward(x, w, g)
        let gy = Initializer.normal(mean: 0, std: 1).make(shape: y.shape, rng: &rng)
        let flops = 2.0 * Double(Convolution.macs(input: x.shape, weight: w.shape, g))
        let passes: [(String, () -> Tensor)] = [
          ("forward", { Convolution.forward(x, w, g) }),
          ("bwd-data", { Convolution.backwardData(gy, w, inputSize: (hw, hw), g) }),
          ("bwd-weight", { Convolution.backwardWeight(x, gy, kernelSize: (k, k), g) }),
        ]
        for (name, f) in passes {
          let t = medianSeconds(repeats) { _ = f() }
          let label = "C\(c) \(hw)x\(hw) \(k)x\(k)".padding(toLength: 18, withPad: " ", startingAt: 0)
          print(String(format: "%@ %@ %9.3f %9.1f %9.2f", label, name.padding(toLength: 10, withPad: " ", startingAt: 0), t * 1e3, flops / t / 1e9, flops / t / 1e9 / gemm))
        }
      }
    }
  }

  private func sgemmGFLOPs(n: Int) -> Double {
    var rng = ZCRandom(seed: 1)
    let a = Initializer.normal(mean: 0, std: 1).make(shape: [n, n], rng: &rng)
    let b = Initializer.normal(mean: 0, std: 1).make(shape: [n, n], rng: &rng)
    let t = medianSeconds(repeats) { _ = Tensor.matmul(a, b) }
    return 2 * Double(n * n * n) / t / 1e9
  }
}

/// Median wall time in seconds of `repeats` runs of `body`, after one untimed warm-up run.
func medianSeconds(_ repeats: Int, _ body: () -> Void) -> Double {
  body()
  var times: [Double] = []
  for _ in 0..<repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
  times.sort()
  return times[times.count / 2]
}
