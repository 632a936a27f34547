// Private: libjpeg's last two decoding steps for YCbCr JPEGs, so that the pixels are those of
// torchvision's default loader (PIL over libjpeg-turbo): chroma planes subsampled 2×1 or 2×2
// are upsampled with libjpeg's "fancy" triangle filter (jdsample.c), not replicated as jpeg-js
// does, and YCbCr becomes RGB through libjpeg's fixed-point tables (jdcolor.c), rounded, not
// truncated. The planes come from jpeg-js, decoded without its colour transform.

/** The colour model and sampling factors of a JPEG's frame, read from its markers. */
export interface JpegLayout {
  /** Per component: its id and horizontal and vertical sampling factors. */
  components: { id: number; h: number; v: number }[];
  /** Whether an Adobe APP14 marker is present (it may override the colour model). */
  adobe: boolean;
}

/** The frame's components and whether an Adobe marker precedes it, or null if unreadable. */
export function readJpegLayout(bytes: Uint8Array): JpegLayout | null {
  let adobe = false;
  let o = 2;
  while (o + 4 <= bytes.length) {
    if (bytes[o] !== 0xff) {
      o++;
      continue;
    }
    const marker = bytes[o + 1];
    if (marker === 0xff) {
      o++;
      continue;
    }
    o += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9 || marker === 0xda) return null;
    const len = (bytes[o] << 8) | bytes[o + 1];
    if (marker === 0xee && String.fromCharCode(...bytes.subarray(o + 2, o + 7)) === "Adobe") {
      adobe = true;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isSof) {
      const count = bytes[o + 7];
      const components = [];
      for (let c = 0; c < count; c++) {
        const at = o + 8 + 3 * c;
        if (at + 2 >= bytes.length) return null;
        components.push({ id: bytes[at], h: bytes[at + 1] >> 4, v: bytes[at + 1] & 15 });
      }
      return { components, adobe };
    }
    o += len;
  }
  return null;
}

/**
 * Whether libjpeg would decode this frame as YCbCr with chroma sampled 1×1, 2×1 or 2×2
 * against luma, the layouts {@link yccToRgbAsLibjpeg} reproduces: three components, no Adobe
 * marker (whose transform flag jpeg-js applies itself), and not the ids 'R', 'G', 'B' that
 * libjpeg takes for an RGB file.
 */
export function isPlainYcc(layout: JpegLayout): boolean {
  const [y, cb, cr] = layout.components;
  if (layout.components.length !== 3 || layout.adobe) return false;
  if (y.id === 0x52 && cb.id === 0x47 && cr.id === 0x42) return false;
  const chromaOne = [cb, cr].every((c) => c.h === 1 && c.v === 1);
  return chromaOne && ((y.h === 1 && y.v === 1) || (y.h === 2 && (y.v === 1 || y.v === 2)));
}

/** The `w`×`h` plane of the samples of `raw` (3 per pixel, channel `c`) at every `sx`, `sy`. */
function plane(
  raw: Uint8Array,
  width: number,
  c: number,
  w: number,
  h: number,
  sx: number,
  sy: number,
): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[y * w + x] = raw[((y * sy) * width + x * sx) * 3 + c];
  }
  return out;
}

/** libjpeg's h2v1 fancy upsampling of one row of `w` samples into `2w` (w > 2). */
function upsampleRow(row: Uint8Array, w: number, out: Uint8Array, at: number): void {
  out[at] = row[0];
  out[at + 1] = (row[0] * 3 + row[1] + 2) >> 2;
  for (let c = 1; c < w - 1; c++) {
    const v = row[c] * 3;
    out[at + 2 * c] = (v + row[c - 1] + 1) >> 2;
    out[at + 2 * c + 1] = (v + row[c + 1] + 2) >> 2;
  }
  out[at + 2 * w - 2] = (row[w - 1] * 3 + row[w - 2] + 1) >> 2;
  out[at + 2 * w - 1] = row[w - 1];
}

