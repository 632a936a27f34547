/**
 * Strict, dependency-free codec for the safetensors format.
 *
 * Layout: an 8-byte little-endian u64 `N`, then `N` bytes of UTF-8 JSON header (padded with
 * spaces to a multiple of 8), then the data buffer. The header maps each tensor name to
 * `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data buffer), plus an
 * optional `"__metadata__"` object of strings. Tensors are row-major little-endian.
 *
 * The writer reproduces the Python `safetensors` package byte for byte: same tensor order
 * (dtype descending in the Rust `Dtype` enum order, then name by code point), same header
 * field order, same padding. Python writes metadata keys in hash-map (random) order; here
 * they are sorted, so files with two or more metadata keys can differ in key order only.
 *
 * The reader validates the whole header against the file length before touching tensor
 * data, so a hostile or truncated file fails fast with a {@link SafetensorsError} whose
 * `rule` names the broken rule. It is stricter than Python in two ways: duplicate JSON keys
 * and unknown fields in a tensor entry are rejected rather than silently ignored.
 *
 * Assumes a little-endian host (every platform Deno and WebGPU run on).
 *
 * @module
 */

import { writeFileAtomic } from "./_atomic.ts";

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
const DTYPES: Record<SafetensorsDType, { size: number; rank: number; ctor: ArrayCtor }> = {
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
const METADATA_KEY = "__metadata__";
const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

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

function fail(rule: string, message: string): never {
  throw new SafetensorsError(rule, message);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
// Defines an own property even for names like "__proto__", which plain assignment would not.
const setOwn = <T>(o: Record<string, T>, k: string, value: T): void => {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
};

/** Element count of a validated shape; rejects anything that is not a list of counts. */
function numElements(where: string, shape: unknown): number {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail("bad-shape", `${where}: shape ${JSON.stringify(shape)} is not a list of counts`);
  }
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) fail("bad-shape", `${where}: shape ${shape} is too large`);
  return n;
}

function checkDtype(where: string, dtype: unknown): SafetensorsDType {
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPES, dtype)) {
    fail("unknown-dtype", `${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  return dtype as SafetensorsDType;
}

/** Validates an entry given by a caller; returns its byte length. */
function checkEntry(name: string, e: TensorEntry): number {
  const where = `tensor ${JSON.stringify(name)}`;
  const size = numElements(where, e?.shape) * DTYPES[checkDtype(where, e?.dtype)].size;
  if (!(e.data instanceof Uint8Array) || e.data.byteLength !== size) {
    fail("data-size-mismatch", `${where}: expected ${size} data bytes, got ${e.data?.byteLength}`);
  }
  return size;
}

/** Orders strings by Unicode code point (Rust's `String` order), not by UTF-16 unit. */
function compareCodePoints(a: string, b: string): number {
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
 * Serialises tensors to safetensors bytes, identical to Python's `safetensors` writer (see
 * the module notes on metadata key order). Validates every entry first.
 *
 * @param tensors Tensors by name; `"__metadata__"` is not a valid name.
 * @param metadata Optional string-to-string metadata; written (even empty) when given.
 * @returns The whole file.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const w = { dtype: "F32" as const, shape: [1], data: new Uint8Array([0, 0, 0x80, 0x3f]) };
 * const bytes = encodeSafetensors({ w }, { format: "pt" });
 * console.log(bytes.length, decodeSafetensors(bytes).metadata); // 100 { format: "pt" }
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const items = Object.keys(tensors).map((name) => {
    if (name === METADATA_KEY || !name.isWellFormed()) {
      fail("bad-name", `tensor name ${JSON.stringify(name)} is reserved or not valid Unicode`);
    }
    const entry = tensors[name];
    return { name, entry, size: checkEntry(name, entry) };
  });
  items.sort((a, b) =>
    DTYPES[b.entry.dtype].rank - DTYPES[a.entry.dtype].rank || compareCodePoints(a.name, b.name)
  );
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareCodePoints);
    for (const k of keys) {
      const v: unknown = metadata[k];
      if (typeof v !== "string" || !v.isWellFormed() || !k.isWellFormed()) {
        fail("metadata-not-strings", `metadata ${JSON.stringify(k)} is not a valid string`);
      }
    }
    const body = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    parts.push(`"${METADATA_KEY}":{${body.join(",")}}`);
  }
  let offset = 0;
  for (const { name, entry, size } of items) {
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${entry.dtype}","shape":[${entry.shape}],` +
        `"data_offsets":[${offset},${offset + size}]}`,
    );
    offset += size;
  }
  const header = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(header.length / 8) * 8; // keeps the data buffer 8-byte aligned
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + n);
  let pos = 8 + n;
  for (const { entry, size } of items) {
    out.set(entry.data, pos);
    pos += size;
  }
  return out;
}

