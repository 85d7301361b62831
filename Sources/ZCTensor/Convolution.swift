import Foundation
import ZCConvAVX2
import ZCConvAVX512

/// Geometry of a 2-D convolution or pooling window (PyTorch's `Conv2d` arguments).
public struct Conv2DGeometry: Sendable, Equatable, Hashable {
  public var stride: Int
  public var padding: Int
  public var dilation: Int

  public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1) {
    precondition(stride >= 1 && padding >= 0 && dilation >= 1, "invalid conv geometry stride \(stride) padding \(padding) dilation \(dilation)")
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
  }

  /// Output size along one axis: ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1, with ⌊·⌋ rounding towards −∞ as
  /// PyTorch's `Conv2d` shape formula does, so it is ≤ 0 whenever no window fits (integer `/`
  /// would round a negative numerator up and give 1 for some inputs smaller than the kernel).
  public func outputSize(_ n: Int, kernel k: Int) -> Int {
    floorDivide(n + 2 * padding - dilation * (k - 1) - 1, stride) + 1
  }
}

/// ⌊a / b⌋ for b > 0, rounding towards −∞ (Swift's `/` rounds towards zero).
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int {
  let q = a / b
  return a % b != 0 && a < 0 ? q - 1 : q
}

/// Convolution kernels in NCHW. On CPUs with AVX-512 or AVX2 + FMA (``CPUFeatures/directConvolution``), Float32 3×3 stride-1 convolutions with channel
/// counts in multiples of 16 (NAS-Bench-201's cells) run direct channel-blocked SIMD16 kernels
/// (forward, input gradient and weight gradient). Everything else works one image at a time: im2col into a
/// `[C_in·kh·kw, H_out·W_out]` buffer that fits in cache, then one GEMM (1×1 convolutions with
/// stride 1 and no padding skip im2col). With ``Parallel/threads`` > 1 the work is split over
/// independent outputs only: images of the batch (forward, input gradient) and, for the weight
/// gradient of the direct kernel, (output block, input block, tap) triples; every element is
/// summed in the same order as with one thread. The GEMM paths of the weight gradient stay serial
/// (OpenBLAS's summation order depends on the GEMM's shape).
///
/// FLOPs: forward = 2·N·C_out·H_out·W_out·C_in·kh·kw; each backward costs the same.
public enum Convolution {
  /// y = conv2d(x, w): x `[N, C_in, H, W]`, w `[C_out, C_in, kh, kw]` → `[N, C_out, H_out, W_out]`. No bias.
  public static func forward(_ x: Tensor, _ w: Tensor, _ g: Conv2DGeometry) -> Tensor {
    precondition(x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1] && x.dtype == w.dtype,
                 "conv2d: input \(x.shape) and weight \(w.shape) do not match")
    let ho = g.outputSize(x.shape[2], kernel: w.shape[2]), wo = g.outputSize(x.shape[3], kernel: w.shape[3])
    precondition(ho > 0 && wo > 0, "conv2d: input \(x.shape) too small for kernel \(w.shape) with \(g)")
    let y = Tensor(uninitialized: [x.shape[0], w.shape[0], ho, wo], dtype: x.dtype)
    switch x.dtype {
    case .float32: convForward(x, w, y, g, Float.self)
    case .float64: convForward(x, w, y, g, Double.self)
    }
    return y
  }

  /// Gradient w.r.t. the input: the adjoint of `forward` in x. gy `[N, C_out, H_out, W_out]`,
  /// w `[C_out, C_in, kh, kw]` → `[N, C_in, H, W]` with `inputSize` = (H, W).
  public static func backwardData(_ gy: Tensor, _ w: Tensor, inputSize: (Int, Int), _ g: Conv2DGeometry) -> Tensor {
    precondition(gy.rank == 4 && w.rank == 4 && gy.shape[1] == w.shape[0] && gy.dtype == w.dtype,
                 "conv2d backward data: gradient \(gy.shape) and weight \(w.shape) do not match")
    precondition(g.outputSize(inputSize.0, kernel: w.shape[2]) == gy.shape[2] && g.outputSize(inputSize.1, kernel: w.shape[3]) == gy.shape[3],
                 "conv2d backward data: input size \(inputSize) inconsistent with output \(gy.shape)")
    // The direct 3×3 kernel and the pointwise GEMM overwrite every element; col2im accumulates.
    let shape = [gy.shape[0], w.shape[1], inputSize.0, inputSize.1]
    let overwrites = w.shape[2] == 1 && w.shape[3] == 1 && g == Conv2DGeometry()
      || useDirect3x3(ConvShape(x: shape, w: w.shape, y: gy.shape, g), gy.dtype)
    let gx = overwrites ? Tensor(uninitialized: shape, dtype: gy.dtype) : Tensor(zeros: shape, dtype: gy.dtype)
    switch gy.dtype {
    case .float32: convBackwardData(gy, w, gx, g, Float.self)
    case .float64: convBackwardData(gy, w, gx, g, Double.self)
    }
    return gx
  }

  /// Gradient w.r.t. the weight: the adjoint of `forward` in w, summed over the batch.
  /// x `[N, C_in, H, W]`, gy `[N, C_out, H_out, W_out]` → `[C_out, C_in, kh, kw]` with `kernelSize` = (kh, kw).
  public static func backwardWeight(_ x: Tensor, _ gy: Tensor, kernelSize: (Int, Int), _ g: Conv2DGeometry) -> Tensor {
    precondition(x.rank == 4 && gy.rank == 4 && x.shape[0] == gy.shape[0] && x.dtype == gy.dtype,
                 "conv2d backward weight: input \(x.shape) and gradient \(gy.shape) do not match")
    precondition(g.outputSize(x.shape[2], kernel: kernelSize.0) == gy.shape[2] && g.outputSize(x.shape[3], kernel: kernelSize.1) == gy.shape[3],
                 "conv2d backward weight: kernel \(kernelSize) inconsistent with \(x.shape) → \(gy.shape)")
    // Every path writes each element (direct kernel; GEMMs with beta 0 for the first image),
    // except an empty batch.
    let shape = [gy.shape[1], x.shape[1], kernelSize.0, kernelSize.1]
    let gw = x.shape[0] > 0 ? Tensor(uninitialized: shape, dtype: x.dtype) : Tensor(zeros: shape, dtype: x.dtype)
    switch x.dtype {
    case .float32: convBackwardWeight(x, gy, gw, g, Float.self)
    case .float64: convBackwardWeight(x, gy, gw, g, Double.self)
    }
    return gw
  }

  /// Multiply-accumulate count of one forward pass: N·C_out·H_out·W_out·C_in·kh·kw.
  public static func macs(input: [Int], weight: [Int], _ g: Conv2DGeometry) -> Int {
    let ho = g.outputSize(input[2], kernel: weight[2]), wo = g.outputSize(input[3], kernel: weight[3])
    return input[0] * weight[0] * ho * wo * weight[1] * weight[2] * weight[3]
  }
}

