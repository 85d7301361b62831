import Dispatch

/// Direct 3×3 convolution (stride 1, padding 1) for Float32 with channel-blocked SIMD16 tiles.
///
/// This file is compiled twice: as ZCConvAVX512 for AVX-512 (`-target-cpu skylake-avx512`) and as
/// ZCConvAVX2 for AVX2 + FMA (`-target-cpu haswell`; Sources/ZCConvAVX2 links to this file). Call
/// a build only after checking at run time that the CPU supports its instruction set (ZCTensor's
/// `CPUFeatures.directConvolution` does), never on other CPUs.
///
/// Summation order (what makes the two builds give the same bits): a SIMD16 lane always holds one
/// output element, and every step is a fused multiply-add (`addingProduct`, one rounding) into it.
/// Forward / input gradient: y[n][co][h][w] is summed over (input block, kh, kw, c_in within the
/// block), starting from +0. Weight gradient: dW[co][ci][kh][kw] over (image, row, column). On
/// AVX2 a SIMD16 is two 8-lane registers, so that build (compiled with DIRECT_CONV_AVX2) uses
/// register tiles of half the size (4 output pixels; 4 input channels in the weight gradient); a
/// tile only groups independent outputs, so each one's additions are the same, in the same order.
///
/// Layouts: the input is copied to padded NCHW, [N][C_in][H+2][W+2] with a zero halo (a row copy,
/// no transpose); weights to [C_out/16][C_in/16][3][3][16 (c_in)][16 (c_out)]. A register tile
/// holds 8 output pixels of one row × 16 output channels (8 SIMD16 accumulators; 4 pixels in the
/// AVX2 build); each step broadcasts one input value and multiplies it into one weight vector.
/// Requires C_in, C_out multiples of 16 and W multiple of 8.
/// FLOPs: 2·N·C_out·H·W·C_in·9.
///
/// `threads` > 1 splits the work with a fixed partition over independent outputs (forward:
/// (image, output block) pairs; weight gradient: (output block, input block, kernel tap)
/// triples; packing: images or planes). Each output element is still summed by one thread in the
/// same order, so results are bit-identical for every thread count.
public enum DirectConv3x3 {
  /// y[n][co][h][w] = Σ_{ci,kh,kw} x[n][ci][h+kh−1][w+kw−1] · w[co][ci][kh][kw] (NCHW, no bias).
  /// `flipTranspose`: use w'[co][ci][kh][kw] = w[ci][co][2−kh][2−kw] instead (the adjoint, for the
  /// gradient w.r.t. the input: pass gy as x and the forward weight as w).
  public static func run(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    n: Int, cin: Int, cout: Int, h: Int, w: Int, flipTranspose: Bool, threads: Int = 1
  ) {
    precondition(cin % 16 == 0 && cout % 16 == 0 && w % 8 == 0 && cin > 0 && cout > 0 && h > 0 && n >= 0,
                 "DirectConv3x3 needs channels in multiples of 16 and width a multiple of 8")
    precondition(8 % ForwardTile.count == 0, "the forward tile must divide 8 (the width's multiple)")
    let cib = cin / 16, cob = cout / 16, hp = h + 2, wpad = w + 2
    let xp = padNCHW(x, n: n, c: cin, h: h, w: w, threads: threads)
    defer { xp.deallocate() }
    let planeSize = hp * wpad
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
    // Items (image b, output block ob) in the order b·cob + ob; each writes its own outputs.
    splitRange(n * cob, threads: threads) { items in
     var tile = [Float](repeating: 0, count: ForwardTile.count * 16)
     tile.withUnsafeMutableBufferPointer { tb in
      let t = tb.baseAddress!
      for item in items {
        let b = item / cob, ob = item % cob
        do {
          for r in 0..<h {
            var q0 = 0
            while q0 < w {
              var a = ForwardTile(repeating: SIMD16<Float>())
              for ib in 0..<cib {
                let block = xp + (b * cin + ib * 16) * planeSize  // channel ib·16 of image b
                let wb = wpk + ((ob * cib + ib) * 9) * 256
                for kh in 0..<3 {
                  for kw in 0..<3 {
                    let src0 = block + (r + kh) * wpad + q0 + kw
                    let wk = wb + (kh * 3 + kw) * 256
                    for ci in 0..<16 {
                      let wv = UnsafeRawPointer(wk + ci * 16).loadUnaligned(as: SIMD16<Float>.self)
                      let src = src0 + ci * planeSize  // the tile's consecutive input pixels of channel ci
                      for p in 0..<ForwardTile.count { a[p] = a[p].addingProduct(src[p], wv) }
                    }
                  }
                }
              }
              let raw = UnsafeMutableRawPointer(t)
              for p in 0..<ForwardTile.count { raw.storeBytes(of: a[p], toByteOffset: p * 64, as: SIMD16<Float>.self) }
              for lane in 0..<16 {
                let out = y + ((b * cout + ob * 16 + lane) * h + r) * w + q0
                for p in 0..<ForwardTile.count { out[p] = t[p * 16 + lane] }
              }
              q0 += ForwardTile.count
            }
          }
        }
      }
     }
    }
  }
}

