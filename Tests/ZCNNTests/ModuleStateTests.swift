import XCTest
import ZCAutodiff
import ZCNN
import ZCTensor

/// A module defined outside ZCNN, with no buffers and no mode-dependent behaviour: it only stores
/// the training flag, as every module must.
private final class Holder: Module {
  var training = true
  let items: [any Module]
  init(_ items: [any Module]) { self.items = items }
  var children: [(String, any Module)] { items.enumerated().map { (String($0.offset), $0.element) } }
}

/// The generic module state: the training flag on every module, buffers set and read through the
/// ``Module`` protocol (float and integer), strict state loading with batch norm, and the layer
/// roles proxies iterate by (``WeightedLayer``, ``BypassableLayer``, ``NormalizationLayer``).
final class ModuleStateTests: XCTestCase {
  /// One module of every ZCNN kind, nested: `0` Sequential(Conv2d, BatchNorm2d, ReLU, AvgPool2d),
  /// `1` ModuleList(Linear, Embedding, BatchNorm2d without running statistics), `2` Linear.
  private func everyKind(dtype: DType = .float32, seed: UInt64 = 3) -> Holder {
    var rng = ZCRandom(seed: seed)
    let seq = Sequential([Conv2d(2, 3, kernelSize: 3, padding: 1, dtype: dtype, rng: &rng), BatchNorm2d(3, dtype: dtype), ReLU(),
                          AvgPool2d(AvgPool2DGeometry(kernel: 2, stride: 2))])
    let list = ModuleList([Linear(3, 2, dtype: dtype, rng: &rng), Embedding(5, 2, dtype: dtype, rng: &rng),
                           BatchNorm2d(2, trackRunningStats: false, dtype: dtype)])
    return Holder([seq, list, Linear(2, 4, bias: false, dtype: dtype, rng: &rng)])
  }

  func testSetTrainingReachesEveryModuleKind() {
    let net = everyKind()
    let modules = net.namedModules()
    XCTAssertEqual(modules.count, 11)
    XCTAssertEqual(Set(modules.map { String(describing: type(of: $0.1)) }),
                   ["Holder", "Sequential", "Conv2d", "BatchNorm2d", "ReLU", "AvgPool2d", "ModuleList", "Linear", "Embedding"])
    XCTAssertTrue(modules.allSatisfy { $0.1.training }, "modules start in training mode")
    net.setTraining(false)
    for (name, m) in modules { XCTAssertFalse(m.training, "'\(name)' (\(type(of: m))) still in training mode") }
    net.setTraining(true)
    for (name, m) in modules { XCTAssertTrue(m.training, "'\(name)' (\(type(of: m))) still in evaluation mode") }
    // Setting a subtree leaves the rest alone.
    net.children[0].1.setTraining(false)
    XCTAssertEqual(net.namedModules().filter { !$0.1.training }.map(\.0), ["0", "0.0", "0.1", "0.2", "0.3"])
  }

  func testEvaluationModeSetOnAParentReachesBatchNorm() {
    let bn = BatchNorm2d(1, dtype: .float64)
    let net = Holder([Sequential([bn])])
    try! bn.setBuffer("running_mean", .float(Tensor([2.0], shape: [1])))
    try! bn.setBuffer("running_var", .float(Tensor([4.0], shape: [1])))
    net.setTraining(false)
    let y = bn(Variable(Tensor([2.0, 4], shape: [1, 1, 1, 2]))).value.doubles
    XCTAssertEqual(y[0], 0, accuracy: 1e-15)
    XCTAssertEqual(y[1], 2 / (4 + 1e-5).squareRoot(), accuracy: 1e-14)
    XCTAssertEqual(bn.numBatchesTracked, 0, "evaluation mode does not update statistics")
  }

  func testBufferSetAndGetRoundTrip() throws {
    let net = everyKind()
    let bn = try XCTUnwrap(net.namedModules().first { $0.0 == "0.1" }?.1)
    // Float buffer: a Float64 value is stored in the layer's dtype (Float32) and read back.
    try bn.setBuffer("running_var", .float(Tensor([0.5, 1.5, 2.5], shape: [3])))
    let rv = try XCTUnwrap(net.buffer(named: "0.1.running_var")?.tensor)
    XCTAssertEqual(rv.dtype, .float32)
    XCTAssertEqual(rv.doubles, [0.5, 1.5, 2.5])
    XCTAssertEqual((bn as? BatchNorm2d)?.runningVar.doubles, [0.5, 1.5, 2.5])
    // Integer buffer.
    try bn.setBuffer("num_batches_tracked", .integer(7))
    XCTAssertEqual(net.buffer(named: "0.1.num_batches_tracked"), .integer(7))
    XCTAssertEqual((bn as? BatchNorm2d)?.numBatchesTracked, 7)
    // Every buffer set to what it reads gives the same state.
    let before = net.namedBuffers()
    for (name, m) in net.namedModules() {
      for (b, v) in m.ownBuffers { try m.setBuffer(b, v); XCTAssertEqual(net.buffer(named: name + "." + b), v) }
    }
    XCTAssertEqual(net.namedBuffers().map(\.0), before.map(\.0))
    XCTAssertEqual(net.namedBuffers().map(\.1), before.map(\.1))
  }

