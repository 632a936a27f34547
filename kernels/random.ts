/**
 * Random fills from the Philox counter-based generator: element `i` of a draw with key `seed`
 * and stream position `offset` depends only on (seed, offset, i), never on scheduling. So a
 * dropout mask need not be stored: {@link dropout} draws each element's mask where it applies
 * it, and the backward draws the same values again.
 *
 * @module
 */

import { Uniforms } from "./_uniforms.ts";
import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, forEachWindow } from "./_program.ts";
import { PHILOX_WGSL } from "./_philox.ts";

/** A distribution to draw from. */
export type Distribution =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "normal"; mean: number; std: number }
  /** 1·scale with probability `p`, else 0 (dropout masks use scale = 1 / (1 − p_drop)). */
  | { kind: "bernoulli"; p: number; scale: number }
  /** i32 integers in `[low, high)`, each equally likely (see {@link integerDraw}). */
  | { kind: "integer"; low: number; high: number };

/** Where a draw starts: the key and a counter offset (advance it by `n` after each draw). */
export interface RandomStream {
  /** Two 32-bit words of key. */
  seed: readonly [number, number];
  /** Counter of the first group of four values (each Philox call yields four). */
  offset: number;
}

const WORKGROUP = 256;

/**
 * Fills `n` f32 elements of `out` with draws from `dist`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { fillRandom } from "./random.ts";
 * const device = await Device.acquire();
 * const out = device.alloc(4 * 1000);
 * fillRandom(device, out, 1000, { kind: "uniform", low: 0, high: 1 }, { seed: [42, 0], offset: 0 });
 * const values = new Float32Array(await device.read(out, 0, 4000));
 * console.log(values.every((v) => v >= 0 && v < 1)); // true
 * ```
 */
export function fillRandom(
  device: Device,
  out: GpuBuffer,
  n: number,
  dist: Distribution,
  stream: RandomStream,
): void {
  if (n === 0) return;
  // The distribution's parameters are uniforms: one pipeline per kind serves every layer's
  // initialisation (He's standard deviation differs per layer), not one per value.
  const transform = (uf: Uniforms): string => {
    switch (dist.kind) {
      case "uniform":
        return `
  let u = vec4f(uniform01(r.x), uniform01(r.y), uniform01(r.z), uniform01(r.w));
  let v = ${uf.f32("low", dist.low)} + u * ${uf.f32("range", dist.high - dist.low)};`;
      case "normal":
        // Box–Muller on two pairs: four independent standard normals per Philox call.
        return `
  let r1 = sqrt(-2.0 * log(uniformOpen01(r.x)));
  let t1 = 6.283185307179586 * uniform01(r.y);
  let r2 = sqrt(-2.0 * log(uniformOpen01(r.z)));
  let t2 = 6.283185307179586 * uniform01(r.w);
  let z = vec4f(r1 * cos(t1), r1 * sin(t1), r2 * cos(t2), r2 * sin(t2));
  let v = ${uf.f32("mean", dist.mean)} + z * ${uf.f32("std", dist.std)};`;
      case "bernoulli":
        return `
  let u = vec4f(uniform01(r.x), uniform01(r.y), uniform01(r.z), uniform01(r.w));
  let v = select(vec4f(0.0), vec4f(${uf.f32("scale", dist.scale)}), u < vec4f(${
          uf.f32("p", dist.p)
        }));`;
      case "integer":
        return integerDraw(uf, dist.low, dist.high);
    }
  };
  const params = streamBuffer(device, stream);
  // Huge outputs (fc6's weight is 151 MB) are filled window by window; each window's quads
  // keep their global counters, so the values do not depend on the split.
  forEachWindow(device, n, [out], (bindings, count, start) => {
    const quads = count / 4;
    const uf = new Uniforms();
    const u = uf.all({ quads, firstQuad: start / 4, n });
    const body = `
  let stream = streamBuffer;
  let q = local + ${u.firstQuad};
  let r = philox(vec4u(q + stream.z, stream.w, 0u, 0u), stream.xy);${transform(uf)}
  for (var j = 0u; j < 4u; j++) {
    if (q * 4u + j < ${u.n}) { out[local * 4u + j] = v[j]; }
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read_write> out: array<${
      dist.kind === "integer" ? "i32" : "f32"
    }>;
@group(0) @binding(1) var<storage, read> streamBuffer: vec4u;
${uf.declare(2)}
${PHILOX_WGSL}
${flatMain(WORKGROUP, u.quads, body, { index: "local" })}`;
    device.dispatch(
      {
        name: `random ${dist.kind} (${n})`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(quads / WORKGROUP),
        cost: { bytes: 4 * count },
      },
      [...bindings, { buffer: params, size: 16 }],
    );
  });
  device.release(params);
}

