import ZCTensor

/// Statistics used by proxies and by correlation reports. Float64 throughout.
public enum Statistics {
  /// Z Zᵀ of the rows of `x` (`[rows, columns]`, row-major) each centred on its own mean:
  /// `columns` × the biased covariance of the rows (numpy `cov(x, bias=True) * columns`).
  /// - Returns: `[rows, rows]` row-major, Float64 (one GEMM through OpenBLAS).
  public static func centeredGram(_ x: [Double], rows n: Int, columns d: Int) -> [Double] {
    precondition(x.count == n * d, "centeredGram: \(x.count) values for [\(n), \(d)]")
    var z = x
    for i in 0..<n {
      var m = 0.0
      for j in 0..<d { m += z[i * d + j] }
      m /= Double(d)
      for j in 0..<d { z[i * d + j] -= m }
    }
    let zt = Tensor(z, shape: [n, d])
    return Tensor.matmul(zt, zt, transB: true).doubles
  }

  /// Pearson correlation matrix of the rows of `x` `[n, d]` (numpy `corrcoef`, rows as
  /// variables), clipped to [−1, 1] as numpy does.
  /// - Returns: `[n, n]` Float64, or nil when a row has zero variance (numpy would give NaN).
  public static func rowCorrelation(_ x: Tensor) -> Tensor? {
    precondition(x.rank == 2, "rowCorrelation expects [n, d], got \(x.shape)")
    let n = x.shape[0], d = x.shape[1]
    let cov = centeredGram(x.to(.float64).doubles, rows: n, columns: d)
    var out = [Double](repeating: 0, count: n * n)
    for i in 0..<n where !(cov[i * n + i] > 0) { _ = i; return nil }
    for i in 0..<n {
      for j in 0..<n {
        let c = cov[i * n + j] / (cov[i * n + i].squareRoot() * cov[j * n + j].squareRoot())
        out[i * n + j] = min(1, max(-1, c))
      }
    }
    return Tensor(out, shape: [n, n])
  }

  /// −Σ_i (log(v_i + k) + 1/(v_i + k)) over the eigenvalues v of a symmetric matrix (dsyevd):
  /// the jacob_cov (Mellor et al. v1) and hidden-covariance (Serianni & Kalita 2023) score.
  /// Returns NaN when some v_i + k ≤ 0. Input `[n, n]` Float64.
  /// - Throws: ``LinalgError`` from dsyevd (non-square, non-finite or non-converging input).
  public static func eigenScore(_ c: Tensor, k: Double = 1e-5) throws -> Double {
    let v = try Linalg.symmetricEigenvalues(c)
    return -v.reduce(0) { acc, e in acc + Double.log(e + k) + 1 / (e + k) }
  }

  /// Ranks 1…n with ties given their average rank.
  public static func ranks(_ x: [Double]) -> [Double] {
    let order = x.indices.sorted { x[$0] < x[$1] }
    var r = [Double](repeating: 0, count: x.count)
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
      let avg = Double(i + j) / 2 + 1
      for k in i...j { r[order[k]] = avg }
      i = j + 1
    }
    return r
  }

  /// Pearson correlation of two equal-length samples (NaN when either is constant).
  public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let n = Double(a.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices {
      let da = a[i] - ma, db = b[i] - mb
      sab += da * db; saa += da * da; sbb += db * db
    }
    return sab / (saa * sbb).squareRoot()
  }

  /// Spearman's ρ: Pearson correlation of average ranks (scipy `spearmanr`).
  public static func spearman(_ a: [Double], _ b: [Double]) -> Double { pearson(ranks(a), ranks(b)) }

  /// Kendall's τ-b with tie correction (scipy `kendalltau`, variant "b"), O(n²).
  public static func kendall(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let n = a.count
    var concordant = 0, discordant = 0, tiesA = 0, tiesB = 0
    for i in 0..<n {
      let ai = a[i], bi = b[i]
      for j in (i + 1)..<max(n, i + 1) {
        let da = ai - a[j], db = bi - b[j]
        if da == 0 && db == 0 { continue }
        if da == 0 { tiesA += 1; continue }
        if db == 0 { tiesB += 1; continue }
        if (da > 0) == (db > 0) { concordant += 1 } else { discordant += 1 }
      }
    }
    let n1 = Double(concordant + discordant + tiesA), n2 = Double(concordant + discordant + tiesB)
    return Double(concordant - discordant) / (n1 * n2).squareRoot()
  }
}
