import ZCAutodiff
import ZCEngine
import ZCNN
import ZCSpaces
import ZCTensor

/// meco (MeCo, Jiang et al. NeurIPS 2023, "MeCo: Zero-Shot NAS with One Data and Single Forward
/// Pass via Minimum Eigenvalue of Correlation"): one training-mode forward pass of **one** image
/// (the first of the minibatch, `[1, C, H, W]`; batch norm then normalises over that image's H·W
/// positions). Every module output T `[1, n, h, w]` ("firing") gives X = T[0] as n rows of h·w
/// values, R = the Pearson correlation matrix of the rows `[n, n]` (`torch.corrcoef`, entries
/// clipped to [−1, 1]); every NaN or ±inf entry of R (a row with zero variance, a single column)
/// is set to 0, diagonal included; the firing's value is the minimum eigenvalue of R.
/// meco = Σ over firings of that value (higher is better).
///
/// Which firings, and how often: the authors hook **every** module of their own NAS-Bench-201
/// model (`correlation/foresight/models/nasbench2.py` `NAS201Model`), containers included, so one
/// tensor can fire several times (``firings(of:image:)`` lists them in forward-completion order,
/// in terms of the engine's xautodl `TinyNetwork`): the stem conv once and its batch norm three
/// times; per `nor_conv` edge ReLU, conv and (three times) batch norm; `avg_pool_3x3` twice;
/// `skip_connect` once (its input); `none` once (zeros, value 0); each cell output once and once
/// more after the last cell of a stage; per reduction block conv_a and conv_b as an edge, the
/// shortcut's pool once and 1×1 conv twice, and the block output once; the head's batch norm once
/// and ReLU twice. The pooled `[1, C]` vector, the classifier and the logits give n × 1 matrices
/// (all-NaN correlation, value 0) and are left out.
///
/// Choices (the authors' NB201 script `correlation/NAS_Bench_201.py` `get_score`): batch 1, a real
/// training image, no re-initialisation (`--init_w_type none`: the network as built, here the
/// engine's PyTorch-default initialisation of `TinyNetwork`, whose cell convolutions have no bias
/// where MeCo's model adds one), training-mode batch norm, one pass. R and its eigenvalues are
/// computed in Float64 from the network's dtype (LAPACK `dsyevd`; the reference uses the general
/// `torch.linalg.eig` on the symmetric R, equal up to rounding). Missing when the network is not
/// a NAS-Bench-201 `TinyNetwork`, or a value is not finite.
public struct MeCo: ImageProxy {
  public init() {}
  public let name = "meco"
  public let summary = "sum over module outputs of the minimum eigenvalue of the channel correlation matrix (one image)"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  /// Its own forward pass of one image.
  public let memory = ProxyMemory(tapes: 0.05)
  public let source = "Jiang et al. 2023 (HamsterMimi/MeCo correlation/NAS_Bench_201.py get_score, measure meco)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    guard let net = context.network as? NB201Network else {
      return .missing(reason: "meco is defined on the NAS-Bench-201 TinyNetwork module tree; this network is not one")
    }
    guard let firings = Self.firings(of: net, image: context.images.rows(0..<1)) else {
      return .missing(reason: "meco: the network's module tree is not the NAS-Bench-201 TinyNetwork's")
    }
    return .checked(try Self.score(firings), ifNotFinite: "a correlation eigenvalue is not finite")
  }

  /// One hooked module output: the dotted xautodl module it corresponds to and its tensor
  /// `[1, n, h, w]` (several firings may share one tensor).
  public struct Firing {
    public let module: String
    public let tensor: Tensor
    /// Firings of one tensor share this index (its value is computed once).
    public let tensorIndex: Int
  }

  /// Σ over `firings` of ``minimumCorrelationEigenvalue(_:rows:)`` (each distinct tensor's value
  /// computed once), summed in Float64.
  /// - Throws: ``LinalgError`` from dsyevd.
  public static func score(_ firings: [Firing]) throws -> Double {
    var cache: [Int: Double] = [:]
    var total = 0.0
    for f in firings {
      if let v = cache[f.tensorIndex] { total += v; continue }
      let v = try minimumCorrelationEigenvalue(f.tensor, rows: nil)
      cache[f.tensorIndex] = v
      total += v
    }
    return total
  }

  /// min eigenvalue of MeCo's cleaned correlation matrix of T[0] (`[n, ...]` → n rows of the
  /// remaining values), restricted to `rows` when given (MeCo_opt's channel sample). A row whose
  /// values are all equal has an undefined correlation: its row and column of R are 0 (the
  /// reference's NaN → 0, diagonal included). One column: R = 0. Entries clipped to [−1, 1] as
  /// `torch.corrcoef`. Float64.
  /// - Throws: ``LinalgError`` from dsyevd.
  public static func minimumCorrelationEigenvalue(_ t: Tensor, rows: [Int]?) throws -> Double {
    precondition(t.rank >= 2 && t.shape[0] == 1, "MeCo reads one sample's output [1, n, ...], got \(t.shape)")
    let n = t.shape[1], m = t.count / max(n, 1)
    let picked = rows ?? Array(0..<n)
    let k = picked.count
    guard k > 0 else { return 0 }
    guard m > 1 else { return 0 }  // every entry NaN → 0, eigenvalues 0
    let all = t.doubles
    var x = [Double](repeating: 0, count: k * m)
    var constant = [Bool](repeating: false, count: k)
    for (r, row) in picked.enumerated() {
      let base = row * m
      var mean = 0.0
      for j in 0..<m { mean += all[base + j] }
      mean /= Double(m)
      var same = true
      let first = all[base]
      for j in 0..<m {
        let v = all[base + j]
        if v != first { same = false }
        x[r * m + j] = v - mean
      }
      constant[r] = same
    }
    let xt = Tensor(doubles: x, shape: [k, m], dtype: .float64)
    let c = Tensor.matmul(xt, xt, transB: true).doubles
    var r = [Double](repeating: 0, count: k * k)
    for i in 0..<k where !constant[i] {
      for j in 0..<k where !constant[j] {
        let v = c[i * k + j] / (c[i * k + i].squareRoot() * c[j * k + j].squareRoot())
        r[i * k + j] = v.isFinite ? Swift.min(1, Swift.max(-1, v)) : 0
      }
    }
    if r.contains(where: { !$0.isFinite }) { return .nan }
    return try Linalg.symmetricEigenvalues(Tensor(doubles: r, shape: [k, k], dtype: .float64)).first ?? 0
  }

  /// MeCo's hooked module outputs for one image `[1, 3, H, W]`, in the order the reference's hooks
  /// fire (see the type's documentation), from one training-mode forward pass without gradient
  /// through the network's own layers (the same computation as the network's forward). Nil when
  /// the module tree is not NAS-Bench-201's `TinyNetwork` (stem, cells, lastact, classifier).
  public static func firings(of net: NB201Network, image: Tensor) -> [Firing]? {
    let top = Dictionary(net.children, uniquingKeysWith: { a, _ in a })
    guard let stem = top["stem"] as? Sequential, stem.layers.count == 2,
          let cells = top["cells"] as? ModuleList, let lastact = top["lastact"] as? Sequential, lastact.layers.count == 2
    else { return nil }
    var out: [Firing] = []
    var distinct = 0
    func fire(_ name: String, _ v: Variable, _ times: Int = 1) {
      for _ in 0..<times { out.append(Firing(module: name, tensor: v.value, tensorIndex: distinct)) }
      distinct += 1
    }
    /// ReLU → conv → BN, firing ReLU, conv, and BN three times (op.2, op, the edge).
    func reluConvBN(_ m: any Module, _ x: Variable, _ name: String) -> Variable? {
      guard let op = Dictionary(m.children, uniquingKeysWith: { a, _ in a })["op"] as? Sequential, op.layers.count == 3 else { return nil }
      let a = op.layers[0](x); fire(name + ".op.0", a)
      let b = op.layers[1](a); fire(name + ".op.1", b)
      let c = op.layers[2](b); fire(name + ".op.2", c, 3)
      return c
    }
    let ok: Bool = GradMode.$isEnabled.withValue(false) {
      var f = stem.layers[0](Variable(image)); fire("stem.0", f)
      f = stem.layers[1](f); fire("stem.1", f, 3)
      let items = cells.items
      for (ci, item) in items.enumerated() {
        let name = "cells.\(ci)"
        let kids = Dictionary(item.children, uniquingKeysWith: { a, _ in a })
        if let convA = kids["conv_a"], let convB = kids["conv_b"], let ds = kids["downsample"] as? Sequential, ds.layers.count == 2 {
          guard let a = reluConvBN(convA, f, name + ".conv_a"), let b = reluConvBN(convB, a, name + ".conv_b") else { return false }
          let p = ds.layers[0](f); fire(name + ".downsample.0", p)
          let r = ds.layers[1](p); fire(name + ".downsample.1", r, 2)
          f = add(r, b); fire(name, f)
          continue
        }
        guard let edgeList = kids["layers"] as? ModuleList, edgeList.items.count == NB201Architecture.edgeCount else { return false }
        let ops = net.architecture.edges
        var nodes = [f]
        var e = 0
        for j in 1...3 {
          var acc: Variable?
          for i in 0..<j {
            guard let layer = edgeList.items[e] as? any Layer else { return false }
            let en = name + ".layers.\(e)"
            let y: Variable
            switch ops[e] {
            case .conv1x1, .conv3x3:
              guard let v = reluConvBN(layer, nodes[i], en) else { return false }
              y = v
            case .avgPool3x3: y = layer(nodes[i]); fire(en, y, 2)
            case .skipConnect: y = layer(nodes[i]); fire(en, y)
            case .none: y = layer(nodes[i]); fire(en, y)
            }
            acc = acc.map { add($0, y) } ?? y
            e += 1
          }
          nodes.append(acc!)
        }
        f = nodes[3]
        let lastOfStage = ci + 1 == items.count || Dictionary(items[ci + 1].children, uniquingKeysWith: { a, _ in a })["conv_a"] != nil
        fire(name, f, lastOfStage ? 2 : 1)
      }
      let bn = lastact.layers[0](f); fire("lastact.0", bn)
      let act = lastact.layers[1](bn); fire("lastact.1", act, 2)
      return true
    }
    return ok ? out : nil
  }
}