  func testSetBufferRejectsUnknownNamesKindsAndShapesWithoutChangingState() throws {
    let net = everyKind()
    let modules = Dictionary(uniqueKeysWithValues: net.namedModules())
    let bn = try XCTUnwrap(modules["0.1"])
    let before = bn.ownBuffers.map(\.1)
    XCTAssertThrowsError(try bn.setBuffer("running_std", .float(Tensor(zeros: [3])))) { XCTAssertEqual($0 as? StateError, .unexpectedKey("running_std")) }
    XCTAssertThrowsError(try bn.setBuffer("running_mean", .float(Tensor(zeros: [4])))) {
      XCTAssertEqual($0 as? StateError, .shapeMismatch(key: "running_mean", model: [3], file: [4]))
    }
    XCTAssertThrowsError(try bn.setBuffer("running_mean", .integer(0))) {
      guard case .bufferKindMismatch(key: "running_mean", _, _)? = $0 as? StateError else { return XCTFail("\($0)") }
    }
    XCTAssertThrowsError(try bn.setBuffer("num_batches_tracked", .float(Tensor(scalar: 1)))) {
      guard case .bufferKindMismatch(key: "num_batches_tracked", _, _)? = $0 as? StateError else { return XCTFail("\($0)") }
    }
    XCTAssertEqual(bn.ownBuffers.map(\.1), before)
    // Modules without buffers (conv, ReLU, a batch norm without running statistics, a user module) reject every name.
    for name in ["0.0", "0.2", "1.2", ""] {
      let m = try XCTUnwrap(modules[name])
      XCTAssertTrue(m.ownBuffers.isEmpty, name)
      XCTAssertThrowsError(try m.setBuffer("running_mean", .float(Tensor(zeros: [2])))) { XCTAssertEqual($0 as? StateError, .unexpectedKey("running_mean")) }
    }
  }

  func testStateDictKeysParametersThenBuffersModuleByModule() {
    XCTAssertEqual(everyKind().stateDictKeys(), [
      "0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "0.1.running_mean", "0.1.running_var", "0.1.num_batches_tracked",
      "1.0.weight", "1.0.bias", "1.1.weight", "1.2.weight", "1.2.bias", "2.weight",
    ])
  }

