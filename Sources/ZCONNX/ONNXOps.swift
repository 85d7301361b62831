import Foundation
import ZCAutodiff
import ZCTensor

// Differentiable operations the ONNX graph network needs beyond ZCAutodiff's, named `onnx…` so
// they cannot be confused with the primitives other targets add. Each backward is written with
// differentiable operations (closed sets: grouped convolution and its two adjoints, max-pool
// gather and scatter, permutation and its inverse), so second derivatives (GraSP's H·g) are exact.

// MARK: element helpers

/// `f` applied per element (generic over the tensor's scalar type).
func mapElements(_ x: Tensor, _ f: (Double) -> Double) -> Tensor {
  let out = Tensor(zeros: x.shape, dtype: x.dtype)
  let n = x.count
  switch x.dtype {
  case .float32:
    let s = x.pointer(Float.self), d = out.mutablePointer(Float.self)
    for i in 0..<n { d[i] = Float(f(Double(s[i]))) }
  case .float64:
    let s = x.pointer(Double.self), d = out.mutablePointer(Double.self)
    for i in 0..<n { d[i] = f(s[i]) }
  }
  return out
}

// MARK: clip

/// min(max(x, lo), hi) element-wise (ONNX `Clip`, PyTorch `hardtanh`/`relu6`/`clamp`). The derivative
/// is 1 where lo < x < hi and 0 elsewhere, boundaries included (PyTorch's `hardtanh_backward`, which
/// ReLU6 uses); the second derivative is 0. `lo`/`hi` may be ±infinity.
public func onnxClip(_ x: Variable, min lo: Double, max hi: Double) -> Variable {
  let y = mapElements(x.value) { Swift.min(Swift.max($0, lo), hi) }
  return Variable.record("onnxClip", y, inputs: [x]) { node, g, _ in
    let mask = mapElements(node.inputs[0].value) { $0 > lo && $0 < hi ? 1 : 0 }
    return [multiply(g, Variable(mask))]
  }
}

/// x^p for a constant exponent p (ONNX `Pow` with a constant exponent); d/dx = p·x^(p−1).
/// p = 0 gives ones and a zero derivative. Values follow `Foundation.pow` (NaN for x < 0 and a
/// non-integer p, as PyTorch).
public func onnxPower(_ x: Variable, _ p: Double) -> Variable {
  if p == 1 { return x }
  if p == 2 { return square(x) }
  let y = mapElements(x.value) { p == 0 ? 1 : powValue($0, p) }
  return Variable.record("onnxPower", y, inputs: [x]) { node, g, _ in
    if p == 0 { return [scale(g, 0)] }
    return [multiply(g, scale(onnxPower(node.inputs[0], p - 1), p))]
  }
}

@inline(__always) func powValue(_ x: Double, _ p: Double) -> Double {
  if p == p.rounded() && Swift.abs(p) < 64 {
    var r = 1.0
    for _ in 0..<Int(Swift.abs(p)) { r *= x }
    return p < 0 ? 1 / r : r
  }
  return x < 0 ? .nan : (x == 0 ? (p > 0 ? 0 : .infinity) : expValue(p * logValue(x)))
}
@inline(__always) func expValue(_ x: Double) -> Double { Foundation.exp(x) }
@inline(__always) func logValue(_ x: Double) -> Double { Foundation.log(x) }

// MARK: permutation

/// The axes of `x` permuted: output axis i is input axis `perm[i]` (ONNX `Transpose`, PyTorch `permute`).
/// - Precondition: `perm` is a permutation of 0..<rank (checked by the caller on user data).
public func permuteTensor(_ x: Tensor, _ perm: [Int]) -> Tensor {
  let r = x.rank
  let outShape = perm.map { x.shape[$0] }
  var inStrides = [Int](repeating: 1, count: r)
  if r > 1 { for k in stride(from: r - 2, through: 0, by: -1) { inStrides[k] = inStrides[k + 1] * x.shape[k + 1] } }
  let strides = perm.map { inStrides[$0] }
  let out = Tensor(zeros: outShape, dtype: x.dtype)
  let n = x.count
  guard n > 0 else { return out }
  func run<T: TensorScalar>(_: T.Type) {
    let s = x.pointer(T.self), d = out.mutablePointer(T.self)
    var index = [Int](repeating: 0, count: r)
    var src = 0
    for i in 0..<n {
      d[i] = s[src]
      var k = r - 1
      while k >= 0 {
        index[k] += 1
        src += strides[k]
        if index[k] < outShape[k] { break }
        src -= strides[k] * outShape[k]
        index[k] = 0
        k -= 1
      }
    }
  }
  switch x.dtype {
  case .float32: run(Float.self)
  case .float64: run(Double.self)
  }
  return out
}

