/**
 * The negative log-likelihood's two passes over `[N, C, S]` log-probabilities (S positions per
 * sample, 1 for `[N, C]`) and `[N, S]` i32 labels: a gather of each position's loss and
 * weight, and the backward scatter of the gradient into the chosen class. Labels are checked on
 * the GPU as the cross-entropy's are: one outside `[0, C)` (other than the ignored label) makes
 * its loss NaN and raises a device-side fault naming the op.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, sampleRuns } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

const WORKGROUP = 256;

/** The sizes and options both passes take. */
export interface NllSizes {
  /** Samples. */
  rows: number;
  /** Classes. */
  classes: number;
  /** Positions per sample (1 for `[N, C]` input). */
  positions: number;
  /** The label whose positions contribute nothing. */
  ignoreIndex: number;
  /** `[C]` class weights (default all 1). */
  weight?: GpuBuffer;
  /** Largest byte range of a per-sample operand to bind at once (default: the device's limit). */
  maxBindingBytes?: number;
}

/** WGSL reading the class weight of `c` (1 without weights). */
const classWeight = (weighted: boolean, c: string) => (weighted ? `weight[${c}]` : "1.0");

/**
 * Per position `p = n·S + s` of `[N, C, S]` log-probabilities `input` and `[N·S]` labels:
 * `loss[p] = −w[y]·input[n, y, s]` and `counted[p] = w[y]`, both 0 where `y` is ignored.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { nllGather } from "./nll_loss.ts";
 * const device = await Device.acquire();
 * const [input, labels, loss, counted] = [24, 8, 8, 8].map((b) => device.alloc(b));
 * device.write(input, new Float32Array([-0.1, -2.3, -1.2, -0.4, -3, -0.05]));
 * device.write(labels, new Int32Array([1, -100]));
 * const sizes = { rows: 2, classes: 3, positions: 1, ignoreIndex: -100 };
 * nllGather(device, { ...sizes, input, labels, loss, counted, op: "nllLoss" });
 * console.log(new Float32Array(await device.read(loss, 0, 8))); // [2.3, 0]
 * ```
 */
export function nllGather(
  device: Device,
  args: NllSizes & {
    input: GpuBuffer;
    labels: GpuBuffer;
    loss: GpuBuffer;
    counted: GpuBuffer;
    op: string;
  },
): void {
  const { rows, classes, positions } = args;
  if (rows * positions === 0) return;
  const fault = device.faultSlot(
    `label range: ${args.op}`,
    ([position, label, count]) =>
      `${args.op}: label ${label | 0} of sample ${position} is outside the ${count} classes ` +
      `[0, ${count})`,
  );
  const weighted = args.weight !== undefined;
  // Runs of whole samples, each operand's run in one binding (a big input takes several).
  const runs = sampleRuns(device.limits, args.op, rows, [
    ["input", args.input, classes * positions * 4],
    ["labels", args.labels, positions * 4],
    ["loss", args.loss, positions * 4],
    ["counted", args.counted, positions * 4],
  ], args.maxBindingBytes);
  for (const { start, count, parts } of runs) {
    const total = count * positions;
    const uf = new Uniforms();
    const u = uf.all({ total, classes, positions, first: start * positions });
    const [inputShift, labelShift, lossShift, countedShift] = parts.map((part, k) =>
      uf.u32(`shift${k}`, part.shift)
    );
    const ignore = `bitcast<i32>(${uf.u32("ignore", args.ignoreIndex)})`;
    const body = `
  let y = labels[${labelShift} + i];
  let n = i / ${u.positions};
  let s = i % ${u.positions};
  if (y == ${ignore}) {
    loss[${lossShift} + i] = 0.0;
    counted[${countedShift} + i] = 0.0;
    return;
  }
  if (y < 0 || y >= i32(${u.classes})) {
    raiseFault(${fault.code}u, ${u.first} + i, bitcast<u32>(y), ${u.classes});
    loss[${lossShift} + i] = bitcast<f32>(0x7fc00000u);
    counted[${countedShift} + i] = bitcast<f32>(0x7fc00000u);
    return;
  }
  let w = ${classWeight(weighted, "y")};
  loss[${lossShift} + i] = -w * input[${inputShift} + (n * ${u.classes} + u32(y)) * ${u.positions} + s];
  counted[${countedShift} + i] = w;`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> counted: array<f32>;
${faultWgsl(4)}
${weighted ? "@group(0) @binding(5) var<storage, read> weight: array<f32>;" : ""}
${uf.declare(weighted ? 6 : 5)}
${flatMain(WORKGROUP, u.total, body)}`;
    const buffers = [args.input, args.labels, args.loss, args.counted];
    device.dispatch(
      {
        name: `nll gather [${count}, ${classes}, ${positions}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(total / WORKGROUP),
        cost: { bytes: 16 * total },
      },
      [
        ...buffers.map((buffer, k) => ({ buffer, ...parts[k].range })),
        { buffer: fault.buffer },
        ...(args.weight ? [{ buffer: args.weight }] : []),
      ],
    );
  }
}

