/**
 * Tensor entries to and from typed arrays, with float16 and bfloat16 rounded and widened
 * bit-exactly as numpy and torch do, and the scan for non-finite values in float entries.
 *
 * @module
 */

import {
  checkDtype,
  checkEntry,
  compareCodePoints,
  DTYPES,
  fail,
  numElements,
  type NumericTypedArray,
  type SafetensorsDType,
  type TensorEntry,
} from "./_safetensors_format.ts";

// --- f16 / bf16 conversions (bit-exact with numpy and torch: round to nearest even) ---

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0], sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, e = exp - 112;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, or a quiet NaN
  if (e >= 31) return sign | 0x7c00; // overflows to infinity
  // Normal results keep 10 of 23 mantissa bits; subnormal ones shift the implicit 1 in too.
  const shift = e > 0 ? 13 : 14 - e, full = e > 0 ? mant : mant | 0x800000;
  if (shift > 24) return sign; // below half the smallest subnormal
  let h = sign | (e > 0 ? e << 10 : 0) | Math.floor(full / 2 ** shift);
  const rem = full % 2 ** shift, half = 2 ** (shift - 1);
  if (rem > half || (rem === half && h & 1)) h++; // a carry into the exponent is correct
  return h;
}

/**
 * Builds an entry from a typed array, copying its bytes. The array must be the natural one
 * for `dtype` (Float32Array for F32, BigInt64Array for I64, Uint8Array for U8 and BOOL,
 * Uint16Array of raw bits for F16/BF16...), or a Float32Array for F16/BF16, which is then
 * rounded to nearest even like numpy and torch.
 *
 * @param dtype Element type to store.
 * @param shape Dimensions; their product must equal `array.length`.
 * @param array The elements, row-major.
 * @returns A new entry owning a copy of the bytes.
 *
 * @example Store weights as BF16
 * ```ts
 * import { entryFromTypedArray, entryToFloat32 } from "./safetensors.ts";
 * const e = entryFromTypedArray("BF16", [2], new Float32Array([1, -2.5]));
 * console.log(e.data.length, entryToFloat32(e)); // 4 Float32Array [1, -2.5]
 * ```
 */
export function entryFromTypedArray(
  dtype: SafetensorsDType,
  shape: number[],
  array: NumericTypedArray,
): TensorEntry {
  const where = `${dtype} tensor of shape [${shape}]`;
  const n = numElements(where, shape);
  if (array.length !== n) fail("bad-shape", `${where} needs ${n} elements, got ${array.length}`);
  const { ctor } = DTYPES[checkDtype(where, dtype)];
  let src = array;
  if ((dtype === "F16" || dtype === "BF16") && array instanceof Float32Array) {
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      f32[0] = array[i];
      const x = u32[0];
      // bf16 keeps the top 16 bits, rounded to nearest even; NaN stays a quiet NaN.
      bits[i] = dtype === "F16"
        ? f32ToF16(array[i])
        : (x & 0x7fffffff) > 0x7f800000
        ? (x >>> 16) | 0x40
        : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    src = bits;
  } else if (!(array instanceof ctor)) {
    fail("array-type", `${where} needs a ${ctor.name}, got a ${array.constructor.name}`);
  }
  return {
    dtype,
    shape: [...shape],
    data: new Uint8Array(src.buffer, src.byteOffset, n * DTYPES[dtype].size).slice(),
  };
}

/**
 * Copies an entry's elements into a fresh typed array of its natural kind (see
 * {@link entryFromTypedArray}); F16 and BF16 come back as raw bits in a Uint16Array.
 *
 * @param entry A valid entry.
 * @returns A new array that does not share memory with `entry.data`.
 *
 * @example
 * ```ts
 * import { entryFromTypedArray, entryToTypedArray } from "./safetensors.ts";
 * const e = entryFromTypedArray("I64", [2], new BigInt64Array([-1n, 5n]));
 * console.log(entryToTypedArray(e)); // BigInt64Array [-1n, 5n]
 * ```
 */
export function entryToTypedArray(entry: TensorEntry): NumericTypedArray {
  checkEntry("(entry)", entry);
  // slice() copies into a fresh, aligned buffer; the entry's view may sit at any offset.
  return new DTYPES[entry.dtype].ctor(entry.data.slice().buffer);
}

/**
 * Converts any entry to float32: F16 and BF16 are widened exactly, F64 and the integer types
 * are rounded to the nearest float32, BOOL becomes 0 or 1.
 *
 * @param entry A valid entry.
 * @returns A new Float32Array of `product(shape)` elements.
 *
 * @example
 * ```ts
 * import { entryToFloat32 } from "./safetensors.ts";
 * const half = { dtype: "F16" as const, shape: [1], data: new Uint8Array([0x00, 0x3e]) };
 * console.log(entryToFloat32(half)); // Float32Array [1.5]
 * ```
 */
export function entryToFloat32(entry: TensorEntry): Float32Array {
  const arr = entryToTypedArray(entry);
  if (arr instanceof Float32Array) return arr;
  if (entry.dtype === "F16") return Float32Array.from(arr as Uint16Array, f16ToF32);
  if (entry.dtype === "BF16") {
    const out = new Float32Array(arr.length), bits = new Uint32Array(out.buffer);
    for (let i = 0; i < arr.length; i++) bits[i] = (arr[i] as number) << 16;
    return out;
  }
  return Float32Array.from(arr as ArrayLike<number | bigint>, Number);
}

/**
 * Lists the float tensors (F64, F32, F16, BF16) that hold NaN or ±Infinity, by name.
 *
 * @param tensors Tensors by name.
 * @returns One row per tensor with at least one non-finite element, in name order.
 *
 * @example
 * ```ts
 * import { entryFromTypedArray, findNonFinite } from "./safetensors.ts";
 * const w = entryFromTypedArray("F32", [3], new Float32Array([1, NaN, -Infinity]));
 * console.log(findNonFinite({ w })); // [ { name: "w", count: 2 } ]
 * ```
 */
export function findNonFinite(
  tensors: Record<string, TensorEntry>,
): { name: string; count: number }[] {
  // Non-finite means an all-ones exponent; test the bits, no conversion needed. F64's
  // exponent lives in the high 32-bit word (offset 4, little-endian).
  const EXPONENT = {
    F64: [0x7ff00000, 4],
    F32: [0x7f800000, 0],
    F16: [0x7c00, 0],
    BF16: [0x7f80, 0],
  };
  const rows: { name: string; count: number }[] = [];
  for (const name of Object.keys(tensors).sort(compareCodePoints)) {
    const { dtype, data } = tensors[name];
    if (!Object.hasOwn(EXPONENT, dtype)) continue;
    const [mask, at] = EXPONENT[dtype as keyof typeof EXPONENT], size = DTYPES[dtype].size;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let count = 0;
    for (let i = 0; i + size <= data.byteLength; i += size) {
      const word = size === 2 ? view.getUint16(i, true) : view.getUint32(i + at, true);
      if ((word & mask) === mask) count++;
    }
    if (count > 0) rows.push({ name, count });
  }
  return rows;
}
