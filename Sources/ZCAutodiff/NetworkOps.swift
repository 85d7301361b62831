import ZCTensor

// Differentiable network operations. Convolution, its two backward operations and pooling
// with its adjoint form closed sets, so second derivatives are exact.

/// How a `matmul` node transposed its operands, kept in its `Variable.attributes` (read by
/// ``perSampleElementJacobian(of:withRespectTo:elements:)`` to recognise a linear head).
public struct MatmulTransposition: Sendable, Equatable {
  /// Whether op(a) = aᵀ (a stored `[k, m]`).
  public let transA: Bool
  /// Whether op(b) = bᵀ (b stored `[n, k]`; ``linear(_:weight:bias:)``'s weight `[out, in]`).
  public let transB: Bool
}

/// Matrix product op(a)·op(b) of 2-D variables (cblas gemm). op(a) `[m, k]`, op(b) `[k, n]` → `[m, n]`.
public func matmul(_ a: Variable, _ b: Variable, transA: Bool = false, transB: Bool = false) -> Variable {
  Variable.record("matmul", Tensor.matmul(a.value, b.value, transA: transA, transB: transB), inputs: [a, b],
                  attributes: MatmulTransposition(transA: transA, transB: transB)) { node, g, needs in
    let (a, b) = (node.inputs[0], node.inputs[1])
    var ga: Variable?, gb: Variable?
    switch (transA, transB) {
    case (false, false):
      if needs[0] { ga = matmul(g, b, transB: true) }
      if needs[1] { gb = matmul(a, g, transA: true) }
    case (false, true):
      if needs[0] { ga = matmul(g, b) }
      if needs[1] { gb = matmul(g, a, transA: true) }
    case (true, false):
      if needs[0] { ga = matmul(b, g, transB: true) }
      if needs[1] { gb = matmul(a, g) }
    case (true, true):
      if needs[0] { ga = matmul(b, g, transA: true, transB: true) }
      if needs[1] { gb = matmul(g, a, transA: true, transB: true) }
    }
    return [ga, gb]
  }
}

/// Fully connected layer y = x Wᵀ + b (PyTorch `F.linear`). x `[N, in]`, W `[out, in]`, b `[out]` → `[N, out]`.
public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
  let y = matmul(x, weight, transB: true)
  return bias.map { add(y, $0) } ?? y
}

/// 2-D convolution without bias (PyTorch `F.conv2d`, cross-correlation), NCHW.
/// x `[N, C_in, H, W]`, w `[C_out, C_in, kh, kw]` → `[N, C_out, H_out, W_out]`,
/// H_out = ⌊(H + 2p − d(kh − 1) − 1)/s⌋ + 1.
public func conv2d(_ x: Variable, _ w: Variable, _ geometry: Conv2DGeometry = .init()) -> Variable {
  Variable.record("conv2d", Convolution.forward(x.value, w.value, geometry), inputs: [x, w], attributes: geometry) { node, g, needs in
    let (x, w) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? conv2dBackwardData(g, w, inputSize: (x.shape[2], x.shape[3]), geometry) : nil,
            needs[1] ? conv2dBackwardWeight(x, g, kernelSize: (w.shape[2], w.shape[3]), geometry) : nil]
  }
}

/// Gradient of conv2d w.r.t. its input (transposed convolution), differentiable in gy and w.
public func conv2dBackwardData(_ gy: Variable, _ w: Variable, inputSize: (Int, Int), _ geometry: Conv2DGeometry) -> Variable {
  Variable.record("conv2dBackwardData", Convolution.backwardData(gy.value, w.value, inputSize: inputSize, geometry), inputs: [gy, w],
                  readsOwnValue: false) { node, c, needs in
    let (gy, w) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? conv2d(c, w, geometry) : nil,
            needs[1] ? conv2dBackwardWeight(c, gy, kernelSize: (w.shape[2], w.shape[3]), geometry) : nil]
  }
}

/// Gradient of conv2d w.r.t. its weight, summed over the batch, differentiable in x and gy.
public func conv2dBackwardWeight(_ x: Variable, _ gy: Variable, kernelSize: (Int, Int), _ geometry: Conv2DGeometry) -> Variable {
  Variable.record("conv2dBackwardWeight", Convolution.backwardWeight(x.value, gy.value, kernelSize: kernelSize, geometry), inputs: [x, gy]) { node, c, needs in
    let (x, gy) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? conv2dBackwardData(gy, c, inputSize: (x.shape[2], x.shape[3]), geometry) : nil,
            needs[1] ? conv2d(x, c, geometry) : nil]
  }
}