/// Differentiable ``permuteTensor(_:_:)``; the backward permutes by the inverse.
public func onnxPermute(_ x: Variable, _ perm: [Int]) -> Variable {
  if perm == Array(0..<perm.count) { return x }
  var inv = perm
  for (i, p) in perm.enumerated() { inv[p] = i }
  let inverse = inv
  return Variable.record("onnxPermute", permuteTensor(x.value, perm), inputs: [x]) { _, g, _ in [onnxPermute(g, inverse)] }
}

// MARK: padding

/// Zero padding of the last two axes of `[N, C, H, W]`: (top, left, bottom, right), each ≥ 0,
/// written with ``embed(_:axis:at:length:)`` so it is differentiable to any order.
public func onnxPad2d(_ x: Variable, top: Int, left: Int, bottom: Int, right: Int) -> Variable {
  var y = x
  if top > 0 || bottom > 0 { y = embed(y, axis: 2, at: top..<(top + x.shape[2]), length: x.shape[2] + top + bottom) }
  if left > 0 || right > 0 { y = embed(y, axis: 3, at: left..<(left + x.shape[3]), length: x.shape[3] + left + right) }
  return y
}

// MARK: grouped convolution

/// Grouped convolution kernels: the groups run one after another through ``Convolution``'s kernels
/// on channel slices (x `[N, G·C_in/G, H, W]`, w `[C_out, C_in/G, kh, kw]`, C_out divisible by G).
public enum GroupedConvolution {
  static func channels(_ t: Tensor, group k: Int, of groups: Int) -> Tensor {
    let c = t.shape[1] / groups
    return t.slice(axis: 1, (k * c)..<((k + 1) * c))
  }

  /// y = conv2d(x, w, groups) → `[N, C_out, H_out, W_out]`.
  public static func forward(_ x: Tensor, _ w: Tensor, _ g: Conv2DGeometry, groups: Int) -> Tensor {
    if groups == 1 { return Convolution.forward(x, w, g) }
    let parts = (0..<groups).map { k in Convolution.forward(channels(x, group: k, of: groups), w.slice(axis: 0, (k * w.shape[0] / groups)..<((k + 1) * w.shape[0] / groups)), g) }
    return Tensor.concatenate(parts, axis: 1)
  }

  /// dL/dx from gy `[N, C_out, H_out, W_out]` → `[N, C_in, H, W]`.
  public static func backwardData(_ gy: Tensor, _ w: Tensor, inputSize: (Int, Int), _ g: Conv2DGeometry, groups: Int) -> Tensor {
    if groups == 1 { return Convolution.backwardData(gy, w, inputSize: inputSize, g) }
    let parts = (0..<groups).map { k in
      Convolution.backwardData(channels(gy, group: k, of: groups), w.slice(axis: 0, (k * w.shape[0] / groups)..<((k + 1) * w.shape[0] / groups)), inputSize: inputSize, g)
    }
    return Tensor.concatenate(parts, axis: 1)
  }

  /// dL/dw from x and gy, summed over the batch → `[C_out, C_in/G, kh, kw]`.
  public static func backwardWeight(_ x: Tensor, _ gy: Tensor, kernelSize: (Int, Int), _ g: Conv2DGeometry, groups: Int) -> Tensor {
    if groups == 1 { return Convolution.backwardWeight(x, gy, kernelSize: kernelSize, g) }
    let parts = (0..<groups).map { k in
      Convolution.backwardWeight(channels(x, group: k, of: groups), channels(gy, group: k, of: groups), kernelSize: kernelSize, g)
    }
    return Tensor.concatenate(parts, axis: 0)
  }
}

