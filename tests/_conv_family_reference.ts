/**
 * Float64 references of the convolution family (transposed convolution, 1-D ops), written from
 * PyTorch's definitions, independently of the library's reuse of the 2-D kernels.
 *
 * @module
 */

import { type F64, zeros } from "./_reference.ts";

/** Options of {@link convTranspose2d}, per axis `[height, width]`. */
export interface ConvTransposeOptions {
  stride?: [number, number];
  padding?: [number, number];
  outputPadding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/**
 * PyTorch's conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout/g, KH, KW], bias [Cout] or null.
 * Each input pixel (n, ci, iy, ix) adds x·w[ci, co, ky, kx] to output pixel
 * (iy·stride − padding + dilation·ky, …) of channel group(ci)·Cout/g + co.
 */
export function convTranspose2d(
  x: F64,
  w: F64,
  bias: F64 | null,
  opts: ConvTransposeOptions = {},
): F64 {
  const [sh, sw] = opts.stride ?? [1, 1];
  const [ph, pw] = opts.padding ?? [0, 0];
  const [oph, opw] = opts.outputPadding ?? [0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const groups = opts.groups ?? 1;
  const [n, cin, h, wd] = x.shape;
  const [, og, kh, kw] = w.shape;
  const cout = og * groups, cg = cin / groups;
  const oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  const out = zeros([n, cout, oh, ow]);
  for (let b = 0; b < n; b++) {
    for (let ci = 0; ci < cin; ci++) {
      const group = Math.floor(ci / cg);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          const v = x.data[((b * cin + ci) * h + iy) * wd + ix];
          for (let co = 0; co < og; co++) {
            const oc = group * og + co;
            for (let ky = 0; ky < kh; ky++) {
              const y = iy * sh - ph + dh * ky;
              if (y < 0 || y >= oh) continue;
              for (let kx = 0; kx < kw; kx++) {
                const xo = ix * sw - pw + dw * kx;
                if (xo < 0 || xo >= ow) continue;
                out.data[((b * cout + oc) * oh + y) * ow + xo] += v *
                  w.data[((ci * og + co) * kh + ky) * kw + kx];
              }
            }
          }
        }
      }
    }
  }
  if (bias) {
    const plane = oh * ow;
    out.data.forEach((_, i) => (out.data[i] += bias.data[Math.floor(i / plane) % cout]));
  }
  return out;
}

/** `x [N, C, L]` as `[N, C, 1, L]` (shared data). */
export function lift(x: F64): F64 {
  const [n, c, l] = x.shape;
  return { shape: [n, c, 1, l], data: x.data };
}

/** `x [N, C, 1, L]` as `[N, C, L]` (shared data). */
export function drop(x: F64): F64 {
  const [n, c, , l] = x.shape;
  return { shape: [n, c, l], data: x.data };
}

/**
 * PyTorch's adaptive_max_pool2d: output (i, j) is the maximum over rows floor(i·H/OH) to
 * ceil((i+1)·H/OH) (exclusive) and the columns likewise; the first maximum wins.
 */
export function adaptiveMaxPool2d(x: F64, [oh, ow]: [number, number]): F64 {
  const [n, c, h, w] = x.shape;
  const out = zeros([n, c, oh, ow]);
  let at = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++, at++) {
        let best = -Infinity;
        for (let y = Math.floor((i * h) / oh); y < Math.ceil(((i + 1) * h) / oh); y++) {
          for (let z = Math.floor((j * w) / ow); z < Math.ceil(((j + 1) * w) / ow); z++) {
            best = Math.max(best, x.data[(plane * h + y) * w + z]);
          }
        }
        out.data[at] = best;
      }
    }
  }
  return out;
}

/** The index maths of one axis of PyTorch's interpolate, in float32 as its CPU kernels. */
export interface InterpolateAxis {
  mode: "nearest" | "nearest-exact" | "linear" | "cubic";
  alignCorners?: boolean;
  /** The scale factor given, or null for in/out. */
  scale?: number | null;
}