/// Average pooling (PyTorch `F.avg_pool2d`), NCHW: `[N, C, H, W]` → `[N, C, H_out, W_out]`.
public func avgPool2d(_ x: Variable, _ geometry: AvgPool2DGeometry) -> Variable {
  Variable.record("avgPool2d", Pooling.averageForward(x.value, geometry), inputs: [x]) { node, g, _ in
    let x = node.inputs[0]
    return [avgPool2dBackward(g, inputSize: (x.shape[2], x.shape[3]), geometry)]
  }
}

/// Adjoint of ``avgPool2d(_:_:)`` (its backward), itself differentiable.
public func avgPool2dBackward(_ gy: Variable, inputSize: (Int, Int), _ geometry: AvgPool2DGeometry) -> Variable {
  Variable.record("avgPool2dBackward", Pooling.averageBackward(gy.value, inputSize: inputSize, geometry), inputs: [gy],
                  readsInputValues: false, readsOwnValue: false) { _, c, _ in
    [avgPool2d(c, geometry)]
  }
}

/// Global average pooling: `[N, C, H, W]` → `[N, C]` (mean over H and W).
public func globalAvgPool(_ x: Variable) -> Variable {
  precondition(x.value.rank == 4, "global average pooling expects NCHW, got \(x.shape)")
  let (n, c) = (x.shape[0], x.shape[1])
  return reshape(mean(reshape(x, [n, c, -1]), toShape: [n, c, 1]), [n, c])
}

/// log-softmax along the last axis; backward gx = g − softmax·Σg (row sums).
public func logSoftmax(_ x: Variable) -> Variable {
  Variable.record("logSoftmax", x.value.logSoftmaxLastAxis(), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? logSoftmax(node.inputs[0]) : Variable(node.value)
    var rowShape = g.shape
    rowShape[rowShape.count - 1] = 1
    return [subtract(g, multiply(exp(y), sum(g, toShape: rowShape)))]
  }
}

/// Mean cross-entropy of logits `[N, K]` against integer labels in 0..<K (PyTorch
/// `F.cross_entropy`, reduction "mean"): −(1/N) Σ_i log softmax(logits_i)[label_i]. Shape `[]`.
/// - Precondition: labels.count == N and every label in 0..<K (validate user data first).
public func crossEntropy(_ logits: Variable, labels: [Int]) -> Variable {
  precondition(logits.value.rank == 2 && logits.shape[0] == labels.count, "cross-entropy: logits \(logits.shape) for \(labels.count) labels")
  let (n, k) = (logits.shape[0], logits.shape[1])
  var onehot = [Double](repeating: 0, count: n * k)
  for (i, l) in labels.enumerated() {
    precondition(l >= 0 && l < k, "label \(l) out of range 0..<\(k)")
    onehot[i * k + l] = -1 / Double(n)
  }
  return sum(multiply(logSoftmax(logits), Variable(Tensor(doubles: onehot, shape: [n, k], dtype: logits.dtype))))
}

