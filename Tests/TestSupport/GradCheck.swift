/// Finite-difference gradient checks shared by every test target that adds a differentiable op
/// (ZCAutodiffTests, ZCONNXTests).
import XCTest
import ZCAutodiff
import ZCTensor

/// Random Float64 tensor with entries N(0, 1), kept at least `margin` away from 0 (so that
/// finite differences do not straddle the kink of relu/abs).
public func randomTensor(_ shape: [Int], seed: UInt64, margin: Double = 0, scale: Double = 1) -> Tensor {
  var rng = ZCRandom(seed: seed)
  let n = shape.reduce(1, *)
  let v = (0..<n).map { _ -> Double in
    var z = rng.nextNormal() * scale
    if margin > 0 && Swift.abs(z) < margin { z = z < 0 ? z - margin : z + margin }
    return z
  }
  return Tensor(v, shape: shape)
}

/// Euclidean norm of a vector.
public func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// Central finite-difference check of reverse-mode gradients in Float64.
///
/// For L(x) = Σ r ⊙ f(x) with a fixed random cotangent r, compares the analytic gradient
/// ∂L/∂x_k (our backward with seed r) with (L(x + h e_i) − L(x − h e_i)) / 2h for every element i
/// of every input k. Asserts ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖) < tolerance.
public func assertGradientsMatch(
  _ inputs: [Tensor], h: Double = 1e-6, tolerance: Double = 1e-6, seed: UInt64 = 99,
  file: StaticString = #filePath, line: UInt = #line, _ f: ([Variable]) -> Variable
) {
  let vars = inputs.map { Variable($0, requiresGrad: true) }
  let y = f(vars)
  let r = randomTensor(y.shape, seed: seed)
  let analytic = gradientTensors(of: y, withRespectTo: vars, seed: Variable(r))
  let rv = r.doubles
  func loss(_ xs: [Tensor]) -> Double {
    let out = GradMode.withoutRecording { f(xs.map { Variable($0) }) }.value.doubles
    return zip(out, rv).reduce(0) { $0 + $1.0 * $1.1 }
  }
  for k in 0..<inputs.count {
    var base = inputs.map { $0.doubles }
    var numeric = [Double](repeating: 0, count: inputs[k].count)
    for i in 0..<inputs[k].count {
      let x0 = base[k][i]
      base[k][i] = x0 + h
      let lp = loss(zip(base, inputs).map { Tensor($0, shape: $1.shape) })
      base[k][i] = x0 - h
      let lm = loss(zip(base, inputs).map { Tensor($0, shape: $1.shape) })
      base[k][i] = x0
      numeric[i] = (lp - lm) / (2 * h)
    }
    let a = analytic[k].doubles
    let diff = norm(zip(a, numeric).map { $0 - $1 })
    let scale = max(norm(a), norm(numeric), 1e-12)
    XCTAssertLessThan(diff / scale, tolerance, "input \(k) \(inputs[k].shape): relative error \(diff / scale)", file: file, line: line)
    XCTAssertGreaterThan(norm(numeric), 0, "input \(k): numeric gradient is zero, the check would be vacuous", file: file, line: line)
  }
}
