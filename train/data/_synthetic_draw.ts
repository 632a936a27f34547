// Private: rasterises one synthetic sample (see synthetic.ts for the class list).
import type { Rng } from "./rng.ts";

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Coverage in [0, 1] of the "on" half of a periodic band at coordinate t. */
function band(t: number, period: number): number {
  const f = t / period - Math.floor(t / period); // [0, 1)
  const d = (Math.abs(f - 0.25) - 0.25) * period; // signed distance to the band [0, 0.5)
  return clamp01(0.5 - d);
}

function colourDistance(a: number[], b: number[]): number {
  const dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
  return Math.sqrt(dr * dr + dg * dg + db * db);
}

/**
 * Draws a `size × size` RGB (HWC) image of class `label` into `out` at `offset`, using only
 * `rng` for randomness. Colours, position, scale, rotation and background are drawn the same
 * way for every class; only the geometry of the foreground mask depends on the label.
 */
export function drawSynthetic(
  out: Uint8Array,
  offset: number,
  size: number,
  label: number,
  rng: Rng,
): void {
  // Background: a linear gradient between two random colours in a random direction.
  const c0 = [rng.int(256), rng.int(256), rng.int(256)];
  const c1 = [rng.int(256), rng.int(256), rng.int(256)];
  const theta = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(theta) / size, gy = Math.sin(theta) / size;
  const noiseAmp = rng.uniform(0, 24);
  // Foreground colour: random, but far enough from both gradient ends to stay visible.
  let fg = [0, 0, 0];
  let best = -1;
  for (let tries = 0; tries < 24; tries++) {
    const c = [rng.int(256), rng.int(256), rng.int(256)];
    const d = Math.min(colourDistance(c, c0), colourDistance(c, c1));
    if (d > best) {
      best = d;
      fg = c;
    }
    if (d >= 110) break;
  }
  // Geometry shared by all classes.
  const r = rng.uniform(0.2, 0.4) * size; // half-extent of the shape
  const cx = rng.uniform(r, size - r), cy = rng.uniform(r, size - r);
  const rot = rng.uniform(-0.3, 0.3);
  let cosR = Math.cos(rot), sinR = Math.sin(rot);
  // Class-specific parameters (always drawn in the same order so the rng use is fixed).
  const p1 = rng.next(), p2 = rng.next(), p3 = rng.next();
  const period = Math.max(3, size * (0.1 + 0.08 * p1));
  const phase = p2 * period;
  let a = 0, b = 0;
  switch (label) {
    case 3: // cross: arm half-width
      a = r * (0.22 + 0.1 * p1);
      break;
    case 4: // ring: radius and half-thickness
      a = r * 0.78;
      b = Math.max(0.8, r * (0.14 + 0.1 * p1));
      break;
    case 8: { // diagonal line at ±45° (± jitter): half-length and half-width
      const angle = (p3 < 0.5 ? 1 : -1) * Math.PI / 4 + rot * 0.6;
      cosR = Math.cos(angle);
      sinR = Math.sin(angle);
      a = r * 1.2;
      b = Math.max(0.8, r * (0.1 + 0.08 * p1));
      break;
    }
    case 9: { // two dots: dot radius, and the offset of the dot centres along a random angle
      a = r * (0.28 + 0.1 * p1);
      const psi = p3 * 2 * Math.PI;
      cosR = Math.cos(psi) * (r - a);
      sinR = Math.sin(psi) * (r - a);
      break;
    }
  }
  const half = size / 2;
  let o = offset;
  for (let y = 0; y < size; y++) {
    const py = y + 0.5;
    const dy = py - cy;
    for (let x = 0; x < size; x++) {
      const px = x + 0.5;
      const dx = px - cx;
      const u = dx * cosR + dy * sinR;
      const v = -dx * sinR + dy * cosR;
      let m: number;
      switch (label) {
        case 0: // circle
          m = clamp01(0.5 - (Math.sqrt(dx * dx + dy * dy) - r));
          break;
        case 1: // square (slightly rotated)
          m = clamp01(0.5 - (Math.max(Math.abs(u), Math.abs(v)) - r * 0.85));
          break;
        case 2: { // equilateral triangle, apex up, circumradius r
          const d = Math.max(v - r / 2, 0.866 * u - 0.5 * v - r / 2, -0.866 * u - 0.5 * v - r / 2);
          m = clamp01(0.5 - d);
          break;
        }
        case 3: { // plus-shaped cross
          const au = Math.abs(u), av = Math.abs(v);
          m = clamp01(0.5 - Math.min(Math.max(au - r, av - a), Math.max(au - a, av - r)));
          break;
        }
        case 4: // ring
          m = clamp01(0.5 - (Math.abs(Math.sqrt(dx * dx + dy * dy) - a) - b));
          break;
        case 5: // horizontal stripes in an axis-aligned square patch
          m = clamp01(0.5 - (Math.max(Math.abs(dx), Math.abs(dy)) - r)) * band(dy + phase, period);
          break;
        case 6: // vertical stripes
          m = clamp01(0.5 - (Math.max(Math.abs(dx), Math.abs(dy)) - r)) * band(dx + phase, period);
          break;
        case 7: { // checkerboard
          const bx = band(dx + phase, period), by = band(dy + phase, period);
          const box = clamp01(0.5 - (Math.max(Math.abs(dx), Math.abs(dy)) - r));
          m = box * (bx * (1 - by) + (1 - bx) * by);
          break;
        }
        case 8: // diagonal line
          m = clamp01(0.5 - Math.max(Math.abs(v) - b, Math.abs(u) - a));
          break;
        default: { // 9: two dots
          const ex = dx - cosR, ey = dy - sinR, fx = dx + cosR, fy = dy + sinR;
          const d = Math.min(Math.sqrt(ex * ex + ey * ey), Math.sqrt(fx * fx + fy * fy)) - a;
          m = clamp01(0.5 - d);
        }
      }
      const t = clamp01((px - half) * gx + (py - half) * gy + 0.5);
      const n = 1 - m;
      for (let c = 0; c < 3; c++) {
        const bg = c0[c] + (c1[c] - c0[c]) * t;
        const val = bg * n + fg[c] * m + noiseAmp * (2 * rng.next() - 1);
        out[o++] = val < 0 ? 0 : val > 255 ? 255 : Math.round(val);
      }
    }
  }
}