/// 2-D batch normalisation in training mode (batch statistics), NCHW; fused forward and backward.
///
/// y = γ (x − μ_B)/√(σ²_B + ε) + β per channel, σ²_B biased. γ, β `[C]` or nil (no affine).
/// Returns y and the batch statistics (for the running-statistics update, which the layer owns).
/// Under `createGraph` the backward is recorded as the fused differentiable operations
/// ``batchNormInputGradient(_:_:gamma:stats:eps:)`` and ``batchNormGammaGradient(_:_:stats:eps:)``,
/// so second derivatives (Hessian–vector products) are exact. Source: Ioffe & Szegedy 2015; PyTorch `F.batch_norm(training=True)`.
public func batchNormTraining(_ x: Variable, gamma: Variable?, beta: Variable?, eps: Double = 1e-5) -> (Variable, BatchNormKernel.Statistics) {
  let (y, stats) = BatchNormKernel.forward(x.value, gamma: gamma?.value, beta: beta?.value, eps: eps)
  var inputs = [x]
  if let gamma { inputs.append(gamma) }
  if let beta { inputs.append(beta) }
  let hasGamma = gamma != nil, hasBeta = beta != nil
  let out = Variable.record("batchNorm", y, inputs: inputs) { node, g, needs in
    let x = node.inputs[0]
    let gammaV = hasGamma ? node.inputs[1] : nil
    if GradMode.isEnabled {
      // Double backward: the backward map as differentiable fused operations.
      var result: [Variable?] = [needs[0] ? batchNormInputGradient(x, g, gamma: gammaV, stats: stats, eps: eps) : nil]
      if hasGamma { result.append(needs[1] ? batchNormGammaGradient(x, g, stats: stats, eps: eps) : nil) }
      if hasBeta {
        let c = x.shape[1]
        result.append(needs[hasGamma ? 2 : 1] ? reshape(sum(g, toShape: [1, c] + [Int](repeating: 1, count: x.value.rank - 2)), [c]) : nil)
      }
      return result
    }
    let (gx, gg, gb) = BatchNormKernel.backward(x.value, g.value, gamma: gammaV?.value, stats: stats, eps: eps)
    var result: [Variable?] = [Variable(gx)]
    if hasGamma { result.append(Variable(gg)) }
    if hasBeta { result.append(Variable(gb)) }
    return result
  }
  return (out, stats)
}

/// gx of training-mode batch norm, γ/√(σ²+ε)·(gy − mean gy − x̂ mean(gy x̂)), as a differentiable
/// operation of (x, gy, γ) whose own backward is ``BatchNormKernel/backwardVJP(_:_:gamma:stats:eps:c:cGamma:)``.
/// Second order only: its backward is not differentiable again.
public func batchNormInputGradient(_ x: Variable, _ gy: Variable, gamma: Variable?, stats: BatchNormKernel.Statistics, eps: Double) -> Variable {
  let (gx, _, _) = BatchNormKernel.backward(x.value, gy.value, gamma: gamma?.value, stats: stats, eps: eps)
  let inputs = gamma.map { [x, gy, $0] } ?? [x, gy]
  return Variable.record("batchNormInputGradient", gx, inputs: inputs) { node, c, _ in
    precondition(!GradMode.isEnabled, "third derivatives through batch norm are not supported")
    let (dx, dgy, dgam) = BatchNormKernel.backwardVJP(node.inputs[0].value, node.inputs[1].value, gamma: node.inputs.count > 2 ? node.inputs[2].value : nil,
                                                       stats: stats, eps: eps, c: c.value, cGamma: nil)
    return [Variable(dx), Variable(dgy)] + (node.inputs.count > 2 ? [Variable(dgam)] : [])
  }
}

/// gγ of training-mode batch norm, Σ gy x̂ per channel `[C]`, differentiable in (x, gy) (second order only).
public func batchNormGammaGradient(_ x: Variable, _ gy: Variable, stats: BatchNormKernel.Statistics, eps: Double) -> Variable {
  let (_, gg, _) = BatchNormKernel.backward(x.value, gy.value, gamma: nil, stats: stats, eps: eps)
  return Variable.record("batchNormGammaGradient", gg, inputs: [x, gy]) { node, c, _ in
    precondition(!GradMode.isEnabled, "third derivatives through batch norm are not supported")
    let (dx, dgy, _) = BatchNormKernel.backwardVJP(node.inputs[0].value, node.inputs[1].value, gamma: nil,
                                                    stats: stats, eps: eps, c: nil, cGamma: c.value)
    return [Variable(dx), Variable(dgy)]
  }
}

/// Training-mode batch norm written with differentiable primitives (reference for the fused
/// kernel and its double backward). Same shapes and formula as ``batchNormTraining(_:gamma:beta:eps:)``.
public func batchNormComposite(_ x: Variable, gamma: Variable?, beta: Variable?, eps: Double = 1e-5) -> Variable {
  var cshape = [Int](repeating: 1, count: x.value.rank)
  cshape[1] = x.shape[1]
  let mu = mean(x, toShape: cshape)
  let xc = subtract(x, mu)
  let variance = mean(square(xc), toShape: cshape)
  var y = multiply(xc, rsqrt(addScalar(variance, eps)))
  if let gamma { y = multiply(y, reshape(gamma, cshape)) }
  if let beta { y = add(y, reshape(beta, cshape)) }
  return y
}
