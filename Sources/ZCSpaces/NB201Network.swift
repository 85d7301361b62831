import ZCAutodiff
import ZCNN
import ZCTensor

/// xautodl `ReLUConvBN`: ReLU → Conv2d (no bias) → BatchNorm2d, held in `op` ("op.1", "op.2").
final class ReLUConvBN: Layer {
  var training = true
  let op: Sequential
  init(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: Int, dtype: DType, rng: inout ZCRandom) {
    op = Sequential([ReLU(), Conv2d(cin, cout, kernelSize: kernel, stride: stride, padding: padding, bias: false, dtype: dtype, rng: &rng),
                     BatchNorm2d(cout, dtype: dtype)])
  }
  var children: [(String, any Module)] { [("op", op)] }
  func callAsFunction(_ x: Variable) -> Variable { ForwardTrace.module("op") { op(x) } }
}

/// `none`: x·0 (so NaN/inf propagate as in xautodl's `Zero`, and the gradient is exactly 0).
final class ZeroEdge: Layer {
  var training = true
  func callAsFunction(_ x: Variable) -> Variable { scale(x, 0) }
}

/// `skip_connect` within a cell (stride 1, C_in = C_out): the identity.
final class IdentityEdge: Layer {
  var training = true
  func callAsFunction(_ x: Variable) -> Variable { x }
}

/// xautodl `InferCell`: node j = Σ_{i<j} edge_{j←i}(node i), edges in arch-string order in `layers`.
final class NB201Cell: Layer {
  var training = true
  let layers: ModuleList
  let edgeLayers: [any Layer]

  init(_ arch: NB201Architecture, channels c: Int, dtype: DType, rng: inout ZCRandom) {
    var ls: [any Layer] = []
    for op in arch.edges {
      switch op {
      case .none: ls.append(ZeroEdge())
      case .skipConnect: ls.append(IdentityEdge())
      case .conv1x1: ls.append(ReLUConvBN(c, c, kernel: 1, stride: 1, padding: 0, dtype: dtype, rng: &rng))
      case .conv3x3: ls.append(ReLUConvBN(c, c, kernel: 3, stride: 1, padding: 1, dtype: dtype, rng: &rng))
      case .avgPool3x3: ls.append(AvgPool2d(AvgPool2DGeometry(kernel: 3, stride: 1, padding: 1, countIncludePad: false)))
      }
    }
    edgeLayers = ls
    layers = ModuleList(ls)
  }

  var children: [(String, any Module)] { [("layers", layers)] }

  func callAsFunction(_ x: Variable) -> Variable {
    var nodes = [x]
    var e = 0
    for j in 1...3 {
      var acc = edge(e, nodes[0])
      e += 1
      for i in 1..<j {
        acc = add(acc, edge(e, nodes[i]))
        e += 1
      }
      nodes.append(acc)
    }
    return nodes[3]
  }

  /// Edge `e` as the traced module `layers.e`; an `avg_pool_3x3` edge is xautodl's `POOLING`,
  /// whose `op` is the pool (two modules return its output).
  private func edge(_ e: Int, _ x: Variable) -> Variable {
    let layer = edgeLayers[e]
    return ForwardTrace.module("layers.\(e)") {
      layer is AvgPool2d ? ForwardTrace.module("op") { layer(x) } : layer(x)
    }
  }
}

/// xautodl `ResNetBasicblock` with stride 2: conv_a (3×3, stride 2) → conv_b (3×3), plus the
/// shortcut `downsample` = 2×2 average pool (stride 2) → 1×1 conv (no bias, no BN); output residual + branch.
final class ResNetReduction: Layer {
  var training = true
  let convA: ReLUConvBN
  let convB: ReLUConvBN
  let downsample: Sequential

  init(_ cin: Int, _ cout: Int, dtype: DType, rng: inout ZCRandom) {
    convA = ReLUConvBN(cin, cout, kernel: 3, stride: 2, padding: 1, dtype: dtype, rng: &rng)
    convB = ReLUConvBN(cout, cout, kernel: 3, stride: 1, padding: 1, dtype: dtype, rng: &rng)
    downsample = Sequential([AvgPool2d(AvgPool2DGeometry(kernel: 2, stride: 2)),
                             Conv2d(cin, cout, kernelSize: 1, bias: false, dtype: dtype, rng: &rng)])
  }

  var children: [(String, any Module)] { [("conv_a", convA), ("conv_b", convB), ("downsample", downsample)] }

  /// In xautodl's order (conv_a, conv_b, then the shortcut), each a traced module.
  func callAsFunction(_ x: Variable) -> Variable {
    let a = ForwardTrace.module("conv_a") { convA(x) }
    let b = ForwardTrace.module("conv_b") { convB(a) }
    let r = ForwardTrace.module("downsample") { downsample(x) }
    return add(r, b)
  }
}

