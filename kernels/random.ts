/**
 * Random fills from the Philox counter-based generator: element `i` of a draw with key `seed`
 * and stream position `offset` depends only on (seed, offset, i), never on scheduling.
 *
 * @module
 */

import { Uniforms } from "./_uniforms.ts";
import type { Device, GpuBuffer } from "./device.ts";
import { f32Literal, flatMain, forEachWindow } from "./_program.ts";
import { PHILOX_WGSL } from "./_philox.ts";

/** A distribution to draw from. */
export type Distribution =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "normal"; mean: number; std: number }
  /** 1·scale with probability `p`, else 0 (dropout masks use scale = 1 / (1 − p_drop)). */
  | { kind: "bernoulli"; p: number; scale: number };

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
  let transform: string;
  switch (dist.kind) {
    case "uniform":
      transform = `
  let u = vec4f(uniform01(r.x), uniform01(r.y), uniform01(r.z), uniform01(r.w));
  let v = ${f32Literal(dist.low)} + u * ${f32Literal(dist.high - dist.low)};`;
      break;
    case "normal":
      // Box–Muller on two pairs: four independent standard normals per Philox call.
      transform = `
  let r1 = sqrt(-2.0 * log(uniformOpen01(r.x)));
  let t1 = 6.283185307179586 * uniform01(r.y);
  let r2 = sqrt(-2.0 * log(uniformOpen01(r.z)));
  let t2 = 6.283185307179586 * uniform01(r.w);
  let z = vec4f(r1 * cos(t1), r1 * sin(t1), r2 * cos(t2), r2 * sin(t2));
  let v = ${f32Literal(dist.mean)} + z * ${f32Literal(dist.std)};`;
      break;
    case "bernoulli":
      transform = `
  let u = vec4f(uniform01(r.x), uniform01(r.y), uniform01(r.z), uniform01(r.w));
  let v = select(vec4f(0.0), vec4f(${f32Literal(dist.scale)}), u < vec4f(${f32Literal(dist.p)}));`;
      break;
  }
  // The stream position changes with every draw (each dropout mask), so it travels in a
  // buffer: baked into the WGSL it would compile a new pipeline per draw.
  const stream4 = new Uint32Array([
    stream.seed[0] >>> 0,
    stream.seed[1] >>> 0,
    stream.offset >>> 0,
    Math.floor(stream.offset / 2 ** 32) >>> 0,
  ]);
  const params = device.alloc(16, "random stream");
  device.write(params, stream4);
  // Huge outputs (fc6's weight is 151 MB) are filled window by window; each window's quads
  // keep their global counters, so the values do not depend on the split.
  forEachWindow(device, n, [out], (bindings, count, start) => {
    const quads = count / 4;
    const uf = new Uniforms();
    const u = uf.all({ quads, firstQuad: start / 4, n });
    const body = `
  let stream = streamBuffer;
  let q = local + ${u.firstQuad};
  let r = philox(vec4u(q + stream.z, stream.w, 0u, 0u), stream.xy);${transform}
  for (var j = 0u; j < 4u; j++) {
    if (q * 4u + j < ${u.n}) { out[local * 4u + j] = v[j]; }
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
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
