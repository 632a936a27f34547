/**
 * Maps of one or two same-shape tensors through a scalar function written as WGSL statements,
 * with its gradients: the one mechanism behind the activations (`activation.ts`) and the
 * elementwise terms of the losses (`loss_terms.ts`). A function is a value and, per input, a
 * gradient; each is a pass of its own (a forward reads its inputs once and writes once, a
 * backward reads the output's gradient and the inputs once and writes one gradient), so a
 * GELU or a smooth-L1 term costs one pass each way however many operations its formula has.
 * Parameters (a slope, a threshold) are uniforms: a new value compiles nothing, and each
 * direction of each function is one pipeline.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { dispatchVec4 } from "./elementwise.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, forEachWindow } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/**
 * The inputs a function is defined for (PyTorch raises outside them). The forward pass checks
 * every element as it computes it and records a device-side fault at one outside, which the
 * next read from the device throws as a `DeviceAssertionError`: no readback per call.
 */
export interface ScalarDomain {
  /** A WGSL boolean expression of the inputs (not the parameters), true inside the domain. */
  readonly test: string;
  /** The input whose value the message shows: its index in `inputs`. */
  readonly input: number;
  /** The error's text from the flat position of an element outside and that input's value. */
  readonly message: (position: number, value: number) => string;
}

/**
 * A scalar function of one input `x` or two (`x`, `t`), with parameters, in WGSL. The bodies
 * are WGSL statements ending in a `return` of an f32; they may call the `helpers` and read the
 * parameters by their names.
 */
export interface ScalarFunction {
  /** Names the function in dispatch labels and errors. */
  readonly name: string;
  /** The inputs' names in the bodies: `["x"]` or `["x", "t"]`. */
  readonly inputs: readonly string[];
  /** The names of the f32 parameters, in the order their values are given. */
  readonly params: readonly string[];
  /**
   * WGSL functions the bodies call, each after those it calls (a function listed twice is
   * declared once). They take what they need as arguments: only the bodies read parameters.
   */
  readonly helpers?: readonly string[];
  /** The value's body. */
  readonly value: string;
  /** Where the inputs must lie, checked by the forward pass (default: anywhere). */
  readonly domain?: ScalarDomain;
  /**
   * Per input, the body of its gradient, which reads the inputs and `g`, the output's
   * gradient (PyTorch's formula, so its conventions at kinks and for infinities hold).
   */
  readonly grads: readonly string[];
}

const WORKGROUP = 256;

/**
 * `out[i] = fn(inputs[0][i], …)` over `n` contiguous f32 elements, the parameters' values in
 * `fn.params` order.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { mapScalarFunction, type ScalarFunction } from "./_scalar_map.ts";
 * const device = await Device.acquire();
 * const cube: ScalarFunction = {
 *   name: "scaledCube", inputs: ["x"], params: ["scale"],
 *   value: "return scale * x * x * x;", grads: ["return g * 3.0 * scale * x * x;"],
 * };
 * const x = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, -1, 0]));
 * mapScalarFunction(device, cube, [x], out, 4, [2]);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [2, 16, -2, 0]
 * ```
 */
export function mapScalarFunction(
  device: Device,
  fn: ScalarFunction,
  inputs: readonly GpuBuffer[],
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  program(device, fn, fn.value, fn.inputs, inputs, out, n, params, `${fn.name}`, fn.domain);
}

/**
 * The gradient of input `wrt` of {@link mapScalarFunction}: `out[i]` from the output's
 * gradient `grad[i]` and the inputs at `i`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { mapScalarFunctionGrad, type ScalarFunction } from "./_scalar_map.ts";
 * const device = await Device.acquire();
 * const square: ScalarFunction = {
 *   name: "square", inputs: ["x"], params: [], value: "return x * x;", grads: ["return g * 2.0 * x;"],
 * };
 * const g = device.alloc(16), x = device.alloc(16), out = device.alloc(16);
 * device.write(g, new Float32Array([1, 1, 1, 0.5]));
 * device.write(x, new Float32Array([1, 2, -1, 4]));
 * mapScalarFunctionGrad(device, square, 0, g, [x], out, 4);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [2, 4, -2, 4]
 * ```
 */