/// The official NAS-Bench-201 network (xautodl `TinyNetwork`), NCHW.
///
/// stem (3×3 conv 3→C, no bias; BN) → N cells at C → reduction → N cells at 2C → reduction →
/// N cells at 4C → BN → ReLU → global average pool → linear classifier. Input `[B, 3, 32, 32]`
/// (16×16 for ImageNet16-120) → logits `[B, numClasses]`. Parameter names are xautodl's
/// state_dict keys (`stem.0.weight`, `cells.{i}.layers.{e}.op.1.weight`, `cells.5.conv_a.op.1.weight`,
/// `lastact.0.weight`, `classifier.weight`, …). Batch norm starts in training mode.
/// Source: Dong & Yang 2020, NAS-Bench-201; xautodl 1.0.0 `models/cell_infers/tiny_network.py`.
public final class NB201Network: ImageClassifier, TracesEveryModule {
  /// Stored for ``Module/setTraining(_:)``; this module itself computes the same in both modes.
  public var training = true
  public let architecture: NB201Architecture
  public let channels: Int
  public let cellsPerStage: Int
  public let numClasses: Int
  public let inputShape: [Int]
  public let dtype: DType
  let stem: Sequential
  let cells: ModuleList
  let cellLayers: [any Layer]
  let lastact: Sequential
  let classifier: Linear

  /// Builds and initialises the network with PyTorch's default initialisation drawn from `rng`.
  /// - Parameters: C (16 in the benchmark), N (5), number of classes (10, 100, 120), image size (32 or 16).
  public init(_ arch: NB201Architecture, channels c: Int = 16, cellsPerStage n: Int = 5, numClasses: Int = 10,
              imageSize: Int = 32, dtype: DType = .float32, rng: inout ZCRandom) {
    architecture = arch
    channels = c
    cellsPerStage = n
    self.numClasses = numClasses
    inputShape = [3, imageSize, imageSize]
    self.dtype = dtype
    stem = Sequential([Conv2d(3, c, kernelSize: 3, padding: 1, bias: false, dtype: dtype, rng: &rng), BatchNorm2d(c, dtype: dtype)])
    var ls: [any Layer] = []
    var cprev = c
    for stage in 0..<3 {
      let cc = c << stage
      if stage > 0 { ls.append(ResNetReduction(cprev, cc, dtype: dtype, rng: &rng)) }
      for _ in 0..<n { ls.append(NB201Cell(arch, channels: cc, dtype: dtype, rng: &rng)) }
      cprev = cc
    }
    cellLayers = ls
    cells = ModuleList(ls)
    lastact = Sequential([BatchNorm2d(cprev, dtype: dtype), ReLU()])
    classifier = Linear(cprev, numClasses, dtype: dtype, rng: &rng)
  }

  public var children: [(String, any Module)] {
    [("stem", stem), ("cells", cells), ("lastact", lastact), ("classifier", classifier)]
  }

  /// images `[B, 3, H, W]` → logits `[B, numClasses]`.
  ///
  /// Module outputs (``ForwardTrace/module(_:_:)``) are reported under xautodl's module names
  /// (`stem.0`, `cells.3.layers.2.op.1`, `cells.5.conv_a`, `lastact.1`, …; an `avg_pool_3x3` edge
  /// as `POOLING` with its `op`), plus the containers that the NAS-Bench-201 model of MeCo's
  /// reference (HamsterMimi/MeCo `correlation/foresight/models/nasbench2.py` `NAS201Model`) has
  /// and xautodl's lacks: a wrapper of the stem (``mecoStemWrapper``) and one `nn.Sequential` of
  /// the cells of each stage (``mecoStageWrapper``), so that a proxy defined on module outputs
  /// reproduces that reference (MeCo's shared fixtures). These are recorded only when a trace
  /// asks for module outputs; the computation is the same.
  public func callAsFunction(_ x: Variable) -> Variable {
    var f = ForwardTrace.module("stem") { stem(x) }
    ForwardTrace.current?.moduleOutput(Self.mecoStemWrapper, f)
    var stage = 0
    for (i, cell) in cellLayers.enumerated() {
      f = ForwardTrace.module("cells.\(i)") { cell(f) }
      let lastOfStage = i + 1 == cellLayers.count || cellLayers[i + 1] is ResNetReduction
      if lastOfStage, !(cell is ResNetReduction) {
        stage += 1
        ForwardTrace.current?.moduleOutput(Self.mecoStageWrapper(stage), f)
      }
    }
    let a = ForwardTrace.module("lastact") { lastact(f) }
    return ForwardTrace.module("classifier") { classifier(globalAvgPool(a)) }
  }

  /// The module name under which the stem's output is reported once more: MeCo's `NAS201Model`
  /// wraps the stem in a module of its own.
  public static let mecoStemWrapper = "<NAS201Model stem>"
  /// The name under which the last cell output of stage `k` (1…3) is reported once more: MeCo's
  /// `NAS201Model` holds the cells of stage k in `stack_cell<k>`.
  public static func mecoStageWrapper(_ k: Int) -> String { "<NAS201Model stack_cell\(k)>" }

  public func copy(dtype newType: DType) -> NB201Network {
    var rng = ZCRandom(seed: 0)
    let net = NB201Network(architecture, channels: channels, cellsPerStage: cellsPerStage, numClasses: numClasses,
                           imageSize: inputShape[1], dtype: newType, rng: &rng)
    net.copyState(from: self)
    return net
  }
}
