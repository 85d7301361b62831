import TestSupport
import XCTest
import ZCAutodiff
import ZCTensor

/// Exact Hessian–vector products and per-sample gradients.
final class SecondOrderTests: XCTestCase {
  /// H·v against central differences of the gradient: (g(θ + h v) − g(θ − h v)) / 2h.
  private func assertHVPMatchesFiniteDifference(
    _ params: [Tensor], h: Double = 1e-5, tolerance: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line,
    _ loss: ([Variable]) -> Variable
  ) {
    let vs = params.enumerated().map { randomTensor($1.shape, seed: 900 + UInt64($0)) }
    let leaves = params.map { Variable($0, requiresGrad: true) }
    let (_, hv) = hessianVectorProduct(of: loss(leaves), withRespectTo: leaves, vector: vs)
    func grad(_ t: Double) -> [[Double]] {
      let shifted = zip(params, vs).map { p, v in
        Variable(Tensor(zip(p.doubles, v.doubles).map { $0 + t * $1 }, shape: p.shape), requiresGrad: true)
      }
      return gradientTensors(of: loss(shifted), withRespectTo: shifted).map(\.doubles)
    }
    let gp = grad(h), gm = grad(-h)
    var num: [Double] = [], ana: [Double] = []
    for k in 0..<params.count {
      num += zip(gp[k], gm[k]).map { ($0 - $1) / (2 * h) }
      ana += hv[k].doubles
    }
    let err = norm(zip(ana, num).map { $0 - $1 }) / max(norm(ana), norm(num), 1e-12)
    XCTAssertLessThan(err, tolerance, "HVP relative error \(err)", file: file, line: line)
    XCTAssertGreaterThan(norm(num), 1e-8, "vacuous check: H v is zero", file: file, line: line)
  }

  func testHVPOfQuadraticIsExact() {
    // L = ½ xᵀ A x with symmetric A, so H v = A v exactly.
    let a = Tensor([2.0, 1, 0, 1, 3, -1, 0, -1, 4], shape: [3, 3])
    let x = Variable(Tensor([0.5, -1.0, 2.0], shape: [3, 1]), requiresGrad: true)
    let ax = matmul(Variable(a), x)
    let loss = scale(sum(multiply(x, ax)), 0.5)
    let (g, hv) = hessianVectorProduct(of: loss, withRespectTo: [x], vector: [Tensor([1.0, 2.0, -1.0], shape: [3, 1])])
    XCTAssertEqual(g[0].doubles, [0.0, -4.5, 9.0])  // A x
    XCTAssertEqual(hv[0].doubles, [4.0, 8.0, -6.0])  // A v
  }

