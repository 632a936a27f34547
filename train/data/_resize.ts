// Private: resampling for prepare.ts / image_folder.ts. Area averaging when shrinking (each
// output pixel is the exact coverage-weighted mean of the source pixels under it), bilinear
// interpolation when enlarging; separable, rows then columns, in float.

/** Per output index along one axis: taps source indices starting at first[i], weights w. */
interface AxisWeights {
  taps: number;
  first: Int32Array;
  weights: Float32Array;
}

/**
 * Weights mapping source interval [start, start + extent) of an axis of `srcN` pixels onto
 * `outN` output pixels.
 */
function axisWeights(srcN: number, start: number, extent: number, outN: number): AxisWeights {
  const step = extent / outN; // source pixels per output pixel
  if (step >= 1) {
    const taps = Math.ceil(step) + 1;
    const first = new Int32Array(outN);
    const weights = new Float32Array(outN * taps);
    for (let i = 0; i < outN; i++) {
      const a = start + i * step, b = a + step;
      const k0 = Math.max(0, Math.floor(a));
      first[i] = k0;
      let sum = 0;
      for (let t = 0; t < taps; t++) {
        const k = k0 + t;
        const w = k < srcN ? Math.max(0, Math.min(b, k + 1) - Math.max(a, k)) : 0;
        weights[i * taps + t] = w;
        sum += w;
      }
      for (let t = 0; t < taps; t++) weights[i * taps + t] /= sum;
    }
    return { taps, first, weights };
  }
  const first = new Int32Array(outN);
  const weights = new Float32Array(outN * 2);
  for (let i = 0; i < outN; i++) {
    const c = Math.min(srcN - 1, Math.max(0, start + (i + 0.5) * step - 0.5));
    const k0 = Math.min(srcN - 2, Math.floor(c));
    if (k0 < 0) { // srcN === 1
      first[i] = 0;
      weights[i * 2] = 1;
      continue;
    }
    const f = c - k0;
    first[i] = k0;
    weights[i * 2] = 1 - f;
    weights[i * 2 + 1] = f;
  }
  return { taps: 2, first, weights };
}

/**
 * Resamples the source window `[x0, x0 + cw) × [y0, y0 + ch)` of an RGB HWC image of `sw × sh`
 * to `ow × oh` pixels.
 */
export function resampleWindow(
  src: Uint8Array,
  sw: number,
  sh: number,
  x0: number,
  y0: number,
  cw: number,
  ch: number,
  ow: number,
  oh: number,
): Uint8Array {
  const wx = axisWeights(sw, x0, cw, ow);
  const wy = axisWeights(sh, y0, ch, oh);
  // Source rows that any output row uses.
  let rowLo = sh, rowHi = 0;
  for (let i = 0; i < oh; i++) {
    rowLo = Math.min(rowLo, wy.first[i]);
    rowHi = Math.max(rowHi, Math.min(sh, wy.first[i] + wy.taps));
  }
  const rows = Math.max(0, rowHi - rowLo);
  const tmp = new Float32Array(rows * ow * 3);
  for (let r = 0; r < rows; r++) {
    const srow = (rowLo + r) * sw * 3;
    const trow = r * ow * 3;
    for (let i = 0; i < ow; i++) {
      let acc0 = 0, acc1 = 0, acc2 = 0;
      const k0 = wx.first[i];
      for (let t = 0; t < wx.taps; t++) {
        const w = wx.weights[i * wx.taps + t];
        if (w === 0) continue;
        const s = srow + (k0 + t) * 3;
        acc0 += w * src[s];
        acc1 += w * src[s + 1];
        acc2 += w * src[s + 2];
      }
      tmp[trow + i * 3] = acc0;
      tmp[trow + i * 3 + 1] = acc1;
      tmp[trow + i * 3 + 2] = acc2;
    }
  }
  const out = new Uint8Array(ow * oh * 3);
  const rowLen = ow * 3;
  const acc = new Float32Array(rowLen);
  for (let j = 0; j < oh; j++) {
    acc.fill(0);
    const k0 = wy.first[j];
    for (let t = 0; t < wy.taps; t++) {
      const w = wy.weights[j * wy.taps + t];
      if (w === 0) continue;
      const trow = (k0 + t - rowLo) * rowLen;
      for (let x = 0; x < rowLen; x++) acc[x] += w * tmp[trow + x];
    }
    const orow = j * rowLen;
    for (let x = 0; x < rowLen; x++) {
      const v = Math.round(acc[x]);
      out[orow + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/**
 * Scales an RGB HWC image so that its shorter side is `size` and returns the central
 * `size × size` patch. When the scale is exactly 1 the crop offset is rounded to whole
 * pixels, so such images are copied without blurring.
 */
export function shorterSideCenterCrop(
  src: Uint8Array,
  width: number,
  height: number,
  size: number,
): Uint8Array {
  const window = Math.min(width, height); // source extent of the output, on both axes
  let x0 = (width - window) / 2, y0 = (height - window) / 2;
  if (window === size) {
    x0 = Math.floor(x0);
    y0 = Math.floor(y0);
  }
  return resampleWindow(src, width, height, x0, y0, window, window, size, size);
}
