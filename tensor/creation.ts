/**
 * Creating tensors: from nested arrays or typed arrays, constants, ranges and random draws.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { currentDevice } from "./default_device.ts";
import { broadcast, fill, upload } from "./_primitives.ts";
import { requireDevice } from "./_tensor_args.ts";
import { checkOptions, optionNames } from "./options.ts";
import {
  describeValue,
  type DType,
  numel,
  plural,
  type Shape,
  ShapeError,
  validateShape,
} from "./shape.ts";
import { fromRaw, rawOf, Tensor } from "./tensor.ts";
import { tidy } from "./memory.ts";
import { globalGenerator } from "./random.ts";
import { linkReplicas } from "./transfer.ts";

/** Options shared by the creation functions. */
export interface CreateOptions<D extends DType = "f32"> {
  /** Where the tensor lives (default: the default device). */
  device?: Device;
  /** Element type (default `f32`). */
  dtype?: D;
  /** Whether backward computes a gradient for it (f32 only, as PyTorch's floating point). */
  requiresGrad?: boolean;
}

const CREATE_NAMES = { device: true, dtype: true, requiresGrad: true } as const;
const CREATE_OPTIONS = optionNames<CreateOptions<DType>>(CREATE_NAMES);

/**
 * `options` of a creation function `op`, checked: no unknown key, a dtype this library has, and
 * `requiresGrad` only for f32 (as torch's "only Tensors of floating point dtype can require
 * gradients": an integer leaf has no gradient to accumulate, and its `.grad` would stay null
 * without a word). `extra` names the op's own options.
 */
function creationOptions<D extends DType>(
  op: string,
  options: CreateOptions<D> | undefined,
  names: readonly string[] = CREATE_OPTIONS,
  defaultDtype: DType = "f32",
): { device: Device; dtype: D; requiresGrad: boolean } {
  checkOptions(op, options, names);
  const { device, dtype = defaultDtype as D, requiresGrad = false } = options ?? {};
  if (dtype !== "f32" && dtype !== "i32") {
    throw new TypeError(`${op}: dtype must be "f32" or "i32", got ${describeValue(dtype)}`);
  }
  if (typeof requiresGrad !== "boolean") {
    throw new TypeError(
      `${op}: requiresGrad must be a boolean, got ${describeValue(requiresGrad)}`,
    );
  }
  if (requiresGrad && dtype !== "f32") {
    throw new TypeError(`${op}: only f32 tensors can require gradients, got ${dtype}`);
  }
  if (device !== undefined) requireDevice(op, device);
  return { device: device ?? currentDevice(), dtype, requiresGrad };
}

/** Throws unless `shape` is an array of sizes, naming `op` and the form it takes. */
function requireShapeArray(op: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(
      `${op}: the shape is an array of sizes, as ${op}([2, 3]), got ${describeValue(shape)}`,
    );
  }
  validateShape(shape, op);
}

/** Nested arrays of numbers. */
export type NestedNumbers = number | readonly NestedNumbers[];

/**
 * The shape type of a nested array literal: its lengths, as literals where the literal is a
 * tuple (`tensor([[1, 2], [3, 4]])` is a `Tensor<[2, 2]>`), `number` where it is an array.
 */
export type NestedShape<T> = T extends number ? []
  : T extends readonly [] ? [0]
  : T extends readonly (infer U)[] ? [T["length"], ...NestedShape<U>]
  : Shape;

