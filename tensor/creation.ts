/**
 * Creating tensors: from nested arrays or typed arrays, constants, ranges and random draws.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { currentDevice } from "./default_device.ts";
import { fill, upload } from "./_primitives.ts";
import { type DType, numel, plural, type Shape, ShapeError, validateShape } from "./shape.ts";
import { fromRaw, type Tensor } from "./tensor.ts";
import { globalGenerator } from "./random.ts";
import { linkReplicas } from "./transfer.ts";

/** Options shared by the creation functions. */
export interface CreateOptions<D extends DType = "f32"> {
  /** Where the tensor lives (default: the default device). */
  device?: Device;
  /** Element type (default `f32`). */
  dtype?: D;
  /** Whether backward computes a gradient for it. */
  requiresGrad?: boolean;
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
    throw new TypeError(`tensor: ${JSON.stringify(data) ?? String(data)} is not a number`);
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
  const dtype = (options.dtype ?? "f32") as D;
  let values: ArrayLike<number>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    values = data;
    shape = [...(options.shape ?? [data.length])];
  } else {
    const flat: number[] = [];
    shape = [];
    flatten(data, shape, 0, flat);
    values = flat;
    if (options.shape) shape = [...options.shape];
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
    { ...options, dtype },
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
  const device = options.device ?? currentDevice();
  const dtype = (options.dtype ?? (data instanceof Int32Array ? "i32" : "f32")) as D;
  // A negative size would otherwise pass for a tensor of no elements.
  validateShape(shape, "fromTypedArray");
  if (numel(shape) !== data.length) {
    throw new ShapeError(
      `fromTypedArray: ${plural(data.length, "value")} cannot fill shape [${shape}]`,
    );
  }
  if (options.requiresGrad && dtype !== "f32") {
    // As torch's "only Tensors of floating point dtype can require gradients": an integer leaf
    // has no gradient to accumulate, and its .grad would stay null without a word.
    throw new TypeError(`requiresGrad: only f32 tensors can require gradients, got ${dtype}`);
  }
  return fromRaw(upload(device, data, shape, dtype), options.requiresGrad);
}

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
  const copies = [...new Set(devices)].map((device) =>
    fromTypedArray(data, shape, { ...options, device })
  );
  linkReplicas(copies);
  return copies;
}

/**
 * A tensor filled with `value`.
 *
 * @example
 * ```ts
 * import { defaultDevice, full } from "../mod.ts";
 * await defaultDevice();
 * console.log(await full([2], 7).toArray()); // [7, 7]
 * ```
 */
export function full<const S extends readonly number[]>(
  shape: S,
  value: number,
  options: CreateOptions<"f32"> = {},
): Tensor<S, "f32"> {
  validateShape(shape, "full");
  return fromRaw(fill(options.device ?? currentDevice(), shape, value), options.requiresGrad);
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "./default_device.ts";
 * import { zeros } from "./creation.ts";
 * await defaultDevice();
 * console.log(await zeros([2, 2]).toArray()); // [[0, 0], [0, 0]]
 * ```
 */
export function zeros<const S extends readonly number[]>(
  shape: S,
  options: CreateOptions<"f32"> = {},
): Tensor<S, "f32"> {
  return full(shape, 0, options);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * await defaultDevice();
 * console.log(await ones([1, 3]).toArray()); // [[1, 1, 1]]
 * ```
 */
export function ones<const S extends readonly number[]>(
  shape: S,
  options: CreateOptions<"f32"> = {},
): Tensor<S, "f32"> {
  return full(shape, 1, options);
}

/**
 * `[start, start + step, …)` up to `end` (exclusive).
 *
 * @example
 * ```ts
 * import { arange, defaultDevice } from "../mod.ts";
 * await defaultDevice();
 * console.log(await arange(0, 1, 0.25).toArray()); // [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(
  start: number,
  end: number,
  step = 1,
  options: CreateOptions<"f32"> = {},
): Tensor<[number], "f32"> {
  if (step === 0) throw new RangeError("arange: step is 0");
  const count = Math.max(0, Math.ceil((end - start) / step));
  const values = Float32Array.from({ length: count }, (_, i) => start + i * step);
  return fromTypedArray(values, [count], options) as Tensor<[number], "f32">;
}

/**
 * Normal draws (default mean 0, standard deviation 1) from the global generator (see
 * `manualSeed`).
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
  options: CreateOptions<"f32"> & { mean?: number; std?: number } = {},
): Tensor<S, "f32"> {
  const out = globalGenerator().normal(shape, options.mean, options.std, options.device);
  out.requiresGrad = options.requiresGrad ?? false;
  return out as unknown as Tensor<S, "f32">;
}

/**
 * Uniform draws in `[low, high)` (default `[0, 1)`) from the global generator.
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
  options: CreateOptions<"f32"> & { low?: number; high?: number } = {},
): Tensor<S, "f32"> {
  const out = globalGenerator().uniform(shape, options.low, options.high, options.device);
  out.requiresGrad = options.requiresGrad ?? false;
  return out as unknown as Tensor<S, "f32">;
}