// MARK: - im2col kernels

private struct ConvShape {
  let n, ci, h, w, co, kh, kw, ho, wo: Int
  let g: Conv2DGeometry
  var k: Int { ci * kh * kw }
  var pixelsOut: Int { ho * wo }
  var pixelsIn: Int { h * w }
  var isPointwise: Bool { kh == 1 && kw == 1 && g.stride == 1 && g.padding == 0 }

  init(x: [Int], w wshape: [Int], y: [Int], _ g: Conv2DGeometry) {
    n = x[0]; ci = x[1]; h = x[2]; w = x[3]
    co = wshape[0]; kh = wshape[2]; kw = wshape[3]
    ho = y[2]; wo = y[3]
    self.g = g
  }
}

/// col[(c·kh + i)·kw + j][oh·wo + ow] = x[c][oh·s − p + i·d][ow·s − p + j·d] (0 outside).
@inline(__always)
private func im2col<T: TensorScalar>(_ x: UnsafePointer<T>, _ col: UnsafeMutablePointer<T>, _ s: ConvShape) {
  let st = s.g.stride, pad = s.g.padding, dil = s.g.dilation
  var row = 0
  for c in 0..<s.ci {
    let xc = x + c * s.pixelsIn
    for i in 0..<s.kh {
      for j in 0..<s.kw {
        let dst = col + row * s.pixelsOut
        let colOff = j * dil - pad
        // valid ow range: 0 <= ow*st + colOff < w
        let owLo = colOff >= 0 ? 0 : min(s.wo, (-colOff + st - 1) / st)
        let owHi = max(owLo, min(s.wo, (s.w - colOff + st - 1) / st))
        for oh in 0..<s.ho {
          let ih = oh * st - pad + i * dil
          let d = dst + oh * s.wo
          if ih < 0 || ih >= s.h {
            d.update(repeating: 0, count: s.wo)
            continue
          }
          let src = xc + ih * s.w
          if owLo > 0 { d.update(repeating: 0, count: owLo) }
          if st == 1 {
            (d + owLo).update(from: src + owLo + colOff, count: owHi - owLo)
          } else {
            for ow in owLo..<owHi { d[ow] = src[ow * st + colOff] }
          }
          if owHi < s.wo { (d + owHi).update(repeating: 0, count: s.wo - owHi) }
        }
        row += 1
      }
    }
  }
}

