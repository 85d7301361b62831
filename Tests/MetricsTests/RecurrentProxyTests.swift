import Foundation
import Metrics
import TestSupport
import XCTest
import ZCAutodiff
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// Properties of the recurrent nwot and synflow that have no PyTorch fixture values, checked
/// against values derived by hand, plus determinism of the scoring job.
final class RecurrentProxyTests: XCTestCase {
  private func network(_ json: String, size: NBNLPModelSize, seed: UInt64 = 1) throws -> NBNLPNetwork {
    var rng = ZCRandom(seed: seed)
    return try NBNLPNetwork(try NBNLPRecipe(json: json), size: size, dtype: .float64, rng: &rng)
  }
  static let lstm = try! String(contentsOfFile: TestPaths.fixtures("nbnlp/nbnlp_wt2_r1000001_lstm.json"), encoding: .utf8)

  /// K_ii counts every activation unit of every step and layer (a sequence agrees with itself);
  /// K is symmetric; two identical sequences make K singular, so nwot is missing.
  func testNWOTKernelDiagonalAndDuplicateSequences() throws {
    let f = try ReferenceFixture(jsonPath: TestPaths.fixtures("nbnlp/nbnlp_wt2_r1000001_lstm.json"))
    let net = try f.nbnlpNetwork(dtype: .float32)
    let tokens = try f.tokenBatch()
    let ctx = RecurrentProxyContext(network: net, tokens: tokens)
    let k = ctx.activationCodeKernel().doubles
    let b = tokens.batch
    // LSTM-like recipe: 5 activation nodes (f, i, j, o, h_new_1 act); hidden 48, 48, 32; 35 steps.
    let recipe = try f.nbnlpRecipe()
    let acts = recipe.nodes.values.filter(\.op.isActivation).count
    XCTAssertEqual(acts, 5)
    let units = Double(35 * acts * (48 + 48 + 32))
    for i in 0..<b {
      XCTAssertEqual(k[i * b + i], units)
      for j in 0..<b { XCTAssertEqual(k[i * b + j], k[j * b + i]) }
    }
    XCTAssertNotNil(evaluate([NWOT()], in: RecurrentProxyContext(network: net, tokens: tokens))[0].value.number)
    // Duplicate column 0 into column 1.
    var ids = tokens.ids
    for t in 0..<tokens.steps { ids[t * b + 1] = ids[t * b] }
    let dup = evaluate([NWOT()], in: RecurrentProxyContext(network: net, tokens: TokenBatch(ids: ids, steps: tokens.steps, batch: b)))[0].value
    guard case let .missing(reason) = dup else { return XCTFail("expected missing, got \(dup)") }
    XCTAssertTrue(reason.hasPrefix("-inf:"), reason)
  }

