/// Element-wise functions of one tensor. Every case maps x ↦ f(x) independently per element.
public enum UnaryFunction: Sendable, Equatable {
  case relu  // max(x, 0)
  case reluMask  // 1 if x > 0 else 0 (derivative of ReLU, PyTorch's convention at 0)
  case leakyRelu(slope: Double)  // x if x > 0 else slope·x
  case leakyReluMask(slope: Double)  // 1 if x > 0 else slope
  case tanh
  case sigmoid  // 1 / (1 + e^-x)
  case abs
  case sign  // -1, 0, 1
  case exp
  case log
  case reciprocal  // 1 / x
  case rsqrt  // 1 / sqrt(x)
  case sqrt
  case square
  case negate
  case scale(Double)  // s·x
  case addScalar(Double)  // x + s
}

/// Element-wise binary functions with NumPy/PyTorch broadcasting.
public enum BinaryFunction: Sendable, Equatable {
  case add, subtract, multiply, divide
}

extension Tensor {
  /// `f` applied to every element. Shape and dtype are kept.
  public func map(_ f: UnaryFunction) -> Tensor {
    let out = Tensor(uninitialized: shape, dtype: dtype)
    switch dtype {
    case .float32: unaryKernel(self, out, f, Float.self)
    case .float64: unaryKernel(self, out, f, Double.self)
    }
    return out
  }

  /// Shape of broadcasting `a` with `b` (NumPy rules: right-aligned, size-1 dimensions stretch).
  /// - Returns: nil when the shapes are incompatible.
  public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
      let da = i - (r - a.count) >= 0 ? a[i - (r - a.count)] : 1
      let db = i - (r - b.count) >= 0 ? b[i - (r - b.count)] : 1
      if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
  }

  /// `a ∘ b` element-wise with broadcasting. Both operands must have the same dtype.
  public static func binary(_ a: Tensor, _ b: Tensor, _ f: BinaryFunction) -> Tensor {
    precondition(a.dtype == b.dtype, "binary op on \(a.dtype) and \(b.dtype)")
    guard let shape = broadcastShape(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: shape, dtype: a.dtype)
    switch a.dtype {
    case .float32: binaryKernel(a, b, out, f, Float.self)
    case .float64: binaryKernel(a, b, out, f, Double.self)
    }
    return out
  }

  /// Sum over the broadcast dimensions so that the result has `target` shape: the adjoint of
  /// ``broadcast(to:)``. `target` must broadcast to `shape`. Float32 runs are accumulated in Double.
  public func sum(toShape target: [Int]) -> Tensor {
    if target == shape { return self }
    precondition(Tensor.broadcastShape(target, shape) == shape, "cannot sum \(shape) down to \(target)")
    let out = Tensor(zeros: target, dtype: dtype)
    switch dtype {
    case .float32: sumToKernel(self, out, Float.self)
    case .float64: sumToKernel(self, out, Double.self)
    }
    return out
  }

  /// This tensor repeated along size-1 (or missing leading) dimensions to `target` shape.
  public func broadcast(to target: [Int]) -> Tensor {
    if target == shape { return self }
    precondition(Tensor.broadcastShape(shape, target) == target, "cannot broadcast \(shape) to \(target)")
    let out = Tensor(uninitialized: target, dtype: dtype)
    switch dtype {
    case .float32: broadcastKernel(self, out, Float.self)
    case .float64: broadcastKernel(self, out, Double.self)
    }
    return out
  }

  /// Sum of all elements (accumulated in Double).
  public func sumAll() -> Double {
    switch dtype {
    case .float32:
      let p = pointer(Float.self)
      var s = 0.0
      for i in 0..<count { s += Double(p[i]) }
      return s
    case .float64:
      let p = pointer(Double.self)
      var s = 0.0
      for i in 0..<count { s += p[i] }
      return s
    }
  }
}

// MARK: - Kernels

/// Elements per thread below which element-wise sweeps stay serial.
let elementwiseGrain = 1 << 16

// Element-wise kernels split the elements into fixed contiguous chunks across ``Parallel/threads``:
// each element is computed by one thread with the same operations, so results do not depend on
// the thread count.
@inline(__always)
private func mapLoop<T: TensorScalar>(_ x: Tensor, _ out: Tensor, _ f: (T) -> T) {
  let s = x.pointer(T.self), d = out.mutablePointer(T.self)
  Parallel.forEachRange(x.count, grain: elementwiseGrain) { r in
    for i in r { d[i] = f(s[i]) }
  }
}

