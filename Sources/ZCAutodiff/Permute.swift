import ZCTensor

extension Tensor {
  /// The axes reordered: result axis i is input axis `axes[i]` (PyTorch `permute`), a copy.
  /// - Precondition: `axes` is a permutation of 0..<rank.
  public func permuted(_ axes: [Int]) -> Tensor {
    precondition(axes.sorted() == Array(0..<rank), "permute axes \(axes) for rank \(rank)")
    let outShape = axes.map { shape[$0] }
    let out = Tensor(zeros: outShape, dtype: dtype)
    if count == 0 { return out }
    var inStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
    let strides = axes.map { inStrides[$0] }  // input stride of each output axis
    func run<T: TensorScalar>(_: T.Type) {
      let x = pointer(T.self), y = out.mutablePointer(T.self)
      let last = rank - 1, n = outShape[last], s = strides[last]
      var index = [Int](repeating: 0, count: rank)
      var o = 0
      let rows = count / n
      for _ in 0..<rows {
        var base = 0
        for i in 0..<last { base += index[i] * strides[i] }
        for j in 0..<n { y[o + j] = x[base + j * s] }
        o += n
        var i = last - 1
        while i >= 0 {
          index[i] += 1
          if index[i] < outShape[i] { break }
          index[i] = 0
          i -= 1
        }
      }
    }
    switch dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    }
    return out
  }
}

/// The axes of `x` reordered (PyTorch `permute`): result axis i is input axis `axes[i]`. Backward:
/// the inverse permutation. Multi-head attention uses `[B, T, h, d]` ↔ `[B, h, T, d]`, axes [0, 2, 1, 3].
public func permute(_ x: Variable, _ axes: [Int]) -> Variable {
  if axes == Array(0..<x.value.rank) { return x }
  return Variable.record("permute", x.value.permuted(axes), inputs: [x]) { _, g, _ in
    var inverse = [Int](repeating: 0, count: axes.count)
    for (i, a) in axes.enumerated() { inverse[a] = i }
    return [permute(g, inverse)]
  }
}