/// 2-D grouped convolution without bias (PyTorch `F.conv2d(groups=G)`, ONNX `Conv` with `group`),
/// NCHW: x `[N, C_in, H, W]`, w `[C_out, C_in/G, kh, kw]` → `[N, C_out, H_out, W_out]`. G = 1 is
/// ZCAutodiff's ``conv2d(_:_:_:)``.
public func onnxConv2d(_ x: Variable, _ w: Variable, _ geometry: Conv2DGeometry, groups: Int) -> Variable {
  if groups == 1 { return conv2d(x, w, geometry) }
  return Variable.record("onnxGroupedConv2d", GroupedConvolution.forward(x.value, w.value, geometry, groups: groups), inputs: [x, w]) { node, g, needs in
    let (x, w) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? onnxConv2dBackwardData(g, w, inputSize: (x.shape[2], x.shape[3]), geometry, groups: groups) : nil,
            needs[1] ? onnxConv2dBackwardWeight(x, g, kernelSize: (w.shape[2], w.shape[3]), geometry, groups: groups) : nil]
  }
}

/// Input gradient of ``onnxConv2d(_:_:_:groups:)``, differentiable in gy and w.
public func onnxConv2dBackwardData(_ gy: Variable, _ w: Variable, inputSize: (Int, Int), _ geometry: Conv2DGeometry, groups: Int) -> Variable {
  Variable.record("onnxGroupedConv2dBackwardData", GroupedConvolution.backwardData(gy.value, w.value, inputSize: inputSize, geometry, groups: groups), inputs: [gy, w]) { node, c, needs in
    let (gy, w) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? onnxConv2d(c, w, geometry, groups: groups) : nil,
            needs[1] ? onnxConv2dBackwardWeight(c, gy, kernelSize: (w.shape[2], w.shape[3]), geometry, groups: groups) : nil]
  }
}

/// Weight gradient of ``onnxConv2d(_:_:_:groups:)``, differentiable in x and gy.
public func onnxConv2dBackwardWeight(_ x: Variable, _ gy: Variable, kernelSize: (Int, Int), _ geometry: Conv2DGeometry, groups: Int) -> Variable {
  Variable.record("onnxGroupedConv2dBackwardWeight", GroupedConvolution.backwardWeight(x.value, gy.value, kernelSize: kernelSize, geometry, groups: groups), inputs: [x, gy]) { node, c, needs in
    let (x, gy) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? onnxConv2dBackwardData(gy, c, inputSize: (x.shape[2], x.shape[3]), geometry, groups: groups) : nil,
            needs[1] ? onnxConv2d(x, c, geometry, groups: groups) : nil]
  }
}

// MARK: max pooling

/// Geometry of a 2-D max pooling window (ONNX `MaxPool`): kernel, strides, pads (top, left, bottom,
/// right), dilations and ceil mode. Output size per axis: ⌊ or ⌈(n + p_begin + p_end − d(k − 1) − 1)/s⌉ + 1,
/// and with ceil mode a last window that would start inside the end padding is dropped (PyTorch's rule).
public struct MaxPool2DGeometry: Sendable, Equatable {
  public var kernel: (Int, Int)
  public var stride: (Int, Int)
  public var pads: (Int, Int, Int, Int)
  public var dilation: (Int, Int)
  public var ceilMode: Bool
  public init(kernel: (Int, Int), stride: (Int, Int), pads: (Int, Int, Int, Int), dilation: (Int, Int) = (1, 1), ceilMode: Bool = false) {
    self.kernel = kernel; self.stride = stride; self.pads = pads; self.dilation = dilation; self.ceilMode = ceilMode
  }
  public static func == (a: Self, b: Self) -> Bool {
    a.kernel == b.kernel && a.stride == b.stride && a.pads == b.pads && a.dilation == b.dilation && a.ceilMode == b.ceilMode
  }
  /// Output size along one axis (nil when no window fits).
  public static func outputSize(_ n: Int, kernel k: Int, stride s: Int, padBegin pb: Int, padEnd pe: Int, dilation d: Int, ceil: Bool) -> Int? {
    let span = n + pb + pe - d * (k - 1) - 1
    guard span >= 0 else { return nil }
    var o = (ceil ? (span + s - 1) / s : span / s) + 1
    if ceil && (o - 1) * s >= n + pb { o -= 1 }
    return o > 0 ? o : nil
  }
  public func outputSize(_ h: Int, _ w: Int) -> (Int, Int)? {
    guard let ho = Self.outputSize(h, kernel: kernel.0, stride: stride.0, padBegin: pads.0, padEnd: pads.2, dilation: dilation.0, ceil: ceilMode),
          let wo = Self.outputSize(w, kernel: kernel.1, stride: stride.1, padBegin: pads.1, padEnd: pads.3, dilation: dilation.1, ceil: ceilMode)
    else { return nil }
    return (ho, wo)
  }
}