/** Reads and bounds-checks the header length `N` from the first 8 bytes. */
function headerLength(ctx: string, prefix: Uint8Array, fileLength: number, max: number): number {
  if (!isCount(max)) throw new RangeError(`maxHeaderBytes must be a count, got ${max}`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(max)) {
    fail("header-too-large", `${ctx}header length ${n} exceeds the limit of ${max} bytes`);
  }
  if (n > BigInt(fileLength - 8)) {
    fail("header-length", `${ctx}header length ${n} exceeds the ${fileLength - 8} bytes after it`);
  }
  return Number(n);
}

/** The names of the top-level object's keys, duplicates included; `text` is valid JSON. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0, expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)));
      expectKey = false;
      i = j;
    } else if (c === "{" || c === "[") expectKey = ++depth === 1;
    else if (c === "}" || c === "]") depth--;
    else if (c === ",") expectKey = depth === 1;
  }
  return keys;
}

interface Slot {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Validates the header against a data buffer of `dataLength` bytes; returns its layout. */
function parseHeader(
  ctx: string,
  bytes: Uint8Array,
  dataLength: number,
): { slots: Slot[]; metadata: Record<string, string> } {
  let text: string, json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail("header-utf8", `${ctx}header is not valid UTF-8`);
  }
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail("header-json", `${ctx}header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) fail("header-not-object", `${ctx}header is not a JSON object`);
  const seen = new Set<string>();
  for (const k of topLevelKeys(text)) {
    if (seen.has(k)) fail("duplicate-name", `${ctx}header names ${JSON.stringify(k)} twice`);
    seen.add(k);
  }
  const metadata: Record<string, string> = {};
  const slots: Slot[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) {
      if (value === null) continue; // Python's reader accepts an explicit null
      if (!isObject(value)) fail("metadata-not-strings", `${ctx}__metadata__ is not an object`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") {
          fail("metadata-not-strings", `${ctx}metadata ${JSON.stringify(k)} is not a string`);
        }
        setOwn(metadata, k, v);
      }
      continue;
    }
    const where = `${ctx}tensor ${JSON.stringify(name)}`;
    if (
      !isObject(value) || Object.keys(value).some((k) => !/^(dtype|shape|data_offsets)$/.test(k))
    ) {
      fail("bad-entry", `${where}: entry must hold only dtype, shape and data_offsets`);
    }
    const dtype = checkDtype(where, value.dtype);
    const size = numElements(where, value.shape) * DTYPES[dtype].size;
    const offsets = value.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) ||
      offsets[0] > offsets[1]
    ) {
      fail("bad-offsets", `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as number[];
    if (end - begin !== size) {
      fail(
        "offsets-size-mismatch",
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ` +
          `shape [${value.shape}] needs ${size}`,
      );
    }
    slots.push({ name, dtype, shape: value.shape as number[], begin, end });
  }
  // The tensors must tile the data buffer exactly: no byte unowned, none owned twice.
  slots.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0, previous = "the start of the data";
  for (const s of slots) {
    if (s.begin !== cursor) {
      fail(
        "offsets-gap-or-overlap",
        `${ctx}tensor ${JSON.stringify(s.name)} begins at byte ${s.begin} but ${previous} ` +
          `ends at ${cursor} (${s.begin > cursor ? "gap" : "overlap"})`,
      );
    }
    cursor = s.end;
    previous = `tensor ${JSON.stringify(s.name)}`;
  }
  if (cursor !== dataLength) {
    fail(
      "file-length",
      `${ctx}tensors cover ${cursor} data bytes but the file holds ${dataLength}`,
    );
  }
  return { slots, metadata };
}

function assemble(
  layout: { slots: Slot[]; metadata: Record<string, string> },
  data: Uint8Array,
): SafetensorsContents {
  const tensors: Record<string, TensorEntry> = {};
  for (const { name, dtype, shape, begin, end } of layout.slots) {
    setOwn(tensors, name, { dtype, shape, data: data.subarray(begin, end) });
  }
  return { tensors, metadata: layout.metadata };
}

/**
 * Parses safetensors bytes after validating the whole header against the file length. The
 * entries' `data` are views into `bytes` (no copy).
 *
 * @param bytes The whole file.
 * @param opts `maxHeaderBytes` (default 100 MB).
 * @returns Tensors in data-buffer order, and the metadata.
 * @throws {SafetensorsError} On any malformation, naming the rule and the tensor.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors, entryFromTypedArray } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ b: entryFromTypedArray("I32", [], new Int32Array([7])) });
 * console.log(decodeSafetensors(bytes).tensors.b.shape); // []
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  opts?: SafetensorsReadOptions,
): SafetensorsContents {
  if (bytes.length < 8) fail("file-length", `file is ${bytes.length} bytes, shorter than 8`);
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const n = headerLength("", bytes, bytes.length, max);
  const layout = parseHeader("", bytes.subarray(8, 8 + n), bytes.length - 8 - n);
  return assemble(layout, bytes.subarray(8 + n));
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

/**
 * Writes a safetensors file atomically: the bytes go to a uniquely named temporary file in
 * the same folder, are fsynced, and the temporary file is renamed over `path`. Readers see
 * the old file or the complete new one; on any error the temporary file is removed and the
 * old file is left as it was.
 *
 * @param path Destination; its folder must exist.
 * @param tensors Tensors by name.
 * @param metadata Optional string metadata.
 *
 * @example
 * ```ts
 * import { entryFromTypedArray, readSafetensorsFile, writeSafetensorsFile } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * await writeSafetensorsFile(`${dir}/m.safetensors`, {
 *   w: entryFromTypedArray("F32", [2], new Float32Array([1, 2])),
 * });
 * console.log(Object.keys((await readSafetensorsFile(`${dir}/m.safetensors`)).tensors)); // ["w"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  // Encoding first: invalid input never touches the disk.
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Fills `n` bytes from the file's current position, or fails if the file ends first. */
async function readExactly(ctx: string, file: Deno.FsFile, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  for (let got = 0; got < n;) {
    const k = await file.read(buf.subarray(got));
    if (k === null) fail("file-length", `${ctx}file ended after ${got} of ${n} expected bytes`);
    got += k;
  }
  return buf;
}

/**
 * Reads and validates a safetensors file. The size (from stat) and the whole header are
 * checked before the data buffer is allocated, so a malformed file costs almost nothing.
 *
 * @param path The file.
 * @param opts `maxHeaderBytes` (default 100 MB).
 * @returns Tensors (views into one buffer holding the data) and metadata.
 * @throws {SafetensorsError} On any malformation; the message starts with `path`.
 *
 * @example
 * ```ts
 * import { readSafetensorsFile, SafetensorsError } from "./safetensors.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x5b, 0x5d])); // "[]"
 * const rule = await readSafetensorsFile(path).catch((e: SafetensorsError) => e.rule);
 * console.log(rule); // "header-not-object"
 * await Deno.remove(path);
 * ```
 */
export async function readSafetensorsFile(
  path: string,
  opts?: SafetensorsReadOptions,
): Promise<SafetensorsContents> {
  const ctx = `${path}: `;
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  if (size < 8) fail("file-length", `${ctx}file is ${size} bytes, shorter than 8`);
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const n = headerLength(ctx, await readExactly(ctx, file, 8), size, max);
  const layout = parseHeader(ctx, await readExactly(ctx, file, n), size - 8 - n);
  return assemble(layout, await readExactly(ctx, file, size - 8 - n));
}