/** `[index, weight]` pairs that output `o` of an axis of `size` → `out` reads (UpSample.h). */
function torchTaps(size: number, out: number, o: number, a: InterpolateAxis): [number, number][] {
  const f = Math.fround;
  const scale = a.scale ?? null;
  const inv = scale !== null ? f(1 / scale) : f(size / out);
  if (a.mode === "nearest") {
    if (out === size) return [[o, 1]];
    if (out === 2 * size) return [[Math.floor(o / 2), 1]];
    return [[Math.min(Math.floor(f(o * inv)), size - 1), 1]];
  }
  if (a.mode === "nearest-exact") return [[Math.min(Math.floor(f((o + 0.5) * inv)), size - 1), 1]];
  if (out === size && a.mode === "linear") return [[o, 1], [o, 0]];
  let real: number;
  if (a.alignCorners) real = f((out > 1 ? f((size - 1) / (out - 1)) : 0) * o);
  else real = f(f(inv * f(o + 0.5)) - 0.5);
  if (a.mode === "cubic") {
    // Keys' cubic convolution, A = −0.75, over the 4 taps around floor(real), clamped reads.
    const i = Math.min(Math.floor(real), size - 1), t = Math.min(Math.max(real - i, 0), 1);
    const A = -0.75;
    const k = (x: number) =>
      x <= 1
        ? (A + 2) * x ** 3 - (A + 3) * x ** 2 + 1
        : A * x ** 3 - 5 * A * x ** 2 + 8 * A * x - 4 * A;
    return [-1, 0, 1, 2].map((d) => [Math.min(Math.max(i + d, 0), size - 1), k(Math.abs(t - d))]);
  }
  real = Math.max(0, real);
  const i = Math.min(Math.floor(real), size - 1);
  const lambda = Math.min(Math.max(f(real - i), 0), 1);
  return [[i, f(1 - lambda)], [i < size - 1 ? i + 1 : i, lambda]];
}

/** PyTorch's interpolate of x [N, C, H, W] to [OH, OW], each axis by its own maths. */
export function interpolate2d(
  x: F64,
  [oh, ow]: [number, number],
  rows: InterpolateAxis,
  cols: InterpolateAxis,
): F64 {
  const [n, c, h, w] = x.shape;
  const out = zeros([n, c, oh, ow]);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let v = 0;
        for (const [y, wy] of torchTaps(h, oh, i, rows)) {
          for (const [z, wz] of torchTaps(w, ow, j, cols)) {
            v += wy * wz * x.data[(p * h + y) * w + z];
          }
        }
        out.data[(p * oh + i) * ow + j] = v;
      }
    }
  }
  return out;
}

/**
 * PyTorch's F.pad in float64: `pads` from the last axis backwards; each output element reads
 * the input element its mode maps it to (constant: `value` outside the input).
 */
export function pad(
  x: F64,
  pads: readonly number[],
  mode: "constant" | "reflect" | "replicate" | "circular",
  value = 0,
): F64 {
  const rank = x.shape.length;
  const before = x.shape.map((_, a) =>
    2 * (rank - 1 - a) < pads.length ? pads[2 * (rank - 1 - a)] : 0
  );
  const after = x.shape.map((_, a) =>
    2 * (rank - 1 - a) < pads.length ? pads[2 * (rank - 1 - a) + 1] : 0
  );
  const shape = x.shape.map((d, a) => d + before[a] + after[a]);
  const out = zeros(shape);
  const inStrides = x.shape.map((_, a) => x.shape.slice(a + 1).reduce((p, d) => p * d, 1));
  const source = (j: number, size: number): number | null => {
    if (mode === "constant") return j >= 0 && j < size ? j : null;
    if (mode === "replicate") return Math.min(Math.max(j, 0), size - 1);
    if (mode === "circular") return ((j % size) + size) % size;
    return j < 0 ? -j : j >= size ? 2 * (size - 1) - j : j;
  };
  for (let i = 0; i < out.data.length; i++) {
    let rest = i, at = 0, inside = true;
    for (let a = rank - 1; a >= 0; a--) {
      const o = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
      const j = source(o - before[a], x.shape[a]);
      if (j === null) inside = false;
      else at += j * inStrides[a];
    }
    out.data[i] = inside ? x.data[at] : value;
  }
  return out;
}

/**
 * PyTorch's pixel_shuffle of x [..., C·r², H, W]: out[..., c, h·r + i, w·r + j] is
 * x[..., c·r² + i·r + j, h, w].
 */
export function pixelShuffle(x: F64, r: number): F64 {
  const [c2, h, w] = x.shape.slice(-3);
  const lead = x.shape.slice(0, -3), c = c2 / (r * r);
  const out = zeros([...lead, c, h * r, w * r]);
  const planes = lead.reduce((p, d) => p * d, 1);
  for (let p = 0; p < planes; p++) {
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) {
          for (let y = 0; y < h; y++) {
            for (let z = 0; z < w; z++) {
              const from = (((p * c2 + k * r * r + i * r + j) * h + y) * w) + z;
              const to = ((p * c + k) * h * r + y * r + i) * w * r + z * r + j;
              out.data[to] = x.data[from];
            }
          }
        }
      }
    }
  }
  return out;
}

/** PyTorch's pixel_unshuffle: the inverse of {@link pixelShuffle}. */
export function pixelUnshuffle(x: F64, r: number): F64 {
  const [c, hr, wr] = x.shape.slice(-3);
  const lead = x.shape.slice(0, -3);
  const out = zeros([...lead, c * r * r, hr / r, wr / r]);
  // The shuffle is a permutation: invert it by shuffling the indices.
  const index = pixelShuffle({ shape: out.shape, data: out.data.map((_, i) => i) }, r);
  index.data.forEach((from, to) => (out.data[from] = x.data[to]));
  return out;
}