/**
 * The input's gradient: `out[n, c, s] = −w[c]·grad[p]` where `c` is position `p`'s label (not
 * ignored), else 0; `grad` holds one value per position, or one for all (`scalarGrad`, a
 * reduced loss's gradient already divided by what the mean divided by).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { nllScatter } from "./nll_loss.ts";
 * const device = await Device.acquire();
 * const [labels, grad, out] = [8, 4, 24].map((b) => device.alloc(b));
 * device.write(labels, new Int32Array([1, -100]));
 * device.write(grad, new Float32Array([0.5]));
 * const sizes = { rows: 2, classes: 3, positions: 1, ignoreIndex: -100 };
 * nllScatter(device, { ...sizes, labels, grad, out, scalarGrad: true });
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [0, -0.5, 0, 0, 0, 0]
 * ```
 */
export function nllScatter(
  device: Device,
  args: NllSizes & { labels: GpuBuffer; grad: GpuBuffer; out: GpuBuffer; scalarGrad: boolean },
): void {
  const { rows, classes, positions } = args;
  if (rows * classes * positions === 0) return;
  const weighted = args.weight !== undefined;
  // A one-element gradient is bound whole; per-position ones run with their samples.
  const operands = [
    ["labels", args.labels, positions * 4] as const,
    ...(args.scalarGrad ? [] : [["grad", args.grad, positions * 4] as const]),
    ["out", args.out, classes * positions * 4] as const,
  ];
  const runs = sampleRuns(device.limits, "nllLoss backward", rows, operands, args.maxBindingBytes);
  for (const { count, parts } of runs) {
    const total = count * classes * positions;
    const uf = new Uniforms();
    const u = uf.all({ total, classes, positions });
    const shifts = parts.map((part, k) => uf.u32(`shift${k}`, part.shift));
    const [labelShift, gradShift, outShift] = args.scalarGrad ? [shifts[0], "", shifts[1]] : shifts;
    const ignore = `bitcast<i32>(${uf.u32("ignore", args.ignoreIndex)})`;
    const body = `
  let s = i % ${u.positions};
  let c = (i / ${u.positions}) % ${u.classes};
  let p = (i / (${u.positions} * ${u.classes})) * ${u.positions} + s;
  let y = labels[${labelShift} + p];
  let g = grad[${args.scalarGrad ? "0" : `${gradShift} + p`}];
  out[${outShift} + i] = select(0.0, -${
      classWeight(weighted, "c")
    } * g, i32(c) == y && y != ${ignore});`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${weighted ? "@group(0) @binding(3) var<storage, read> weight: array<f32>;" : ""}
${uf.declare(weighted ? 4 : 3)}
${flatMain(WORKGROUP, u.total, body)}`;
    const [labels, grad, out] = args.scalarGrad
      ? [{ buffer: args.labels, ...parts[0].range }, { buffer: args.grad }, {
        buffer: args.out,
        ...parts[1].range,
      }]
      : parts.map((part, k) => ({ buffer: operands[k][1], ...part.range }));
    device.dispatch(
      {
        name: `nll scatter [${count}, ${classes}, ${positions}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(total / WORKGROUP),
        cost: { bytes: 8 * total },
      },
      [labels, grad, out, ...(args.weight ? [{ buffer: args.weight }] : [])],
    );
  }
}