function flatten(data: NestedNumbers, shape: number[], depth: number, out: number[]): void {
  if (typeof data === "number") {
    if (depth !== shape.length) throw new ShapeError("tensor: ragged nested array");
    out.push(data);
    return;
  }
  if (!Array.isArray(data)) {
    // A string is iterable (each character a string again): without this check it recursed
    // until the stack overflowed.
    throw new TypeError(`tensor: ${describeValue(data)} is not a number`);
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new ShapeError("tensor: ragged nested array");
  for (const item of data) flatten(item, shape, depth + 1, out);
}

/**
 * A tensor from nested arrays (shape inferred) or a typed array with an explicit shape.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "./default_device.ts";
 * import { tensor } from "./creation.ts";
 * await defaultDevice();
 * const t = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(t.shape); // [2, 3]
 * const labels = tensor(new Int32Array([0, 2]), { shape: [2], dtype: "i32" });
 * console.log(labels.dtype); // "i32"
 * ```
 */
export function tensor<D extends DType = "f32">(
  data: NestedNumbers,
  options: CreateOptions<D> & { shape: readonly number[] },
): Tensor<Shape, D>;
/** A tensor from a nested array literal; its shape type comes from the literal. */
export function tensor<const T extends NestedNumbers, D extends DType = "f32">(
  data: T,
  options?: CreateOptions<D>,
): Tensor<NestedShape<T>, D>;
/** A tensor from a typed array; `shape` defaults to one axis of its length. */
export function tensor<D extends DType = "f32">(
  data: Float32Array | Int32Array,
  options?: CreateOptions<D> & { shape?: readonly number[] },
): Tensor<Shape, D>;
export function tensor<D extends DType = "f32">(
  data: NestedNumbers | Float32Array | Int32Array,
  options: CreateOptions<D> & { shape?: readonly number[] } = {},
): Tensor<Shape, D> {
  if (Array.isArray(options)) {
    // tfjs's tf.tensor(values, shape): a shape in the options' place would otherwise be read
    // as options with no key, and the data made one axis.
    throw new TypeError(
      `tensor: the shape goes in the options, as tensor(data, { shape: [${options}] })`,
    );
  }
  const { shape: given, ...rest } = options;
  const { device, dtype, requiresGrad } = creationOptions("tensor", rest as CreateOptions<D>);
  let values: ArrayLike<number>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    if (!(data instanceof Float32Array || data instanceof Int32Array)) {
      throw new TypeError(
        `tensor: typed arrays are Float32Array or Int32Array, got ${describeValue(data)}`,
      );
    }
    values = data;
    shape = [data.length];
  } else {
    const flat: number[] = [];
    shape = [];
    flatten(data, shape, 0, flat);
    values = flat;
  }
  if (given !== undefined) {
    requireShapeArray("tensor", given);
    shape = [...given];
  }
  validateShape(shape, "tensor");
  if (numel(shape) !== values.length) {
    throw new ShapeError(`tensor: ${plural(values.length, "value")} cannot fill shape [${shape}]`);
  }
  if (dtype === "i32") {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1) {
        throw new RangeError(`tensor: value ${values[i]} at ${i} is not a 32-bit integer`);
      }
    }
  }
  return fromTypedArray(
    dtype === "i32" ? Int32Array.from(values) : Float32Array.from(values),
    shape,
    { device, dtype, requiresGrad },
  );
}

/**
 * A tensor from a typed array without converting it (its length must match the shape); the
 * dtype follows the array (`Int32Array` → i32) unless given.
 *
 * @example
 * ```ts
 * import { defaultDevice, fromTypedArray } from "../mod.ts";
 * await defaultDevice();
 * const labels = fromTypedArray(new Int32Array([3, 1]), [2]);
 * console.log(labels.dtype, await labels.toArray()); // "i32" [3, 1]
 * ```
 */
export function fromTypedArray<D extends DType = "f32">(
  data: Float32Array | Int32Array,
  shape: readonly number[],
  options: CreateOptions<D> = {},
): Tensor<Shape, D> {
  const own = data instanceof Int32Array ? "i32" : "f32";
  const { device, dtype, requiresGrad } = creationOptions(
    "fromTypedArray",
    options,
    undefined,
    own,
  );
  if (!(data instanceof Float32Array || data instanceof Int32Array)) {
    throw new TypeError(
      `fromTypedArray: data must be a Float32Array or an Int32Array, got ${describeValue(data)}`,
    );
  }
  if (dtype !== own) {
    // The bits are uploaded as they are: an Int32Array read as f32 would be garbage.
    throw new TypeError(
      `fromTypedArray: a ${data.constructor.name} holds ${own}, not ${dtype}; ` +
        `convert it, or use tensor(data, { dtype: "${dtype}" })`,
    );
  }
  // A negative size would otherwise pass for a tensor of no elements.
  requireShapeArray("fromTypedArray", shape);
  if (numel(shape) !== data.length) {
    throw new ShapeError(
      `fromTypedArray: ${plural(data.length, "value")} cannot fill shape [${shape}]`,
    );
  }
  return fromRaw(upload(device, data, shape, dtype), requiresGrad);
}

const REPLICATE_OPTIONS = ["dtype"];