  /// One layer, cell h_t = W_x x_t + W_h h_{t−1} + b, 2 steps, ones input, |θ|: by hand,
  /// h_1 = |W_x|·1 + |b|, R = Σ(|W_x|·1 + |W_h| h_1 + |b|), so
  /// synflow = Σ_ik |W_x|_ik (2 + Σ_m |W_h|_mi) + Σ_ij |W_h|_ij h_1j (x feeds both steps).
  func testSynflowOfLinearCellByHand() throws {
    let n = 3
    let net = try network(#"{"h_new_0":{"op":"linear","input":["x","h_prev_0"]}}"#,
                          size: NBNLPModelSize(vocabulary: 5, embeddingSize: n, hiddenSize: n, layers: 1))
    let p = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1.value.doubles.map(Swift.abs)) })
    let wx = p["rnns.0.cell.components.h_new_0.weights.0"]!, wh = p["rnns.0.cell.components.h_new_0.weights.1"]!, bias = p["rnns.0.cell.components.h_new_0.bias"]!
    // R = Σ_i h1_i + Σ_i h2_i, h1 = Wx·1 + b, h2 = Wx·1 + Wh h1 + b.
    var h1 = [Double](repeating: 0, count: n)
    for i in 0..<n { h1[i] = (0..<n).reduce(bias[i]) { $0 + wx[i * n + $1] } }
    var expected = 0.0
    for i in 0..<n {
      let colSum = (0..<n).reduce(0.0) { $0 + wh[$1 * n + i] }  // Σ_m |W_h|_mi = dR/dh1_i − 1
      for k in 0..<n { expected += wx[i * n + k] * (2 + colSum) }  // x feeds both steps; step 1 also through W_h
      for j in 0..<n { expected += wh[i * n + j] * h1[j] }
    }
    let r = evaluate([Synflow()], in: RecurrentProxyContext(network: net, tokens: TokenBatch(ids: [1, 2], steps: 2, batch: 1)))[0].value
    XCTAssertEqual(try XCTUnwrap(r.number), expected, accuracy: 1e-12 * expected)
  }

  /// The GEMM assembly of synflow's weight gradients equals differentiating w.r.t. each weight
  /// directly (every op type, 2 layers, 5 steps).
  func testSynflowGradientAssemblyEqualsDirectGradients() throws {
    let allOps = #"""
      {"a":{"op":"linear","input":["x","h_prev_0","h_prev_1"]},"b":{"op":"activation_sigm","input":["a"]},
       "c":{"op":"linear","input":["x","h_prev_1"]},"d":{"op":"activation_tanh","input":["c"]},
       "e":{"op":"blend","input":["b","d","h_prev_0"]},"f":{"op":"elementwise_prod","input":["e","d"]},
       "h_new_0":{"op":"activation_leaky_relu","input":["f"]},"h_new_1":{"op":"elementwise_sum","input":["h_new_0","h_prev_1"]}}
      """#
    let net = try network(allOps, size: NBNLPModelSize(vocabulary: 9, embeddingSize: 3, hiddenSize: 4, layers: 2))
    let tokens = TokenBatch(ids: [1, 2, 3, 4, 5], steps: 5, batch: 1)
    let fast = RecurrentProxyContext(network: net, tokens: tokens).synflowGradients()
    let copy = net.recurrentCopy(dtype: .float64, transform: { $0.map(.abs) })
    let ones = Variable(Tensor(repeating: 1, shape: [5, 3], dtype: .float64))
    let r = GradMode.$isEnabled.withValue(true) { sum(copy(tokens, embedded: ones).output) }
    let direct = gradientTensors(of: r, withRespectTo: copy.cellWeights.map(\.1.variable))
    XCTAssertEqual(fast.grads.count, direct.count)
    XCTAssertEqual(direct.count, 2 * 5)  // a: 3 weights, c: 2 weights, per layer
    for (a, b) in zip(fast.grads, direct) {
      XCTAssertEqual(a.shape, b.shape)
      for (u, v) in zip(a.doubles, b.doubles) { XCTAssertEqual(u, v, accuracy: 1e-12 * max(1, Swift.abs(v))) }
    }
  }

  /// Same seed, same scores; another seed, other scores (the store keys include the seed).
  func testScoringJobIsDeterministic() throws {
    let dir = try temporaryFolder("zc-nbnlp")
    let recipes = [(1, try NBNLPRecipe(json: Self.lstmRecipe)), (2, try NBNLPRecipe(json: #"{"h_new_0":{"op":"activation_tanh","input":["a"]},"a":{"op":"linear","input":["x","h_prev_0"]}}"#))]
    let size = NBNLPModelSize(vocabulary: 30, embeddingSize: 6, hiddenSize: 8, layers: 2)
    let tokens = TokenBatch(ids: (0..<40).map { ($0 * 7) % 30 }, steps: 10, batch: 4)
    func values(seed: Int, store: String) throws -> [Double?] {
      let st = try ScoreStore(path: dir.appendingPathComponent(store).path)
      var settings = ScoringSettings(dataset: "wikitext2", datasetsRoot: Self.datasets)
      settings.seed = seed
      settings.parameters = ["emsize": 6, "nhid": 8, "nlayers": 2]
      let pipeline = try ScoringPipeline(space: try NBNLPSpace(datasetsRoot: Self.datasets), settings: settings,
                                         proxies: registry.applicable(to: .recurrentLanguageModel),
                                         batch: NBNLPSpace.Batch(tokens: tokens, source: "test"))
      _ = try pipeline.run(recipes.map { (id: $0.0, architecture: $0.1) }, store: st, jobs: 2)
      return try st.rows(space: "nbnlp", dataset: "wikitext2", seed: seed).sorted { ($0.archIndex, $0.metric) < ($1.archIndex, $1.metric) }.map(\.value)
    }
    let a = try values(seed: 0, store: "a.sqlite"), b = try values(seed: 0, store: "b.sqlite"), c = try values(seed: 1, store: "c.sqlite")
    XCTAssertEqual(a.count, 2 * registry.applicable(to: .recurrentLanguageModel).count)
    XCTAssertEqual(a, b)
    XCTAssertNotEqual(a, c)
  }

  static let datasets = TestPaths.datasets

  static var lstmRecipe: String {
    let json = try! JSONSerialization.jsonObject(with: Data(lstm.utf8)) as! [String: Any]
    return json["recipe_json_string"] as! String
  }
}
