/**
 * Local response normalisation across channels (AlexNet, section 3.3), NCHW f32:
 *
 *     s_i = k + α · Σ_{j ∈ window(i)} a_j²,   b_i = a_i · s_i^(−β)
 *
 * where window(i) is the `size` channels `[i − ⌊size/2⌋, i + ⌊(size−1)/2⌋]`, clipped to i's
 * channel group (each AlexNet tower normalises only its own maps), and α is not divided by
 * `size`. That is PyTorch's window: centred for an odd size, one channel longer before the
 * centre than after it for an even one.
 *
 * Each thread owns one spatial position of one group of one sample and slides the window down
 * the group's channels, keeping the window in registers: each input element is read once and
 * each output written once, the least traffic possible. Consecutive threads take consecutive
 * positions along W, so each channel step is one coalesced row of loads.
 *
 * @module
 */

import type { Uniforms } from "./_uniforms.ts";
import type { Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import { f32Literal, flatMainHead, reluMasked, splitBatch } from "./_program.ts";

/** NCHW shape of the tensor being normalised. */
export interface LrnShape {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** H. */
  height: number;
  /** W. */
  width: number;
}

/** Constants of the normalisation; the paper's are `size 5, k 2, alpha 1e-4, beta 0.75`. */
export interface LrnParams {
  /** Channels in the window: `⌊size/2⌋` before the centre, `⌊(size−1)/2⌋` after it. */
  size: number;
  /** Additive constant; must be positive so that `s` never reaches zero. */
  k: number;
  /** Scale of the sum of squares (not divided by `size`). */
  alpha: number;
  /** Exponent. */
  beta: number;
  /** Channels per group; windows never cross a group boundary. `channels` for no grouping. */
  groupSize: number;
}

/** Buffers of {@link lrn}, each `N·C·H·W` f32, allocated by the caller. */
export interface LrnBuffers {
  /** Input a. */
  x: GpuBuffer;
  /** Output b. */
  out: GpuBuffer;
  /** `s = k + α·Σ a²` per element, kept for {@link lrnBackward}. */
  scale: GpuBuffer;
}

/** Buffers of {@link lrnBackward}, each `N·C·H·W` f32. */
export interface LrnBackwardBuffers {
  /** The forward input a. */
  x: GpuBuffer;
  /**
   * The forward output b. Optional and not read: `b/s = a·s^(−β)/s` is recomputed from `x` and
   * `scale`, which costs two cheap operations and saves reading a whole tensor.
   */
  out?: GpuBuffer;
  /** The `scale` written by {@link lrn}. */
  scale: GpuBuffer;
  /** Gradient of the output. */
  gradOut: GpuBuffer;
  /** Gradient of the input; every element is written. */
  gradX: GpuBuffer;
  /**
   * A ReLU's output (when a ReLU made `x`, this is `x` itself): gradX is multiplied by its mask
   * (`gradX` where `mask > 0`, else 0), which gives the gradient of the ReLU's input without a
   * separate pass. Passing `x` costs no extra read.
   */
  mask?: GpuBuffer;
}

/** Options of the LRN kernels. */
export interface LrnOptions {
  /**
   * Largest byte range to bind at once (default and ceiling: the device's
   * `maxStorageBufferBindingSize`). Larger tensors are processed in slices of the batch;
   * tests lower it to force that path on small shapes.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

/**
 * Forward LRN: writes b to `out` and s to `scale`.
 *
 * @example The paper's constants on two towers of 48 maps
 * ```ts
 * import { Device } from "./device.ts";
 * import { lrn } from "./lrn.ts";
 * const device = await Device.acquire();
 * const shape = { batch: 1, channels: 96, height: 2, width: 2 };
 * const bytes = 96 * 4 * 4;
 * const x = device.alloc(bytes), out = device.alloc(bytes), scale = device.alloc(bytes);
 * device.write(x, new Float32Array(96 * 4).fill(10));
 * lrn(device, shape, { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: 48 }, { x, out, scale });
 * console.log(new Float32Array(await device.read(out, 0, 4))[0]); // 10 / (2 + 1e-4·300)^0.75 ≈ 5.88
 * ```
 */
export function lrn(
  device: Device,
  shape: LrnShape,
  p: LrnParams,
  buffers: LrnBuffers,
  options: LrnOptions = {},
): void {
  run(device, "lrn", shape, p, options, { pass: "forward", mask: "none" }, [
    ["x", buffers.x],
    ["out", buffers.out],
    ["scale", buffers.scale],
  ]);
}

/**
 * Backward LRN: `∂L/∂a_j = g_j·s_j^(−β) − 2αβ·a_j·Σ_{i : j ∈ window(i)} g_i·b_i / s_i`.
 * j is in window(i) when i is in j's mirrored window `[j − ⌊(size−1)/2⌋, j + ⌊size/2⌋]` (same
 * group), so the sum runs over that window and the forward pass's sliding scheme applies.
 *
 * @example Gradient after a forward pass
 * ```ts
 * import { Device } from "./device.ts";
 * import { lrn, lrnBackward } from "./lrn.ts";
 * const device = await Device.acquire();
 * const shape = { batch: 1, channels: 8, height: 1, width: 1 };
 * const p = { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: 8 };
 * const [x, out, scale, gradOut, gradX] = [0, 1, 2, 3, 4].map(() => device.alloc(32));
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * device.write(gradOut, new Float32Array(8).fill(1));
 * lrn(device, shape, p, { x, out, scale });
 * lrnBackward(device, shape, p, { x, scale, gradOut, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 32))); // ≈ [0.594, 0.593, …, 0.584]
 * ```
 */
export function lrnBackward(
  device: Device,
  shape: LrnShape,
  p: LrnParams,
  buffers: LrnBackwardBuffers,
  options: LrnOptions = {},
): void {
  // `out` is not bound, but a buffer passed for it must still have the right size.
  if (buffers.out) run(device, "lrnBackward", shape, p, options, null, [["out", buffers.out]]);
  const { mask } = buffers;
  // A mask that is x is read where x is; another one is its own operand.
  const maskOf = !mask ? "none" : mask === buffers.x ? "x" : "operand";
  run(device, "lrnBackward", shape, p, options, { pass: "backward", mask: maskOf }, [
    ["x", buffers.x],
    ["scale", buffers.scale],
    ["gradOut", buffers.gradOut],
    ...(maskOf === "operand" ? [["mask", mask!] as [string, GpuBuffer]] : []),
    ["gradX", buffers.gradX],
  ], maskOf === "none" ? undefined : "relu-mask");
}

/** The sizes a kernel reads from its uniforms. */
type Sizes = "threads" | "hw" | "groups" | "channels" | "groupSize" | "shift";

/** What a shader generator gets: the constants, and the sizes as uniforms. */
interface Shader {
  p: LrnParams;
  /** The sizes as uniform expressions, and the block that holds them. */
  u: Record<Sizes, string>;
  uniforms: Uniforms;
}

/** What an LRN kernel's WGSL depends on besides the constants: its pass and the ReLU mask. */
interface Pass {
  pass: "forward" | "backward";
  /** Where the backward pass's ReLU mask comes from (see {@link backwardWgsl}). */
  mask: "none" | "x" | "operand";
}

/** An LRN kernel and its uniforms, generated once per pass, constants and sizes. */
const kernel = memoisedKernel((k: Pass & { p: LrnParams }, u: Record<Sizes, string>, uniforms) =>
  k.pass === "forward"
    ? forwardWgsl({ p: k.p, u, uniforms })
    : backwardWgsl({ p: k.p, u, uniforms }, k.mask)
);

/**
 * Checks the arguments and the capacities of `operands` (all N·C·H·W f32), then dispatches one
 * shader per slice of the batch, binding the operands in order; a null `pass` only checks.
 * `variant` names a fused variant in the profiler.
 */
function run(
  device: Device,
  op: string,
  shape: LrnShape,
  p: LrnParams,
  options: LrnOptions,
  pass: Pass | null,
  operands: [name: string, buffer: GpuBuffer][],
  variant?: string,
): void {
  const sampleBytes = checkArguments(op, shape, p);
  for (const [name, buffer] of operands) {
    if (buffer.capacity < shape.batch * sampleBytes) {
      throw new RangeError(
        `${op}: ${name} holds ${buffer.capacity} bytes but the shape needs ` +
          `${shape.batch * sampleBytes}`,
      );
    }
  }
  if (!pass) return;
  const runs = splitBatch(device.limits, {
    what: op,
    batch: shape.batch,
    sampleBytes: [sampleBytes],
    maxBindingBytes: options.maxBindingBytes,
  });
  const groups = shape.channels / p.groupSize;
  for (const { count, parts: [{ range, shift }] } of runs) {
    const threads = count * groups * shape.height * shape.width;
    const { wgsl, uniforms } = kernel({ ...pass, p }, {
      threads,
      hw: shape.height * shape.width,
      groups,
      channels: shape.channels,
      groupSize: p.groupSize,
      shift,
    });
    device.dispatch(
      {
        name: `${op}[${count}×${shape.channels}×${shape.height}×${shape.width}, ` +
          `size ${p.size}, groups of ${p.groupSize}]`,
        wgsl,
        uniforms,
        workgroups: Math.ceil(threads / WORKGROUP),
        variant,
        cost: { bytes: 4 * operands.length * count * shape.channels * shape.height * shape.width },
      },
      operands.map(([, buffer]) => ({ buffer, ...range })),
    );
  }
}

/** WGSL for `s^(−β)`; exact shortcuts for common β avoid pow's exp2/log2 error. */
function powNegBeta(beta: number): string {
  const body = beta === 0.75
    ? "let r = inverseSqrt(s); return r * sqrt(r);"
    : beta === 0.5
    ? "return inverseSqrt(s);"
    : beta === 1
    ? "return 1.0 / s;"
    : beta === 0
    ? "return 1.0;"
    : `return pow(s, ${f32Literal(-beta)});`;
  return `fn powNegBeta(s: f32) -> f32 { ${body} }`;
}

/** Shared head: bindings, index maths and the base offset of the thread's channel column. */
function head({ p, u, uniforms }: Shader, inputs: string[], outputs: string[]): string {
  const decls = [...inputs, ...outputs].map((name, i) => {
    const access = i < inputs.length ? "read" : "read_write";
    return `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<f32>;`;
  });
  return `${decls.join("\n")}
${uniforms.declare(decls.length)}
${powNegBeta(p.beta)}
${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let hw = ${u.hw};
  let groupSize = ${u.groupSize};
  let pos = idx % hw;
  let rest = idx / hw;
  // Element of channel 0 of this thread's group (the binding starts shift elements early).
  let base = ${u.shift} +
    ((rest / ${u.groups}) * ${u.channels} + (rest % ${u.groups}) * groupSize) * hw + pos;`;
}

/**
 * Register names `<prefix>0 … <prefix>{n−1}`, oldest first, and the WGSL that shifts them one
 * place (the oldest falls out). Baking the window size in lets the window live in registers.
 */
function registers(prefix: string, n: number): { names: string[]; advance: string } {
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const advance = names.slice(0, -1).map((name, i) => `${name} = ${names[i + 1]};`).join(" ");
  return { names, advance };
}

/**
 * Step i loads channel i (zero past the group's end) and finishes channel i − after, whose
 * whole window (the `size` registers, channels i − size + 1 … i) is then loaded; the zeros
 * stand for channels outside the group.
 */
function forwardWgsl(shader: Shader): string {
  const { p } = shader;
  const after = Math.floor((p.size - 1) / 2);
  const sq = registers("sq", p.size);
  const a = registers("a", after + 1);
  return `// lrn forward
${head(shader, ["x"], ["normed", "scale"])}
  var ${sq.names.join(" = 0.0;\n  var ")} = 0.0;
  var ${a.names.join(" = 0.0;\n  var ")} = 0.0;
  for (var i = 0u; i < groupSize + ${after}u; i++) {
    ${sq.advance}
    ${a.advance}
    var v = 0.0;
    if (i < groupSize) { v = x[base + i * hw]; }
    ${sq.names[p.size - 1]} = v * v;
    ${a.names[after]} = v;
    if (i >= ${after}u) {
      let at = base + (i - ${after}u) * hw;
      let s = ${f32Literal(p.k)} + ${f32Literal(p.alpha)} * (${sq.names.join(" + ")});
      scale[at] = s;
      normed[at] = a0 * powNegBeta(s);
    }
  }
}
`;
}

/**
 * Same sliding scheme; the registers hold t_i = g_i·a_i·s_i^(−β)/s_i (= g_i·b_i/s_i) for the
 * mirrored window and a_j, g_j·s_j^(−β) for the centre channel j = i − before. With a ReLU
 * mask, the result is masked as it is stored, by the centre's a_j (`x`) or by the mask operand.
 */
function backwardWgsl(shader: Shader, mask: Pass["mask"]): string {
  const { p } = shader;
  const before = Math.floor(p.size / 2);
  const t = registers("t", p.size);
  const a = registers("a", before + 1);
  const gp = registers("gp", before + 1);
  return `// lrn backward
${head(shader, ["x", "scale", "gradOut", ...(mask === "operand" ? ["mask"] : [])], ["gradX"])}
  var ${t.names.join(" = 0.0;\n  var ")} = 0.0;
  var ${a.names.join(" = 0.0;\n  var ")} = 0.0;
  var ${gp.names.join(" = 0.0;\n  var ")} = 0.0;
  for (var i = 0u; i < groupSize + ${before}u; i++) {
    ${t.advance}
    ${a.advance}
    ${gp.advance}
    var tv = 0.0;
    var av = 0.0;
    var gpv = 0.0;
    if (i < groupSize) {
      let at = base + i * hw;
      av = x[at];
      let s = scale[at];
      gpv = gradOut[at] * powNegBeta(s);
      tv = gpv * av / s;
    }
    ${t.names[p.size - 1]} = tv;
    ${a.names[before]} = av;
    ${gp.names[before]} = gpv;
    if (i >= ${before}u) {
      let at = base + (i - ${before}u) * hw;
      let sum = ${t.names.join(" + ")};
      let v = gp0 - ${f32Literal(2 * p.alpha * p.beta)} * a0 * sum;
      gradX[at] = ${mask === "none" ? "v" : reluMasked("v", mask === "x" ? "a0" : "mask[at]")};
    }
  }
}
`;
}

function checkArguments(op: string, shape: LrnShape, p: LrnParams): number {
  for (const key of ["batch", "channels", "height", "width"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${op}: ${key} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(p.size) || p.size < 1) {
    throw new RangeError(`${op}: size must be a positive integer, got ${p.size}`);
  }
  if (!Number.isInteger(p.groupSize) || p.groupSize < 1 || shape.channels % p.groupSize !== 0) {
    throw new RangeError(
      `${op}: groupSize ${p.groupSize} must be a positive integer dividing channels ` +
        `(${shape.channels})`,
    );
  }
  for (const key of ["k", "alpha", "beta"] as const) {
    if (!Number.isFinite(p[key])) {
      throw new RangeError(`${op}: ${key} must be finite, got ${p[key]}`);
    }
  }
  if (!(p.k > 0) || p.alpha < 0) {
    throw new RangeError(`${op}: need k > 0 and alpha ≥ 0 (got k ${p.k}, alpha ${p.alpha})`);
  }
  return 4 * shape.channels * shape.height * shape.width;
}