/**
 * The same host data written to each of `devices`: one tensor per device, in order. `.to()`
 * between them returns the copy already there, so data that starts on the host (a batch of
 * images for a model split over devices) is never copied from one device to another. The copies
 * are data, not parameters: they require no gradient.
 *
 * @example
 * ```ts
 * import { Device } from "../mod.ts";
 * import { replicate } from "./creation.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const [onA, onB] = replicate(new Float32Array([1, 2, 3]), [3], [a, b]);
 * console.log((await onA.to(b)) .device === b, await onB.toArray()); // true [1, 2, 3]
 * ```
 */
export function replicate<D extends DType = "f32">(
  data: Float32Array | Int32Array,
  shape: readonly number[],
  devices: readonly Device[],
  options: Omit<CreateOptions<D>, "device" | "requiresGrad"> = {},
): Tensor<Shape, D>[] {
  checkOptions("replicate", options, REPLICATE_OPTIONS);
  const copies = [...new Set(devices)].map((device) =>
    fromTypedArray(data, shape, { ...options, device })
  );
  linkReplicas(copies);
  return copies;
}

/**
 * A tensor filled with `value`, f32 or (with `dtype: "i32"`) i32, as `torch.full`; an i32
 * tensor's value must be a 32-bit integer.
 *
 * @example
 * ```ts
 * import { defaultDevice, full } from "../mod.ts";
 * await defaultDevice();
 * console.log(await full([2], 7).toArray()); // [7, 7]
 * const ignored = full([2], -100, { dtype: "i32" });
 * console.log(ignored.dtype, await ignored.toArray()); // "i32" [-100, -100]
 * ```
 */
export function full<const S extends readonly number[], D extends DType = "f32">(
  shape: S,
  value: number,
  options: CreateOptions<D> = {},
): Tensor<S, D> {
  return filled("full", shape, value, options);
}

/** `full` on behalf of `op` (its name in errors). */
function filled<S extends readonly number[], D extends DType>(
  op: string,
  shape: S,
  value: number,
  options: CreateOptions<D>,
): Tensor<S, D> {
  const { device, dtype, requiresGrad } = creationOptions(op, options);
  requireShapeArray(op, shape);
  if (typeof value !== "number") {
    throw new TypeError(`${op}: the fill value must be a number, got ${describeValue(value)}`);
  }
  if (dtype === "f32") return fromRaw(fill(device, shape, value), requiresGrad);
  if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
    throw new RangeError(`${op}: ${value} is not a 32-bit integer, and the dtype is i32`);
  }
  // The f32 fill cannot write every i32 (past 2²⁴, or bit patterns that are NaN as f32): one
  // element uploaded and broadcast by the (bitwise) strided copy.
  const one = upload(device, Int32Array.of(value), [], "i32");
  const out = broadcast(one, shape);
  one.dispose();
  return fromRaw(out);
}

/**
 * A tensor of zeros, f32 or (with `dtype: "i32"`) i32, as `torch.zeros`.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "./default_device.ts";
 * import { zeros } from "./creation.ts";
 * await defaultDevice();
 * console.log(await zeros([2, 2]).toArray()); // [[0, 0], [0, 0]]
 * console.log(zeros([3], { dtype: "i32" }).dtype); // "i32"
 * ```
 */
export function zeros<const S extends readonly number[], D extends DType = "f32">(
  shape: S,
  options: CreateOptions<D> = {},
): Tensor<S, D> {
  return filled("zeros", shape, 0, options);
}

/**
 * A tensor of ones, f32 or (with `dtype: "i32"`) i32, as `torch.ones`.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * await defaultDevice();
 * console.log(await ones([1, 3]).toArray()); // [[1, 1, 1]]
 * console.log(await ones([2], { dtype: "i32" }).toArray()); // [1, 1]
 * ```
 */
export function ones<const S extends readonly number[], D extends DType = "f32">(
  shape: S,
  options: CreateOptions<D> = {},
): Tensor<S, D> {
  return filled("ones", shape, 1, options);
}

/**
 * A tensor of `x`'s shape filled with `value`, as `torch.full_like`: its dtype and device are
 * `x`'s unless given (then the value must suit the dtype, as for {@link full}).
 *
 * @example
 * ```ts
 * import { defaultDevice, fullLike, tensor } from "../mod.ts";
 * await defaultDevice();
 * const labels = tensor([3, 1], { dtype: "i32" });
 * console.log(await fullLike(labels, -1).toArray()); // [-1, -1]
 * console.log(fullLike(labels, 0.5, { dtype: "f32" }).dtype); // "f32"
 * ```
 */