  /// The state dict of `net` split as a safetensors file is: float tensors and integer scalars.
  private func stateDict(_ net: some Module) -> (floats: [String: Tensor], integers: [String: Int]) {
    var floats = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1.value) })
    var integers: [String: Int] = [:]
    for (k, v) in net.namedBuffers() {
      switch v {
      case let .float(t): floats[k] = t
      case let .integer(n): integers[k] = n
      }
    }
    return (floats, integers)
  }

  func testLoadStateWithBatchNormIsStrictAndAtomic() throws {
    let source = everyKind(dtype: .float64, seed: 5)
    let seq = try XCTUnwrap(source.children[0].1 as? Sequential)
    var rng = ZCRandom(seed: 8)
    _ = seq(Variable(Initializer.normal(mean: 0, std: 1).make(shape: [2, 2, 4, 4], dtype: .float64, rng: &rng)))
    // The conv + batch-norm branch runs once in training mode: running statistics and count change.
    let (floats, ints) = stateDict(source)
    XCTAssertEqual(ints, ["0.1.num_batches_tracked": 1])

    let target = everyKind(dtype: .float32, seed: 6)
    let untouched = target.namedBuffers().map(\.1) + target.namedParameters().map { BufferValue.float($0.1.value) }
    func assertUnchanged(_ message: String) {
      XCTAssertEqual(target.namedBuffers().map(\.1) + target.namedParameters().map { BufferValue.float($0.1.value) }, untouched, message)
    }
    func expect(_ f: [String: Tensor], _ i: [String: Int], _ error: StateError, _ message: String) {
      XCTAssertThrowsError(try target.loadState(floats: f, integers: i), message) { XCTAssertEqual($0 as? StateError, error, message) }
      assertUnchanged(message)
    }
    var f = floats; f["0.1.running_var"] = nil
    expect(f, ints, .missingKey("0.1.running_var"), "missing float buffer")
    expect(floats, [:], .missingKey("0.1.num_batches_tracked"), "missing integer buffer")
    f = floats; f["0.1.num_batches_tracked"] = Tensor(scalar: 1, dtype: .float64)
    expect(f, [:], .missingKey("0.1.num_batches_tracked"), "an integer buffer is not read from the float tensors")
    f = floats; f["0.1.running_mean"] = Tensor(zeros: [4], dtype: .float64)
    expect(f, ints, .shapeMismatch(key: "0.1.running_mean", model: [3], file: [4]), "misshapen buffer")
    f = floats; f["1.2.running_mean"] = Tensor(zeros: [2], dtype: .float64)
    expect(f, ints, .unexpectedKey("1.2.running_mean"), "buffer of a batch norm without running statistics")
    var i = ints; i["0.1.extra"] = 1
    expect(floats, i, .unexpectedKey("0.1.extra"), "unexpected integer key")

    try target.loadState(floats: floats, integers: ints)
    XCTAssertEqual(target.buffer(named: "0.1.num_batches_tracked"), .integer(1))
    for ((k, a), (_, b)) in zip(target.namedBuffers(), source.namedBuffers()) {
      XCTAssertEqual(a.tensor?.dtype ?? .float32, .float32, k)
      XCTAssertEqual(a.tensor?.doubles, b.tensor?.to(.float32).doubles, k)
    }
    for ((k, p), (_, q)) in zip(target.namedParameters(), source.namedParameters()) {
      XCTAssertEqual(p.value.doubles, q.value.to(.float32).doubles, k)
    }
  }

  func testCopyStateCopiesFloatAndIntegerBuffers() throws {
    let a = everyKind(dtype: .float32, seed: 1), b = everyKind(dtype: .float64, seed: 2)
    let bn = try XCTUnwrap(a.namedModules().first { $0.0 == "0.1" }?.1)
    try bn.setBuffer("running_mean", .float(Tensor([1.0, 2, 3], shape: [3])))
    try bn.setBuffer("num_batches_tracked", .integer(4))
    b.copyState(from: a)
    XCTAssertEqual(b.buffer(named: "0.1.running_mean"), .float(Tensor([1.0, 2, 3], shape: [3])))
    XCTAssertEqual(b.buffer(named: "0.1.num_batches_tracked"), .integer(4))
    XCTAssertEqual(b.parameter(named: "2.weight")?.value.doubles, a.parameter(named: "2.weight")?.value.doubles)
    XCTAssertEqual(b.parameter(named: "2.weight")?.value.dtype, .float64)
  }

  func testLayerRoles() throws {
    let net = everyKind()
    let weighted = net.namedModules().compactMap { n, m in (m as? any WeightedLayer).map { (n, $0) } }
    XCTAssertEqual(weighted.map(\.0), ["0.0", "1.0", "2"], "conv and linear layers in module order; not the embedding")
    XCTAssertEqual(weighted.map(\.1.macsPerOutput), [2 * 3 * 3, 3, 2])
    XCTAssertEqual(weighted.map { $0.1.bias != nil }, [true, true, false])
    XCTAssertEqual(net.namedModules().filter { $0.1 is any BypassableLayer }.map(\.0), ["0.1", "1.2"])
    XCTAssertEqual(net.namedModules().filter { $0.1 is any NormalizationLayer }.map(\.0), ["0.1", "1.2"])

    // reinitialise draws exactly what Initializer.make draws, from the same generator, and zeros the bias.
    let conv = try XCTUnwrap(weighted[0].1 as? Conv2d)
    var r1 = ZCRandom(seed: 42), r2 = ZCRandom(seed: 42)
    conv.reinitialise(weight: .normal(mean: 0, std: 1), rng: &r1)
    XCTAssertEqual(conv.weight.value.doubles, Initializer.normal(mean: 0, std: 1).make(shape: [3, 2, 3, 3], rng: &r2).doubles)
    XCTAssertEqual(r1.next(), r2.next(), "the same number of draws")
    XCTAssertEqual(conv.bias?.value.doubles, [0, 0, 0])

    // A bypassed batch norm is the identity; resetParameters restores the constructed state.
    let bn = try XCTUnwrap(net.namedModules().first { $0.0 == "0.1" }?.1 as? BatchNorm2d)
    let x = Variable(Tensor([Float(1), 5, -2, 3, 0, 7, 2, 2, 1, 0, -1, 4], shape: [1, 3, 2, 2]))
    bn.bypassed = true
    XCTAssertEqual(bn(x).value.doubles, x.value.doubles)
    XCTAssertEqual(bn.numBatchesTracked, 0)
    bn.bypassed = false
    _ = bn(x)
    bn.weight!.value = Tensor([Float(2), 2, 2], shape: [3])
    XCTAssertEqual(bn.numBatchesTracked, 1)
    XCTAssertNotEqual(bn.runningVariance?.doubles, [1, 1, 1])
    bn.resetParameters()
    XCTAssertEqual(bn.runningVariance?.doubles, [1, 1, 1])
    XCTAssertEqual(bn.runningMean.doubles, [0, 0, 0])
    XCTAssertEqual(bn.weight?.value.doubles, [1, 1, 1])
    XCTAssertEqual(bn.numBatchesTracked, 0)
    XCTAssertNil((net.namedModules().first { $0.0 == "1.2" }?.1 as? any NormalizationLayer)?.runningVariance)
  }
}