/**
 * libjpeg's h2v2 fancy upsampling of a `w`×`h` plane into `2w`×`2h` (w > 2): each output row
 * mixes its nearest input row (3/4) with the next nearest above or below (1/4), the edge rows
 * repeated, then the columns likewise, with libjpeg's rounding (+8 and +7, alternating).
 */
function upsample2x2(p: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(4 * w * h);
  const ow = 2 * w;
  for (let r = 0; r < h; r++) {
    for (let v = 0; v < 2; v++) {
      const near = r * w, far = Math.min(Math.max(v === 0 ? r - 1 : r + 1, 0), h - 1) * w;
      const sum = (c: number) => p[near + c] * 3 + p[far + c];
      const at = (2 * r + v) * ow;
      let last = sum(0), self = last, next = sum(1);
      out[at] = (self * 4 + 8) >> 4;
      out[at + 1] = (self * 3 + next + 7) >> 4;
      for (let c = 1; c < w - 1; c++) {
        last = self;
        self = next;
        next = sum(c + 1);
        out[at + 2 * c] = (self * 3 + last + 8) >> 4;
        out[at + 2 * c + 1] = (self * 3 + next + 7) >> 4;
      }
      last = self;
      self = next;
      out[at + ow - 2] = (self * 3 + last + 8) >> 4;
      out[at + ow - 1] = (self * 4 + 7) >> 4;
    }
  }
  return out;
}

/** The chroma plane at full size (`width`×`height`): upsampled from `w`×`h` by `sx`, `sy`. */
function fullChroma(
  p: Uint8Array,
  w: number,
  h: number,
  sx: number,
  sy: number,
  width: number,
  height: number,
): Uint8Array {
  let full: Uint8Array, fw = w;
  if (sx === 1) {
    full = p;
  } else if (sy === 1) {
    full = new Uint8Array(2 * w * h);
    for (let r = 0; r < h; r++) upsampleRow(p.subarray(r * w, (r + 1) * w), w, full, r * 2 * w);
    fw = 2 * w;
  } else {
    full = upsample2x2(p, w, h);
    fw = 2 * w;
  }
  if (fw === width && full.length === width * height) return full;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) out.set(full.subarray(y * fw, y * fw + width), y * width);
  return out;
}

const SCALE_BITS = 16, ONE_HALF = 1 << 15;
const fix = (x: number) => Math.round(x * (1 << SCALE_BITS));
/** jdcolor.c's tables, by sample value: Cr→R, Cb→B, and the two parts of G (not yet shifted). */
const CR_R = new Int32Array(256), CB_B = new Int32Array(256);
const CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (fix(1.402) * x + ONE_HALF) >> SCALE_BITS;
  CB_B[i] = (fix(1.772) * x + ONE_HALF) >> SCALE_BITS;
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + ONE_HALF;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * RGB bytes as libjpeg decodes a plain YCbCr JPEG (see {@link isPlainYcc}), from jpeg-js's
 * untransformed output `raw` (Y, Cb, Cr per pixel, the chroma replicated `sx`×`sy` times).
 */
export function yccToRgbAsLibjpeg(
  raw: Uint8Array,
  width: number,
  height: number,
  sx: number,
  sy: number,
): Uint8Array {
  const w = Math.ceil(width / sx), h = Math.ceil(height / sy);
  // libjpeg mixes neighbours only in planes more than two samples wide; narrower ones are
  // replicated, as jpeg-js's output already is.
  const fancy = sx * sy > 1 && w > 2;
  const [cb, cr] = [1, 2].map((c) =>
    fancy
      ? fullChroma(plane(raw, width, c, w, h, sx, sy), w, h, sx, sy, width, height)
      : plane(raw, width, c, width, height, 1, 1)
  );
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const y = raw[i * 3], b = cb[i], r = cr[i];
    out[i * 3] = clamp(y + CR_R[r]);
    out[i * 3 + 1] = clamp(y + ((CB_G[b] + CR_G[r]) >> SCALE_BITS));
    out[i * 3 + 2] = clamp(y + CB_B[b]);
  }
  return out;
}
