import Foundation
import ZCAutodiff
import ZCNN
import ZCTensor

// The node evaluator of ``ONNXNetwork``: one case per supported op (ONNX operator specification,
// github.com/onnx/onnx docs/Operators.md). Float tensors go through ZCAutodiff operations (so the
// tape records them); integer tensors (shapes, indices, axes) are computed directly.

extension ONNXNetwork {
  func fail(_ n: ONNXNode, _ message: String) -> ONNXError {
    ONNXError("\(graph.fileName): node \(n.label), opset \(graph.opset): \(message)")
  }

  /// Outputs of node `k` (one per declared output; unused optional outputs may be absent). When node
  /// `k` gives a weight layer's output (its Conv/Gemm node, or the bias `Add` after a linear layer's
  /// MatMul), that output is reported to ``ForwardTrace`` for the layer (Fisher's activation).
  func evaluate(_ k: Int, _ n: ONNXNode, _ value: (String) throws -> GraphValue) throws -> [GraphValue] {
    let outs = try evaluateNode(k, n, value)
    if let layer = layerOutputAtNode[k], case let .float(y)? = outs.first { ForwardTrace.current?.layerOutput(layer, y) }
    return outs
  }

  private func evaluateNode(_ k: Int, _ n: ONNXNode, _ value: (String) throws -> GraphValue) throws -> [GraphValue] {
    func input(_ i: Int) throws -> GraphValue {
      guard let name = n.input(i) else { throw fail(n, "input \(i) is missing") }
      return try value(name)
    }
    func optionalInput(_ i: Int) throws -> GraphValue? { try n.input(i).map(value) }
    func float(_ i: Int) throws -> Variable { try asFloat(input(i), n) }
    func ints(_ i: Int) throws -> [Int] {
      switch try input(i) {
      case let .int(d, _): return d
      case let .float(v): return try constantInts(v, n)
      }
    }
    func scalar(_ v: GraphValue) throws -> Double {
      switch v {
      case let .int(d, _):
        guard d.count == 1 else { throw fail(n, "expected a scalar, found shape \(v.shape)") }
        return Double(d[0])
      case let .float(x):
        guard x.value.count == 1, !x.requiresGrad else { throw fail(n, "expected a constant scalar, found shape \(x.shape)") }
        return x.value.doubles[0]
      }
    }
    func axis(_ a: Int, rank: Int) throws -> Int {
      let r = a < 0 ? a + rank : a
      guard r >= 0 && r < Swift.max(rank, 1) else { throw fail(n, "axis \(a) is outside a tensor of rank \(rank)") }
      return r
    }

    switch n.opType {
    // MARK: layers
    case "Conv":
      let x = try float(0), w = try float(1)
      var y = try conv(n, x, w)
      if let b = try optionalInput(2) {
        let bv = try asFloat(b, n)
        guard bv.shape == [w.shape[0]] else { throw fail(n, "bias has shape \(bv.shape), expected [\(w.shape[0])]") }
        y = add(y, reshape(bv, [1, bv.shape[0], 1, 1]))
      }
      return [.float(y)]
    case "Gemm":
      var a = try float(0), b = try float(1)
      guard a.shape.count == 2, b.shape.count == 2 else { throw fail(n, "expected 2-D operands, found \(a.shape) and \(b.shape)") }
      let ta = n.int("transA", default: 0) != 0, tb = n.int("transB", default: 0) != 0
      let ka = ta ? a.shape[0] : a.shape[1], kb = tb ? b.shape[1] : b.shape[0]
      guard ka == kb else { throw fail(n, "operands \(a.shape) (transA \(ta)) and \(b.shape) (transB \(tb)) do not multiply") }
      let alpha = n.float("alpha", default: 1), beta = n.float("beta", default: 1)
      if alpha != 1 { a = scale(a, alpha) }
      var y = matmul(a, b, transA: ta, transB: tb)
      if let c = try optionalInput(2), beta != 0 {
        var cv = try asFloat(c, n)
        guard Tensor.broadcastShape(cv.shape, y.shape) == y.shape else { throw fail(n, "C of shape \(cv.shape) does not broadcast to \(y.shape)") }
        if beta != 1 { cv = scale(cv, beta) }
        y = add(y, cv)
      }
      return [.float(y)]
    case "MatMul":
      return [.float(try matMul(n, try float(0), try float(1)))]
    case "LayerNormalization":
      return try layerNormalization(n, try float(0), scale: try float(1), bias: try optionalInput(2).map { try asFloat($0, n) })
    case "Softmax":
      let x = try float(0)
      let r = x.shape.count
      guard r >= 1 else { throw fail(n, "Softmax of a scalar") }
      let ax = try axis(n.int("axis", default: graph.opset >= 13 ? -1 : 1), rank: r)
      if graph.opset >= 13 { return [.float(onnxSoftmax(x, axis: ax))] }
      // Opset < 13: the input is coerced to 2-D [prod(shape[..<axis]), prod(shape[axis...])].
      let flat = reshape(x, [x.shape[..<ax].reduce(1, *), x.shape[ax...].reduce(1, *)])
      return [.float(reshape(softmax(flat), x.shape))]
    case "Erf": return [.float(onnxErf(try float(0)))]
    case "Gelu":
      switch n.string("approximate") ?? "none" {
      case "none": return [.float(gelu(try float(0)))]
      case "tanh": return [.float(onnxGeluTanh(try float(0)))]
      case let a: throw fail(n, "approximate '\(a)' is not supported (expected none or tanh)")
      }
    case "BatchNormalization":
      let x = try float(0)
      let params = try (1...4).map { try float($0) }
      guard x.shape.count >= 2 else { throw fail(n, "input has shape \(x.shape), expected [N, C, ...]") }
      let c = x.shape[1]
      for (i, p) in params.enumerated() where p.shape != [c] { throw fail(n, "input \(i + 1) has shape \(p.shape), expected [\(c)]") }
      let bn = layerOfNode[k] as? ONNXBatchNormLayer
      if bn?.bypassed == true { return [.float(x)] }
      let eps = n.float("epsilon", default: 1e-5)
      let trainingMode = n.int("training_mode", default: 0) == 1
      if trainingMode && (bn?.training ?? training) {
        guard x.value.count / c > 0 else { throw fail(n, "input \(x.shape) has no elements per channel") }
        let (y, _) = batchNormTraining(x, gamma: params[0], beta: params[1], eps: eps)
        return [.float(y)]
      }
      var cshape = [Int](repeating: 1, count: x.shape.count)
      cshape[1] = c
      let inv = params[3].value.doubles.map { 1 / ($0 + eps).squareRoot() }
      var y = multiply(subtract(x, reshape(params[2], cshape)), Variable(Tensor(doubles: inv, shape: cshape, dtype: x.dtype)))
      y = add(multiply(y, reshape(params[0], cshape)), reshape(params[1], cshape))
      return [.float(y)]

    // MARK: activations
    case "Relu":
      let x = try float(0)
      ForwardTrace.current?.reluInput(x.value)
      return [.float(relu(x))]
    case "LeakyRelu": return [.float(leakyRelu(try float(0), slope: n.float("alpha", default: 0.01)))]
    case "Sigmoid": return [.float(sigmoid(try float(0)))]
    case "Tanh": return [.float(tanh(try float(0)))]
    case "HardSigmoid": return [.float(onnxHardSigmoid(try float(0), alpha: n.float("alpha", default: 0.2), beta: n.float("beta", default: 0.5)))]
    case "HardSwish": return [.float(onnxHardSwish(try float(0)))]
    case "Clip":
      let x = try float(0)
      var lo = -Double.infinity, hi = Double.infinity
      if graph.opset < 11 {
        lo = n.float("min", default: lo); hi = n.float("max", default: hi)
      } else {
        if let v = try optionalInput(1) { lo = try scalar(v) }
        if let v = try optionalInput(2) { hi = try scalar(v) }
      }
      return [.float(onnxClip(x, min: lo, max: hi))]
    case "Sqrt": return [.float(sqrt(try float(0)))]
    case "Exp": return [.float(exp(try float(0)))]
    case "Log": return [.float(log(try float(0)))]
    case "Neg":
      if case let .int(d, s) = try input(0) { return [.int(d.map { -$0 }, s)] }
      return [.float(negate(try float(0)))]
    case "Abs":
      if case let .int(d, s) = try input(0) { return [.int(d.map { Swift.abs($0) }, s)] }
      return [.float(abs(try float(0)))]
    case "Reciprocal": return [.float(reciprocal(try float(0)))]
    case "Pow":
      let x = try float(0)
      guard let e = try? scalar(try input(1)) else { throw fail(n, "the exponent must be a constant scalar") }
      return [.float(onnxPower(x, e))]

    // MARK: arithmetic
    case "Add", "Sub", "Mul", "Div", "Mod", "Equal":
      let a = try input(0), b = try input(1)
      if case let .int(da, sa) = a, case let .int(db, sb) = b {
        return [try intBinary(n, da, sa, db, sb)]
      }
      guard n.opType != "Mod" && n.opType != "Equal" else { throw fail(n, "\(n.opType) is supported on integer tensors only") }
      let x = try asFloat(a, n), y = try asFloat(b, n)
      guard Tensor.broadcastShape(x.shape, y.shape) != nil else { throw fail(n, "shapes \(x.shape) and \(y.shape) do not broadcast") }
      switch n.opType {
      case "Add": return [.float(add(x, y))]
      case "Sub": return [.float(subtract(x, y))]
      case "Mul": return [.float(multiply(x, y))]
      default: return [.float(divide(x, y))]
      }
    case "Where":
      guard case let .int(cond, cs) = try input(0) else { throw fail(n, "the condition must be a constant (integer or bool) tensor") }
      let a = try input(1), b = try input(2)
      if case let .int(da, sa) = a, case let .int(db, sb) = b {
        guard let s1 = Tensor.broadcastShape(sa, sb), let s = Tensor.broadcastShape(s1, cs) else { throw fail(n, "shapes \(cs), \(sa), \(sb) do not broadcast") }
        let c = broadcastInts(cond, cs, s), x = broadcastInts(da, sa, s), y = broadcastInts(db, sb, s)
        return [.int((0..<c.count).map { c[$0] != 0 ? x[$0] : y[$0] }, s)]
      }
      let x = try asFloat(a, n), y = try asFloat(b, n)
      guard let s1 = Tensor.broadcastShape(x.shape, y.shape), let s = Tensor.broadcastShape(s1, cs) else { throw fail(n, "shapes \(cs), \(x.shape), \(y.shape) do not broadcast") }
      let mask = Variable(Tensor(doubles: broadcastInts(cond, cs, s).map { $0 != 0 ? 1 : 0 }, shape: s, dtype: dtype))
      let inverse = Variable(Tensor(doubles: broadcastInts(cond, cs, s).map { $0 != 0 ? 0 : 1 }, shape: s, dtype: dtype))
      return [.float(add(multiply(mask, x), multiply(inverse, y)))]

    // MARK: pooling
    case "GlobalAveragePool":
      let x = try float(0)
      guard x.shape.count >= 3 else { throw fail(n, "input has shape \(x.shape), expected [N, C, spatial...]") }
      let target = [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.shape.count - 2)
      return [.float(mean(x, toShape: target))]
    case "AveragePool":
      let x = try float(0)
      return [.float(try averagePool(n, x))]
    case "MaxPool":
      let x = try float(0)
      if n.outputs.count > 1 && !n.outputs[1].isEmpty { throw fail(n, "the Indices output is not supported") }
      return [.float(try maxPool(n, x))]

    // MARK: shape ops
    case "Identity": return [try input(0)]
    case "Dropout":
      let x = try input(0)
      var ratio = n.float("ratio", default: 0.5)
      if graph.opset >= 12 { ratio = try optionalInput(1).map(scalar) ?? 0.5 }
      var trainingMode = graph.opset < 12 ? n.int("is_test", default: 0) == 0 && graph.opset < 7 : false
      if graph.opset >= 12, let t = try optionalInput(2) { trainingMode = try scalar(t) != 0 }
      if trainingMode && ratio > 0 { throw fail(n, "Dropout with ratio \(ratio) in training mode is random; export with p = 0") }
      if n.outputs.count > 1 && !n.outputs[1].isEmpty { return [x, .int([Int](repeating: 1, count: x.shape.reduce(1, *)), x.shape)] }
      return [x]
    case "Constant":
      return [try constantValue(n)]
    case "Shape":
      let s = try input(0).shape
      var start = n.int("start", default: 0), end = n.int("end", default: s.count)
      if start < 0 { start += s.count }
      if end < 0 { end += s.count }
      start = Swift.min(Swift.max(start, 0), s.count); end = Swift.min(Swift.max(end, start), s.count)
      return [.int(Array(s[start..<end]), [end - start])]
    case "Cast":
      guard let to = n.int("to") else { throw fail(n, "attribute 'to' is missing") }
      let x = try input(0)
      switch to {
      case 1, 11:
        if case .int = x { return [.float(try asFloat(x, n))] }
        return [x]
      case 2, 3, 4, 5, 6, 7, 12, 13:
        if case let .float(v) = x { return [.int(v.value.doubles.map { $0.isFinite ? Int($0) : 0 }, v.shape)] }
        return [x]
      case 9:
        switch x {
        case let .int(d, s): return [.int(d.map { $0 != 0 ? 1 : 0 }, s)]
        case let .float(v): return [.int(v.value.doubles.map { $0 != 0 ? 1 : 0 }, v.shape)]
        }
      default: throw fail(n, "Cast to element type \(to) is not supported")
      }
    case "ConstantOfShape":
      let s = try ints(0)
      guard s.allSatisfy({ $0 >= 0 }), s.reduce(1, { $0 * Swift.max($1, 1) }) <= 1 << 27 else { throw fail(n, "shape \(s) is not valid") }
      let count = s.reduce(1, *)
      if case let .tensor(t)? = n.attributes["value"] {
        switch t {
        case let .int(d, _):
          guard d.count == 1 else { throw fail(n, "value must have one element") }
          return [.int([Int](repeating: d[0], count: count), s)]
        case let .float(v):
          guard v.count == 1 else { throw fail(n, "value must have one element") }
          return [.float(Variable(Tensor(repeating: v.doubles[0], shape: s, dtype: dtype)))]
        }
      }
      return [.float(Variable(Tensor(zeros: s, dtype: dtype)))]
    case "Gather":
      let data = try input(0)
      guard case let .int(idx, ishape) = try input(1) else { throw fail(n, "indices must be integers") }
      let r = data.shape.count
      let ax = try axis(n.int("axis", default: 0), rank: r)
      let dim = data.shape.isEmpty ? 1 : data.shape[ax]
      var norm: [Int] = []
      for i in idx {
        let j = i < 0 ? i + dim : i
        guard j >= 0 && j < dim else { throw fail(n, "index \(i) is outside 0..<\(dim) on axis \(ax)") }
        norm.append(j)
      }
      let outShape = Array(data.shape[..<ax]) + ishape + Array(data.shape[(ax + 1)...])
      switch data {
      case let .int(d, s):
        let outer = s[..<ax].reduce(1, *), inner = s[(ax + 1)...].reduce(1, *)
        var out: [Int] = []
        out.reserveCapacity(outer * norm.count * inner)
        for o in 0..<outer { for j in norm { out += d[((o * dim + j) * inner)..<((o * dim + j + 1) * inner)] } }
        return [.int(out, outShape)]
      case let .float(v):
        guard !norm.isEmpty else { throw fail(n, "empty indices on a float tensor are not supported") }
        let parts = norm.map { slice(v, axis: ax, $0..<($0 + 1)) }
        let y = parts.count == 1 ? parts[0] : concatenate(parts, axis: ax)
        return [.float(reshape(y, outShape))]
      }
    case "Unsqueeze":
      let x = try input(0)
      let axes = try n.ints("axes") ?? ints(1)
      let r = x.shape.count + axes.count
      let norm = try Set(axes.map { try axis($0, rank: r) })
      guard norm.count == axes.count else { throw fail(n, "repeated axes \(axes)") }
      var s: [Int] = [], it = x.shape.makeIterator()
      for i in 0..<r { s.append(norm.contains(i) ? 1 : it.next()!) }
      return [try reshaped(x, s, n)]
    case "Squeeze":
      let x = try input(0)
      let axes = try n.ints("axes") ?? (n.input(1) != nil ? ints(1) : nil)
      let r = x.shape.count
      let drop: Set<Int>
      if let axes {
        drop = try Set(axes.map { try axis($0, rank: r) })
        for a in drop where x.shape[a] != 1 { throw fail(n, "axis \(a) has size \(x.shape[a]), not 1") }
      } else {
        drop = Set(x.shape.indices.filter { x.shape[$0] == 1 })
      }
      return [try reshaped(x, x.shape.indices.filter { !drop.contains($0) }.map { x.shape[$0] }, n)]
    case "Flatten":
      let x = try input(0)
      let r = x.shape.count
      var a = n.int("axis", default: 1)
      if a < 0 { a += r }
      guard a >= 0 && a <= r else { throw fail(n, "axis \(n.int("axis", default: 1)) for rank \(r)") }
      return [try reshaped(x, [x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)], n)]
    case "Reshape":
      let x = try input(0)
      var s = try ints(1)
      let allowZero = n.int("allowzero", default: 0) == 1
      if !allowZero { for i in s.indices where s[i] == 0 { guard i < x.shape.count else { throw fail(n, "shape \(s) copies axis \(i) of \(x.shape)") }; s[i] = x.shape[i] } }
      let known = s.filter { $0 != -1 }
      guard s.filter({ $0 == -1 }).count <= 1, known.allSatisfy({ $0 >= 0 }) else { throw fail(n, "shape \(s) is not valid") }
      let count = x.shape.reduce(1, *)
      if let k = s.firstIndex(of: -1) {
        let p = known.reduce(1, *)
        guard p > 0 && count % p == 0 else { throw fail(n, "cannot reshape \(x.shape) to \(s)") }
        s[k] = count / p
      }
      return [try reshaped(x, s, n)]
    case "Expand":
      let x = try input(0)
      let s = try ints(1)
      guard let target = Tensor.broadcastShape(x.shape, s), target.reduce(1, { $0 * Swift.max($1, 1) }) <= 1 << 27 else {
        throw fail(n, "shape \(x.shape) does not expand to \(s)")
      }
      switch x {
      case let .int(d, xs): return [.int(broadcastInts(d, xs, target), target)]
      case let .float(v):
        let padded = target.count > v.shape.count ? reshape(v, [Int](repeating: 1, count: target.count - v.shape.count) + v.shape) : v
        return [.float(broadcast(padded, to: target))]
      }
    case "Transpose":
      let x = try input(0)
      let r = x.shape.count
      let perm = n.ints("perm") ?? Array((0..<r).reversed())
      guard perm.count == r, Set(perm) == Set(0..<r) else { throw fail(n, "perm \(perm) is not a permutation of the \(r) axes") }
      switch x {
      case let .float(v): return [.float(onnxPermute(v, perm))]
      case let .int(d, s):
        let t = permuteTensor(Tensor(doubles: d.map(Double.init), shape: s, dtype: .float64), perm)
        return [.int(t.doubles.map { Int($0) }, t.shape)]
      }
    case "Concat":
      let values = try (0..<n.inputs.count).compactMap { try optionalInput($0) }
      guard let first = values.first else { throw fail(n, "no inputs") }
      let r = first.shape.count
      let ax = try axis(n.int("axis") ?? 0, rank: r)
      for v in values {
        guard v.shape.count == r, v.shape.indices.allSatisfy({ $0 == ax || v.shape[$0] == first.shape[$0] }) else {
          throw fail(n, "inputs of shapes \(values.map(\.shape)) do not concatenate on axis \(ax)")
        }
      }
      if values.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
        let outer = first.shape[..<ax].reduce(1, *)
        var out: [Int] = []
        for o in 0..<outer {
          for v in values {
            guard case let .int(d, s) = v else { continue }
            let chunk = s[ax...].reduce(1, *)
            out += d[(o * chunk)..<((o + 1) * chunk)]
          }
        }
        var s = first.shape
        s[ax] = values.reduce(0) { $0 + $1.shape[ax] }
        return [.int(out, s)]
      }
      let parts = try values.map { try asFloat($0, n) }.filter { $0.shape[ax] > 0 }
      guard !parts.isEmpty else { throw fail(n, "every input is empty on axis \(ax)") }
      return [.float(parts.count == 1 ? parts[0] : concatenate(parts, axis: ax))]
    case "Split":
      let x = try float(0)
      let ax = try axis(n.int("axis", default: 0), rank: x.shape.count)
      let parts = n.outputs.count
      var sizes = try n.ints("split") ?? (n.input(1) != nil ? ints(1) : nil) ?? []
      if sizes.isEmpty {
        let dim = x.shape[ax], k = Swift.max(n.int("num_outputs", default: parts), 1)
        let chunk = (dim + k - 1) / k
        sizes = (0..<k).map { Swift.max(0, Swift.min(chunk, dim - $0 * chunk)) }
      }
      guard sizes.reduce(0, +) == x.shape[ax], sizes.allSatisfy({ $0 >= 0 }), sizes.count == parts else {
        throw fail(n, "split \(sizes) does not divide axis \(ax) of \(x.shape) into \(parts) outputs")
      }
      var start = 0
      return sizes.map { s in defer { start += s }; return .float(slice(x, axis: ax, start..<(start + s))) }
    case "Slice":
      let x = try input(0)
      let starts: [Int], ends: [Int], axesIn: [Int]?, steps: [Int]?
      if graph.opset < 10 {
        starts = n.ints("starts") ?? []; ends = n.ints("ends") ?? []; axesIn = n.ints("axes"); steps = nil
      } else {
        starts = try ints(1); ends = try ints(2)
        axesIn = n.input(3) != nil ? try ints(3) : nil
        steps = n.input(4) != nil ? try ints(4) : nil
      }
      let r = x.shape.count
      let axes = try (axesIn ?? Array(0..<starts.count)).map { try axis($0, rank: r) }
      guard starts.count == ends.count, axes.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
        throw fail(n, "starts \(starts), ends \(ends), axes \(axes) differ in length")
      }
      var ranges = x.shape.map { 0..<$0 }
      for (j, a) in axes.enumerated() {
        guard (steps?[j] ?? 1) == 1 else { throw fail(n, "step \(steps![j]) is not supported (only 1)") }
        let dim = x.shape[a]
        func clamp(_ v: Int) -> Int { let w = v < 0 ? v + dim : v; return Swift.min(Swift.max(w, 0), dim) }
        let s = clamp(starts[j]), e = Swift.max(clamp(ends[j]), s)
        ranges[a] = s..<e
      }
      switch x {
      case let .float(v):
        var y = v
        for (a, rg) in ranges.enumerated() where rg != 0..<x.shape[a] {
          guard !rg.isEmpty else { throw fail(n, "empty slice of a float tensor on axis \(a)") }
          y = slice(y, axis: a, rg)
        }
        return [.float(y)]
      case let .int(d, s):
        var out: [Int] = []
        let outShape = ranges.map(\.count)
        var strides = [Int](repeating: 1, count: s.count)
        if s.count > 1 { for i in stride(from: s.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * s[i + 1] } }
        func walk(_ axis: Int, _ offset: Int) {
          if axis == s.count { out.append(d[offset]); return }
          for i in ranges[axis] { walk(axis + 1, offset + i * strides[axis]) }
        }
        if outShape.reduce(1, *) > 0 { walk(0, 0) }
        return [.int(out, outShape)]
      }
    case "ReduceMean":
      let x = try float(0)
      let r = x.shape.count
      var axes = n.ints("axes")
      if axes == nil && graph.opset >= 18 && n.input(1) != nil { axes = try ints(1) }
      let keep = n.int("keepdims", default: 1) == 1
      if axes == nil || axes!.isEmpty {
        if n.int("noop_with_empty_axes", default: 0) == 1 { return [.float(x)] }
        axes = Array(0..<r)
      }
      let set = try Set(axes!.map { try axis($0, rank: r) })
      let target = x.shape.indices.map { set.contains($0) ? 1 : x.shape[$0] }
      let m = mean(x, toShape: target)
      return [.float(keep ? m : reshape(m, x.shape.indices.filter { !set.contains($0) }.map { x.shape[$0] }))]
    default:
      throw fail(n, "op type \(n.opType) is not supported")
    }
  }

  // MARK: helpers

  /// ONNX `MatMul` (NumPy `matmul`): 1-D operands get a unit axis (removed from the result); a
  /// rank-2 right operand is shared by every batch element (the left's batch axes are folded into
  /// its rows: one gemm); otherwise the batch axes broadcast and ZCAutodiff's ``batchedMatmul(_:_:transA:transB:)`` runs.
  func matMul(_ n: ONNXNode, _ a0: Variable, _ b0: Variable) throws -> Variable {
    guard a0.shape.count >= 1, b0.shape.count >= 1 else { throw fail(n, "MatMul operands of shapes \(a0.shape) and \(b0.shape): scalars do not multiply") }
    let aVector = a0.shape.count == 1, bVector = b0.shape.count == 1
    let a = aVector ? reshape(a0, [1, a0.shape[0]]) : a0
    let b = bVector ? reshape(b0, [b0.shape[0], 1]) : b0
    let m = a.shape[a.shape.count - 2], ka = a.shape[a.shape.count - 1]
    let kb = b.shape[b.shape.count - 2], nb = b.shape[b.shape.count - 1]
    guard ka == kb else { throw fail(n, "operands \(a0.shape) and \(b0.shape) do not multiply (inner dimensions \(ka) and \(kb))") }
    let leadA = Array(a.shape.dropLast(2)), leadB = Array(b.shape.dropLast(2))
    var y: Variable
    var lead: [Int]
    if leadA.isEmpty && leadB.isEmpty {
      y = matmul(a, b); lead = []
    } else if leadB.isEmpty {
      lead = leadA
      y = reshape(matmul(reshape(a, [leadA.reduce(1, *) * m, ka]), b), leadA + [m, nb])
    } else {
      guard let l = Tensor.broadcastShape(leadA, leadB) else { throw fail(n, "batch axes of \(a0.shape) and \(b0.shape) do not broadcast") }
      lead = l
      guard l.reduce(1, *) * Swift.max(m * ka, kb * nb, m * nb) <= 1 << 28 else { throw fail(n, "operands \(a0.shape) and \(b0.shape) are too large") }
      func expanded(_ x: Variable, _ xl: [Int]) -> Variable {
        if xl.isEmpty || xl == l { return x }
        let tail = Array(x.shape.suffix(2))
        return broadcast(reshape(x, [Int](repeating: 1, count: l.count - xl.count) + x.shape), to: l + tail)
      }
      y = batchedMatmul(expanded(a, leadA), expanded(b, leadB))
    }
    if aVector || bVector { y = reshape(y, lead + (aVector ? [] : [m]) + (bVector ? [] : [nb])) }
    return y
  }

  /// ONNX `LayerNormalization` (opset 17): mean and biased variance over the axes `axis...`,
  /// y = (x − mean)/√(var + ε)·scale + bias, computed in the network's dtype (`stash_type` is not
  /// used). Normalising over the last axis with scale/bias of that length is ZCAutodiff's
  /// ``layerNorm(_:gamma:beta:eps:)`` (PyTorch `nn.LayerNorm`); several trailing axes are flattened
  /// into one, and scale/bias that broadcast to the normalised shape multiply and add afterwards.
  /// The optional Mean and InvStdDev outputs have x's shape with the normalised axes set to 1.
  func layerNormalization(_ n: ONNXNode, _ x: Variable, scale gamma: Variable, bias beta: Variable?) throws -> [GraphValue] {
    let r = x.shape.count
    guard r >= 1 else { throw fail(n, "LayerNormalization of a scalar") }
    let a0 = n.int("axis", default: -1), ax = a0 < 0 ? a0 + r : a0
    guard ax >= 0 && ax < r else { throw fail(n, "axis \(a0) is outside a tensor of rank \(r)") }
    let normShape = Array(x.shape[ax...]), count = normShape.reduce(1, *)
    guard count > 0 else { throw fail(n, "input \(x.shape) has no elements to normalise from axis \(ax)") }
    for (what, p) in [("scale", gamma), ("bias", beta)] {
      guard let p else { continue }
      guard p.shape.count <= normShape.count, Tensor.broadcastShape(p.shape, normShape) == normShape else {
        throw fail(n, "\(what) has shape \(p.shape), expected the normalised shape \(normShape)")
      }
    }
    let eps = n.float("epsilon", default: 1e-5)
    guard eps >= 0 && eps.isFinite else { throw fail(n, "epsilon \(eps) is not a non-negative number") }
    let lead = Array(x.shape[..<ax])
    let y: Variable
    if gamma.shape == [count] && (beta == nil || beta!.shape == [count]) && ax == r - 1 {
      y = layerNorm(x, gamma: gamma, beta: beta, eps: eps)
    } else {
      var z = reshape(layerNorm(reshape(x, lead + [count]), gamma: nil, beta: nil, eps: eps), x.shape)
      z = multiply(z, gamma)
      if let beta { z = add(z, beta) }
      y = z
    }
    var outs: [GraphValue] = [.float(y)]
    if n.outputs.count > 1 {
      let keep = lead + [Int](repeating: 1, count: r - ax)
      let mu = mean(x, toShape: keep)
      let variance = mean(square(subtract(x, mu)), toShape: keep)
      outs.append(.float(mu))
      outs.append(.float(reciprocal(sqrt(addScalar(variance, eps)))))
    }
    return outs
  }

  func asFloat(_ v: GraphValue, _ n: ONNXNode) throws -> Variable {
    switch v {
    case let .float(x): return x.dtype == dtype ? x : Variable(x.value.to(dtype))
    case let .int(d, s): return Variable(Tensor(doubles: d.map(Double.init), shape: s, dtype: dtype))
    }
  }

  func constantInts(_ v: Variable, _ n: ONNXNode) throws -> [Int] {
    guard !v.requiresGrad else { throw fail(n, "expected a constant integer tensor, found a computed float tensor \(v.shape)") }
    return v.value.doubles.map { $0.isFinite ? Int($0) : 0 }
  }

  func reshaped(_ x: GraphValue, _ s: [Int], _ n: ONNXNode) throws -> GraphValue {
    guard s.allSatisfy({ $0 >= 0 }), s.reduce(1, *) == x.shape.reduce(1, *) else { throw fail(n, "cannot reshape \(x.shape) to \(s)") }
    switch x {
    case let .float(v): return .float(reshape(v, s))
    case let .int(d, _): return .int(d, s)
    }
  }

  func broadcastInts(_ d: [Int], _ s: [Int], _ target: [Int]) -> [Int] {
    if s == target { return d }
    let r = target.count
    let padded = [Int](repeating: 1, count: r - s.count) + s
    var strides = [Int](repeating: 0, count: r)
    var acc = 1
    for i in stride(from: r - 1, through: 0, by: -1) { strides[i] = padded[i] == 1 ? 0 : acc; acc *= padded[i] }
    let count = target.reduce(1, *)
    var out = [Int](repeating: 0, count: count)
    for flat in 0..<count {
      var rem = flat, off = 0
      for i in stride(from: r - 1, through: 0, by: -1) { off += (rem % target[i]) * strides[i]; rem /= target[i] }
      out[flat] = d.isEmpty ? 0 : d[off]
    }
    return out
  }

  func intBinary(_ n: ONNXNode, _ a: [Int], _ sa: [Int], _ b: [Int], _ sb: [Int]) throws -> GraphValue {
    guard let s = Tensor.broadcastShape(sa, sb) else { throw fail(n, "shapes \(sa) and \(sb) do not broadcast") }
    let x = broadcastInts(a, sa, s), y = broadcastInts(b, sb, s)
    var out = [Int](repeating: 0, count: x.count)
    for i in out.indices {
      switch n.opType {
      case "Add": out[i] = x[i] &+ y[i]
      case "Sub": out[i] = x[i] &- y[i]
      case "Mul": out[i] = x[i] &* y[i]
      case "Div":
        guard y[i] != 0 else { throw fail(n, "integer division by zero") }
        out[i] = x[i] / y[i]
      case "Mod":
        guard y[i] != 0 else { throw fail(n, "integer modulo by zero") }
        let m = x[i] % y[i]
        out[i] = n.int("fmod", default: 0) == 1 || m == 0 || (m < 0) == (y[i] < 0) ? m : m + y[i]
      default: out[i] = x[i] == y[i] ? 1 : 0
      }
    }
    return .int(out, s)
  }

  func constantValue(_ n: ONNXNode) throws -> GraphValue {
    if case let .tensor(t)? = n.attributes["value"] {
      switch t {
      case let .float(v): return .float(Variable(v.to(dtype)))
      case let .int(d, s): return .int(d, s)
      }
    }
    if case let .float(f)? = n.attributes["value_float"] { return .float(Variable(Tensor(doubles: [f], shape: [], dtype: dtype))) }
    if case let .floats(f)? = n.attributes["value_floats"] { return .float(Variable(Tensor(doubles: f, shape: [f.count], dtype: dtype))) }
    if let i = n.int("value_int") { return .int([i], []) }
    if let i = n.ints("value_ints") { return .int(i, [i.count]) }
    throw fail(n, "only value, value_float(s) and value_int(s) constants are supported")
  }

  func conv(_ n: ONNXNode, _ x0: Variable, _ w: Variable) throws -> Variable {
    guard x0.shape.count == 4, w.shape.count == 4 else { throw fail(n, "only 2-D convolution is supported (input \(x0.shape), weight \(w.shape))") }
    let groups = n.int("group", default: 1)
    guard groups >= 1, x0.shape[1] == w.shape[1] * groups, w.shape[0] % groups == 0 else {
      throw fail(n, "input \(x0.shape), weight \(w.shape) and group \(groups) do not fit")
    }
    if let ks = n.ints("kernel_shape"), ks != [w.shape[2], w.shape[3]] { throw fail(n, "kernel_shape \(ks) differs from the weight \(w.shape)") }
    let strides = n.ints("strides") ?? [1, 1], dil = n.ints("dilations") ?? [1, 1]
    guard strides.count == 2, dil.count == 2, (strides + dil).allSatisfy({ $0 >= 1 && $0 < 1 << 20 }) else { throw fail(n, "strides \(strides) / dilations \(dil) not valid (expected 2 values each, from 1 to 2^20 - 1)") }
    guard strides[0] == strides[1], dil[0] == dil[1] else { throw fail(n, "different strides \(strides) or dilations \(dil) per axis are not supported") }
    let pads = try resolvePads(n, size: (x0.shape[2], x0.shape[3]), kernel: (w.shape[2], w.shape[3]), stride: (strides[0], strides[1]), dilation: (dil[0], dil[1]))
    var x = x0
    var p = pads[0]
    if !(pads[0] == pads[1] && pads[1] == pads[2] && pads[2] == pads[3]) {
      x = onnxPad2d(x, top: pads[0], left: pads[1], bottom: pads[2], right: pads[3])
      p = 0
    }
    let g = Conv2DGeometry(stride: strides[0], padding: p, dilation: dil[0])
    guard g.outputSize(x.shape[2], kernel: w.shape[2]) >= 1, g.outputSize(x.shape[3], kernel: w.shape[3]) >= 1 else {
      throw fail(n, "input \(x0.shape) is too small for kernel \(w.shape) with strides \(strides), pads \(pads)")
    }
    return onnxConv2d(x, w, g, groups: groups)
  }

  /// Pads (top, left, bottom, right) from `pads` or `auto_pad`.
  func resolvePads(_ n: ONNXNode, size: (Int, Int), kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int)) throws -> [Int] {
    let auto = n.string("auto_pad") ?? "NOTSET"
    switch auto {
    case "NOTSET", "":
      let pads = n.ints("pads") ?? [0, 0, 0, 0]
      guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else { throw fail(n, "pads \(pads) not valid (expected 4 non-negative values)") }
      return pads
    case "VALID": return [0, 0, 0, 0]
    case "SAME_UPPER", "SAME_LOWER":
      func total(_ i: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
        let out = (i + s - 1) / s
        return Swift.max(0, (out - 1) * s + (k - 1) * d + 1 - i)
      }
      let th = total(size.0, kernel.0, stride.0, dilation.0), tw = total(size.1, kernel.1, stride.1, dilation.1)
      let upper = auto == "SAME_UPPER"
      let (t, b) = upper ? (th / 2, th - th / 2) : (th - th / 2, th / 2)
      let (l, r) = upper ? (tw / 2, tw - tw / 2) : (tw - tw / 2, tw / 2)
      return [t, l, b, r]
    default: throw fail(n, "auto_pad \(auto) is not supported")
    }
  }

  func averagePool(_ n: ONNXNode, _ x: Variable) throws -> Variable {
    guard x.shape.count == 4 else { throw fail(n, "only 2-D pooling is supported (input \(x.shape))") }
    guard let ks = n.ints("kernel_shape"), ks.count == 2, ks[0] == ks[1], ks[0] >= 1 else { throw fail(n, "kernel_shape \(n.ints("kernel_shape") ?? []) is not supported (square 2-D kernels only)") }
    let strides = n.ints("strides") ?? [1, 1]
    guard strides.count == 2, strides[0] == strides[1], strides[0] >= 1, strides[0] < 1 << 20 else { throw fail(n, "strides \(strides) not supported (two equal strides, from 1 to 2^20 - 1)") }
    guard n.ints("dilations").map({ $0.allSatisfy { $0 == 1 } }) ?? true else { throw fail(n, "dilations are not supported") }
    let pads = try resolvePads(n, size: (x.shape[2], x.shape[3]), kernel: (ks[0], ks[1]), stride: (strides[0], strides[1]), dilation: (1, 1))
    guard Set(pads).count == 1, pads[0] * 2 <= ks[0] else { throw fail(n, "pads \(pads) not supported (equal pads, at most half the kernel)") }
    let g = AvgPool2DGeometry(kernel: ks[0], stride: strides[0], padding: pads[0], countIncludePad: n.int("count_include_pad", default: 0) == 1)
    for d in [x.shape[2], x.shape[3]] {
      guard d + 2 * pads[0] >= ks[0] else { throw fail(n, "input \(x.shape) is smaller than the kernel \(ks)") }
      if n.int("ceil_mode", default: 0) == 1,
         MaxPool2DGeometry.outputSize(d, kernel: ks[0], stride: strides[0], padBegin: pads[0], padEnd: pads[0], dilation: 1, ceil: true) != g.outputSize(d) {
        throw fail(n, "ceil_mode changes the output size here, which is not supported for AveragePool")
      }
    }
    return avgPool2d(x, g)
  }

  func maxPool(_ n: ONNXNode, _ x: Variable) throws -> Variable {
    guard x.shape.count == 4 else { throw fail(n, "only 2-D pooling is supported (input \(x.shape))") }
    guard let ks = n.ints("kernel_shape"), ks.count == 2, ks.allSatisfy({ $0 >= 1 }) else { throw fail(n, "kernel_shape must be 2 positive values") }
    let strides = n.ints("strides") ?? [1, 1], dil = n.ints("dilations") ?? [1, 1]
    guard strides.count == 2, dil.count == 2, (strides + dil).allSatisfy({ $0 >= 1 && $0 < 1 << 20 }) else { throw fail(n, "strides \(strides) / dilations \(dil) not valid (expected 2 values each, from 1 to 2^20 - 1)") }
    let auto = n.string("auto_pad") ?? "NOTSET"
    guard ["NOTSET", "", "VALID"].contains(auto) else { throw fail(n, "auto_pad \(auto) is not supported for MaxPool") }
    let pads = try resolvePads(n, size: (x.shape[2], x.shape[3]), kernel: (ks[0], ks[1]), stride: (strides[0], strides[1]), dilation: (dil[0], dil[1]))
    let g = MaxPool2DGeometry(kernel: (ks[0], ks[1]), stride: (strides[0], strides[1]), pads: (pads[0], pads[1], pads[2], pads[3]),
                              dilation: (dil[0], dil[1]), ceilMode: n.int("ceil_mode", default: 0) == 1)
    guard g.outputSize(x.shape[2], x.shape[3]) != nil else { throw fail(n, "input \(x.shape) is too small for kernel \(ks)") }
    return onnxMaxPool2d(x, g)
  }
}
