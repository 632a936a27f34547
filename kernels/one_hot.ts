/**
 * One-hot encoding of integer labels: `out[i, c] = scale` where `labels[i] == c`, else 0.
 * Cross-entropy uses it to pick each row's label without a gather op of its own.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { f32Literal, flatMain } from "./_program.ts";

const WORKGROUP = 256;

/**
 * Writes the `[n, classes]` one-hot matrix of `n` i32 labels. A label outside `[0, classes)`
 * fills its row with NaN.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { oneHot } from "./one_hot.ts";
 * const device = await Device.acquire();
 * const labels = device.alloc(8), out = device.alloc(24);
 * device.write(labels, new Int32Array([2, 0]));
 * oneHot(device, labels, out, 2, 3);
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [0, 0, 1, 1, 0, 0]
 * ```
 */
export function oneHot(
  device: Device,
  labels: GpuBuffer,
  out: GpuBuffer,
  n: number,
  classes: number,
  scale = 1,
): void {
  const total = n * classes;
  if (total === 0) return;
  const hot = f32Literal(scale);
  const body = `
  let row = i / ${classes}u;
  let column = i32(i % ${classes}u);
  let label = labels[row];
  // An out-of-range label poisons its row with NaN, so the loss says so instead of reading 0.
  let valid = label >= 0 && label < ${classes}i;
  out[i] = select(bitcast<f32>(0x7fc00000u), select(0.0, ${hot}, label == column), valid);`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${flatMain(WORKGROUP, total, body)}`;
  device.dispatch(
    { name: `one-hot [${n}, ${classes}]`, wgsl, workgroups: Math.ceil(total / WORKGROUP) },
    [{ buffer: labels }, { buffer: out }],
  );
}