extension DirectConv3x3 {
  /// Weight gradient of the 3×3, stride-1, padding-1 convolution:
  /// dW[co][ci][kh][kw] = Σ_n Σ_{h,w} gy[n][co][h][w] · x[n][ci][h+kh−1][w+kw−1] (zero outside),
  /// NCHW inputs, dW `[C_out, C_in, 3, 3]`. Same layout requirements as ``run(x:weight:y:n:cin:cout:h:w:flipTranspose:)``.
  /// Per (output block, input block, image, kernel position) 16 SIMD16 accumulators (one per
  /// input channel, lanes = output channels; the AVX2 build takes them four at a time) sweep the
  /// image's pixels, so each image's packed planes stay in cache across the 9 kernel positions.
  ///
  /// `packedX`: x already in the kernel's input layout (``packForWeightGradient(x:into:n:c:h:w:threads:)``),
  /// for callers that differentiate through the same x many times (the NTK's per-sample passes);
  /// the values are the same as packing here.
  public static func weightGradient(
    x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
    n: Int, cin: Int, cout: Int, h: Int, w: Int, threads: Int = 1, packedX: UnsafePointer<Float>? = nil
  ) {
    precondition(cin % 16 == 0 && cout % 16 == 0 && cin > 0 && cout > 0 && h > 0 && w > 0 && n >= 0,
                 "DirectConv3x3.weightGradient needs channels in multiples of 16")
    precondition(16 % GradientGroup.count == 0, "the weight-gradient group must divide the 16 channels of a block")
    let cib = cin / 16, cob = cout / 16, hp = h + 2, wpad = w + 2
    let owned: UnsafeMutablePointer<Float>? = packedX == nil ? packWithHalo(x, n: n, c: cin, h: h, w: w, threads: threads) : nil
    defer { owned?.deallocate() }
    let xp = packedX ?? UnsafePointer(owned!)
    // gy packed as [N][C_out/16][H][W][16].
    let gp = UnsafeMutablePointer<Float>.allocate(capacity: n * cob * h * w * 16)
    defer { gp.deallocate() }
    splitRange(n, threads: threads) { images in
     for b in images {
      for ob in 0..<cob {
        let src0 = gy + (b * cout + ob * 16) * h * w, dst0 = gp + ((b * cob + ob) * h * w) * 16
        for r in 0..<h {  // one row of one block at a time, so the strided writes stay in L1
          for lane in 0..<16 {
            let src = src0 + lane * h * w + r * w, dst = dst0 + r * w * 16 + lane
            for q in 0..<w { dst[q * 16] = src[q] }
          }
        }
      }
     }
    }
    // acc[(ob, ib, k, ci)] as SIMD16 over output channels.
    let acc = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: cob * cib * 9 * 16)
    defer { acc.deallocate() }
    acc.initialize(repeating: SIMD16<Float>(), count: cob * cib * 9 * 16)
    // Items (ob, ib, k) in the order (ob·cib + ib)·9 + k: every accumulator is its own output,
    // summed over images, rows and columns in that order whatever the partition.
    splitRange(cob * cib * 9, threads: threads) { items in
     var pairItem = items.lowerBound
     while pairItem < items.upperBound {
      let pair = pairItem / 9, ob = pair / cib, ib = pair % cib
      let kLo = pairItem % 9, kHi = min(9, kLo + (items.upperBound - pairItem))
      pairItem += kHi - kLo
      do {
        for b in 0..<n {
          let gplane = gp + ((b * cob + ob) * h * w) * 16
          let xplane = xp + ((b * cib + ib) * hp * wpad) * 16
          for k in kLo..<kHi {
            let kh = k / 3, kw = k % 3
            let a = acc + ((ob * cib + ib) * 9 + k) * 16
            // GradientGroup.count input channels at a time; each accumulator sums over rows, then
            // columns, in order.
            for c0 in stride(from: 0, to: 16, by: GradientGroup.count) {
              var group = GradientGroup { a[c0 + $0] }
              for r in 0..<h {
                let grow = gplane + r * w * 16
                let xrow = xplane + ((r + kh) * wpad + kw) * 16 + c0
                for q in 0..<w {
                  let g = UnsafeRawPointer(grow + q * 16).loadUnaligned(as: SIMD16<Float>.self)
                  let xs = xrow + q * 16
                  for c in 0..<GradientGroup.count { group[c] = group[c].addingProduct(xs[c], g) }
                }
              }
              for c in 0..<GradientGroup.count { a[c0 + c] = group[c] }
            }
          }
        }
        // Write out in dW's memory order: per output channel (lane), its 16 input channels × 9
        // taps are contiguous (a scattered order costs more than the arithmetic for small images).
        let a = acc + (ob * cib + ib) * 9 * 16
        for lane in 0..<16 {
          let d = dw + ((ob * 16 + lane) * cin + ib * 16) * 9
          for ci in 0..<16 {
            for k in kLo..<kHi { d[ci * 9 + k] = a[k * 16 + ci][lane] }
          }
        }
      }
     }
    }
  }
}

