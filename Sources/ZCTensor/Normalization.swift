/// Fused kernels for 2-D batch normalisation in training mode (Ioffe & Szegedy 2015; PyTorch
/// `F.batch_norm(training=True)`), NCHW.
///
/// Per channel c over the n = N·H·W values: μ = mean x, σ² = mean (x − μ)² (biased), x̂ = (x − μ)/√(σ² + ε),
/// y = γ x̂ + β. Statistics are accumulated in Double for both dtypes.
///
/// With ``Parallel/threads`` > 1 the channels are split across threads (groups of four channels
/// for the reductions, single channels for the element sweeps); every channel is still reduced
/// by one thread in the order (image, pixel), so results are bit-identical for every thread count.
public enum BatchNormKernel {
  /// Per-channel statistics of the batch: means and biased variances.
  public struct Statistics: Sendable {
    public var mean: [Double]
    public var variance: [Double]
    /// Number of values per channel (N·H·W).
    public var count: Int
  }

  /// Forward pass. x `[N, C, H, W]` (or `[N, C]`), γ and β `[C]` or nil (no affine) → y like x.
  public static func forward(_ x: Tensor, gamma: Tensor?, beta: Tensor?, eps: Double) -> (Tensor, Statistics) {
    precondition(x.rank >= 2, "batch norm expects [N, C, ...], got \(x.shape)")
    let y = Tensor(uninitialized: x.shape, dtype: x.dtype)
    switch x.dtype {
    case .float32: return (y, bnForward(x, gamma, beta, eps, y, Float.self))
    case .float64: return (y, bnForward(x, gamma, beta, eps, y, Double.self))
    }
  }

  /// Backward pass: given gy like x, returns (gx, gγ `[C]`, gβ `[C]`) where
  /// gx = γ/√(σ²+ε) · (gy − mean gy − x̂ · mean(gy x̂)), gγ = Σ gy x̂, gβ = Σ gy.
  public static func backward(_ x: Tensor, _ gy: Tensor, gamma: Tensor?, stats: Statistics, eps: Double) -> (Tensor, Tensor, Tensor) {
    let c = x.shape[1]
    let gx = Tensor(uninitialized: x.shape, dtype: x.dtype)
    let gg = Tensor(zeros: [c], dtype: x.dtype), gb = Tensor(zeros: [c], dtype: x.dtype)
    switch x.dtype {
    case .float32: bnBackward(x, gy, gamma, stats, eps, gx, gg, gb, Float.self)
    case .float64: bnBackward(x, gy, gamma, stats, eps, gx, gg, gb, Double.self)
    }
    return (gx, gg, gb)
  }
}

/// Element i of `lanes` (≤ 4) consecutive planes of `hw` values starting at p, as Double (0 in
/// unused lanes).
@inline(__always)
private func gather4<T: TensorScalar>(_ p: UnsafePointer<T>, _ hw: Int, _ i: Int, _ lanes: Int) -> SIMD4<Double> {
  if lanes == 4 { return SIMD4(Double(p[i]), Double(p[hw + i]), Double(p[2 * hw + i]), Double(p[3 * hw + i])) }
  var v = SIMD4<Double>()
  for l in 0..<lanes { v[l] = Double(p[l * hw + i]) }
  return v
}

