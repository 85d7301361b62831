import ZCTensor

// Differentiable element-wise operations. Binary operations broadcast (NumPy rules); their
// backward sums the cotangent back to each operand's shape. Every backward is written with
// differentiable operations, so second derivatives are exact.

/// a + b with broadcasting.
public func add(_ a: Variable, _ b: Variable) -> Variable {
  Variable.record("add", Tensor.binary(a.value, b.value, .add), inputs: [a, b], readsInputValues: false, readsOwnValue: false) { node, g, needs in
    let (a, b) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? sum(g, toShape: a.shape) : nil, needs[1] ? sum(g, toShape: b.shape) : nil]
  }
}

/// a − b with broadcasting.
public func subtract(_ a: Variable, _ b: Variable) -> Variable {
  Variable.record("subtract", Tensor.binary(a.value, b.value, .subtract), inputs: [a, b], readsInputValues: false, readsOwnValue: false) { node, g, needs in
    let (a, b) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? sum(g, toShape: a.shape) : nil, needs[1] ? sum(negate(g), toShape: b.shape) : nil]
  }
}

/// a ⊙ b with broadcasting.
public func multiply(_ a: Variable, _ b: Variable) -> Variable {
  Variable.record("multiply", Tensor.binary(a.value, b.value, .multiply), inputs: [a, b]) { node, g, needs in
    let (a, b) = (node.inputs[0], node.inputs[1])
    return [needs[0] ? sum(multiply(g, b), toShape: a.shape) : nil,
            needs[1] ? sum(multiply(g, a), toShape: b.shape) : nil]
  }
}

/// a / b with broadcasting.
public func divide(_ a: Variable, _ b: Variable) -> Variable {
  multiply(a, reciprocal(b))
}

public func + (a: Variable, b: Variable) -> Variable { add(a, b) }
public func - (a: Variable, b: Variable) -> Variable { subtract(a, b) }
public func * (a: Variable, b: Variable) -> Variable { multiply(a, b) }
public func / (a: Variable, b: Variable) -> Variable { divide(a, b) }
public prefix func - (a: Variable) -> Variable { negate(a) }
public func * (a: Variable, s: Double) -> Variable { scale(a, s) }
public func * (s: Double, a: Variable) -> Variable { scale(a, s) }

/// s·x for a constant s.
public func scale(_ x: Variable, _ s: Double) -> Variable {
  Variable.record("scale", x.value.map(.scale(s)), inputs: [x]) { _, g, _ in [scale(g, s)] }
}

/// x + s for a constant s.
public func addScalar(_ x: Variable, _ s: Double) -> Variable {
  Variable.record("addScalar", x.value.map(.addScalar(s)), inputs: [x]) { _, g, _ in [g] }
}

/// −x.
public func negate(_ x: Variable) -> Variable {
  Variable.record("negate", x.value.map(.negate), inputs: [x]) { _, g, _ in [negate(g)] }
}

/// max(x, 0). The derivative at 0 is taken as 0 (PyTorch's convention); the second derivative is 0.
public func relu(_ x: Variable) -> Variable {
  Variable.record("relu", x.value.map(.relu), inputs: [x]) { node, g, _ in
    [reluBackward(g, input: node.inputs[0].value, slope: 0)]
  }
}

/// g where x > 0, slope·g elsewhere: the backward of (leaky) ReLU as an operation of g alone
/// (x enters only through its sign, whose derivative is 0), so double backward stores no mask.
public func reluBackward(_ g: Variable, input x: Tensor, slope: Double) -> Variable {
  Variable.record("reluBackward", Tensor.reluBackward(g.value, input: x, slope: slope), inputs: [g], readsInputValues: false, readsOwnValue: false) { _, c, _ in
    [reluBackward(c, input: x, slope: slope)]
  }
}

/// x if x > 0 else slope·x (PyTorch's `leaky_relu`, default slope 0.01).
public func leakyRelu(_ x: Variable, slope: Double = 0.01) -> Variable {
  Variable.record("leakyRelu", x.value.map(.leakyRelu(slope: slope)), inputs: [x]) { node, g, _ in
    [reluBackward(g, input: node.inputs[0].value, slope: slope)]
  }
}

/// tanh x; d/dx = 1 − tanh² x.
public func tanh(_ x: Variable) -> Variable {
  Variable.record("tanh", x.value.map(.tanh), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? tanh(node.inputs[0]) : Variable(node.value)
    return [subtract(g, multiply(g, square(y)))]
  }
}

/// 1/(1 + e^−x); d/dx = σ(1 − σ).
public func sigmoid(_ x: Variable) -> Variable {
  Variable.record("sigmoid", x.value.map(.sigmoid), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? sigmoid(node.inputs[0]) : Variable(node.value)
    return [multiply(g, subtract(y, square(y)))]
  }
}

/// |x|; d/dx = sign x (0 at 0, as PyTorch).
public func abs(_ x: Variable) -> Variable {
  Variable.record("abs", x.value.map(.abs), inputs: [x]) { node, g, _ in
    [multiply(g, Variable(node.inputs[0].value.map(.sign)))]
  }
}

/// e^x.
public func exp(_ x: Variable) -> Variable {
  Variable.record("exp", x.value.map(.exp), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? exp(node.inputs[0]) : Variable(node.value)
    return [multiply(g, y)]
  }
}

/// Natural logarithm.
public func log(_ x: Variable) -> Variable {
  Variable.record("log", x.value.map(.log), inputs: [x]) { node, g, _ in
    [multiply(g, reciprocal(node.inputs[0]))]
  }
}

/// 1/x; d/dx = −1/x².
public func reciprocal(_ x: Variable) -> Variable {
  Variable.record("reciprocal", x.value.map(.reciprocal), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? reciprocal(node.inputs[0]) : Variable(node.value)
    return [negate(multiply(g, square(y)))]
  }
}

/// 1/√x; d/dx = −½ x^(−3/2).
public func rsqrt(_ x: Variable) -> Variable {
  Variable.record("rsqrt", x.value.map(.rsqrt), inputs: [x]) { node, g, _ in
    let y = GradMode.isEnabled ? rsqrt(node.inputs[0]) : Variable(node.value)
    return [scale(multiply(g, multiply(y, square(y))), -0.5)]
  }
}

/// √x; d/dx = 1/(2√x).
public func sqrt(_ x: Variable) -> Variable {
  Variable.record("sqrt", x.value.map(.sqrt), inputs: [x]) { node, g, _ in
    [scale(multiply(g, rsqrt(node.inputs[0])), 0.5)]
  }
}

/// x².
public func square(_ x: Variable) -> Variable {
  Variable.record("square", x.value.map(.square), inputs: [x]) { node, g, _ in
    [scale(multiply(g, node.inputs[0]), 2)]
  }
}