/// Adjoint of im2col: x[c][ih][iw] += col[...] for every window position that reads it.
@inline(__always)
private func col2im<T: TensorScalar>(_ col: UnsafePointer<T>, _ x: UnsafeMutablePointer<T>, _ s: ConvShape) {
  let st = s.g.stride, pad = s.g.padding, dil = s.g.dilation
  var row = 0
  for c in 0..<s.ci {
    let xc = x + c * s.pixelsIn
    for i in 0..<s.kh {
      for j in 0..<s.kw {
        let src = col + row * s.pixelsOut
        let colOff = j * dil - pad
        let owLo = colOff >= 0 ? 0 : min(s.wo, (-colOff + st - 1) / st)
        let owHi = max(owLo, min(s.wo, (s.w - colOff + st - 1) / st))
        for oh in 0..<s.ho {
          let ih = oh * st - pad + i * dil
          if ih < 0 || ih >= s.h { continue }
          let d = xc + ih * s.w + colOff
          let r = src + oh * s.wo
          if st == 1 {
            for ow in owLo..<owHi { d[ow] += r[ow] }
          } else {
            for ow in owLo..<owHi { d[ow * st] += r[ow] }
          }
        }
        row += 1
      }
    }
  }
}

/// Whether the direct 3×3 kernel applies: Float32, 3×3, stride 1, padding 1, dilation 1,
/// channel counts multiples of 16, width a multiple of 8, and a CPU with one of its builds.
private func useDirect3x3(_ s: ConvShape, _ dtype: DType) -> Bool {
  dtype == .float32 && s.kh == 3 && s.kw == 3 && s.g.stride == 1 && s.g.padding == 1 && s.g.dilation == 1
    && s.ci % 16 == 0 && s.co % 16 == 0 && s.w % 8 == 0 && s.h == s.ho && s.w == s.wo && CPUFeatures.directConvolution != nil
}

private func convForward<T: TensorScalar>(_ x: Tensor, _ w: Tensor, _ y: Tensor, _ g: Conv2DGeometry, _: T.Type) {
  let s = ConvShape(x: x.shape, w: w.shape, y: y.shape, g)
  if useDirect3x3(s, x.dtype) {
    Direct3x3.kernels.run(x: x.pointer(Float.self), weight: w.pointer(Float.self), y: y.mutablePointer(Float.self),
                          n: s.n, cin: s.ci, cout: s.co, h: s.h, w: s.w, flipTranspose: false, threads: Parallel.threads)
    return
  }
  let px = x.pointer(T.self), pw = w.pointer(T.self), py = y.mutablePointer(T.self)
  if s.isPointwise {
    Parallel.forEachRange(s.n) { images in
      for b in images {
        T.gemm(transA: false, transB: false, m: s.co, n: s.pixelsOut, k: s.ci, alpha: 1, a: pw, lda: s.ci,
               b: px + b * s.ci * s.pixelsIn, ldb: s.pixelsIn, beta: 0, c: py + b * s.co * s.pixelsOut, ldc: s.pixelsOut)
      }
    }
    return
  }
  Parallel.forEachRange(s.n) { images in
    let col = UnsafeMutablePointer<T>.allocate(capacity: s.k * s.pixelsOut)
    defer { col.deallocate() }
    for b in images {
      im2col(px + b * s.ci * s.pixelsIn, col, s)
      T.gemm(transA: false, transB: false, m: s.co, n: s.pixelsOut, k: s.k, alpha: 1, a: pw, lda: s.k,
             b: col, ldb: s.pixelsOut, beta: 0, c: py + b * s.co * s.pixelsOut, ldc: s.pixelsOut)
    }
  }
}