private func bnForward<T: TensorScalar>(_ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?, _ eps: Double, _ y: Tensor, _: T.Type) -> BatchNormKernel.Statistics {
  let n = x.shape[0], c = x.shape[1], hw = x.shape.dropFirst(2).reduce(1, *)
  let px = x.pointer(T.self), py = y.mutablePointer(T.self)
  let pg = gamma?.pointer(T.self), pb = beta?.pointer(T.self)
  var means = [Double](repeating: 0, count: c), vars = [Double](repeating: 0, count: c)
  let m = Double(n * hw)
  let groups = (c + 3) / 4, grain = channelGrain(n * hw)
  means.withUnsafeMutableBufferPointer { meanBuffer in
    vars.withUnsafeMutableBufferPointer { varBuffer in
      let pm = meanBuffer.baseAddress!, pv = varBuffer.baseAddress!
      // Reductions run four channels at a time in SIMD4<Double> lanes: each channel is still summed
      // in the order (image, pixel), so results equal the one-channel loop bit for bit, but four
      // dependency chains run in parallel.
      Parallel.forEachRange(groups, grain: (grain + 3) / 4) { groupRange in
        for group in groupRange {
          let ch = 4 * group
          let lanes = min(4, c - ch)
          var s = SIMD4<Double>()
          for b in 0..<n {
            let p = px + (b * c + ch) * hw
            for i in 0..<hw { s += gather4(p, hw, i, lanes) }
          }
          let mu = s / m
          var v = SIMD4<Double>()
          for b in 0..<n {
            let p = px + (b * c + ch) * hw
            for i in 0..<hw { let d = gather4(p, hw, i, lanes) - mu; v += d * d }
          }
          v /= m
          for l in 0..<lanes { pm[ch + l] = mu[l]; pv[ch + l] = v[l] }
        }
      }
      Parallel.forEachRange(c, grain: grain) { channels in
        for ch in channels {
          let mu = pm[ch], inv = 1 / (pv[ch] + eps).squareRoot()
          let scale = T(inv * (pg.map { Double($0[ch]) } ?? 1))
          let shift = T((pb.map { Double($0[ch]) } ?? 0) - mu * inv * (pg.map { Double($0[ch]) } ?? 1))
          for b in 0..<n {
            let p = px + (b * c + ch) * hw, q = py + (b * c + ch) * hw
            for i in 0..<hw { q[i] = p[i] * scale + shift }
          }
        }
      }
    }
  }
  return .init(mean: means, variance: vars, count: n * hw)
}

/// Channels per thread below which batch-norm sweeps stay serial: about 64 K values per part.
@inline(__always)
private func channelGrain(_ valuesPerChannel: Int) -> Int { max(1, 65_536 / max(1, valuesPerChannel)) }

private func bnBackward<T: TensorScalar>(
  _ x: Tensor, _ gy: Tensor, _ gamma: Tensor?, _ st: BatchNormKernel.Statistics, _ eps: Double,
  _ gx: Tensor, _ gg: Tensor, _ gb: Tensor, _: T.Type
) {
  let n = x.shape[0], c = x.shape[1], hw = x.shape.dropFirst(2).reduce(1, *)
  let px = x.pointer(T.self), pgy = gy.pointer(T.self), pgx = gx.mutablePointer(T.self)
  let pgam = gamma?.pointer(T.self)
  let pgg = gg.mutablePointer(T.self), pgb = gb.mutablePointer(T.self)
  let m = Double(n * hw)
  // Σ gy and Σ gy (x − μ), four channels at a time (see bnForward: same order per channel).
  var sums = [Double](repeating: 0, count: c), cross = [Double](repeating: 0, count: c)
  let groups = (c + 3) / 4, grain = channelGrain(n * hw)
  sums.withUnsafeMutableBufferPointer { sumBuffer in
   cross.withUnsafeMutableBufferPointer { crossBuffer in
    let psum = sumBuffer.baseAddress!, pcross = crossBuffer.baseAddress!
    Parallel.forEachRange(groups, grain: (grain + 3) / 4) { groupRange in
      for group in groupRange {
        let c0 = 4 * group
        let lanes = min(4, c - c0)
        var mu = SIMD4<Double>()
        for l in 0..<lanes { mu[l] = st.mean[c0 + l] }
        var sg = SIMD4<Double>(), sgx = SIMD4<Double>()
        for b in 0..<n {
          let p = px + (b * c + c0) * hw, q = pgy + (b * c + c0) * hw
          for i in 0..<hw { let g = gather4(q, hw, i, lanes); sg += g; sgx += g * (gather4(p, hw, i, lanes) - mu) }
        }
        for l in 0..<lanes { psum[c0 + l] = sg[l]; pcross[c0 + l] = sgx[l] }
      }
    }
    Parallel.forEachRange(c, grain: grain) { channels in
     for ch in channels {
    let mu = st.mean[ch], inv = 1 / (st.variance[ch] + eps).squareRoot()
    let sg = psum[ch]
    var sgx = pcross[ch]
    sgx *= inv  // Σ gy x̂
    pgb[ch] = T(sg)
    pgg[ch] = T(sgx)
    let gam = pgam.map { Double($0[ch]) } ?? 1
    // gx = k·gy + a·x + b0 with k = γ inv, a = −k inv Σ(gy x̂)/m, b0 = −k (Σgy/m) − a μ.
    let k = gam * inv
    let a = -k * inv * sgx / m
    let b0 = -k * sg / m - a * mu
    let kt = T(k), at = T(a), bt = T(b0)
    for b in 0..<n {
      let p = px + (b * c + ch) * hw, q = pgy + (b * c + ch) * hw, r = pgx + (b * c + ch) * hw
      for i in 0..<hw { r[i] = kt * q[i] + at * p[i] + bt }
    }
     }
    }
   }
  }
}

