extension Tensor {
  /// (outer, axis length, inner) sizes of this tensor around `axis`.
  func split(around axis: Int) -> (Int, Int, Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
  }

  /// Elements `range` along `axis` (a copy). Shape: `shape` with `shape[axis] = range.count`.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    precondition(axis >= 0 && axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis],
                 "slice \(range) along axis \(axis) of \(shape)")
    var outShape = shape
    outShape[axis] = range.count
    let out = Tensor(uninitialized: outShape, dtype: dtype)
    let (outer, len, inner) = split(around: axis)
    let eb = dtype.byteSize
    let src = storage.raw + offset * eb, dst = out.storage.raw
    let chunk = range.count * inner * eb
    if chunk == 0 { return out }
    for o in 0..<outer {
      (dst + o * chunk).copyMemory(from: src + ((o * len + range.lowerBound) * inner) * eb, byteCount: chunk)
    }
    return out
  }

  /// Adjoint of ``slice(axis:_:)``: this tensor placed at `range` along `axis` of a zero tensor
  /// whose size along `axis` is `length`.
  public func embedded(axis: Int, at range: Range<Int>, length: Int) -> Tensor {
    precondition(shape[axis] == range.count && range.upperBound <= length, "embed \(shape) at \(range) of length \(length)")
    var outShape = shape
    outShape[axis] = length
    let out = Tensor(zeros: outShape, dtype: dtype)
    let (outer, _, inner) = split(around: axis)
    let eb = dtype.byteSize
    let src = storage.raw + offset * eb, dst = out.storage.raw
    let chunk = range.count * inner * eb
    if chunk == 0 { return out }
    for o in 0..<outer {
      (dst + ((o * length + range.lowerBound) * inner) * eb).copyMemory(from: src + o * chunk, byteCount: chunk)
    }
    return out
  }

  /// Concatenation along `axis`. All parts share dtype and every other dimension.
  public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concatenate of no tensors")
    let first = parts[0]
    for p in parts {
      precondition(p.dtype == first.dtype && p.rank == first.rank, "concatenate: \(p.shape) \(p.dtype) vs \(first.shape) \(first.dtype)")
      for d in 0..<first.rank where d != axis {
        precondition(p.shape[d] == first.shape[d], "concatenate along \(axis): shapes \(p.shape) and \(first.shape) differ on axis \(d)")
      }
    }
    var outShape = first.shape
    outShape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
    let out = Tensor(uninitialized: outShape, dtype: first.dtype)
    let total = outShape[axis]
    let eb = first.dtype.byteSize
    var start = 0
    for p in parts {
      let (outer, len, inner) = p.split(around: axis)
      let chunk = len * inner * eb
      if chunk > 0 {
        let src = p.storage.raw + p.offset * eb
        for o in 0..<outer {
          (out.storage.raw + ((o * total + start) * inner) * eb).copyMemory(from: src + o * chunk, byteCount: chunk)
        }
      }
      start += len
    }
    return out
  }

  /// Rows `indices` of a 2-D table `[V, D]` → `[indices.count, D]` (embedding lookup).
  /// - Precondition: every index is in 0..<V (callers validate user data first).
  public func gatherRows(_ indices: [Int]) -> Tensor {
    precondition(rank == 2, "gatherRows needs a 2-D table, got \(shape)")
    let d = shape[1], eb = dtype.byteSize
    let out = Tensor(uninitialized: [indices.count, d], dtype: dtype)
    for (r, i) in indices.enumerated() {
      precondition(i >= 0 && i < shape[0], "row index \(i) out of range 0..<\(shape[0])")
      (out.storage.raw + r * d * eb).copyMemory(from: storage.raw + (offset + i * d) * eb, byteCount: d * eb)
    }
    return out
  }

  /// Adjoint of ``gatherRows(_:)``: rows of this `[n, D]` tensor added into a zero `[rows, D]` table
  /// at `indices` (repeated indices accumulate).
  public func scatterAddRows(_ indices: [Int], rows: Int) -> Tensor {
    precondition(rank == 2 && shape[0] == indices.count, "scatterAddRows: \(shape) with \(indices.count) indices")
    let out = Tensor(zeros: [rows, shape[1]], dtype: dtype)
    switch dtype {
    case .float32: scatterAdd(self, out, indices, Float.self)
    case .float64: scatterAdd(self, out, indices, Double.self)
    }
    return out
  }

  /// log-softmax along the last axis, computed stably: x − max − log Σ exp(x − max).
  public func logSoftmaxLastAxis() -> Tensor {
    precondition(rank >= 1, "log-softmax of a scalar")
    let out = Tensor(uninitialized: shape, dtype: dtype)
    switch dtype {
    case .float32: logSoftmaxKernel(self, out, Float.self)
    case .float64: logSoftmaxKernel(self, out, Double.self)
    }
    return out
  }
}

private func scatterAdd<T: TensorScalar>(_ src: Tensor, _ out: Tensor, _ indices: [Int], _: T.Type) {
  let d = src.shape[1]
  let ps = src.pointer(T.self), po = out.mutablePointer(T.self)
  for (r, i) in indices.enumerated() {
    precondition(i >= 0 && i < out.shape[0], "row index \(i) out of range 0..<\(out.shape[0])")
    for j in 0..<d { po[i * d + j] += ps[r * d + j] }
  }
}

private func logSoftmaxKernel<T: TensorScalar>(_ x: Tensor, _ out: Tensor, _: T.Type) {
  let k = x.shape[x.rank - 1]
  if k == 0 { return }
  let rows = x.count / k
  let px = x.pointer(T.self), po = out.mutablePointer(T.self)
  for r in 0..<rows {
    let xr = px + r * k, orow = po + r * k
    var m = xr[0]
    for j in 1..<k where xr[j] > m { m = xr[j] }
    var s = 0.0
    for j in 0..<k { s += Double(T.exp(xr[j] - m)) }
    let lse = m + T(Double.log(s))
    for j in 0..<k { orow[j] = xr[j] - lse }
  }
}
