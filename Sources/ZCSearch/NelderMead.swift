/// Derivative-free minimisation inside a box (Nelder and Mead, 1965, with the standard
/// coefficients reflection 1, expansion 2, contraction 0.5, shrink 0.5). Points are clamped to the
/// box, so the search never leaves it. Used to fit Gaussian-process hyperparameters and to refine
/// acquisition maxima; both have a few dimensions and cheap objectives.
public enum NelderMead {
  /// Minimises `f` from `start`.
  /// - Parameters:
  ///   - start: `[d]` starting point (clamped into the box).
  ///   - lower, upper: `[d]` box bounds.
  ///   - step: initial simplex edge as a fraction of each bound's width.
  ///   - maxEvaluations: evaluation budget.
  ///   - tolerance: stop when the simplex's function values span less than this.
  /// - Returns: the best point found and its value.
  public static func minimise(_ f: ([Double]) -> Double, start: [Double], lower: [Double], upper: [Double],
                              step: Double = 0.1, maxEvaluations: Int = 400, tolerance: Double = 1e-9) -> (x: [Double], value: Double) {
    let d = start.count
    func clamp(_ x: [Double]) -> [Double] { (0..<d).map { Swift.min(Swift.max(x[$0], lower[$0]), upper[$0]) } }
    func eval(_ x: [Double]) -> Double { let v = f(x); return v.isNaN ? .infinity : v }
    var simplex = [clamp(start)]
    for i in 0..<d {
      var p = simplex[0]
      let h = step * (upper[i] - lower[i])
      p[i] = p[i] + h <= upper[i] ? p[i] + h : p[i] - h
      simplex.append(clamp(p))
    }
    var values = simplex.map(eval)
    var evaluations = d + 1
    while evaluations < maxEvaluations {
      let order = (0...d).sorted { values[$0] < values[$1] }
      simplex = order.map { simplex[$0] }
      values = order.map { values[$0] }
      if !(values[d] - values[0] > tolerance) && values[d].isFinite { break }
      var centroid = [Double](repeating: 0, count: d)
      for p in simplex[0..<d] { for j in 0..<d { centroid[j] += p[j] / Double(d) } }
      func along(_ t: Double) -> [Double] { clamp((0..<d).map { centroid[$0] + t * (simplex[d][$0] - centroid[$0]) }) }
      let r = along(-1), fr = eval(r); evaluations += 1
      if fr < values[0] {
        let e = along(-2), fe = eval(e); evaluations += 1
        if fe < fr { simplex[d] = e; values[d] = fe } else { simplex[d] = r; values[d] = fr }
      } else if fr < values[d - 1] {
        simplex[d] = r; values[d] = fr
      } else {
        let c = fr < values[d] ? along(-0.5) : along(0.5)
        let fc = eval(c); evaluations += 1
        if fc < Swift.min(fr, values[d]) {
          simplex[d] = c; values[d] = fc
        } else {
          for i in 1...d {
            simplex[i] = clamp((0..<d).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) })
            values[i] = eval(simplex[i])
          }
          evaluations += d
        }
      }
    }
    let best = (0...d).min { values[$0] < values[$1] }!
    return (simplex[best], values[best])
  }
}