/**
 * Four integers in `[low, high)` (at most 2³² of them) from the Philox words `r` of quad `q`,
 * exactly uniform by Lemire's method: a word `x` maps to the high half of `x · range`, and is
 * redrawn where the low half falls below `2³² mod range` (the values that would make some
 * results one draw more likely than others). A redraw takes the same lane of the Philox call
 * with the third counter word set to the attempt, which no other draw uses; each attempt is
 * rejected with probability below ½, and after 64 (a chance under 2⁻⁶⁴) the last word is kept.
 */
function integerDraw(uf: Uniforms, low: number, high: number): string {
  const range = high - low; // 2³² travels as 0: every word is then a value as it is
  const u = uf.all({
    low: low >>> 0,
    range: range >>> 0,
    threshold: range === 2 ** 32 ? 0 : (2 ** 32) % range,
  });
  return `
  var v = vec4i(0);
  for (var j = 0u; j < 4u; j++) {
    var word = r[j];
    for (var attempt = 1u; attempt <= 64u; attempt++) {
      if (mulhilo32(word, ${u.range}).y >= ${u.threshold}) { break; }
      word = philox(vec4u(q + stream.z, stream.w, attempt, 0u), stream.xy)[j];
    }
    let offset = select(mulhilo32(word, ${u.range}).x, word, ${u.range} == 0u);
    v[j] = bitcast<i32>(${u.low} + offset);
  }`;
}

/**
 * A 16-byte buffer holding `vec4u(seed, offset low, offset high)`. The stream position changes
 * with every draw (each dropout mask), so it travels in a buffer: baked into the WGSL it would
 * compile a new pipeline per draw, and as a uniform it would add a cached uniform buffer per
 * draw. The caller releases it.
 */
function streamBuffer(device: Device, stream: RandomStream): GpuBuffer {
  const params = device.alloc(16, "random stream");
  device.write(
    params,
    new Uint32Array([
      stream.seed[0] >>> 0,
      stream.seed[1] >>> 0,
      stream.offset >>> 0,
      Math.floor(stream.offset / 2 ** 32) >>> 0,
    ]),
  );
  return params;
}

/** Arguments of {@link dropout}. */
export interface DropoutArgs {
  /** The values to drop from: the input (forward) or the output's gradient (backward). */
  x: GpuBuffer;
  /** `n` results; another buffer than `x`. */
  out: GpuBuffer;
  /** Elements of `x` and `out`. */
  n: number;
  /** Drop probability in [0, 1]. */
  p: number;
  /** Where the mask's draw starts (the generator's position before it). */
  stream: RandomStream;
  /**
   * `x` as a block of columns of a wider draw: its rows of `columns` values are columns
   * `first`… of rows of `width` in the mask drawn (each of two towers holds half of a layer's
   * outputs and applies its half of the one-device mask). Default: the whole draw.
   */
  block?: { columns: number; width: number; first: number };
}

