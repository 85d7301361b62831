import ZCTensor

// Batched matrix product, as PyTorch's `torch.matmul` for operands of rank ≥ 2 whose leading
// (batch) dimensions are equal, or where one operand is a single matrix shared by every batch.

extension Tensor {
  /// Batched product op(a)·op(b) over the last two axes (cblas gemm per batch element).
  ///
  /// Shapes: a `[..., m, k]` (or `[k, m]` with `transA`), b `[..., k, n]` (or `[n, k]` with
  /// `transB`). Either operand may be rank 2 (one matrix shared by every batch element);
  /// otherwise both have the same leading dimensions `[...]`. Result `[..., m, n]`.
  /// - Precondition: one dtype, matching inner dimensions and leading dimensions.
  public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2 && a.dtype == b.dtype, "batchedMatmul needs rank >= 2 tensors of one dtype, got \(a.shape) \(b.shape)")
    let lead = a.rank > 2 ? Array(a.shape.dropLast(2)) : Array(b.shape.dropLast(2))
    if a.rank > 2 && b.rank > 2 {
      precondition(Array(b.shape.dropLast(2)) == lead, "batchedMatmul leading dimensions differ: \(a.shape) \(b.shape)")
    }
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1]), (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transA ? ac : ar, k = transA ? ar : ac
    let kb = transB ? bc : br, n = transB ? br : bc
    precondition(k == kb, "batchedMatmul inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") · \(b.shape)\(transB ? "ᵀ" : "")")
    let batches = lead.reduce(1, *)
    let out = Tensor(zeros: lead + [m, n], dtype: a.dtype)
    if k == 0 || m == 0 || n == 0 { return out }
    func run<T: TensorScalar>(_: T.Type) {
      let pa = a.pointer(T.self), pb = b.pointer(T.self), pc = out.mutablePointer(T.self)
      let sa = a.rank > 2 ? ar * ac : 0, sb = b.rank > 2 ? br * bc : 0
      for i in 0..<batches {
        T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: pa + i * sa, lda: ac,
               b: pb + i * sb, ldb: bc, beta: 0, c: pc + i * m * n, ldc: n)
      }
    }
    switch a.dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    }
    return out
  }
}

/// Differentiable batched matrix product op(a)·op(b) over the last two axes (``Tensor/batchedMatmul(_:_:transA:transB:)``).
///
/// Shapes: a `[..., m, k]`, b `[..., k, n]` (each transposed in its last two axes when its flag is
/// set); either may be a rank-2 matrix shared by every batch element, whose gradient is then
/// summed over the batch. Result `[..., m, n]`. Backward: ∂a = g·op(b)ᵀ, ∂b = op(a)ᵀ·g (batched),
/// written with this operation, so second derivatives are exact. This is `torch.matmul` for the
/// attention products Q Kᵀ and A V (Vaswani et al. 2017).
public func batchedMatmul(_ a: Variable, _ b: Variable, transA: Bool = false, transB: Bool = false) -> Variable {
  if a.value.rank == 2 && b.value.rank == 2 { return matmul(a, b, transA: transA, transB: transB) }
  return Variable.record("batchedMatmul", Tensor.batchedMatmul(a.value, b.value, transA: transA, transB: transB), inputs: [a, b]) { node, g, needs in
    let (a, b) = (node.inputs[0], node.inputs[1])
    var ga: Variable?, gb: Variable?
    // The gradient of a shared (rank-2) operand is the per-batch gradient summed over the batch.
    func reduce(_ x: Variable, to operand: Variable) -> Variable {
      operand.value.rank == 2 && x.value.rank > 2 ? reshape(sum(reshape(x, [-1] + operand.shape), toShape: [1] + operand.shape), operand.shape) : x
    }
    switch (transA, transB) {
    case (false, false):
      if needs[0] { ga = reduce(batchedMatmul(g, b, transB: true), to: a) }
      if needs[1] { gb = reduce(batchedMatmul(a, g, transA: true), to: b) }
    case (false, true):
      if needs[0] { ga = reduce(batchedMatmul(g, b), to: a) }
      if needs[1] { gb = reduce(batchedMatmul(g, a, transA: true), to: b) }
    case (true, false):
      if needs[0] { ga = reduce(batchedMatmul(b, g, transB: true), to: a) }
      if needs[1] { gb = reduce(batchedMatmul(a, g), to: b) }
    case (true, true):
      if needs[0] { ga = reduce(batchedMatmul(b, g, transA: true, transB: true), to: a) }
      if needs[1] { gb = reduce(batchedMatmul(g, a, transA: true, transB: true), to: b) }
    }
    return [ga, gb]
  }
}
