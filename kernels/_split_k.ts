/**
 * The second half of split-K: partial products of `splits` K ranges, laid out back to back,
 * are added in ascending order (a fixed order, so every run gives the same bits), then the
 * epilogue the split kernel could not apply: accumulation, a bias per column and ReLU. A block
 * may carry a second result after the first (a weight gradient's bias gradient), summed in the
 * same pass into its own buffer.
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { flatMain, relu, reluMasked } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/** What {@link sumPartials} adds and where. */
export interface PartialSum {
  /** Names the kernel (the dispatch is named `${name} sum`). */
  name: string;
  /** `splits` blocks of `stride` values: `n` for `dst`, then the tail's. */
  partial: Binding;
  /** `n` values, written (or added to). */
  dst: Binding;
  n: number;
  splits: number;
  /** Add to `dst` instead of overwriting it. */
  accumulate: boolean;
  /**
   * A bias added to element e at index e mod `columns`, or with `rows` (a bias per row of
   * [·, rows, columns] blocks) at (e div `columns`) mod `rows`.
   */
  bias?: { binding: Binding; columns: number; rows?: number };
  /** max(·, 0) after the bias. */
  relu?: boolean;
  /** A ReLU's output laid out as `dst`: the sum is multiplied by its mask, last. */
  mask?: Binding;
  /** A second result: the `n` values after `dst`'s in each block, into their own buffer. */
  tail?: { dst: Binding; n: number };
  /** Values from one block's start to the next's (default `n` plus the tail's). */
  stride?: number;
}

/**
 * dst[e] = relu((dst[e] +) Σ_s partial[s·stride + e] (+ bias[e mod columns], or per row)),
 * s ascending,
 * then times the ReLU mask of `mask[e]` when one is given; the tail's values likewise
 * (accumulation only) into `tail.dst`.
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
  const tailN = p.tail?.n ?? 0, total = p.n + tailN;
  const uf = new Uniforms();
  const U = uf.all({
    n: p.n,
    total,
    stride: p.stride ?? total,
    splits: p.splits,
    columns: p.bias?.columns ?? 1,
  });
  let value = "v";
  if (p.bias?.rows) value = `${value} + bias[(e / ${U.columns}) % ${uf.u32("rows", p.bias.rows)}]`;
  else if (p.bias) value = `${value} + bias[e % ${U.columns}]`;
  if (p.relu) value = relu(value);
  if (p.mask) value = reluMasked(value, "mask[e]");
  // The sum starts from the old value when accumulating (the order every run keeps).
  const start = !p.accumulate
    ? ""
    : p.tail
    ? `if (e < ${U.n}) { v = dst[e]; } else { v = tail[e - ${U.n}]; }`
    : "v = dst[e];";
  const store = p.tail
    ? `if (e < ${U.n}) { dst[e] = ${value}; } else { tail[e - ${U.n}] = v; }`
    : `dst[e] = ${value};`;
  const body = `
  var v = 0.0;
  ${start}
  for (var s = 0u; s < ${U.splits}; s++) {
    v += partial[s * ${U.stride} + e];
  }
  ${store}`;
  const extra = [
    ...(p.bias ? ["bias"] : []),
    ...(p.mask ? ["mask"] : []),
    ...(p.tail ? ["tail"] : []),
  ];
  const wgsl = `
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
${
    extra.map((name, i) =>
      `@group(0) @binding(${i + 2}) var<storage, ${name === "tail" ? "read_write" : "read"}> ` +
      `${name}: array<f32>;`
    ).join("\n")
  }
${uf.declare(2 + extra.length)}
${flatMain(64, U.total, body, { index: "e" })}
`;
  device.dispatch({
    name: `${p.name} sum`,
    wgsl,
    uniforms: uf.data(),
    workgroups: Math.ceil(total / 64),
    variant: "split-K sum",
    cost: { bytes: 4 * total * (p.splits + 1) },
  }, [
    p.partial,
    p.dst,
    ...(p.bias ? [p.bias.binding] : []),
    ...(p.mask ? [p.mask] : []),
    ...(p.tail ? [p.tail.dst] : []),
  ]);
}