private func convBackwardData<T: TensorScalar>(_ gy: Tensor, _ w: Tensor, _ gx: Tensor, _ g: Conv2DGeometry, _: T.Type) {
  let s = ConvShape(x: gx.shape, w: w.shape, y: gy.shape, g)
  if useDirect3x3(s, gy.dtype) {
    // gx = conv(gy, w') with w'[ci][co] = w[co][ci] rotated by 180°: the same kernel (3×3, pad 1).
    Direct3x3.kernels.run(x: gy.pointer(Float.self), weight: w.pointer(Float.self), y: gx.mutablePointer(Float.self),
                          n: s.n, cin: s.co, cout: s.ci, h: s.h, w: s.w, flipTranspose: true, threads: Parallel.threads)
    return
  }
  let pgy = gy.pointer(T.self), pw = w.pointer(T.self), pgx = gx.mutablePointer(T.self)
  if s.isPointwise {
    Parallel.forEachRange(s.n) { images in
      for b in images {
        T.gemm(transA: true, transB: false, m: s.ci, n: s.pixelsIn, k: s.co, alpha: 1, a: pw, lda: s.ci,
               b: pgy + b * s.co * s.pixelsOut, ldb: s.pixelsOut, beta: 0, c: pgx + b * s.ci * s.pixelsIn, ldc: s.pixelsIn)
      }
    }
    return
  }
  Parallel.forEachRange(s.n) { images in
    let col = UnsafeMutablePointer<T>.allocate(capacity: s.k * s.pixelsOut)
    defer { col.deallocate() }
    for b in images {
      T.gemm(transA: true, transB: false, m: s.k, n: s.pixelsOut, k: s.co, alpha: 1, a: pw, lda: s.k,
             b: pgy + b * s.co * s.pixelsOut, ldb: s.pixelsOut, beta: 0, c: col, ldc: s.pixelsOut)
      col2im(col, pgx + b * s.ci * s.pixelsIn, s)
    }
  }
}

private func convBackwardWeight<T: TensorScalar>(_ x: Tensor, _ gy: Tensor, _ gw: Tensor, _ g: Conv2DGeometry, _: T.Type) {
  let s = ConvShape(x: x.shape, w: gw.shape, y: gy.shape, g)
  if useDirect3x3(s, x.dtype) {
    let packed = Convolution.packedInputs?.packed(x, n: s.n, c: s.ci, h: s.h, w: s.w)
    Direct3x3.kernels.weightGradient(x: x.pointer(Float.self), gy: gy.pointer(Float.self), dw: gw.mutablePointer(Float.self),
                                     n: s.n, cin: s.ci, cout: s.co, h: s.h, w: s.w, threads: Parallel.threads,
                                     packedX: packed.map { $0.pointer(Float.self) })
    return
  }
  let px = x.pointer(T.self), pgy = gy.pointer(T.self), pgw = gw.mutablePointer(T.self)
  // dW accumulates over images (beta 1 after the first) in OpenBLAS's own order, which depends on
  // the GEMM's shape: splitting its rows across threads changed bits (ParallelKernelTests), so the
  // GEMM paths of the weight gradient stay serial.
  if s.isPointwise {
    for b in 0..<s.n {
      T.gemm(transA: false, transB: true, m: s.co, n: s.ci, k: s.pixelsIn, alpha: 1, a: pgy + b * s.co * s.pixelsOut,
             lda: s.pixelsOut, b: px + b * s.ci * s.pixelsIn, ldb: s.pixelsIn, beta: b == 0 ? 0 : 1, c: pgw, ldc: s.ci)
    }
    return
  }
  let col = UnsafeMutablePointer<T>.allocate(capacity: s.k * s.pixelsOut)
  defer { col.deallocate() }
  for b in 0..<s.n {
    im2col(px + b * s.ci * s.pixelsIn, col, s)
    T.gemm(transA: false, transB: true, m: s.co, n: s.k, k: s.pixelsOut, alpha: 1, a: pgy + b * s.co * s.pixelsOut,
           lda: s.pixelsOut, b: col, ldb: s.pixelsOut, beta: b == 0 ? 0 : 1, c: pgw, ldc: s.k)
  }
}

