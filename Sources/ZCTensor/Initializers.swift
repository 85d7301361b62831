/// Weight initialisers with PyTorch's semantics (`torch.nn.init`), drawn from ``ZCRandom``.
///
/// Fans follow `torch.nn.init._calculate_fan_in_and_fan_out`: for a weight of shape
/// `[out, in, k1, k2, ...]`, fan_in = in·k1·k2·…, fan_out = out·k1·k2·…. Values are drawn in
/// row-major order. The same seed gives the same tensor on every machine; the numbers differ from
/// PyTorch's (a different generator), the distributions are the same.
public enum Initializer: Sendable, Equatable {
  /// Every element `value`.
  case constant(Double)
  /// N(mean, std²).
  case normal(mean: Double, std: Double)
  /// U(low, high).
  case uniform(low: Double, high: Double)
  /// `kaiming_uniform_(a, mode, nonlinearity="leaky_relu")`: bound = gain·sqrt(3/fan), gain = sqrt(2/(1+a²)).
  case kaimingUniform(a: Double, mode: FanMode)
  /// `kaiming_normal_(mode, nonlinearity="relu")`: std = sqrt(2)/sqrt(fan).
  case kaimingNormal(mode: FanMode)
  /// `xavier_uniform_(gain)`: bound = gain·sqrt(6/(fan_in+fan_out)).
  case xavierUniform(gain: Double)
  /// `xavier_normal_(gain)`: std = gain·sqrt(2/(fan_in+fan_out)).
  case xavierNormal(gain: Double)

  /// Default of `nn.Conv2d` and `nn.Linear` weights: `kaiming_uniform_(a=sqrt(5))`, i.e. U(±1/sqrt(fan_in)).
  public static let pytorchDefaultWeight = Initializer.kaimingUniform(a: 5.0.squareRoot(), mode: .fanIn)

  /// Which fan a Kaiming initialiser scales by.
  public enum FanMode: String, Sendable { case fanIn = "fan_in", fanOut = "fan_out" }

  /// (fan_in, fan_out) of a weight shape, as PyTorch computes them. Requires rank ≥ 2.
  public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    precondition(shape.count >= 2, "fan in and fan out need a weight of rank >= 2, got \(shape)")
    let receptive = shape.dropFirst(2).reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
  }

  /// Default bias of `nn.Conv2d`/`nn.Linear`: U(±1/sqrt(fan_in)) with fan_in of the layer's weight.
  public static func pytorchDefaultBias(weightShape: [Int]) -> Initializer {
    let b = 1 / Double(fans(weightShape).fanIn).squareRoot()
    return .uniform(low: -b, high: b)
  }

  /// A new tensor of `shape` drawn from this initialiser.
  public func make(shape: [Int], dtype: DType = .float32, rng: inout ZCRandom) -> Tensor {
    let n = shape.reduce(1, *)
    var values = [Double](repeating: 0, count: n)
    switch self {
    case let .constant(v):
      values = [Double](repeating: v, count: n)
    case let .normal(mean, std):
      for i in 0..<n { values[i] = mean + std * rng.nextNormal() }
    case let .uniform(lo, hi):
      for i in 0..<n { values[i] = rng.nextUniform(lo, hi) }
    case let .kaimingUniform(a, mode):
      let f = Double(mode == .fanIn ? Initializer.fans(shape).fanIn : Initializer.fans(shape).fanOut)
      let gain = (2 / (1 + a * a)).squareRoot()
      let bound = gain * (3 / f).squareRoot()
      for i in 0..<n { values[i] = rng.nextUniform(-bound, bound) }
    case let .kaimingNormal(mode):
      let f = Double(mode == .fanIn ? Initializer.fans(shape).fanIn : Initializer.fans(shape).fanOut)
      let std = 2.0.squareRoot() / f.squareRoot()
      for i in 0..<n { values[i] = std * rng.nextNormal() }
    case let .xavierUniform(gain):
      let (fi, fo) = Initializer.fans(shape)
      let bound = gain * (6 / Double(fi + fo)).squareRoot()
      for i in 0..<n { values[i] = rng.nextUniform(-bound, bound) }
    case let .xavierNormal(gain):
      let (fi, fo) = Initializer.fans(shape)
      let std = gain * (2 / Double(fi + fo)).squareRoot()
      for i in 0..<n { values[i] = std * rng.nextNormal() }
    }
    return Tensor(doubles: values, shape: shape, dtype: dtype)
  }
}
