/// Average pooling in NCHW with PyTorch's `nn.AvgPool2d(kernel, stride, padding,
/// ceil_mode=False, count_include_pad)` semantics.
///
/// y[n,c,oh,ow] = (1/D) Σ x[n,c,ih,iw] over the window rows oh·s−p … oh·s−p+k−1 (columns alike)
/// that lie inside the input; D = k² when `countIncludePad` (padding counts as zeros, window
/// clipped to the padded input), else the number of window elements inside the input.
/// NAS-Bench-201's `avg_pool_3x3` is (k 3, s 1, p 1, countIncludePad false); its reduction
/// shortcut is (k 2, s 2, p 0).
public struct AvgPool2DGeometry: Sendable, Equatable, Hashable {
  public var kernel: Int
  public var stride: Int
  public var padding: Int
  public var countIncludePad: Bool

  public init(kernel: Int, stride: Int, padding: Int = 0, countIncludePad: Bool = true) {
    precondition(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel,
                 "invalid pooling kernel \(kernel) stride \(stride) padding \(padding)")
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.countIncludePad = countIncludePad
  }

  /// ⌊(n + 2p − k)/s⌋ + 1, rounding towards −∞ (≤ 0 when no window fits), as PyTorch's `AvgPool2d`
  /// without `ceil_mode`.
  public func outputSize(_ n: Int) -> Int { floorDivide(n + 2 * padding - kernel, stride) + 1 }
}

public enum Pooling {
  /// Average pooling forward: `[N, C, H, W]` → `[N, C, H_out, W_out]`.
  public static func averageForward(_ x: Tensor, _ g: AvgPool2DGeometry) -> Tensor {
    precondition(x.rank == 4, "avg_pool2d expects NCHW, got \(x.shape)")
    let ho = g.outputSize(x.shape[2]), wo = g.outputSize(x.shape[3])
    precondition(ho > 0 && wo > 0, "avg_pool2d: input \(x.shape) too small for \(g)")
    let y = Tensor(uninitialized: [x.shape[0], x.shape[1], ho, wo], dtype: x.dtype)
    switch x.dtype {
    case .float32: avgPool(x, y, g, forward: true, Float.self)
    case .float64: avgPool(x, y, g, forward: true, Double.self)
    }
    return y
  }

  /// Adjoint of ``averageForward(_:_:)``: gy `[N, C, H_out, W_out]` → gx `[N, C, H, W]`.
  public static func averageBackward(_ gy: Tensor, inputSize: (Int, Int), _ g: AvgPool2DGeometry) -> Tensor {
    precondition(gy.rank == 4 && g.outputSize(inputSize.0) == gy.shape[2] && g.outputSize(inputSize.1) == gy.shape[3],
                 "avg_pool2d backward: gradient \(gy.shape) inconsistent with input size \(inputSize)")
    let gx = Tensor(zeros: [gy.shape[0], gy.shape[1], inputSize.0, inputSize.1], dtype: gy.dtype)
    switch gy.dtype {
    case .float32: avgPool(gx, gy, g, forward: false, Float.self)
    case .float64: avgPool(gx, gy, g, forward: false, Double.self)
    }
    return gx
  }
}

/// 3×3 box sums with zero padding 1 of one plane `src` (h×w) into `dst`, times `scale` per output.
/// The box sum is self-adjoint, so the same routine serves forward (scale after) and backward
/// (scale before, by the caller).
@inline(__always)
private func boxSum3x3<T: TensorScalar>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, _ h: Int, _ w: Int,
                                        _ rows: UnsafeMutablePointer<T>, _ scale: UnsafePointer<T>?) {
  // Horizontal 3-sums into `rows`.
  for r in 0..<h {
    let s = src + r * w, d = rows + r * w
    if w == 1 { d[0] = s[0]; continue }
    d[0] = s[0] + s[1]
    if w > 2 { for c in 1..<(w - 1) { d[c] = s[c - 1] + s[c] + s[c + 1] } }
    d[w - 1] = s[w - 2] + s[w - 1]
  }
  // Vertical 3-sums.
  for r in 0..<h {
    let d = dst + r * w, mid = rows + r * w
    let up: UnsafeMutablePointer<T>? = r > 0 ? rows + (r - 1) * w : nil
    let down: UnsafeMutablePointer<T>? = r < h - 1 ? rows + (r + 1) * w : nil
    for c in 0..<w { d[c] = mid[c] + (up?[c] ?? 0) + (down?[c] ?? 0) }
    if let scale { let sc = scale + r * w; for c in 0..<w { d[c] *= sc[c] } }
  }
}