extension Convolution {
  /// Packed forms of convolution inputs, kept while bound (``packedInputs``): the direct 3×3
  /// weight gradient packs its input x (a forward activation) into its own layout on every call;
  /// a caller that runs many backward passes through the same forward graph (the NTK's B
  /// per-sample passes) binds a cache so each x is packed once. Packing is a copy, so values are
  /// unchanged. Memory: about 1.1× each cached input, released with the cache.
  public final class PackedInputCache: @unchecked Sendable {
    private let lock = NSLock()
    // Keyed by the input's storage and offset; the entry keeps the storage alive, so the key
    // cannot be reused by another tensor while cached.
    private var entries: [Key: (storage: TensorStorage, packed: Tensor)] = [:]
    private struct Key: Hashable { let storage: ObjectIdentifier; let offset: Int; let shape: [Int] }

    public init() {}

    /// Number of cached inputs.
    public var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    func packed(_ x: Tensor, n: Int, c: Int, h: Int, w: Int) -> Tensor {
      let key = Key(storage: ObjectIdentifier(x.storage), offset: x.offset, shape: x.shape)
      lock.lock()
      if let e = entries[key] { lock.unlock(); return e.packed }
      lock.unlock()
      let p = Tensor(uninitialized: [Direct3x3.kernels.packedInputCount(n: n, c: c, h: h, w: w)], dtype: .float32)
      Direct3x3.kernels.packForWeightGradient(x: x.pointer(Float.self), into: p.mutablePointer(Float.self), n: n, c: c, h: h, w: w,
                                              threads: Parallel.threads)
      lock.lock(); entries[key] = (x.storage, p); lock.unlock()
      return p
    }
  }

  /// The cache the weight gradients of this task use (nil: pack on every call).
  @TaskLocal public static var packedInputs: PackedInputCache?
}

/// The direct 3×3 kernels of one build: ZCConvAVX512 and ZCConvAVX2 are the same source
/// compiled for two instruction sets (same summation order, same bits), so both conform.
protocol Direct3x3Kernels {
  static func run(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                  n: Int, cin: Int, cout: Int, h: Int, w: Int, flipTranspose: Bool, threads: Int)
  static func weightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                             n: Int, cin: Int, cout: Int, h: Int, w: Int, threads: Int, packedX: UnsafePointer<Float>?)
  static func packForWeightGradient(x: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>, n: Int, c: Int, h: Int, w: Int, threads: Int)
  static func packedInputCount(n: Int, c: Int, h: Int, w: Int) -> Int
}

extension ZCConvAVX512.DirectConv3x3: Direct3x3Kernels {}
extension ZCConvAVX2.DirectConv3x3: Direct3x3Kernels {}

/// The direct 3×3 kernels of the build ``CPUFeatures/directConvolution`` chose (the two builds take
/// the same arguments and give the same bits; see ``ZCConvAVX512/DirectConv3x3``).
enum Direct3x3 {
  /// The build this process runs (``CPUFeatures/directConvolution``). Called only where
  /// `useDirect3x3` has said yes, i.e. where there is one.
  static var kernels: any Direct3x3Kernels.Type {
    switch CPUFeatures.directConvolution {
    case .avx512: return ZCConvAVX512.DirectConv3x3.self
    case .avx2: return ZCConvAVX2.DirectConv3x3.self
    case nil: preconditionFailure("Direct3x3 called on a CPU without a direct-convolution build")
    }
  }
}