extension BatchNormKernel {
  /// Vector–Jacobian product of the batch-norm backward map (gx, gγ) = B(x, gy, γ) of
  /// ``backward(_:_:gamma:stats:eps:)``, for exact second derivatives (GraSP's H g).
  ///
  /// Per channel, with n values, s = 1/√(σ²+ε), x̂ = (x − μ)s, a = γs, m1 = mean gy, m2 = mean(gy x̂),
  /// T(u) = s(u − mean u − x̂ mean(u x̂)) (the VJP of x̂ w.r.t. x) and cotangents c (for gx) and
  /// cγ (for gγ):
  ///   d gy = a(c − mean c − x̂ mean(c x̂)) + cγ x̂
  ///   d γ  = s n (mean(c gy) − m1 mean c − m2 mean(c x̂))
  ///   d x  = −γ s² x̂ (mean(c gy) − m1 mean c − m2 mean(c x̂)) − a(m2 T(c) + mean(c x̂) T(gy)) + cγ T(gy)
  /// (derived by differentiating gx = a(gy − m1 − x̂ m2) and gγ = Σ gy x̂; checked against finite
  /// differences in the tests). `c` or `cGamma` may be nil (zero).
  /// - Returns: (dx like x, d gy like x, dγ `[C]`).
  public static func backwardVJP(_ x: Tensor, _ gy: Tensor, gamma: Tensor?, stats: Statistics, eps: Double,
                                 c: Tensor?, cGamma: Tensor?) -> (Tensor, Tensor, Tensor) {
    let ch = x.shape[1]
    let dx = Tensor(uninitialized: x.shape, dtype: x.dtype), dgy = Tensor(uninitialized: x.shape, dtype: x.dtype)
    let dgamma = Tensor(zeros: [ch], dtype: x.dtype)
    switch x.dtype {
    case .float32: bnBackwardVJP(x, gy, gamma, stats, eps, c, cGamma, dx, dgy, dgamma, Float.self)
    case .float64: bnBackwardVJP(x, gy, gamma, stats, eps, c, cGamma, dx, dgy, dgamma, Double.self)
    }
    return (dx, dgy, dgamma)
  }
}

