/**
 * The safetensors format's vocabulary, shared by the reader, the writer and the entry
 * conversions: the element types and their table (size, the Rust enum's order, typed array),
 * the tensor entry, the error with its rule ids, and the checks every part applies.
 *
 * @module
 */

/** Element types of a safetensors file, as spelled in its header. */
export type SafetensorsDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "U16"
  | "U32"
  | "U64"
  | "BOOL";

/** Typed arrays that hold tensor elements; F16 and BF16 travel as raw bits in Uint16Array. */
export type NumericTypedArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** One tensor: its element type, shape (row-major) and raw little-endian bytes. */
export interface TensorEntry {
  /** Element type. */
  dtype: SafetensorsDType;
  /** Dimensions; `[]` is a scalar (one element). */
  shape: number[];
  /** Exactly `product(shape) * dtypeSize(dtype)` little-endian bytes. */
  data: Uint8Array;
}

/** What {@link decodeSafetensors} and {@link readSafetensorsFile} return. */
export interface SafetensorsContents {
  /** Tensors by name, in data-buffer order. */
  tensors: Record<string, TensorEntry>;
  /** The header's `__metadata__`, or `{}` when absent. */
  metadata: Record<string, string>;
}

/** Options of {@link decodeSafetensors} and {@link readSafetensorsFile}. */
export interface SafetensorsReadOptions {
  /** Largest header accepted, in bytes; default 100 MB like Python's reader. */
  maxHeaderBytes?: number;
}

type ArrayCtor = { new (buffer: ArrayBuffer): NumericTypedArray };
// size: bytes per element. rank: position in the Rust `Dtype` enum, which the Python writer
// sorts by (descending) so that every tensor starts aligned to its element size.
// ctor: the typed array that holds the elements.
export const DTYPES: Record<SafetensorsDType, { size: number; rank: number; ctor: ArrayCtor }> = {
  BOOL: { size: 1, rank: 0, ctor: Uint8Array },
  U8: { size: 1, rank: 1, ctor: Uint8Array },
  I8: { size: 1, rank: 2, ctor: Int8Array },
  I16: { size: 2, rank: 3, ctor: Int16Array },
  U16: { size: 2, rank: 4, ctor: Uint16Array },
  F16: { size: 2, rank: 5, ctor: Uint16Array },
  BF16: { size: 2, rank: 6, ctor: Uint16Array },
  I32: { size: 4, rank: 7, ctor: Int32Array },
  U32: { size: 4, rank: 8, ctor: Uint32Array },
  F32: { size: 4, rank: 9, ctor: Float32Array },
  F64: { size: 8, rank: 10, ctor: Float64Array },
  I64: { size: 8, rank: 11, ctor: BigInt64Array },
  U64: { size: 8, rank: 12, ctor: BigUint64Array },
};
/** The header key of the metadata object, never a tensor name. */
export const METADATA_KEY = "__metadata__";
/** Largest header read by default, as Python's reader. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/**
 * Raised for any violation of the format; `rule` is a short stable id such as
 * "header-length", "header-too-large", "header-utf8", "header-json", "header-not-object",
 * "duplicate-name", "bad-name", "bad-entry", "unknown-dtype", "bad-shape", "bad-offsets",
 * "offsets-size-mismatch", "offsets-gap-or-overlap", "file-length", "metadata-not-strings",
 * "data-size-mismatch" or "array-type".
 *
 * @example Tell a malformed file by its rule
 * ```ts
 * import { decodeSafetensors, SafetensorsError } from "./safetensors.ts";
 * try {
 *   decodeSafetensors(new Uint8Array(4));
 * } catch (e) {
 *   if (e instanceof SafetensorsError) console.log(e.rule); // "file-length"
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** Stable id of the broken rule. */
  readonly rule: string;
  /**
   * Creates the error; the message ends with the rule in brackets.
   *
   * @param rule Stable id of the broken rule.
   * @param message What was wrong, naming the tensor and the numbers involved.
   */
  constructor(rule: string, message: string) {
    super(`${message} [${rule}]`);
    this.name = "SafetensorsError";
    this.rule = rule;
  }
}

/** Throws a {@link SafetensorsError} for `rule`. */
export function fail(rule: string, message: string): never {
  throw new SafetensorsError(rule, message);
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
// Defines an own property even for names like "__proto__", which plain assignment would not.
export const setOwn = <T>(o: Record<string, T>, k: string, value: T): void => {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
};

/** Element count of a validated shape; rejects anything that is not a list of counts. */
export function numElements(where: string, shape: unknown): number {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail("bad-shape", `${where}: shape ${JSON.stringify(shape)} is not a list of counts`);
  }
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) fail("bad-shape", `${where}: shape ${shape} is too large`);
  return n;
}

export function checkDtype(where: string, dtype: unknown): SafetensorsDType {
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPES, dtype)) {
    fail("unknown-dtype", `${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  return dtype as SafetensorsDType;
}

/** Validates an entry given by a caller; returns its byte length. */
export function checkEntry(name: string, e: TensorEntry): number {
  const where = `tensor ${JSON.stringify(name)}`;
  const size = numElements(where, e?.shape) * DTYPES[checkDtype(where, e?.dtype)].size;
  if (!(e.data instanceof Uint8Array)) {
    // A Float32Array of the right length once read "expected 8 data bytes, got 8".
    const got = (e.data as unknown as object)?.constructor?.name ?? String(e.data);
    fail(
      "data-size-mismatch",
      `${where}: data must be a Uint8Array of its bytes, got ${got} (entryFromTypedArray makes one)`,
    );
  }
  if (e.data.byteLength !== size) {
    fail("data-size-mismatch", `${where}: expected ${size} data bytes, got ${e.data?.byteLength}`);
  }
  return size;
}

/** Orders strings by Unicode code point (Rust's `String` order), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) must sort after U+E000..U+FFFF.
      const fix = (c: number) => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c);
      return fix(x) - fix(y);
    }
  }
  return a.length - b.length;
}