/// Max-pool forward: y `[N, C, H_out, W_out]` and, per output element, the flat index (within its
/// `[H, W]` plane) of the input element chosen (the first maximum in window order, as PyTorch;
/// a NaN wins). Padding never wins. - Precondition: the geometry fits (checked by the caller).
func maxPoolForward(_ x: Tensor, _ g: MaxPool2DGeometry) -> (Tensor, [Int32]) {
  let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  guard let (ho, wo) = g.outputSize(h, w) else { preconditionFailure("max pool: input \(x.shape) too small") }
  let y = Tensor(zeros: [n, c, ho, wo], dtype: x.dtype)
  var idx = [Int32](repeating: 0, count: n * c * ho * wo)
  func run<T: TensorScalar>(_: T.Type) {
    let s = x.pointer(T.self), d = y.mutablePointer(T.self)
    for plane in 0..<(n * c) {
      let sp = s + plane * h * w
      for oy in 0..<ho {
        for ox in 0..<wo {
          var best = -T.infinity, bi = -1
          for ky in 0..<g.kernel.0 {
            let iy = oy * g.stride.0 - g.pads.0 + ky * g.dilation.0
            if iy < 0 || iy >= h { continue }
            for kx in 0..<g.kernel.1 {
              let ix = ox * g.stride.1 - g.pads.1 + kx * g.dilation.1
              if ix < 0 || ix >= w { continue }
              let v = sp[iy * w + ix]
              if bi < 0 || v > best || v.isNaN && !best.isNaN { best = v; bi = iy * w + ix }
            }
          }
          let o = plane * ho * wo + oy * wo + ox
          d[o] = bi < 0 ? -T.infinity : best
          idx[o] = Int32(Swift.max(bi, 0))
        }
      }
    }
  }
  switch x.dtype {
  case .float32: run(Float.self)
  case .float64: run(Double.self)
  }
  return (y, idx)
}

/// y[o] = x[plane(o), idx[o]]: the gather a max pool makes (x `[N, C, H, W]` → `[N, C, H_out, W_out]`).
func maxPoolGather(_ x: Tensor, _ idx: [Int32], outShape: [Int]) -> Tensor {
  let y = Tensor(zeros: outShape, dtype: x.dtype)
  let planeIn = x.shape[2] * x.shape[3], planeOut = outShape[2] * outShape[3]
  func run<T: TensorScalar>(_: T.Type) {
    let s = x.pointer(T.self), d = y.mutablePointer(T.self)
    for o in 0..<idx.count { d[o] = s[(o / planeOut) * planeIn + Int(idx[o])] }
  }
  switch x.dtype {
  case .float32: run(Float.self)
  case .float64: run(Double.self)
  }
  return y
}

/// The adjoint of ``maxPoolGather(_:_:outShape:)``: gy added into zeros `inShape` at the chosen elements.
func maxPoolScatter(_ gy: Tensor, _ idx: [Int32], inShape: [Int]) -> Tensor {
  let gx = Tensor(zeros: inShape, dtype: gy.dtype)
  let planeIn = inShape[2] * inShape[3], planeOut = gy.shape[2] * gy.shape[3]
  func run<T: TensorScalar>(_: T.Type) {
    let s = gy.pointer(T.self), d = gx.mutablePointer(T.self)
    for o in 0..<idx.count { d[(o / planeOut) * planeIn + Int(idx[o])] += s[o] }
  }
  switch gy.dtype {
  case .float32: run(Float.self)
  case .float64: run(Double.self)
  }
  return gx
}