private func bnBackwardVJP<T: TensorScalar>(
  _ x: Tensor, _ gy: Tensor, _ gamma: Tensor?, _ st: BatchNormKernel.Statistics, _ eps: Double,
  _ c: Tensor?, _ cGamma: Tensor?, _ dx: Tensor, _ dgy: Tensor, _ dgamma: Tensor, _: T.Type
) {
  let nb = x.shape[0], ch = x.shape[1], hw = x.shape.dropFirst(2).reduce(1, *)
  let n = Double(nb * hw)
  let px = x.pointer(T.self), pg = gy.pointer(T.self), pc = c?.pointer(T.self)
  let pdx = dx.mutablePointer(T.self), pdg = dgy.mutablePointer(T.self), pdgam = dgamma.mutablePointer(T.self)
  // The five per-channel sums, four channels at a time (same order per channel as one at a time).
  var sums = [SIMD8<Double>](repeating: SIMD8(), count: ch)
  let groups = (ch + 3) / 4, grain = channelGrain(nb * hw)
  sums.withUnsafeMutableBufferPointer { sumBuffer in
   let psums = sumBuffer.baseAddress!
   Parallel.forEachRange(groups, grain: (grain + 3) / 4) { groupRange in
    for group in groupRange {
    let k0 = 4 * group
    let lanes = min(4, ch - k0)
    var mu = SIMD4<Double>(), sv = SIMD4<Double>()
    for l in 0..<lanes { mu[l] = st.mean[k0 + l]; sv[l] = 1 / (st.variance[k0 + l] + eps).squareRoot() }
    var sgy = SIMD4<Double>(), sgyx = SIMD4<Double>(), sc = SIMD4<Double>(), scx = SIMD4<Double>(), scg = SIMD4<Double>()
    for b in 0..<nb {
      let o = (b * ch + k0) * hw
      for i in 0..<hw {
        let xh = (gather4(px + o, hw, i, lanes) - mu) * sv, g = gather4(pg + o, hw, i, lanes)
        sgy += g; sgyx += g * xh
        if let pc { let cv = gather4(pc + o, hw, i, lanes); sc += cv; scx += cv * xh; scg += cv * g }
      }
    }
    for l in 0..<lanes { psums[k0 + l] = SIMD8(sgy[l], sgyx[l], sc[l], scx[l], scg[l], 0, 0, 0) }
    }
   }
   Parallel.forEachRange(ch, grain: grain) { channels in
    for k in channels {
    let mu = st.mean[k], s = 1 / (st.variance[k] + eps).squareRoot()
    let gam = gamma.map { Double($0.pointer(T.self)[k]) } ?? 1
    let cg = cGamma.map { Double($0.pointer(T.self)[k]) } ?? 0
    let a = gam * s
    let sgy = psums[k][0], sgyx = psums[k][1], sc = psums[k][2], scx = psums[k][3], scg = psums[k][4]
    let m1 = sgy / n, m2 = sgyx / n, mc = sc / n, mcx = scx / n, mcg = scg / n
    let core = mcg - m1 * mc - m2 * mcx
    pdgam[k] = T(s * n * core)
    // d gy = a(c − mc − x̂ mcx) + cγ x̂ and d x = −γ s² x̂ core − a(m2 T(c) + mcx T(gy)) + cγ T(gy),
    // expanded into per-element affine forms in (x, gy, c): coefficients computed once per channel.
    // With x̂ = (x − μ)s, T(c) = s(c − mc − x̂ mcx), T(gy) = s(gy − m1 − x̂ m2):
    let xs = s  // d x̂ / d x
    // d gy = a c + (cγ − a mcx) x̂ − a mc
    let gyC = a, gyXh = cg - a * mcx, gy0 = -a * mc
    // d x = −a m2 s c + (cγ − a mcx) s gy + [−γ s² core + a m2 s mcx + a mcx s m2 − cγ s m2] x̂ + (a m2 s mc + a mcx s m1 − cγ s m1)
    let dxC = -a * m2 * s, dxG = (cg - a * mcx) * s
    let dxXh = -gam * s * s * core + 2 * a * m2 * s * mcx - cg * s * m2
    let dx0 = a * m2 * s * mc + a * mcx * s * m1 - cg * s * m1
    // Fold x̂ = (x − μ)s into the constants.
    let gyX = T(gyXh * xs), gyConst = T(gy0 - gyXh * xs * mu)
    let dxX = T(dxXh * xs), dxConst = T(dx0 - dxXh * xs * mu)
    let tgyC = T(gyC), tdxC = T(dxC), tdxG = T(dxG)
    for b in 0..<nb {
      let o = (b * ch + k) * hw
      let xr = px + o, gr = pg + o, dgr = pdg + o, dxr = pdx + o
      if let pc {
        let cr = pc + o
        for i in 0..<hw {
          dgr[i] = tgyC * cr[i] + gyX * xr[i] + gyConst
          dxr[i] = tdxC * cr[i] + tdxG * gr[i] + dxX * xr[i] + dxConst
        }
      } else {
        for i in 0..<hw {
          dgr[i] = gyX * xr[i] + gyConst
          dxr[i] = tdxG * gr[i] + dxX * xr[i] + dxConst
        }
      }
    }
    }
   }
  }
}
