import Foundation
import ZCTensor

// Differentiable operations over the token axis of `[B, T, C]` sequences and the linear
// transforms of FNet-style layers, composed from tested primitives (slice, embed, multiply,
// batched matmul), so their gradients and second derivatives are exact.

/// y[..., t, ...] = x[..., t + offset, ...] along `axis`, zero where t + offset is outside
/// 0..<L (a zero-padded shift; L = x.shape[axis]). Same shape as x. Backward: the opposite shift.
public func shifted(_ x: Variable, axis: Int, by offset: Int) -> Variable {
  let n = x.shape[axis]
  if offset == 0 { return x }
  if Swift.abs(offset) >= n { return multiply(x, Variable(Tensor(zeros: [], dtype: x.dtype))) }
  if offset > 0 { return embed(slice(x, axis: axis, offset..<n), axis: axis, at: 0..<(n - offset), length: n) }
  return embed(slice(x, axis: axis, 0..<(n + offset)), axis: axis, at: (-offset)..<n, length: n)
}

/// Depthwise 1-D convolution over the token axis (PyTorch `nn.Conv1d(C, C, k, groups=C,
/// padding=k//2, bias=False)` applied to `x.transpose(1, 2)`): a cross-correlation with zero
/// padding, u[b, t, m] = Σ_{j<k} W[m, 0, j] · x[b, t + j − ⌊k/2⌋, m].
///
/// Shapes: x `[B, T, C]`, weight `[C, 1, k]` (PyTorch's depthwise weight layout), k odd → `[B, T, C]`.
/// Used by ConvBERT's `SeparableConv1D` (Jiang et al. 2020, HF `modeling_convbert.py`).
public func depthwiseConv1d(_ x: Variable, weight: Variable) -> Variable {
  precondition(x.value.rank == 3 && weight.value.rank == 3 && weight.shape[1] == 1 && weight.shape[0] == x.shape[2],
               "depthwiseConv1d: x \(x.shape), weight \(weight.shape); expected [B, T, C] and [C, 1, k]")
  let (c, k) = (weight.shape[0], weight.shape[2])
  let p = k / 2
  var out: Variable?
  for j in 0..<k {
    let tap = reshape(slice(weight, axis: 2, j..<(j + 1)), [c])
    let term = multiply(shifted(x, axis: 1, by: j - p), tap)
    out = out.map { add($0, term) } ?? term
  }
  return out!
}

/// Constant matrices of the 2-D linear transforms, built in Float64 and rounded to `dtype`.
public enum LinearTransformMatrices {
  /// cos(2π k n / N) and sin(2π k n / N), `[N, N]` (symmetric). The angle uses (k·n mod N) for accuracy.
  public static func fourier(_ n: Int, dtype: DType) -> (cos: Tensor, sin: Tensor) {
    var c = [Double](repeating: 0, count: n * n), s = c
    for k in 0..<n {
      for t in 0..<n {
        let a = 2 * Double.pi * Double((k * t) % n) / Double(n)
        c[k * n + t] = Foundation.cos(a)
        s[k * n + t] = Foundation.sin(a)
      }
    }
    return (Tensor(doubles: c, shape: [n, n], dtype: dtype), Tensor(doubles: s, shape: [n, n], dtype: dtype))
  }

  /// The unnormalised DCT-II matrix scaled by 2 (SciPy `dct(type=2, norm=None)`),
  /// D[k, n] = 2 cos(π k (2n + 1) / (2N)), `[N, N]`.
  public static func dct2(_ n: Int, dtype: DType) -> Tensor {
    var d = [Double](repeating: 0, count: n * n)
    for k in 0..<n {
      for i in 0..<n {
        d[k * n + i] = 2 * Foundation.cos(Double.pi * Double((k * (2 * i + 1)) % (4 * n)) / Double(2 * n))
      }
    }
    return Tensor(doubles: d, shape: [n, n], dtype: dtype)
  }
}

/// Real part of the unnormalised 2-D discrete Fourier transform over the last two axes
/// (`torch.fft.fft2(u).real`, FNet, Lee-Thorp et al. 2022):
/// F[k1, k2] = Σ_t Σ_j u[t, j] cos(2π (k1 t / T + k2 j / d)) = (C_T U C_d − S_T U S_d)[k1, k2].
/// Shapes: u `[..., T, d]` (rank ≥ 2) → `[..., T, d]`. Linear in u; backward is the transpose.
public func fourierTransform2DReal(_ u: Variable) -> Variable {
  let (t, d) = (u.shape[u.value.rank - 2], u.shape[u.value.rank - 1])
  let (ct, st) = LinearTransformMatrices.fourier(t, dtype: u.dtype)
  let (cd, sd) = t == d ? (ct, st) : LinearTransformMatrices.fourier(d, dtype: u.dtype)
  let (ctv, stv, cdv, sdv) = (Variable(ct), Variable(st), Variable(cd), Variable(sd))
  let cos = batchedMatmul(ctv, batchedMatmul(u, cdv))
  let sin = batchedMatmul(stv, batchedMatmul(u, sdv))
  return subtract(cos, sin)
}

/// Unnormalised 2-D DCT-II over the last two axes, each axis scaled by 2 (SciPy
/// `dctn(u, type=2, norm=None, axes=(-2, -1))`, torch-dct `dct_2d(norm=None)`):
/// C = D_T U D_dᵀ with D_N[k, n] = 2 cos(π k (2n + 1) / (2N)) (``LinearTransformMatrices/dct2(_:dtype:)``).
/// Shapes: u `[..., T, d]` → `[..., T, d]`. Linear in u.
public func cosineTransform2D(_ u: Variable) -> Variable {
  let (t, d) = (u.shape[u.value.rank - 2], u.shape[u.value.rank - 1])
  let dt = Variable(LinearTransformMatrices.dct2(t, dtype: u.dtype))
  let dd = t == d ? dt : Variable(LinearTransformMatrices.dct2(d, dtype: u.dtype))
  return batchedMatmul(dt, batchedMatmul(u, dd, transB: true))
}
