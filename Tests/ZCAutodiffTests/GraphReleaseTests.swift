import TestSupport
import XCTest
import ZCAutodiff
import ZCTensor

/// Freeing a recorded backward graph early (issue 16, GraSP's peak memory): the Hessian–vector
/// product must be bit for bit the same as with the whole graph kept, and the kept forward graph
/// must still differentiate to the same values.
final class GraphReleaseTests: XCTestCase {
  /// A small NAS-Bench-201-like cell: the input fans out to two ReLU-conv-BN edges and a skip,
  /// their sum goes through a second edge, then global pooling and a linear classifier.
  private func network(_ x: Variable, _ p: [Variable]) -> Variable {
    func edge(_ h: Variable, _ w: Variable) -> Variable {
      batchNormTraining(conv2d(relu(h), w, .init(stride: 1, padding: 1)), gamma: nil, beta: nil).0
    }
    let n1 = add(add(edge(x, p[0]), edge(x, p[1])), x)
    let n2 = add(edge(n1, p[2]), n1)
    return linear(globalAvgPool(n2), weight: p[3], bias: nil)
  }

  private func parameters() -> [Variable] {
    [randomTensor([3, 3, 3, 3], seed: 1, scale: 0.4), randomTensor([3, 3, 3, 3], seed: 2, scale: 0.4),
     randomTensor([3, 3, 3, 3], seed: 3, scale: 0.4), randomTensor([5, 3], seed: 4)]
      .map { Variable($0.to(.float32), requiresGrad: true) }
  }

  /// H·g the way ImageProxyContext computes it, with or without the early release.
  private func hessianTimesGradient(release: Bool) -> (hg: [[Float]], inputGradient: [Float], released: Int) {
    let x = Variable(randomTensor([4, 3, 6, 6], seed: 5).to(.float32), requiresGrad: true)
    let p = parameters()
    let logits = network(x, p)
    let loss = crossEntropy(logits, labels: [0, 4, 2, 1])
    let g = gradients(of: loss, withRespectTo: p, createGraph: true)
    let released = release ? releaseUnreadValues(reachableFrom: g.compactMap { $0 }, keeping: [logits, x]) : 0
    var z: Variable?
    for gk in g.compactMap({ $0 }) {
      let term = sum(multiply(gk, Variable(gk.value)))
      z = z.map { add($0, term) } ?? term
    }
    let hv = release ? gradientsReleasingGraph(of: z!, withRespectTo: p, keeping: [logits, x]) : gradients(of: z!, withRespectTo: p)
    let gx = gradients(of: logits, withRespectTo: [x])[0]!.value
    return (hv.map { $0!.value.floats }, gx.floats, released)
  }

  func testReleasedGraphGivesBitIdenticalHessianVectorProduct() {
    let kept = hessianTimesGradient(release: false)
    let freed = hessianTimesGradient(release: true)
    XCTAssertGreaterThan(freed.released, 0, "no value was released: the check is vacuous")
    XCTAssertEqual(freed.hg.count, kept.hg.count)
    for (a, b) in zip(freed.hg, kept.hg) {
      XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "H·g differs when the graph is released")
    }
    XCTAssertEqual(freed.inputGradient.map(\.bitPattern), kept.inputGradient.map(\.bitPattern),
                   "the kept forward graph no longer gives the same input gradient")
    XCTAssertTrue(kept.hg.contains { $0.contains { $0 != 0 } }, "H·g is zero: the check is vacuous")
  }

  func testReleasingPassFreesTheTape() {
    let x = Variable(randomTensor([2, 3, 4, 4], seed: 7).to(.float32))
    let p = parameters()
    weak var inner: Variable?
    var out: Variable? = nil
    do {
      let h = relu(conv2d(x, p[0], .init(stride: 1, padding: 1)))
      inner = h
      out = sum(network(h, p))
    }
    XCTAssertNotNil(inner, "the graph holds its inner node before the pass")
    _ = gradientsReleasingGraph(of: out!, withRespectTo: p, keeping: [])
    XCTAssertNil(inner, "the inner node outlived a releasing backward pass")
    XCTAssertTrue(out!.inputs.isEmpty)
  }
}