/// 2-D max pooling (ONNX `MaxPool`, PyTorch `F.max_pool2d`), NCHW `[N, C, H, W]` → `[N, C, H_out, W_out]`.
/// The gradient flows to the chosen element of each window; gather and scatter are each other's
/// backward, so the second derivative is exact (zero curvature, the selection held fixed).
/// - Precondition: at least one window fits (``MaxPool2DGeometry/outputSize(_:_:)`` not nil).
public func onnxMaxPool2d(_ x: Variable, _ g: MaxPool2DGeometry) -> Variable {
  let (y, idx) = maxPoolForward(x.value, g)
  let inShape = x.shape
  return Variable.record("onnxMaxPool2d", y, inputs: [x]) { _, gy, _ in [onnxMaxPoolScatter(gy, idx, inShape: inShape)] }
}

func onnxMaxPoolScatter(_ gy: Variable, _ idx: [Int32], inShape: [Int]) -> Variable {
  let outShape = gy.shape
  return Variable.record("onnxMaxPoolScatter", maxPoolScatter(gy.value, idx, inShape: inShape), inputs: [gy]) { _, c, _ in
    [onnxMaxPoolGather(c, idx, outShape: outShape)]
  }
}

func onnxMaxPoolGather(_ x: Variable, _ idx: [Int32], outShape: [Int]) -> Variable {
  let inShape = x.shape
  return Variable.record("onnxMaxPoolGather", maxPoolGather(x.value, idx, outShape: outShape), inputs: [x]) { _, c, _ in
    [onnxMaxPoolScatter(c, idx, inShape: inShape)]
  }
}

// MARK: composites

/// max(0, min(1, αx + β)) (ONNX `HardSigmoid`, defaults α = 0.2, β = 0.5; PyTorch's `hardsigmoid`
/// is α = 1/6, β = 0.5).
public func onnxHardSigmoid(_ x: Variable, alpha: Double, beta: Double) -> Variable {
  onnxClip(addScalar(scale(x, alpha), beta), min: 0, max: 1)
}

/// x · HardSigmoid(x; 1/6, 1/2) (ONNX `HardSwish`, PyTorch `hardswish`).
public func onnxHardSwish(_ x: Variable) -> Variable { multiply(x, onnxHardSigmoid(x, alpha: 1.0 / 6.0, beta: 0.5)) }

// MARK: transformer ops

/// erf(x) element-wise (ONNX `Erf`; PyTorch's exporter writes the exact GELU as
/// `0.5·x·(1 + Erf(x/√2))`). Values from `Foundation.erf` in Float64, rounded to the dtype.
/// d/dx erf(x) = (2/√π)·e^(−x²), written with differentiable operations (exp, square, scale),
/// so the second derivative −2x·(2/√π)·e^(−x²) comes out exactly by double backward (GraSP).
/// Source: ONNX operator specification `Erf`; Abramowitz & Stegun 7.1.19 for the derivative.
public func onnxErf(_ x: Variable) -> Variable {
  Variable.record("onnxErf", mapElements(x.value) { Foundation.erf($0) }, inputs: [x]) { node, g, _ in
    [multiply(g, scale(exp(negate(square(node.inputs[0]))), 2 / Double.pi.squareRoot()))]
  }
}

/// The tanh approximation of GELU, ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (ONNX `Gelu` with
/// `approximate = "tanh"`, PyTorch `F.gelu(approximate='tanh')`; Hendrycks & Gimpel 2016, eq. in
/// §2), composed of differentiable operations, so every derivative is exact. Any shape.
public func onnxGeluTanh(_ x: Variable) -> Variable {
  let inner = scale(add(x, scale(multiply(square(x), x), 0.044715)), (2 / Double.pi).squareRoot())
  return multiply(scale(x, 0.5), addScalar(tanh(inner), 1))
}

/// Softmax of `x` along `axis` (ONNX `Softmax` at opset ≥ 13, PyTorch `softmax(dim=axis)`): the
/// axis is moved last, ZCAutodiff's last-axis ``softmax(_:)`` applied (max-shifted; backward
/// written with differentiable operations), and moved back. Any rank ≥ 1; `axis` in 0..<rank.
public func onnxSoftmax(_ x: Variable, axis: Int) -> Variable {
  let r = x.shape.count
  if axis == r - 1 { return softmax(x) }
  var perm = Array(0..<r)
  perm.remove(at: axis)
  perm.append(axis)
  var inverse = [Int](repeating: 0, count: r)
  for (i, p) in perm.enumerated() { inverse[p] = i }
  return onnxPermute(softmax(onnxPermute(x, perm)), inverse)
}