/// forward: y = window means of x; backward: x += y/D spread over each window.
private func avgPool<T: TensorScalar>(_ x: Tensor, _ y: Tensor, _ g: AvgPool2DGeometry, forward: Bool, _: T.Type) {
  let planes = x.shape[0] * x.shape[1]
  let h = x.shape[2], w = x.shape[3], ho = y.shape[2], wo = y.shape[3]
  let k = g.kernel, s = g.stride, p = g.padding
  if k == 3 && s == 1 && p == 1 {
    // NAS-Bench-201 avg_pool_3x3: separable box sums; divisors per position.
    var inv = [T](repeating: 0, count: h * w)
    for r in 0..<h {
      for c in 0..<w {
        let nr = min(r + 2, h + (g.countIncludePad ? 1 : 0)) - max(r - 1, g.countIncludePad ? -1 : 0)
        let nc = min(c + 2, w + (g.countIncludePad ? 1 : 0)) - max(c - 1, g.countIncludePad ? -1 : 0)
        inv[r * w + c] = 1 / T(nr * nc)
      }
    }
    let rows = UnsafeMutablePointer<T>.allocate(capacity: h * w)
    let tmp = UnsafeMutablePointer<T>.allocate(capacity: h * w)
    defer { rows.deallocate(); tmp.deallocate() }
    inv.withUnsafeBufferPointer { ip in
      let scale = ip.baseAddress!
      if forward {
        let px = x.pointer(T.self), py = y.mutablePointer(T.self)
        for pl in 0..<planes { boxSum3x3(px + pl * h * w, py + pl * h * w, h, w, rows, scale) }
      } else {
        let px = x.mutablePointer(T.self), py = y.pointer(T.self)
        for pl in 0..<planes {
          let src = py + pl * h * w
          for i in 0..<(h * w) { tmp[i] = src[i] * scale[i] }
          boxSum3x3(UnsafePointer(tmp), px + pl * h * w, h, w, rows, nil)
        }
      }
    }
    return
  }
  if k == 2 && s == 2 && p == 0 {
    let px = x.pointer(T.self), py = y.pointer(T.self)
    let quarter: T = 0.25
    for pl in 0..<planes {
      let xp = px + pl * h * w
      if forward {
        let yp = y.mutablePointer(T.self) + pl * ho * wo
        for r in 0..<ho {
          let a = xp + 2 * r * w, b = a + w
          for c in 0..<wo { yp[r * wo + c] = (a[2 * c] + a[2 * c + 1] + b[2 * c] + b[2 * c + 1]) * quarter }
        }
      } else {
        let xm = x.mutablePointer(T.self) + pl * h * w, yp = py + pl * ho * wo
        for r in 0..<ho {
          let a = xm + 2 * r * w, b = a + w
          for c in 0..<wo {
            let v = yp[r * wo + c] * quarter
            a[2 * c] += v; a[2 * c + 1] += v; b[2 * c] += v; b[2 * c + 1] += v
          }
        }
      }
    }
    return
  }
  // Divisors depend only on the position, not on the plane.
  var inv = [T](repeating: 0, count: ho * wo)
  var win = [(Int, Int, Int, Int)](repeating: (0, 0, 0, 0), count: ho * wo)
  for oh in 0..<ho {
    for ow in 0..<wo {
      let h0 = oh * s - p, w0 = ow * s - p
      let h1 = min(h0 + k, h + p), w1 = min(w0 + k, w + p)
      let padCount = (h1 - h0) * (w1 - w0)
      let hs = max(h0, 0), ws = max(w0, 0), he = min(h1, h), we = min(w1, w)
      let d = g.countIncludePad ? padCount : (he - hs) * (we - ws)
      inv[oh * wo + ow] = 1 / T(d)
      win[oh * wo + ow] = (hs, he, ws, we)
    }
  }
  if forward {
    let px = x.pointer(T.self), py = y.mutablePointer(T.self)
    for pl in 0..<planes {
      let xp = px + pl * h * w, yp = py + pl * ho * wo
      for o in 0..<(ho * wo) {
        let (hs, he, ws, we) = win[o]
        var acc: T = 0
        for ih in hs..<he { for iw in ws..<we { acc += xp[ih * w + iw] } }
        yp[o] = acc * inv[o]
      }
    }
  } else {
    let px = x.mutablePointer(T.self), py = y.pointer(T.self)
    for pl in 0..<planes {
      let xp = px + pl * h * w, yp = py + pl * ho * wo
      for o in 0..<(ho * wo) {
        let (hs, he, ws, we) = win[o]
        let v = yp[o] * inv[o]
        for ih in hs..<he { for iw in ws..<we { xp[ih * w + iw] += v } }
      }
    }
  }
}