private func unaryKernel<T: TensorScalar>(_ x: Tensor, _ out: Tensor, _ f: UnaryFunction, _: T.Type) {
  switch f {
  case .relu: mapLoop(x, out) { (v: T) in v > 0 ? v : 0 }
  case .reluMask: mapLoop(x, out) { (v: T) in v > 0 ? 1 : 0 }
  case let .leakyRelu(slope):
    let s = T(slope)
    mapLoop(x, out) { (v: T) in v > 0 ? v : s * v }
  case let .leakyReluMask(slope):
    let s = T(slope)
    mapLoop(x, out) { (v: T) in v > 0 ? 1 : s }
  case .tanh: mapLoop(x, out) { (v: T) in T.tanh(v) }
  case .sigmoid: mapLoop(x, out) { (v: T) in 1 / (1 + T.exp(-v)) }
  case .abs: mapLoop(x, out) { (v: T) in Swift.abs(v) }
  case .sign: mapLoop(x, out) { (v: T) in v > 0 ? 1 : (v < 0 ? -1 : 0) }
  case .exp: mapLoop(x, out) { (v: T) in T.exp(v) }
  case .log: mapLoop(x, out) { (v: T) in T.log(v) }
  case .reciprocal: mapLoop(x, out) { (v: T) in 1 / v }
  case .rsqrt: mapLoop(x, out) { (v: T) in 1 / v.squareRoot() }
  case .sqrt: mapLoop(x, out) { (v: T) in v.squareRoot() }
  case .square: mapLoop(x, out) { (v: T) in v * v }
  case .negate: mapLoop(x, out) { (v: T) in -v }
  case let .scale(s):
    let c = T(s)
    mapLoop(x, out) { (v: T) in c * v }
  case let .addScalar(s):
    let c = T(s)
    mapLoop(x, out) { (v: T) in v + c }
  }
}

/// Strides of an operand of shape `s` inside the broadcast shape `o` (0 along stretched axes).
func broadcastStrides(_ s: [Int], in o: [Int]) -> [Int] {
  var contiguous = [Int](repeating: 1, count: s.count)
  if s.count > 1 { for j in stride(from: s.count - 2, through: 0, by: -1) { contiguous[j] = contiguous[j + 1] * s[j + 1] } }
  var out = [Int](repeating: 0, count: o.count)
  for i in 0..<o.count {
    let j = i - (o.count - s.count)
    if j < 0 { continue }
    out[i] = (s[j] == 1 && o[i] != 1) ? 0 : contiguous[j]
  }
  return out
}

/// An iteration plan over `shape` for three operands (output and two inputs) with given strides:
/// size-1 axes dropped, adjacent axes merged where every operand is contiguous across them.
struct StridedPlan {
  var shape: [Int]
  var strides: [[Int]]  // [operand][axis]

  init(shape: [Int], strides: [[Int]]) {
    var sh: [Int] = []
    var st: [[Int]] = Array(repeating: [], count: strides.count)
    for i in 0..<shape.count where shape[i] != 1 {
      if let last = sh.last, (0..<strides.count).allSatisfy({ st[$0].last! == strides[$0][i] * shape[i] }) {
        sh[sh.count - 1] = last * shape[i]
        for k in 0..<strides.count { st[k][st[k].count - 1] = strides[k][i] }
      } else {
        sh.append(shape[i])
        for k in 0..<strides.count { st[k].append(strides[k][i]) }
      }
    }
    if sh.isEmpty { sh = [1]; st = st.map { _ in [0] } }
    self.shape = sh
    self.strides = st
  }

  /// Calls `body(offsets, innerLength, innerStrides)` once per run along the last axis.
  @inline(__always)
  func forEachRun(_ body: (_ o0: Int, _ o1: Int, _ o2: Int, _ n: Int, _ s0: Int, _ s1: Int, _ s2: Int) -> Void) {
    let r = shape.count
    let inner = shape[r - 1]
    let is0 = strides[0][r - 1], is1 = strides[1][r - 1], is2 = strides[2][r - 1]
    if r == 1 { body(0, 0, 0, inner, is0, is1, is2); return }
    var idx = [Int](repeating: 0, count: r - 1)
    var o0 = 0, o1 = 0, o2 = 0
    while true {
      body(o0, o1, o2, inner, is0, is1, is2)
      var ax = r - 2
      while ax >= 0 {
        idx[ax] += 1
        o0 += strides[0][ax]; o1 += strides[1][ax]; o2 += strides[2][ax]
        if idx[ax] < shape[ax] { break }
        o0 -= strides[0][ax] * shape[ax]; o1 -= strides[1][ax] * shape[ax]; o2 -= strides[2][ax] * shape[ax]
        idx[ax] = 0
        ax -= 1
      }
      if ax < 0 { return }
    }
  }
}

@inline(__always)
private func binaryLoop<T: TensorScalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ plan: StridedPlan, _ f: (T, T) -> T
) {
  plan.forEachRun { od, oa, ob, n, _, sa, sb in
    let pa = a + oa, pb = b + ob, pd = d + od
    if sa == 1 && sb == 1 {
      for i in 0..<n { pd[i] = f(pa[i], pb[i]) }
    } else if sa == 1 && sb == 0 {
      let vb = pb[0]
      for i in 0..<n { pd[i] = f(pa[i], vb) }
    } else if sa == 0 && sb == 1 {
      let va = pa[0]
      for i in 0..<n { pd[i] = f(va, pb[i]) }
    } else {
      for i in 0..<n { pd[i] = f(pa[i * sa], pb[i * sb]) }
    }
  }
}