export function fullLike<S extends Shape, D extends DType, E extends DType = D>(
  x: Tensor<S, D>,
  value: number,
  options: CreateOptions<E> = {},
): Tensor<S, E> {
  return filledLike("fullLike", x, value, options);
}

/**
 * Zeros of `x`'s shape, dtype and device (each may be given instead), as `torch.zeros_like`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, zerosLike } from "../mod.ts";
 * await defaultDevice();
 * const counts = zerosLike(tensor([[1, 2]], { dtype: "i32" }));
 * console.log(counts.dtype, await counts.toArray()); // "i32" [[0, 0]]
 * ```
 */
export function zerosLike<S extends Shape, D extends DType, E extends DType = D>(
  x: Tensor<S, D>,
  options: CreateOptions<E> = {},
): Tensor<S, E> {
  return filledLike("zerosLike", x, 0, options);
}

/**
 * Ones of `x`'s shape, dtype and device (each may be given instead), as `torch.ones_like`.
 *
 * @example
 * ```ts
 * import { defaultDevice, onesLike, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await onesLike(tensor([5, 6, 7])).toArray()); // [1, 1, 1]
 * ```
 */
export function onesLike<S extends Shape, D extends DType, E extends DType = D>(
  x: Tensor<S, D>,
  options: CreateOptions<E> = {},
): Tensor<S, E> {
  return filledLike("onesLike", x, 1, options);
}

