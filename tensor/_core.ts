/**
 * A tensor's data, its storage and the checks every op makes, in one place. A {@link RawTensor}
 * is what the primitives compute on: a strided view of a reference-counted {@link Storage},
 * with no autograd (teenygrad's lazy buffer). The `Tensor` class wraps one and records the
 * graph; the ops' forward and backward rules see only raw tensors and primitives.
 *
 * @module
 */

import type { Device, GpuBuffer } from "../kernels/device.ts";
import {
  contiguousStrides,
  describeValue,
  type DType,
  numel,
  sameShape,
  ShapeError,
} from "./shape.ts";

/** A reference-counted GPU buffer shared by a tensor and its views. */
export class Storage {
  /** The device buffer. */
  readonly buffer: GpuBuffer;
  #refs = 0;

  /** Wraps a freshly allocated buffer; it is released when the count drops to zero. */
  constructor(buffer: GpuBuffer) {
    this.buffer = buffer;
  }

  /** The device that holds the buffer. */
  get device(): Device {
    return this.buffer.device;
  }

  /** Whether the buffer has been returned to the pool. */
  get released(): boolean {
    return this.#refs <= 0;
  }

  /** Adds a reference. */
  retain(): void {
    this.#refs++;
  }

  /** Drops a reference; the last one returns the buffer to the pool. */
  drop(): void {
    this.#refs--;
    if (this.#refs === 0) this.buffer.device.release(this.buffer);
  }
}

/** What the checks need to know of a tensor, raw or not. */
export interface Described {
  /** Run-time sizes. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Where the data lives. */
  readonly device: Device;
}

/**
 * A strided view of a storage: shape, strides and offset in elements, and a dtype. Each raw
 * tensor holds one reference to its storage; {@link RawTensor.dispose} drops it.
 */
export class RawTensor implements Described {
  /** Run-time sizes, one per axis. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Element strides of each axis. */
  readonly strides: readonly number[];
  /** Element offset of the first element in the storage. */
  readonly offset: number;
  readonly #storage: Storage;
  #disposed = false;

  /** A new reference to `storage`, viewed as `shape` (row-major unless `strides` given). */
  constructor(
    storage: Storage,
    shape: readonly number[],
    dtype: DType,
    strides: readonly number[] = contiguousStrides(shape),
    offset = 0,
  ) {
    storage.retain();
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
  }

  /** The storage; throws once this handle was disposed. */
  get storage(): Storage {
    if (this.#disposed) {
      throw new Error(`a disposed tensor of shape [${this.shape}] was used`);
    }
    return this.#storage;
  }

  /** The GPU buffer (for primitives only). */
  get buffer(): GpuBuffer {
    return this.storage.buffer;
  }

  /** The device holding the data. */
  get device(): Device {
    return this.#storage.device;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Whether this handle was disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Whether the elements are laid out row-major with no gaps or offset. */
  get isContiguous(): boolean {
    return this.offset === 0 && isDense(this.shape, this.strides);
  }

  /** Another view of the same storage (a new reference). */
  view(shape: readonly number[], strides?: readonly number[], offset = 0): RawTensor {
    return new RawTensor(this.storage, shape, this.dtype, strides, offset);
  }

  /** A new reference to the same data and layout. */
  alias(): RawTensor {
    return this.view(this.shape, this.strides, this.offset);
  }

  /** Drops this handle's reference. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#storage.drop();
  }
}

/** Whether `shape` read with `strides` is one run of consecutive elements (any offset). */
export function isDense(shape: readonly number[], strides: readonly number[]): boolean {
  const expected = contiguousStrides(shape);
  return shape.every((d, i) => d === 1 || strides[i] === expected[i]);
}

/** A new, uninitialised contiguous raw tensor (primitives fill it). */
export function empty(
  device: Device,
  shape: readonly number[],
  dtype: DType = "f32",
  label = "tensor",
): RawTensor {
  const buffer = device.alloc(Math.max(numel(shape), 1) * 4, label);
  return new RawTensor(new Storage(buffer), shape, dtype);
}

/** Throws unless all tensors live on one device, naming both and pointing to `.to()`. */
export function sameDevice(op: string, ...tensors: readonly Described[]): Device {
  const device = tensors[0]?.device;
  for (const t of tensors) {
    if (t?.device !== device || device === undefined) {
      requireDescribed(op, t);
      throw new Error(
        `${op}: tensors are on different devices (${device.describe()} and ` +
          `${t.device.describe()}); move one with \`await t.to(device)\``,
      );
    }
  }
  return device;
}

/** Throws unless every tensor has dtype f32. */
export function requireFloat(op: string, ...tensors: readonly Described[]): void {
  for (const t of tensors) {
    if (t?.dtype !== "f32") {
      requireDescribed(op, t);
      throw new TypeError(`${op}: expected an f32 tensor, got ${t.dtype} of shape [${t.shape}]`);
    }
  }
}

/** Throws unless `t` is a tensor (raw or not): a number or an array where one belongs. */
function requireDescribed(op: string, t: unknown): void {
  if (typeof t !== "object" || t === null || !("dtype" in t) || !("device" in t)) {
    throw new TypeError(`${op}: expected a Tensor, got ${describeValue(t)}`);
  }
}

/** Throws a ShapeError unless `t` has exactly `shape`. */
export function requireShape(op: string, t: Described, shape: readonly number[]): void {
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError(`${op}: expected shape [${shape}], got [${t.shape}]`);
  }
}
