import ZCTensor

extension Tensor {
  /// softmax along the last axis, y_i = e^(x_i − max x) / Σ_j e^(x_j − max x) (max-shifted, as
  /// PyTorch's `softmax(dim=-1)`). Any shape `[..., n]`; the same shape out.
  public func softmaxLastAxis() -> Tensor {
    precondition(rank >= 1, "softmax of a scalar")
    let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
    let out = Tensor(zeros: shape, dtype: dtype)
    func run<T: TensorScalar>(_: T.Type) {
      let x = pointer(T.self), y = out.mutablePointer(T.self)
      for r in 0..<rows {
        let xr = x + r * n, yr = y + r * n
        var m = xr[0]
        for i in 1..<n where xr[i] > m { m = xr[i] }
        var s: T = 0
        for i in 0..<n { let e = T.exp(xr[i] - m); yr[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<n { yr[i] *= inv }
      }
    }
    switch dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    }
    return out
  }
}

/// softmax along the last axis (PyTorch `nn.Softmax(dim=-1)`): x `[..., n]` → `[..., n]`, each
/// row sums to 1. Backward: ∂x = y ⊙ (g − Σ_j g_j y_j), written with differentiable operations
/// (second derivatives exact). Used for attention probabilities (Vaswani et al. 2017) and the
/// dynamic-convolution kernels of ConvBERT (Jiang et al. 2020).
public func softmax(_ x: Variable) -> Variable {
  Variable.record("softmax", x.value.softmaxLastAxis(), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? softmax(node.inputs[0]) : Variable(node.value)
    var rowShape = g.shape
    rowShape[rowShape.count - 1] = 1
    return [multiply(y, subtract(g, sum(multiply(g, y), toShape: rowShape)))]
  }
}
