import ZCTensor

// Differentiable reductions and shape operations. Each pair of adjoint operations (sum ↔
// broadcast, slice ↔ embed, gather ↔ scatter-add) uses the other as its backward.

/// Sum over broadcast dimensions down to `shape` (adjoint of ``broadcast(_:to:)``).
public func sum(_ x: Variable, toShape shape: [Int]) -> Variable {
  if x.shape == shape { return x }
  return Variable.record("sumTo", x.value.sum(toShape: shape), inputs: [x], readsInputValues: false, readsOwnValue: false) { node, g, _ in
    [broadcast(g, to: node.inputs[0].shape)]
  }
}

/// Repeats `x` along size-1 or missing leading dimensions to `shape` (adjoint of ``sum(_:toShape:)``).
public func broadcast(_ x: Variable, to shape: [Int]) -> Variable {
  if x.shape == shape { return x }
  return Variable.record("broadcast", x.value.broadcast(to: shape), inputs: [x]) { node, g, _ in
    [sum(g, toShape: node.inputs[0].shape)]
  }
}

/// Sum of all elements, shape `[]`.
public func sum(_ x: Variable) -> Variable {
  reshape(sum(x, toShape: x.shape.map { _ in 1 }), [])
}

/// Mean of all elements, shape `[]`.
public func mean(_ x: Variable) -> Variable {
  scale(sum(x), 1 / Double(max(x.value.count, 1)))
}

/// Mean over the broadcast dimensions down to `shape` (for example `[N, C, H, W]` → `[1, C, 1, 1]`).
public func mean(_ x: Variable, toShape shape: [Int]) -> Variable {
  let n = x.value.count / max(shape.reduce(1, *), 1)
  return scale(sum(x, toShape: shape), 1 / Double(max(n, 1)))
}

/// The same elements with a new shape (a view; one dimension may be -1).
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
  let y = x.value.reshaped(shape)
  if y.shape == x.shape { return x }
  return Variable.record("reshape", y, inputs: [x]) { node, g, _ in [reshape(g, node.inputs[0].shape)] }
}

/// Elements `range` along `axis` (PyTorch `narrow`).
public func slice(_ x: Variable, axis: Int, _ range: Range<Int>) -> Variable {
  Variable.record("slice", x.value.slice(axis: axis, range), inputs: [x]) { node, g, _ in
    [embed(g, axis: axis, at: range, length: node.inputs[0].shape[axis])]
  }
}

/// `x` placed at `range` along `axis` inside zeros of size `length` there (adjoint of ``slice(_:axis:_:)``).
public func embed(_ x: Variable, axis: Int, at range: Range<Int>, length: Int) -> Variable {
  Variable.record("embed", x.value.embedded(axis: axis, at: range, length: length), inputs: [x]) { _, g, _ in
    [slice(g, axis: axis, range)]
  }
}

/// Concatenation along `axis` (PyTorch `cat`).
public func concatenate(_ parts: [Variable], axis: Int) -> Variable {
  Variable.record("concatenate", Tensor.concatenate(parts.map(\.value), axis: axis), inputs: parts) { node, g, needs in
    var start = 0
    return node.inputs.enumerated().map { k, p in
      let n = p.shape[axis]
      defer { start += n }
      return needs[k] ? slice(g, axis: axis, start..<(start + n)) : nil
    }
  }
}

/// Embedding lookup: rows `indices` of `table` `[V, D]` → `[indices.count, D]`.
/// - Precondition: indices in 0..<V (validate user data before calling).
public func embedding(_ table: Variable, _ indices: [Int]) -> Variable {
  Variable.record("embedding", table.value.gatherRows(indices), inputs: [table]) { node, g, _ in
    [scatterAddRows(g, indices, rows: node.inputs[0].shape[0])]
  }
}

/// Adjoint of ``embedding(_:_:)``: rows of `x` `[n, D]` added into zeros `[rows, D]` at `indices`.
public func scatterAddRows(_ x: Variable, _ indices: [Int], rows: Int) -> Variable {
  Variable.record("scatterAddRows", x.value.scatterAddRows(indices, rows: rows), inputs: [x]) { _, g, _ in
    [embedding(g, indices)]
  }
}
