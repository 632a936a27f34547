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
import { flatMain } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

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
  program(device, fn, fn.value, fn.inputs, inputs, out, n, params, `${fn.name}`);
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
 * four elements at a time (the scalar function applied to each lane).
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
  const wgsl = `
${declarations.join("\n")}
@group(0) @binding(${names.length}) var<storage, read_write> out: array<vec4f>;
${uf.declare(names.length + 1)}
${[...new Set(fn.helpers)].join("\n")}
fn f(${signature}) -> f32 {
${lets.join("\n")}
  ${body}
}
${
    flatMain(
      WORKGROUP,
      "arrayLength(&out)",
      `\n${names.map((_, k) => `  let v${k} = operand${k}[i];`).join("\n")}
  out[i] = vec4f(${lanes.join(", ")});`,
    )
  }`;
  dispatchVec4(device, `${label} (${n})`, wgsl, uf, n, [...operands, out]);
}
