/// Direct 3×3 convolution (stride 1, padding 1) for Float32 with channel-blocked SIMD16 tiles.
///
/// This module is compiled for AVX-512 (`-target-cpu skylake-avx512`): call it only after
/// checking at run time that the CPU supports AVX-512F (ZCTensor does), never on other CPUs.
///
/// Layouts: the input is packed to [N][C_in/16][H+2][W+2][16] with a zero halo; weights to
/// [C_out/16][C_in/16][3][3][16 (c_in)][16 (c_out)]. A register tile holds 8 output pixels of one
/// row × 16 output channels (8 SIMD16 accumulators); each step broadcasts one input value and
/// multiplies it into one weight vector. Requires C_in, C_out multiples of 16 and W multiple of 8.
/// FLOPs: 2·N·C_out·H·W·C_in·9.
public enum DirectConv3x3 {
  /// y[n][co][h][w] = Σ_{ci,kh,kw} x[n][ci][h+kh−1][w+kw−1] · w[co][ci][kh][kw] (NCHW, no bias).
  /// `flipTranspose`: use w'[co][ci][kh][kw] = w[ci][co][2−kh][2−kw] instead (the adjoint, for the
  /// gradient w.r.t. the input: pass gy as x and the forward weight as w).
  public static func run(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    n: Int, cin: Int, cout: Int, h: Int, w: Int, flipTranspose: Bool
  ) {
    precondition(cin % 16 == 0 && cout % 16 == 0 && w % 8 == 0 && cin > 0 && cout > 0 && h > 0 && n >= 0,
                 "DirectConv3x3 needs channels in multiples of 16 and width a multiple of 8")
    let cib = cin / 16, cob = cout / 16, hp = h + 2, wpad = w + 2
    // Pack the input with a zero halo.
    let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * cib * hp * wpad * 16)
    defer { xp.deallocate() }
    xp.update(repeating: 0, count: n * cib * hp * wpad * 16)
    for b in 0..<n {
      for c in 0..<cin {
        let src = x + (b * cin + c) * h * w
        let dst = xp + ((b * cib + c / 16) * hp * wpad) * 16 + c % 16
        for r in 0..<h {
          let d = dst + ((r + 1) * wpad + 1) * 16, s = src + r * w
          for q in 0..<w { d[q * 16] = s[q] }
        }
      }
    }
    // Pack the weights: for (cob, cib, kh, kw, ci) one vector of 16 output channels.
    let wpk = UnsafeMutablePointer<Float>.allocate(capacity: cob * cib * 9 * 256)
    defer { wpk.deallocate() }
    for co in 0..<cout {
      for ci in 0..<cin {
        for k in 0..<9 {
          let v = flipTranspose ? weight[(ci * cout + co) * 9 + (8 - k)] : weight[(co * cin + ci) * 9 + k]
          wpk[(((co / 16) * cib + ci / 16) * 9 + k) * 256 + (ci % 16) * 16 + co % 16] = v
        }
      }
    }
    var tile = [Float](repeating: 0, count: 8 * 16)
    tile.withUnsafeMutableBufferPointer { tb in
      let t = tb.baseAddress!
      for b in 0..<n {
        for ob in 0..<cob {
          for r in 0..<h {
            var q0 = 0
            while q0 < w {
              var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
              var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
              for ib in 0..<cib {
                let plane = xp + ((b * cib + ib) * hp * wpad) * 16
                let wb = wpk + ((ob * cib + ib) * 9) * 256
                for kh in 0..<3 {
                  for kw in 0..<3 {
                    let src = plane + ((r + kh) * wpad + q0 + kw) * 16
                    let wk = wb + (kh * 3 + kw) * 256
                    for ci in 0..<16 {
                      let wv = UnsafeRawPointer(wk + ci * 16).loadUnaligned(as: SIMD16<Float>.self)
                      a0 = a0.addingProduct(src[ci], wv)
                      a1 = a1.addingProduct(src[16 + ci], wv)
                      a2 = a2.addingProduct(src[32 + ci], wv)
                      a3 = a3.addingProduct(src[48 + ci], wv)
                      a4 = a4.addingProduct(src[64 + ci], wv)
                      a5 = a5.addingProduct(src[80 + ci], wv)
                      a6 = a6.addingProduct(src[96 + ci], wv)
                      a7 = a7.addingProduct(src[112 + ci], wv)
                    }
                  }
                }
              }
              let raw = UnsafeMutableRawPointer(t)
              raw.storeBytes(of: a0, toByteOffset: 0, as: SIMD16<Float>.self)
              raw.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
              raw.storeBytes(of: a2, toByteOffset: 128, as: SIMD16<Float>.self)
              raw.storeBytes(of: a3, toByteOffset: 192, as: SIMD16<Float>.self)
              raw.storeBytes(of: a4, toByteOffset: 256, as: SIMD16<Float>.self)
              raw.storeBytes(of: a5, toByteOffset: 320, as: SIMD16<Float>.self)
              raw.storeBytes(of: a6, toByteOffset: 384, as: SIMD16<Float>.self)
              raw.storeBytes(of: a7, toByteOffset: 448, as: SIMD16<Float>.self)
              for lane in 0..<16 {
                let out = y + ((b * cout + ob * 16 + lane) * h + r) * w + q0
                for p in 0..<8 { out[p] = t[p * 16 + lane] }
              }
              q0 += 8
            }
          }
        }
      }
    }
  }
}
