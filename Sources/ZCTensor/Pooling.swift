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

  /// ⌊(n + 2p − k)/s⌋ + 1.
  public func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }
}

public enum Pooling {
  /// Average pooling forward: `[N, C, H, W]` → `[N, C, H_out, W_out]`.
  public static func averageForward(_ x: Tensor, _ g: AvgPool2DGeometry) -> Tensor {
    precondition(x.rank == 4, "avg_pool2d expects NCHW, got \(x.shape)")
    let ho = g.outputSize(x.shape[2]), wo = g.outputSize(x.shape[3])
    precondition(ho > 0 && wo > 0, "avg_pool2d: input \(x.shape) too small for \(g)")
    let y = Tensor(zeros: [x.shape[0], x.shape[1], ho, wo], dtype: x.dtype)
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

/// forward: y += window means of x; backward: x += y/D spread over each window.
private func avgPool<T: TensorScalar>(_ x: Tensor, _ y: Tensor, _ g: AvgPool2DGeometry, forward: Bool, _: T.Type) {
  let planes = x.shape[0] * x.shape[1]
  let h = x.shape[2], w = x.shape[3], ho = y.shape[2], wo = y.shape[3]
  let k = g.kernel, s = g.stride, p = g.padding
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