/**
 * out = x · mask, where the mask is that of a Bernoulli draw from `stream` (as
 * {@link fillRandom} with `{ kind: "bernoulli", p: 1 − p, scale: 1 / (1 − p) }` draws it, bit
 * for bit; all zeros for p = 1), computed for each element where it is applied: no mask buffer
 * exists. The backward is the same call on the output's gradient with the same stream.
 *
 * @example Half of eight ones dropped, the rest doubled, and the same mask again on a gradient
 * ```ts
 * import { Device } from "./device.ts";
 * import { dropout } from "./random.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(32), y = device.alloc(32), dx = device.alloc(32);
 * device.write(x, new Float32Array(8).fill(1));
 * const stream = { seed: [7, 0] as const, offset: 0 };
 * dropout(device, { x, out: y, n: 8, p: 0.5, stream });
 * dropout(device, { x: y, out: dx, n: 8, p: 0.5, stream });
 * const [a, b] = [y, dx].map(async (t) => new Float32Array(await device.read(t, 0, 32)));
 * console.log(await a); // each 0 or 2
 * console.log(await b); // 0 where a is 0, else 4
 * ```
 */
export function dropout(device: Device, args: DropoutArgs): void {
  const { n, p } = args;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability ${p} is not in [0, 1]`);
  if (n === 0) return;
  if (args.out.buffer === args.x.buffer) {
    throw new RangeError("dropout: out must not be the same buffer as x");
  }
  const block = args.block ?? { columns: n, width: n, first: 0 };
  if (block.columns < 1 || n % block.columns !== 0 || block.first + block.columns > block.width) {
    throw new RangeError(
      `dropout: ${n} elements are not rows of ${block.columns} columns from column ` +
        `${block.first} of ${block.width}`,
    );
  }
  const params = streamBuffer(device, args.stream);
  // Each invocation takes 4 elements. When rows are whole quads of the draw (the usual case),
  // they are one aligned quad: one Philox call, its four values used in order. Otherwise a
  // call is made for each element whose quad differs from the previous one's (a row's end).
  const whole = block.columns === block.width && block.first === 0;
  const aligned = whole ||
    (block.columns % 4 === 0 && block.width % 4 === 0 && block.first % 4 === 0);
  forEachWindow(device, n, [args.x, args.out], (bindings, count, start) => {
    const uf = new Uniforms();
    const u = uf.all({
      quads: count / 4,
      start,
      n,
      columns: block.columns,
      width: block.width,
      first: block.first,
    });
    const keep = uf.f32("keep", 1 - p), scale = uf.f32("scale", p === 1 ? 0 : 1 / (1 - p));
    // Element e (at `local` in the window) is element i of the draw.
    const index = (e: string) =>
      `(${e} / ${u.columns}) * ${u.width} + ${u.first} + ${e} % ${u.columns}`;
    const apply = (local: string, value: string) =>
      `out[${local}] = x[${local}] * select(0.0, ${scale}, uniform01(${value}) < ${keep});`;
    const body = aligned
      ? `
  let stream = streamBuffer;
  let e0 = ${u.start} + t * 4u;
  let i0 = ${index("e0")};
  let r = philox(vec4u(i0 / 4u + stream.z, stream.w, 0u, 0u), stream.xy);
  ${
        [0, 1, 2, 3].map((j) =>
          `if (e0 + ${j}u < ${u.n}) { ${apply(`t * 4u + ${j}u`, `r[${j}]`)} }`
        ).join("\n  ")
      }`
      : `
  let stream = streamBuffer;
  var quad = 0xffffffffu;
  var r = vec4u(0u);
  for (var j = 0u; j < 4u; j++) {
    let local = t * 4u + j;
    let e = ${u.start} + local;
    if (e >= ${u.n}) { break; }
    let i = ${index("e")};
    if (i / 4u != quad) {
      quad = i / 4u;
      r = philox(vec4u(quad + stream.z, stream.w, 0u, 0u), stream.xy);
    }
    ${apply("local", "r[i % 4u]")}
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> streamBuffer: vec4u;
${uf.declare(3)}
${PHILOX_WGSL}
${flatMain(WORKGROUP, u.quads, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `dropout (${n})`,
        wgsl,
        variant: aligned ? "quads" : "elements",
        uniforms: uf.data(),
        workgroups: Math.ceil(count / 4 / WORKGROUP),
        cost: { bytes: 8 * count },
      },
      [...bindings, { buffer: params, size: 16 }],
    );
  });
  device.release(params);
}