private func binaryKernel<T: TensorScalar>(_ a: Tensor, _ b: Tensor, _ out: Tensor, _ f: BinaryFunction, _: T.Type) {
  let o = out.shape
  var contiguous = [Int](repeating: 1, count: o.count)
  if o.count > 1 { for j in stride(from: o.count - 2, through: 0, by: -1) { contiguous[j] = contiguous[j + 1] * o[j + 1] } }
  let plan = StridedPlan(shape: o, strides: [contiguous, broadcastStrides(a.shape, in: o), broadcastStrides(b.shape, in: o)])
  let pa = a.pointer(T.self), pb = b.pointer(T.self), pd = out.mutablePointer(T.self)
  if plan.shape.count == 1 && plan.strides.allSatisfy({ $0[0] == 1 }) && Parallel.parts(plan.shape[0], grain: elementwiseGrain) > 1 {
    // Same-shape operands: one contiguous run, split in fixed chunks.
    Parallel.forEachRange(plan.shape[0], grain: elementwiseGrain) { r in
      let n = r.count, o = r.lowerBound
      switch f {
      case .add: for i in 0..<n { pd[o + i] = pa[o + i] + pb[o + i] }
      case .subtract: for i in 0..<n { pd[o + i] = pa[o + i] - pb[o + i] }
      case .multiply: for i in 0..<n { pd[o + i] = pa[o + i] * pb[o + i] }
      case .divide: for i in 0..<n { pd[o + i] = pa[o + i] / pb[o + i] }
      }
    }
    return
  }
  switch f {
  case .add: binaryLoop(pa, pb, pd, plan) { $0 + $1 }
  case .subtract: binaryLoop(pa, pb, pd, plan) { $0 - $1 }
  case .multiply: binaryLoop(pa, pb, pd, plan) { $0 * $1 }
  case .divide: binaryLoop(pa, pb, pd, plan) { $0 / $1 }
  }
}

private func sumToKernel<T: TensorScalar>(_ x: Tensor, _ out: Tensor, _: T.Type) {
  let s = x.shape
  var contiguous = [Int](repeating: 1, count: s.count)
  if s.count > 1 { for j in stride(from: s.count - 2, through: 0, by: -1) { contiguous[j] = contiguous[j + 1] * s[j + 1] } }
  let plan = StridedPlan(shape: s, strides: [contiguous, broadcastStrides(out.shape, in: s), contiguous])
  let px = x.pointer(T.self), pd = out.mutablePointer(T.self)
  plan.forEachRun { ox, od, _, n, sx, sd, _ in
    if sd == 0 {
      var acc = 0.0
      for i in 0..<n { acc += Double(px[ox + i * sx]) }
      pd[od] += T(acc)
    } else {
      for i in 0..<n { pd[od + i * sd] += px[ox + i * sx] }
    }
  }
}

private func broadcastKernel<T: TensorScalar>(_ x: Tensor, _ out: Tensor, _: T.Type) {
  let o = out.shape
  var contiguous = [Int](repeating: 1, count: o.count)
  if o.count > 1 { for j in stride(from: o.count - 2, through: 0, by: -1) { contiguous[j] = contiguous[j + 1] * o[j + 1] } }
  let plan = StridedPlan(shape: o, strides: [contiguous, broadcastStrides(x.shape, in: o), contiguous])
  let px = x.pointer(T.self), pd = out.mutablePointer(T.self)
  plan.forEachRun { od, ox, _, n, _, sx, _ in
    for i in 0..<n { pd[od + i] = px[ox + i * sx] }
  }
}

extension Tensor {
  /// Backward of (leaky) ReLU: gy where x > 0, slope·gy elsewhere (slope 0 for ReLU; the
  /// derivative at 0 is taken as slope, as PyTorch does). gy and x have the same shape.
  public static func reluBackward(_ gy: Tensor, input x: Tensor, slope: Double = 0) -> Tensor {
    precondition(gy.shape == x.shape && gy.dtype == x.dtype, "relu backward: gradient \(gy.shape) for input \(x.shape)")
    let out = Tensor(uninitialized: x.shape, dtype: x.dtype)
    switch x.dtype {
    case .float32: reluBackwardKernel(gy, x, out, Float(slope))
    case .float64: reluBackwardKernel(gy, x, out, slope)
    }
    return out
  }
}

private func reluBackwardKernel<T: TensorScalar>(_ gy: Tensor, _ x: Tensor, _ out: Tensor, _ slope: T) {
  let g = gy.pointer(T.self), xv = x.pointer(T.self), o = out.mutablePointer(T.self)
  // Both operands are loaded unconditionally so the select vectorises (a branch on the sign of
  // x mispredicts half the time).
  Parallel.forEachRange(x.count, grain: elementwiseGrain) { r in
    if slope == 0 {
      for i in r { let gv = g[i]; o[i] = xv[i] > 0 ? gv : 0 }
    } else {
      for i in r { let gv = g[i]; o[i] = xv[i] > 0 ? gv : slope * gv }
    }
  }
}
