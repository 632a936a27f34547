/**
 * The second half of split-K: partial products of `splits` K ranges, laid out back to back,
 * are added in ascending order (a fixed order, so every run gives the same bits), then the
 * epilogue the split kernel could not apply: accumulation, a bias per column and ReLU.
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { flatMain, reluMasked } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/** What {@link sumPartials} adds and where. */
export interface PartialSum {
  /** Names the kernel (the dispatch is named `${name} sum`). */
  name: string;
  /** `splits` blocks of `n` values. */
  partial: Binding;
  /** `n` values, written (or added to). */
  dst: Binding;
  n: number;
  splits: number;
  /** Add to `dst` instead of overwriting it. */
  accumulate: boolean;
  /** A bias added to element e at index e mod `columns`. */
  bias?: { binding: Binding; columns: number };
  /** max(·, 0) after the bias. */
  relu?: boolean;
  /** A ReLU's output laid out as `dst`: the sum is multiplied by its mask, last. */
  mask?: Binding;
}

/**
 * dst[e] = relu((dst[e] +) Σ_s partial[s·n + e] (+ bias[e mod columns])), s ascending, then
 * times the ReLU mask of `mask[e]` when one is given.
 *
 * @example Two partial sums of three values
 * ```ts
 * import { Device } from "./device.ts";
 * import { sumPartials } from "./_split_k.ts";
 * const device = await Device.acquire();
 * const partial = device.alloc(24), dst = device.alloc(12);
 * device.write(partial, new Float32Array([1, 2, 3, 10, 20, 30]));
 * sumPartials(device, { name: "demo", partial: { buffer: partial }, dst: { buffer: dst },
 *   n: 3, splits: 2, accumulate: false });
 * console.log(new Float32Array(await device.read(dst, 0, 12))); // [11, 22, 33]
 * ```
 */
export function sumPartials(device: Device, p: PartialSum): void {
  const uf = new Uniforms();
  const U = uf.all({ n: p.n, splits: p.splits, columns: p.bias?.columns ?? 1 });
  let value = "v";
  if (p.bias) value = `${value} + bias[e % ${U.columns}]`;
  if (p.relu) value = `max(${value}, 0.0)`;
  if (p.mask) value = reluMasked(value, "mask[e]");
  const body = `
  var v = ${p.accumulate ? "dst[e]" : "0.0"};
  for (var s = 0u; s < ${U.splits}; s++) {
    v += partial[s * ${U.n} + e];
  }
  dst[e] = ${value};`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
${p.bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
${p.mask ? `@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read> mask: array<f32>;` : ""}
${uf.declare(2 + (p.bias ? 1 : 0) + (p.mask ? 1 : 0))}
${flatMain(64, U.n, body, { index: "e" })}
`;
  device.dispatch({
    name: `${p.name} sum`,
    wgsl,
    uniforms: uf.data(),
    workgroups: Math.ceil(p.n / 64),
    variant: "split-K sum",
    cost: { bytes: 4 * p.n * (p.splits + 1) },
  }, [p.partial, p.dst, ...(p.bias ? [p.bias.binding] : []), ...(p.mask ? [p.mask] : [])]);
}
