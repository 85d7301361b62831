/// The order in which `scripts/score-full.sh` scores NAS-Bench-201: Python's
/// `random.Random(2026).shuffle(list(range(15625)))`, re-implemented here (Mersenne Twister
/// MT19937 seeded by `init_by_array([2026])`, `getrandbits(k)` as the top k bits of one 32-bit
/// output, `_randbelow` by rejection, the Fisher–Yates walk from the end), so that the tests can,
/// without running Python, check that a partially shipped proxy covers a prefix and a suffix of it
/// (ShippedTablesTests) and re-score the order's ends (ShippedTableReproductionTests).
public enum ScoringOrder {
  /// The 15,625 indices in scoring order.
  public static let indices: [Int] = {
    var r = PythonRandom(seed: 2026)
    var l = Array(0..<15_625)
    r.shuffle(&l)
    return l
  }()

  /// Whether `covered` is the first a and the last b indices of the order for some a, b (the two
  /// processes of score-full.sh walk it from both ends).
  public static func isPrefixAndSuffix(_ covered: Set<Int>) -> Bool {
    let a = indices.prefix { covered.contains($0) }.count
    guard a < indices.count else { return true }
    let b = indices.reversed().prefix { covered.contains($0) }.count
    return a + b == covered.count
  }
}

/// Python's `random.Random` for a seed below 2³², as far as `shuffle` needs it.
public struct PythonRandom {
  private var mt = [UInt32](repeating: 0, count: 624)
  private var index = 624

  public init(seed: UInt32) {
    // init_genrand(19650218), then init_by_array with the one key word `seed`.
    mt[0] = 19_650_218
    for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    var i = 1
    for _ in 0..<624 {
      mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ seed
      i += 1
      if i >= 624 { mt[0] = mt[623]; i = 1 }
    }
    for _ in 0..<623 {
      mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
      i += 1
      if i >= 624 { mt[0] = mt[623]; i = 1 }
    }
    mt[0] = 0x8000_0000
  }

  public mutating func next32() -> UInt32 {
    if index >= 624 {
      for k in 0..<624 {
        let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7fff_ffff)
        mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_b0df)
      }
      index = 0
    }
    var y = mt[index]
    index += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c_5680
    y ^= (y << 15) & 0xefc6_0000
    y ^= y >> 18
    return y
  }

  /// `_randbelow(n)` for 1 ≤ n < 2³²: getrandbits(n.bit_length()) until below n.
  mutating func randbelow(_ n: Int) -> Int {
    let k = UInt32(Int.bitWidth - n.leadingZeroBitCount)
    var r = Int(next32() >> (32 - k))
    while r >= n { r = Int(next32() >> (32 - k)) }
    return r
  }

  public mutating func shuffle(_ x: inout [Int]) {
    for i in stride(from: x.count - 1, to: 0, by: -1) { x.swapAt(i, randbelow(i + 1)) }
  }
}