// The register tiles of this build (the only code that differs between the two builds).
#if DIRECT_CONV_AVX2
/// Forward register tile: 4 output pixels × 16 output channels, 8 of AVX2's 16 registers (8
/// pixels would spill).
typealias ForwardTile = InlineArray<4, SIMD16<Float>>
/// Weight-gradient accumulators held at once: 4 input channels (8 registers; 16 would spill).
typealias GradientGroup = InlineArray<4, SIMD16<Float>>
#else
/// Forward register tile: 8 output pixels × 16 output channels (8 of AVX-512's 32 registers).
typealias ForwardTile = InlineArray<8, SIMD16<Float>>
/// Weight-gradient accumulators held at once: all 16 input channels of a block (16 registers).
typealias GradientGroup = InlineArray<16, SIMD16<Float>>
#endif

/// Calls `body` on a fixed partition of 0..<count into at most `threads` contiguous ranges, on
/// separate threads (serially when `threads` is 1 or `count` < 2).
private func splitRange(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
  let parts = min(max(1, threads), count)
  if parts <= 1 { if count > 0 { body(0..<count) }; return }
  withoutActuallyEscaping(body) { f in
    let box = SendableBox(f)
    DispatchQueue.concurrentPerform(iterations: parts) { k in
      let base = count / parts, extra = count % parts
      let lo = k * base + min(k, extra)
      box.value(lo..<(lo + base + (k < extra ? 1 : 0)))
    }
  }
}

private struct SendableBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

/// NCHW → padded NCHW [N][C][H+2][W+2] with a zero halo of one pixel (caller deallocates).
private func padNCHW(_ x: UnsafePointer<Float>, n: Int, c: Int, h: Int, w: Int, threads: Int) -> UnsafeMutablePointer<Float> {
  let hp = h + 2, wpad = w + 2
  let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * c * hp * wpad)
  splitRange(n * c, threads: threads) { planes in
   for plane in planes {
    let d = xp + plane * hp * wpad, src = x + plane * h * w
    d.update(repeating: 0, count: wpad)
    for r in 0..<h {
      let row = d + (r + 1) * wpad
      row[0] = 0
      (row + 1).update(from: src + r * w, count: w)
      row[w + 1] = 0
    }
    (d + (hp - 1) * wpad).update(repeating: 0, count: wpad)
   }
  }
  return xp
}

extension DirectConv3x3 {
  /// Elements of x `[N, C, H, W]` in the weight-gradient kernel's input layout.
  public static func packedInputCount(n: Int, c: Int, h: Int, w: Int) -> Int { n * (c / 16) * (h + 2) * (w + 2) * 16 }

  /// Writes x `[N, C, H, W]` (C a multiple of 16) into `into` (``packedInputCount(n:c:h:w:)``
  /// elements) in the layout ``weightGradient(x:gy:dw:n:cin:cout:h:w:threads:packedX:)`` reads.
  public static func packForWeightGradient(x: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>, n: Int, c: Int, h: Int, w: Int, threads: Int = 1) {
    precondition(c % 16 == 0 && c > 0 && h > 0 && w > 0 && n >= 0, "DirectConv3x3.packForWeightGradient needs channels in multiples of 16")
    packWithHalo(x, into: into, n: n, c: c, h: h, w: w, threads: threads)
  }
}

/// NCHW → [N][C/16][H+2][W+2][16] with a zero halo of one pixel (caller deallocates); the
/// weight-gradient kernel's layout, where the 16 input channels of a pixel are one vector.
/// Works one padded row of one 16-channel block at a time (2 KiB at W = 32), so the 16 strided
/// passes that interleave the channels hit L1; only the halo is zeroed.
private func packWithHalo(_ x: UnsafePointer<Float>, n: Int, c: Int, h: Int, w: Int, threads: Int) -> UnsafeMutablePointer<Float> {
  let xp = UnsafeMutablePointer<Float>.allocate(capacity: DirectConv3x3.packedInputCount(n: n, c: c, h: h, w: w))
  packWithHalo(x, into: xp, n: n, c: c, h: h, w: w, threads: threads)
  return xp
}

private func packWithHalo(_ x: UnsafePointer<Float>, into xp: UnsafeMutablePointer<Float>, n: Int, c: Int, h: Int, w: Int, threads: Int) {
  let cb = c / 16, hp = h + 2, wpad = w + 2
  splitRange(n, threads: threads) { images in
   for b in images {
    for blk in 0..<cb {
      let plane = xp + ((b * cb + blk) * hp * wpad) * 16
      plane.update(repeating: 0, count: wpad * 16)
      (plane + (hp - 1) * wpad * 16).update(repeating: 0, count: wpad * 16)
      let src0 = x + (b * c + blk * 16) * h * w
      for r in 0..<h {
        let row = plane + (r + 1) * wpad * 16
        row.update(repeating: 0, count: 16)
        (row + (wpad - 1) * 16).update(repeating: 0, count: 16)
        let d = row + 16
        for lane in 0..<16 {
          let s = src0 + lane * h * w + r * w, dl = d + lane
          for q in 0..<w { dl[q * 16] = s[q] }
        }
      }
    }
   }
  }
}
