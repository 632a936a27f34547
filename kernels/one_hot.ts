/**
 * One-hot encoding of integer labels: `out[i, c] = scale` where `labels[i] == c`, else 0, with
 * the labels checked on the GPU (cross-entropy's kernels check them the same way).
 *
 * @module
 */

import { Uniforms } from "./_uniforms.ts";
import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, passWindows } from "./_program.ts";

const WORKGROUP = 256;

/**
 * Writes the `[n, classes]` one-hot matrix of `n` i32 labels. A label outside `[0, classes)`
 * fills its row with NaN and records a device-side fault, so the next read from the device
 * throws a `DeviceAssertionError` naming `op`, the label and its row.
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
  op = "oneHot",
): void {
  const total = n * classes;
  if (total === 0) return;
  const fault = device.faultSlot(
    `label range: ${op}`,
    ([row, label, count]) =>
      `${op}: label ${label | 0} of sample ${row} is outside the ${count} classes [0, ${count})`,
  );
  // A one-hot matrix is large (a batch of labels times the classes): it is written in windows,
  // each with the labels of its rows (a label is read at strides [1, 0] of [n, classes]).
  const views = [
    { buffer: labels, strides: [1, 0], offset: 0 },
    { buffer: out, strides: [classes, 1], offset: 0 },
  ];
  for (const w of passWindows(device, [n, classes], views, [])) {
    // Sizes and the scale (1/N in a mean loss) are uniforms: a new batch compiles nothing.
    const uf = new Uniforms();
    const hot = uf.f32("scale", scale);
    const [labelsBase, outBase] = w.bases;
    const u = uf.all({ count: w.count, start: w.start, classes, labelsBase, outBase });
    const body = `
  let i = ${u.start} + t;
  let row = i / ${u.classes};
  let column = i32(i % ${u.classes});
  let label = labels[row - ${u.labelsBase}];
  // An out-of-range label poisons its row with NaN, so the loss says so instead of reading 0,
  // and is reported at the next read.
  let valid = label >= 0 && label < i32(${u.classes});
  if (!valid && column == 0) { raiseFault(${fault.code}u, row, bitcast<u32>(label), ${u.classes}); }
  out[i - ${u.outBase}] = select(bitcast<f32>(0x7fc00000u), select(0.0, ${hot}, label == column), valid);`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${faultWgsl(2)}
${uf.declare(3)}
${flatMain(WORKGROUP, u.count, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `one-hot [${n}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
      },
      [...w.bindings, { buffer: fault.buffer }],
    );
  }
}
