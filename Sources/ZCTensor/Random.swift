/// SplitMix64 (Steele, Lea & Flood 2014; reference code by S. Vigna, prng.di.unimi.it).
/// Used only to expand a 64-bit seed into generator state.
public struct SplitMix64: Sendable {
  public private(set) var state: UInt64
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The engine's seeded random generator: xoshiro256** (Blackman & Vigna 2018) seeded by SplitMix64.
///
/// Every draw uses only integer arithmetic and IEEE-754 basic operations (+, -, *, /, sqrt), never
/// the platform's libm, so the same seed gives bit-identical numbers on every machine and OS.
/// Normal variates use Box–Muller with the deterministic ``ZCRandom/log(_:)`` and
/// ``ZCRandom/sinCos2Pi(_:)`` below.
public struct ZCRandom: RandomNumberGenerator, Sendable {
  private var s0, s1, s2, s3: UInt64
  private var spareNormal: Double?

  /// A generator whose whole stream is determined by `seed`.
  public init(seed: UInt64) {
    var sm = SplitMix64(seed: seed)
    s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    spareNormal = nil
  }

  /// Next 64 random bits (xoshiro256**).
  public mutating func next() -> UInt64 {
    let result = rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result
  }

  @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// Uniform in [low, high).
  public mutating func nextUniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * nextUniform() }

  /// Standard normal N(0, 1) by Box–Muller (both variates of a pair are used, in order).
  public mutating func nextNormal() -> Double {
    if let z = spareNormal { spareNormal = nil; return z }
    let u1 = Double((next() >> 11) + 1) * 0x1.0p-53  // (0, 1]
    let u2 = nextUniform()  // [0, 1)
    let r = (-2 * ZCRandom.log(u1)).squareRoot()
    let (s, c) = ZCRandom.sinCos2Pi(u2)
    spareNormal = r * s
    return r * c
  }

  /// Uniform integer in 0..<n without modulo bias (Lemire's method).
  public mutating func nextInt(below n: Int) -> Int {
    precondition(n > 0)
    return Int(truncatingIfNeeded: next(upperBound: UInt64(n)))
  }

  /// `k` distinct integers from 0..<n, in random order (partial Fisher–Yates). Used so that a
  /// minibatch never repeats an image.
  public mutating func sampleWithoutReplacement(_ k: Int, from n: Int) -> [Int] {
    precondition(k >= 0 && k <= n, "cannot draw \(k) distinct values from \(n)")
    var pool = Array(0..<n)
    for i in 0..<k {
      let j = i + nextInt(below: n - i)
      pool.swapAt(i, j)
    }
    return Array(pool.prefix(k))
  }

  /// Natural logarithm using only IEEE basic operations (deterministic across platforms).
  /// Accurate to a few ulp for positive finite `x`: log x = e ln 2 + 2 atanh((m-1)/(m+1)).
  public static func log(_ x: Double) -> Double {
    precondition(x > 0 && x.isFinite, "log of \(x)")
    var m = x.significand  // [1, 2)
    var e = Double(x.exponent)
    if m > 1.4142135623730951 { m *= 0.5; e += 1 }
    let t = (m - 1) / (m + 1)
    let t2 = t * t
    // atanh(t) = t (1 + t2/3 + t2^2/5 + ...), |t| <= 0.1716, t2 <= 0.0295: 16 terms reach 1e-24.
    var sum = 0.0
    var k = 31.0
    while k >= 3 { sum = (sum + 1 / k) * t2; k -= 2 }
    return e * 0.6931471805599453 + 2 * t * (1 + sum)
  }

  /// (sin 2πu, cos 2πu) for u in [0, 1), using only IEEE basic operations.
  public static func sinCos2Pi(_ u: Double) -> (sin: Double, cos: Double) {
    let v = 4 * u  // exact
    let q = Int(v)  // quadrant 0...3
    var f = v - Double(q)  // [0, 1), exact
    var swap = false
    if f > 0.5 { f = 1 - f; swap = true }
    let theta = f * 1.5707963267948966  // [0, π/4]
    let t2 = theta * theta
    // Taylor series to degree 21 (error < 1e-19 on [0, π/4]).
    var s = 0.0, c = 0.0
    var n = 21.0
    while n >= 3 { s = (s + 1) * (-t2 / (n * (n - 1))); n -= 2 }
    s = theta * (1 + s)
    n = 22.0
    while n >= 2 { c = (c + 1) * (-t2 / (n * (n - 1))); n -= 2 }
    c = 1 + c
    if swap { (s, c) = (c, s) }
    switch q & 3 {
    case 0: return (s, c)
    case 1: return (c, -s)
    case 2: return (-s, -c)
    default: return (-c, s)
    }
  }
}
