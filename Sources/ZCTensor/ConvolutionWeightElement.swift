/// Per-sample derivative of a convolution with respect to one weight entry.
extension Convolution {
  /// For y = conv2d(x, w) (``forward(_:_:_:)``, NCHW) and a cotangent gy of y, the derivative of
  /// ⟨gy_b, y_b⟩ with respect to the single weight entry w[o, c, i, j] for every sample b:
  ///
  ///   g_b = Σ_{u < H_out, v < W_out} gy[b, o, u, v] · x[b, c, u·s − p + i·d, v·s − p + j·d]
  ///
  /// (terms whose input position falls in the padding are 0): mathematically entry `element` of the
  /// weight gradient ``backwardWeight(_:_:kernelSize:_:)`` would compute from row b alone, at
  /// H_out·W_out multiply–adds per sample instead of the whole gradient's C_out·C_in·kh·kw times
  /// as many. Summed in Float64 in row-major (u, v) order whatever the dtype, so its last bits
  /// differ from that gradient's (im2col + GEMM) order, and in Float32 it is the more accurate.
  /// Used by VKDNW's per-sample Jacobian (Tybl & Neumann 2025).
  ///
  /// - Parameters:
  ///   - x: the convolution's input `[N, C_in, H, W]`.
  ///   - gy: the cotangent of its output `[N, C_out, H_out, W_out]`, same dtype as `x`.
  ///   - weightShape: the weight's shape `[C_out, C_in, kh, kw]`.
  ///   - element: flat (row-major) index of the entry in the weight.
  ///   - geometry: the convolution's stride, padding and dilation.
  /// - Returns: N values, one per sample.
  /// - Precondition: 4-D `x` and `gy` of one dtype and the shapes above; `element` inside the
  ///   weight (violations trap, as the other kernels).
  public static func weightElementGradientPerSample(_ x: Tensor, _ gy: Tensor, weightShape: [Int], element: Int,
                                                    _ geometry: Conv2DGeometry) -> [Double] {
    precondition(x.rank == 4 && gy.rank == 4 && weightShape.count == 4, "weightElementGradientPerSample needs NCHW x, gy and a 4-D weight shape")
    precondition(x.dtype == gy.dtype, "x is \(x.dtype), gy \(gy.dtype)")
    let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, kh, kw) = (weightShape[0], weightShape[2], weightShape[3])
    precondition(weightShape[1] == cin, "weight \(weightShape) for an input of \(cin) channels")
    let (ho, wo) = (geometry.outputSize(h, kernel: kh), geometry.outputSize(w, kernel: kw))
    precondition(gy.shape == [n, cout, ho, wo], "gy \(gy.shape), expected \([n, cout, ho, wo])")
    precondition(element >= 0 && element < cout * cin * kh * kw, "element \(element) outside a weight of \(weightShape)")
    let o = element / (cin * kh * kw), c = (element / (kh * kw)) % cin, i = (element / kw) % kh, j = element % kw
    let (s, p, d) = (geometry.stride, geometry.padding, geometry.dilation)
    // Output rows/columns whose input position lies inside the image.
    let rows = (0..<ho).filter { u in let r = u * s - p + i * d; return r >= 0 && r < h }
    let cols = (0..<wo).filter { v in let q = v * s - p + j * d; return q >= 0 && q < w }
    func run<T: TensorScalar>(_: T.Type) -> [Double] {
      let xp = x.pointer(T.self), gp = gy.pointer(T.self)
      return (0..<n).map { b in
        let xb = xp + (b * cin + c) * h * w, gb = gp + (b * cout + o) * ho * wo
        var acc = 0.0
        for u in rows {
          let xr = (u * s - p + i * d) * w + j * d - p, gr = gb + u * wo
          for v in cols { acc += Double(gr[v]) * Double(xb[xr + v * s]) }
        }
        return acc
      }
    }
    switch x.dtype {
    case .float64: return run(Double.self)
    case .float32: return run(Float.self)
    }
  }
}