  func testHVPThroughConvBatchNormNetwork() {
    let x = randomTensor([3, 2, 5, 5], seed: 800)
    assertHVPMatchesFiniteDifference([
      randomTensor([3, 2, 3, 3], seed: 801, scale: 0.5), randomTensor([3], seed: 802),
      randomTensor([3], seed: 803), randomTensor([4, 3], seed: 804), randomTensor([4], seed: 805),
    ]) { p in
      let h = batchNormTraining(conv2d(Variable(x), p[0], .init(stride: 1, padding: 1)), gamma: p[1], beta: p[2]).0
      let a = avgPool2d(tanh(h), AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: false))
      return crossEntropy(linear(globalAvgPool(a), weight: p[3], bias: p[4]), labels: [0, 3, 1])
    }
  }

  func testHVPThroughReluNetworkWithReduction() {
    // ReLU networks have H v from the loss and batch norm curvature only; the kink contributes 0.
    let x = randomTensor([2, 3, 6, 6], seed: 810)
    assertHVPMatchesFiniteDifference([
      randomTensor([4, 3, 3, 3], seed: 811, scale: 0.5), randomTensor([4, 4, 1, 1], seed: 812),
      randomTensor([5, 4], seed: 813),
    ]) { p in
      let h = relu(batchNormTraining(conv2d(Variable(x), p[0], .init(stride: 2, padding: 1)), gamma: nil, beta: nil).0)
      let r = conv2d(avgPool2d(h, AvgPool2DGeometry(kernel: 2, stride: 2)), p[1])
      return crossEntropy(linear(globalAvgPool(r), weight: p[2], bias: nil), labels: [4, 0])
    }
  }

  func testHVPThroughRecurrentOps() {
    let ids = [2, 0, 4, 4]
    assertHVPMatchesFiniteDifference([randomTensor([5, 3], seed: 820), randomTensor([3, 6], seed: 821)]) { p in
      let e = embedding(p[0], ids)
      let h = sigmoid(matmul(e, p[1]))
      let parts = concatenate([slice(h, axis: 1, 0..<3), leakyRelu(slice(h, axis: 1, 3..<6), slope: 0.1)], axis: 0)
      return sum(multiply(exp(scale(parts, 0.3)), parts))
    }
  }

  func testPerSampleGradientsMatchSlicedBackward() {
    // Training-mode batch norm couples samples; per-sample gradients must use the batch forward.
    let x = Variable(randomTensor([4, 2, 4, 4], seed: 830))
    let w = Variable(randomTensor([3, 2, 3, 3], seed: 831), requiresGrad: true)
    let gamma = Variable(randomTensor([3], seed: 832), requiresGrad: true)
    let fc = Variable(randomTensor([5, 3], seed: 833), requiresGrad: true)
    let out = linear(globalAvgPool(relu(batchNormTraining(conv2d(x, w, .init(padding: 1)), gamma: gamma, beta: nil).0)), weight: fc, bias: nil)
    let per = perSampleGradients(of: out, withRespectTo: [w, gamma, fc])
    for i in 0..<4 {
      let expected = gradientTensors(of: sum(slice(out, axis: 0, i..<(i + 1))), withRespectTo: [w, gamma, fc])
      for k in 0..<3 {
        XCTAssertEqual(per[k].shape, [4] + expected[k].shape)
        let got = per[k].rows(i..<(i + 1)).doubles
        XCTAssertLessThan(norm(zip(got, expected[k].doubles).map { $0 - $1 }), 1e-12 * max(1, norm(got)))
      }
    }
  }

  func testPerSampleGradientsOfIndependentSamplesEqualBatchOfOne() {
    // Without batch norm, sample i's gradient equals the gradient of a forward pass on it alone.
    let xs = randomTensor([3, 2, 5, 5], seed: 840)
    let w = Variable(randomTensor([4, 2, 3, 3], seed: 841), requiresGrad: true)
    let fc = Variable(randomTensor([2, 4], seed: 842), requiresGrad: true)
    func net(_ x: Tensor) -> Variable { linear(globalAvgPool(relu(conv2d(Variable(x), w, .init(stride: 2, padding: 1)))), weight: fc, bias: nil) }
    let per = perSampleGradients(of: net(xs), withRespectTo: [w, fc])
    for i in 0..<3 {
      let alone = gradientTensors(of: net(xs.rows(i..<(i + 1))), withRespectTo: [w, fc])
      for k in 0..<2 {
        let got = per[k].rows(i..<(i + 1)).doubles
        XCTAssertLessThan(norm(zip(got, alone[k].doubles).map { $0 - $1 }), 1e-12 * max(1, norm(got)))
      }
    }
  }

  func testGradientsSkipUnrelatedInputsAndReturnNil() {
    let a = Variable(Tensor([1.0, 2.0], shape: [2]), requiresGrad: true)
    let b = Variable(Tensor([3.0], shape: [1]), requiresGrad: true)
    let y = sum(square(a))
    let g = gradients(of: y, withRespectTo: [a, b])
    XCTAssertEqual(g[0]?.value.doubles, [2.0, 4.0])
    XCTAssertNil(g[1])
  }
}