export function mapScalarFunctionGrad(
  device: Device,
  fn: ScalarFunction,
  wrt: number,
  grad: GpuBuffer,
  inputs: readonly GpuBuffer[],
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  const body = fn.grads[wrt];
  if (body === undefined) throw new RangeError(`${fn.name}: no input ${wrt}`);
  const names = [...fn.inputs, "g"];
  program(device, fn, body, names, [...inputs, grad], out, n, params, `${fn.name} grad ${wrt}`);
}

/**
 * One pass: `out[i] = f(operands[0][i], …)`, `f` the function with `body` over `names`, read
 * four elements at a time (the scalar function applied to each lane); with a `domain`, each
 * element is also checked (see {@link ScalarDomain}).
 */
function program(
  device: Device,
  fn: ScalarFunction,
  body: string,
  names: readonly string[],
  operands: readonly GpuBuffer[],
  out: GpuBuffer,
  n: number,
  params: readonly number[],
  label: string,
  domain?: ScalarDomain,
): void {
  if (operands.length !== names.length) {
    throw new RangeError(`${label}: ${operands.length} operands for ${names.length} inputs`);
  }
  if (params.length !== fn.params.length) {
    throw new RangeError(`${label}: ${params.length} parameters for [${fn.params}]`);
  }
  // A parameter is a uniform only where the body reads it: an unread uniform block would leave
  // the pipeline's layout, and its binding with it.
  const uf = new Uniforms();
  // The window's first element is registered first: word 0, set per window below.
  const check = domain && {
    first: uf.u32("first", 0),
    n: uf.u32("n", n),
    fault: device.faultSlot(
      `domain: ${fn.name}`,
      ([at, bits]) => domain.message(at, new Float32Array(Uint32Array.of(bits).buffer)[0]),
    ),
  };
  const reads = (name: string) => new RegExp(`\\b${name}\\b`).test(body);
  const lets = fn.params.flatMap((name, k) =>
    reads(name) ? [`  let ${name} = ${uf.f32(name, params[k])};`] : []
  );
  const signature = names.map((name) => `${name}: f32`).join(", ");
  const declarations = names.map((_, k) =>
    `@group(0) @binding(${k}) var<storage, read> operand${k}: array<vec4f>;`
  );
  const lanes = ["x", "y", "z", "w"].map((lane) =>
    `f(${names.map((_, k) => `v${k}.${lane}`).join(", ")})`
  );
  // Lanes past `n` (the last vec4's padding) hold whatever the buffer held: never checked.
  const checks = check
    ? `
  let at = ${check.first} + i * 4u;
  for (var lane = 0u; lane < 4u; lane++) {
    if (at + lane < ${check.n} && !inDomain(${names.map((_, k) => `v${k}[lane]`).join(", ")})) {
      raiseFault(${check.fault.code}u, at + lane, bitcast<u32>(v${domain!.input}[lane]), 0u);
    }
  }`
    : "";
  const wgsl = `
${declarations.join("\n")}
@group(0) @binding(${names.length}) var<storage, read_write> out: array<vec4f>;
${check ? faultWgsl(names.length + 1) : ""}
${uf.declare(names.length + (check ? 2 : 1))}
${[...new Set(fn.helpers)].join("\n")}
fn f(${signature}) -> f32 {
${lets.join("\n")}
  ${body}
}
${check ? `fn inDomain(${signature}) -> bool {\n  return ${domain!.test};\n}` : ""}
${
    flatMain(
      WORKGROUP,
      "arrayLength(&out)",
      `\n${names.map((_, k) => `  let v${k} = operand${k}[i];`).join("\n")}
  out[i] = vec4f(${lanes.join(", ")});${checks}`,
    )
  }`;
  const name = `${label} (${n})`;
  if (!check) {
    dispatchVec4(device, name, wgsl, uf, n, [...operands, out]);
    return;
  }
  const faults = { buffer: check.fault.buffer };
  forEachWindow(device, n, [...operands, out], (bindings, count, start) => {
    const uniforms = uf.data();
    uniforms[0] = start;
    const workgroups = Math.ceil(count / 4 / WORKGROUP);
    const cost = { bytes: 4 * count * (operands.length + 1) };
    device.dispatch({ name, wgsl, uniforms, workgroups, cost }, [...bindings, faults]);
  });
}