/** The `*Like` functions: {@link full} with `x`'s shape, dtype and device as the defaults. */
function filledLike<S extends Shape, E extends DType>(
  op: string,
  x: Tensor<S, DType>,
  value: number,
  options: CreateOptions<E>,
): Tensor<S, E> {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${op}: expected a Tensor, got ${describeValue(x)}`);
  }
  const shape = rawOf(x).shape; // (throws for a disposed tensor)
  checkOptions(op, options, CREATE_OPTIONS);
  const given = { ...options, device: options.device ?? x.device };
  const dtype = (options.dtype ?? x.dtype) as E;
  return filled(op, shape, value, { ...given, dtype }) as unknown as Tensor<S, E>;
}

/**
 * The `n × m` identity (`m` defaults to `n`), f32 or (with `dtype: "i32"`) i32, as `torch.eye`.
 *
 * @example
 * ```ts
 * import { defaultDevice, eye } from "../mod.ts";
 * await defaultDevice();
 * console.log(await eye(2).toArray()); // [[1, 0], [0, 1]]
 * console.log(await eye(2, 3, { dtype: "i32" }).toArray()); // [[1, 0, 0], [0, 1, 0]]
 * ```
 */
export function eye<D extends DType = "f32">(
  n: number,
  m?: number | CreateOptions<D>,
  options?: CreateOptions<D>,
): Tensor<[number, number], D> {
  if (typeof m === "object") [m, options] = [undefined, m];
  const columns = m ?? n;
  requireShapeArray("eye", [n, columns]);
  const { device, dtype, requiresGrad } = creationOptions("eye", options);
  // A one where the row's index equals the column's: two aranges compared on the device.
  const ones = tidy(() => {
    const rows = arange(n, { device, dtype: "i32" }).reshape([n, 1]);
    const cols = arange(columns, { device, dtype: "i32" }).reshape([1, columns]);
    const diagonal = rows.eq(cols);
    return dtype === "i32" ? diagonal.int() : diagonal;
  });
  ones.requiresGrad = requiresGrad;
  return ones as unknown as Tensor<[number, number], D>;
}

/**
 * `[start, start + step, …)` up to `end` (exclusive), as `torch.arange`: `arange(end)` starts
 * at 0, and the options may follow `end` or `step` (`arange(0, 5, { dtype: "i32" })`). The
 * values are f32 unless `dtype: "i32"` (then `start` and `step` are integers); PyTorch infers
 * int64 from integer arguments, this keeps f32 unless asked, as every other creation function.
 * A step whose sign does not lead from `start` to `end` is an error, as in PyTorch.
 *
 * @example
 * ```ts
 * import { arange, defaultDevice } from "../mod.ts";
 * await defaultDevice();
 * console.log(await arange(0, 1, 0.25).toArray()); // [0, 0.25, 0.5, 0.75]
 * console.log(await arange(3, { dtype: "i32" }).toArray()); // [0, 1, 2]
 * ```
 */
export function arange<D extends DType = "f32">(
  end: number,
  options?: CreateOptions<D>,
): Tensor<[number], D>;
/** `[start, start + step, …)` up to `end`, with the options after `end`. */
export function arange<D extends DType = "f32">(
  start: number,
  end: number,
  options?: CreateOptions<D>,
): Tensor<[number], D>;
/** `[start, start + step, …)` up to `end`. */
export function arange<D extends DType = "f32">(
  start: number,
  end: number,
  step?: number,
  options?: CreateOptions<D>,
): Tensor<[number], D>;
export function arange<D extends DType = "f32">(
  ...args: (number | CreateOptions<D> | undefined)[]
): Tensor<[number], D> {
  const at = args.findIndex((a) => typeof a === "object");
  const numbers = (at < 0 ? args : args.slice(0, at)) as (number | undefined)[];
  const options = (at < 0 ? undefined : args[at]) as CreateOptions<D> | undefined;
  if (at >= 0 && at < args.length - 1) {
    throw new TypeError("arange: the options come last, as arange(start, end, step, options)");
  }
  if (numbers.length === 0 || numbers.length > 3) {
    throw new TypeError(
      `arange: takes (end), (start, end) or (start, end, step), got ${numbers.length} numbers`,
    );
  }
  const [start, end, step = 1] = numbers.length === 1 ? [0, numbers[0]] : numbers;
  for (const [name, v] of [["start", start], ["end", end], ["step", step]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`arange: ${name} must be a finite number, got ${describeValue(v)}`);
    }
  }
  const [from, to, by] = [start, end, step] as number[];
  if (by === 0) throw new RangeError("arange: step is 0");
  if (Math.sign(to - from) === -Math.sign(by)) {
    throw new RangeError(`arange: step ${by} does not lead from ${from} to ${to}`);
  }
  const { device, dtype, requiresGrad } = creationOptions("arange", options);
  if (dtype === "i32" && !(Number.isInteger(from) && Number.isInteger(by))) {
    throw new TypeError(`arange: start ${from} and step ${by} must be integers for dtype i32`);
  }
  const count = Math.ceil((to - from) / by);
  if (count > 2 ** 31 - 1) throw new RangeError(`arange: ${count} values are too many`);
  const values = dtype === "i32" ? new Int32Array(count) : new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = from + i * by;
  return fromTypedArray(values, [count], { device, dtype, requiresGrad }) as Tensor<[number], D>;
}

/** The options of `randn`: a creation's, and the normal's mean and standard deviation. */
export interface RandnOptions extends CreateOptions<"f32"> {
  /** The mean (default 0). */
  mean?: number;
  /** The standard deviation (default 1). */
  std?: number;
}
const RANDN_OPTIONS = optionNames<RandnOptions>({ ...CREATE_NAMES, mean: true, std: true });

/** The options of `rand`: a creation's, and the bounds. */
export interface RandOptions extends CreateOptions<"f32"> {
  /** The lower bound, included (default 0). */
  low?: number;
  /** The upper bound, excluded (default 1). */
  high?: number;
}
const RAND_OPTIONS = optionNames<RandOptions>({ ...CREATE_NAMES, low: true, high: true });

/** The creation options of a random draw `op`, whose values are f32 only. */
function drawOptions(op: string, options: CreateOptions<"f32">, names: readonly string[]) {
  const checked = creationOptions(op, options, names);
  if (checked.dtype !== "f32") {
    throw new TypeError(
      `${op}: draws are f32 only, got dtype ${checked.dtype}; convert with .int()`,
    );
  }
  return checked;
}

/**
 * Normal draws (default mean 0, standard deviation 1) from the global generator (see
 * `manualSeed`). f32 only, as PyTorch's normal draws are floating point.
 *
 * @example
 * ```ts
 * import { defaultDevice, manualSeed, randn } from "../mod.ts";
 * await defaultDevice();
 * manualSeed(0);
 * const x = randn([1000], { std: 2 });
 * console.log(Math.abs(await x.mean().item()) < 0.3); // true
 * ```
 */
export function randn<const S extends readonly number[]>(
  shape: S,
  options: RandnOptions = {},
): Tensor<S, "f32"> {
  const { device, requiresGrad } = drawOptions("randn", options, RANDN_OPTIONS);
  requireShapeArray("randn", shape);
  const out = globalGenerator().normal(shape, options.mean, options.std, device);
  out.requiresGrad = requiresGrad;
  return out as unknown as Tensor<S, "f32">;
}

/**
 * Uniform draws in `[low, high)` (default `[0, 1)`) from the global generator. f32 only.
 *
 * @example
 * ```ts
 * import { defaultDevice, rand } from "../mod.ts";
 * await defaultDevice();
 * const x = await rand([100], { low: -1, high: 1 }).data();
 * console.log(x.every((v) => v >= -1 && v < 1)); // true
 * ```
 */
export function rand<const S extends readonly number[]>(
  shape: S,
  options: RandOptions = {},
): Tensor<S, "f32"> {
  const { device, requiresGrad } = drawOptions("rand", options, RAND_OPTIONS);
  requireShapeArray("rand", shape);
  const out = globalGenerator().uniform(shape, options.low, options.high, device);
  out.requiresGrad = requiresGrad;
  return out as unknown as Tensor<S, "f32">;
}

/**
 * Integers drawn uniformly from `[low, high)` by the global generator, as `torch.randint`: each
 * value exactly equally likely (see `Generator.integers`), i32 by default (PyTorch: int64), or
 * f32 with `dtype: "f32"` (the integers rounded to f32 past 2²⁴).
 *
 * @example
 * ```ts
 * import { defaultDevice, manualSeed, randint } from "../mod.ts";
 * await defaultDevice();
 * manualSeed(0);
 * const labels = randint(0, 10, [2, 3]);
 * console.log(labels.dtype, labels.shape); // i32 [ 2, 3 ]
 * console.log((await labels.data()).every((v) => v >= 0 && v < 10)); // true
 * ```
 */
export function randint<const S extends readonly number[], D extends DType = "i32">(
  low: number,
  high: number,
  shape: S,
  options: CreateOptions<D> = {},
): Tensor<S, D> {
  const { device, dtype, requiresGrad } = creationOptions("randint", options, undefined, "i32");
  requireShapeArray("randint", shape);
  const draw = globalGenerator().integers(shape, low, high, device);
  return integersAs(draw, dtype, requiresGrad) as unknown as Tensor<S, D>;
}

/** An i32 draw as `dtype` (converted to f32 in place of it, which may then require a gradient). */
function integersAs(draw: Tensor<Shape, "i32">, dtype: DType, requiresGrad: boolean): Tensor {
  if (dtype === "i32") return draw;
  const out = draw.float();
  draw.dispose();
  out.requiresGrad = requiresGrad;
  return out;
}

/**
 * A random permutation of `0 … n − 1`, as `torch.randperm`, from the global generator: i32 by
 * default (PyTorch: int64), or f32. The order of 64-bit random keys (two i32 draws, sorted by
 * the second then, stably, by the first): every permutation is equally likely but for ties of
 * a whole key, a chance below 2⁻⁶⁴ per pair of positions.
 *
 * @example
 * ```ts
 * import { defaultDevice, manualSeed, randperm } from "../mod.ts";
 * await defaultDevice();
 * manualSeed(0);
 * const order = await randperm(5).data();
 * console.log(Array.from(order).sort()); // [ 0, 1, 2, 3, 4 ]
 * ```
 */
export function randperm<D extends DType = "i32">(
  n: number,
  options: CreateOptions<D> = {},
): Tensor<[number], D> {
  const { device, dtype, requiresGrad } = creationOptions("randperm", options, undefined, "i32");
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`randperm: n must be an integer ≥ 0, got ${describeValue(n)}`);
  }
  const order = tidy(() => {
    const [low, high] = [-(2 ** 31), 2 ** 31];
    const first = globalGenerator().integers([n], low, high, device);
    const second = globalGenerator().integers([n], low, high, device);
    const bySecond = second.argsort();
    return bySecond.indexSelect(0, first.indexSelect(0, bySecond).argsort());
  });
  return integersAs(order, dtype, requiresGrad) as unknown as Tensor<[number], D>;
}
