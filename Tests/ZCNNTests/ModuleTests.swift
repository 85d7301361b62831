import XCTest
import ZCAutodiff
import ZCNN
import ZCTensor

/// A two-level module shaped like xautodl's ReLUConvBN inside a cell.
private final class Cell: Module {
  var training = true
  let layers: [Sequential]
  let classifier: Linear
  init(rng: inout ZCRandom) {
    layers = [Sequential([ReLU(), Conv2d(2, 3, kernelSize: 3, padding: 1, bias: false, rng: &rng), BatchNorm2d(3)]),
              Sequential([ReLU(), Conv2d(3, 3, kernelSize: 1, bias: false, rng: &rng), BatchNorm2d(3, affine: false)])]
    classifier = Linear(3, 4, rng: &rng)
  }
  var children: [(String, any Module)] {
    [("layers", ModuleGroup(layers.map { $0 as any Module })), ("classifier", classifier)]
  }
}

private final class ModuleGroup: Module {
  var training = true
  let items: [any Module]
  init(_ items: [any Module]) { self.items = items }
  var children: [(String, any Module)] { items.enumerated().map { (String($0.offset), $0.element) } }
}

final class ModuleTests: XCTestCase {
  func testDottedNamesFollowPyTorchStateDictKeys() {
    var rng = ZCRandom(seed: 0)
    let cell = Cell(rng: &rng)
    XCTAssertEqual(cell.namedParameters().map(\.0), [
      "layers.0.1.weight", "layers.0.2.weight", "layers.0.2.bias", "layers.1.1.weight",
      "classifier.weight", "classifier.bias",
    ])
    XCTAssertEqual(cell.namedBuffers().map(\.0), [
      "layers.0.2.running_mean", "layers.0.2.running_var", "layers.0.2.num_batches_tracked",
      "layers.1.2.running_mean", "layers.1.2.running_var", "layers.1.2.num_batches_tracked",
    ])
    XCTAssertEqual(cell.parameterCount, 3 * 2 * 9 + 3 + 3 + 3 * 3 + 3 * 4 + 4)
    XCTAssertIdentical(cell.parameter(named: "classifier.weight"), cell.classifier.weight)
    XCTAssertNil(cell.parameter(named: "classifier.nothing"))
  }

  func testSameSeedSameInitialisation() {
    var r1 = ZCRandom(seed: 11), r2 = ZCRandom(seed: 11)
    let a = Cell(rng: &r1), b = Cell(rng: &r2)
    for ((_, p), (_, q)) in zip(a.namedParameters(), b.namedParameters()) { XCTAssertEqual(p.value.doubles, q.value.doubles) }
  }

  func testBatchNormRunningStatisticsUpdateLikePyTorch() {
    // One channel with values 1, 2, 3, 4: batch mean 2.5, unbiased variance 5/3.
    let bn = BatchNorm2d(1, dtype: .float64)
    _ = bn(Variable(Tensor([1.0, 2, 3, 4], shape: [2, 1, 1, 2])))
    XCTAssertEqual(bn.runningMean.doubles[0], 0.25, accuracy: 1e-15)
    XCTAssertEqual(bn.runningVar.doubles[0], 0.9 + 0.1 * 5.0 / 3.0, accuracy: 1e-15)
    XCTAssertEqual(bn.numBatchesTracked, 1)
    // Evaluation mode normalises with the running statistics.
    bn.setTraining(false)
    let y = bn(Variable(Tensor([0.25, 1.25], shape: [1, 1, 1, 2]))).value.doubles
    let sd = (bn.runningVar.doubles[0] + 1e-5).squareRoot()
    XCTAssertEqual(y[0], 0, accuracy: 1e-15)
    XCTAssertEqual(y[1], 1 / sd, accuracy: 1e-14)
    XCTAssertEqual(bn.numBatchesTracked, 1, "evaluation mode does not update statistics")
  }

  func testLoadingAParameterValueCreatesANewLeaf() {
    var rng = ZCRandom(seed: 1)
    let lin = Linear(2, 1, rng: &rng)
    let old = lin.weight.variable
    lin.weight.value = Tensor([Float(1), 2], shape: [1, 2])
    lin.bias!.value = Tensor([Float(0.5)], shape: [1])
    XCTAssertFalse(old === lin.weight.variable)
    let y = lin(Variable(Tensor([Float(3), 4], shape: [1, 2])))
    XCTAssertEqual(y.value.doubles, [11.5])
    let g = gradientTensors(of: y, withRespectTo: [lin.weight.variable])
    XCTAssertEqual(g[0].doubles, [3, 4])
  }
}
