// Private: the resize and centre crop of prepare.ts / image_folder.ts, as torchvision's
// `Resize(size)` then `CenterCrop(size)` compute them on a PIL image, to the byte: the shorter
// side becomes `size` and the longer `⌊size · long / short⌋`; PIL's bilinear filter, a
// triangle stretched over the scale when shrinking (antialiased), its coefficients in 22-bit
// fixed point, rows first then columns, each pass rounded to bytes (Pillow's Resample.c);
// then the central square, its offset rounded half to even as Python's `round`.

/** Pillow's fixed-point precision for 8-bit images: 32 − 8 − 2 bits. */
const PRECISION_BITS = 22;

/** Per output index along one axis: the first source index, the count and the weights. */
interface AxisCoefficients {
  /** Taps per output index (the stride of `weights`). */
  ksize: number;
  /** Per output index: first source index and number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  weights: Int32Array;
}

/** Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc` for the bilinear filter. */
function coefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear filter's support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < count; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      total += k[x];
    }
    for (let x = 0; x < count; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      weights[xx * ksize + x] = Math.trunc(
        w < 0 ? w * (1 << PRECISION_BITS) - 0.5 : w * (1 << PRECISION_BITS) + 0.5,
      );
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

/** A fixed-point sum back to a byte, as Pillow's `clip8`. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * The window `[x0, x0 + ow) × [y0, y0 + oh)` of an RGB HWC image of `sw × sh` resized to
 * `nw × nh` as Pillow's `resize(…, BILINEAR)` does. Only the rows and columns the window needs
 * are computed; each is what Pillow computes for it, so the window is Pillow's to the byte.
 */
export function resizeWindow(
  src: Uint8Array,
  sw: number,
  sh: number,
  nw: number,
  nh: number,
  x0: number,
  y0: number,
  ow: number,
  oh: number,
): Uint8Array {
  const half = 1 << (PRECISION_BITS - 1);
  // Rows first (Pillow's horizontal pass), skipped when the width stays.
  let rows = src, rowWidth = sw, firstCol = x0;
  const vertical = nh !== sh ? coefficients(sh, nh) : null;
  // The source rows the kept output rows read.
  const rowLo = vertical ? vertical.bounds[y0 * 2] : y0;
  const rowHi = vertical
    ? vertical.bounds[(y0 + oh - 1) * 2] + vertical.bounds[(y0 + oh - 1) * 2 + 1]
    : y0 + oh;
  if (nw !== sw) {
    const h = coefficients(sw, nw);
    rows = new Uint8Array((rowHi - rowLo) * ow * 3);
    for (let r = rowLo; r < rowHi; r++) {
      for (let i = 0; i < ow; i++) {
        const xx = x0 + i, first = h.bounds[xx * 2], count = h.bounds[xx * 2 + 1];
        let s0 = half, s1 = half, s2 = half;
        for (let x = 0; x < count; x++) {
          const w = h.weights[xx * h.ksize + x], at = (r * sw + first + x) * 3;
          s0 += src[at] * w;
          s1 += src[at + 1] * w;
          s2 += src[at + 2] * w;
        }
        const o = ((r - rowLo) * ow + i) * 3;
        rows[o] = clip8(s0);
        rows[o + 1] = clip8(s1);
        rows[o + 2] = clip8(s2);
      }
    }
    rowWidth = ow;
    firstCol = 0;
  } else if (rowLo !== 0 || rowWidth !== ow) {
    rows = new Uint8Array((rowHi - rowLo) * ow * 3);
    for (let r = rowLo; r < rowHi; r++) {
      rows.set(src.subarray((r * sw + x0) * 3, (r * sw + x0 + ow) * 3), (r - rowLo) * ow * 3);
    }
    rowWidth = ow;
    firstCol = 0;
  }
  const out = new Uint8Array(ow * oh * 3);
  for (let j = 0; j < oh; j++) {
    const yy = y0 + j;
    const first = vertical ? vertical.bounds[yy * 2] - rowLo : yy - rowLo;
    const count = vertical ? vertical.bounds[yy * 2 + 1] : 1;
    for (let c = 0; c < ow * 3; c++) {
      if (!vertical) {
        out[j * ow * 3 + c] = rows[(first * rowWidth + firstCol) * 3 + c];
        continue;
      }
      let s = half;
      for (let y = 0; y < count; y++) {
        s += rows[((first + y) * rowWidth + firstCol) * 3 + c] *
          vertical.weights[yy * vertical.ksize + y];
      }
      out[j * ow * 3 + c] = clip8(s);
    }
  }
  return out;
}

/** Python's `round` of a multiple of ½: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `Resize(size)` then `CenterCrop(size)` of an RGB HWC image: its shorter side
 * scaled to `size` (the longer to `⌊size · long / short⌋`) with PIL's bilinear filter, then
 * the central `size × size` patch.
 */
export function shorterSideCenterCrop(
  src: Uint8Array,
  width: number,
  height: number,
  size: number,
): Uint8Array {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short);
  const [nw, nh] = width <= height ? [size, newLong] : [newLong, size];
  const left = roundHalfEven((nw - size) / 2), top = roundHalfEven((nh - size) / 2);
  return resizeWindow(src, width, height, nw, nh, left, top, size, size);
}
