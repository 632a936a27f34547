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
 * The format's types and checks live in `_safetensors_format.ts`, the header reader in
 * `_safetensors_header.ts`, the typed-array conversions in `_safetensors_entries.ts`; this file
 * is the codec's face: bytes and files in and out.
 *
 * Assumes a little-endian host (every platform Deno and WebGPU run on).
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { writeFileAtomic } from "./_atomic.ts";
import {
  checkEntry,
  compareCodePoints,
  DEFAULT_MAX_HEADER_BYTES,
  DTYPES,
  fail,
  METADATA_KEY,
  type SafetensorsContents,
  type SafetensorsReadOptions,
  type TensorEntry,
} from "./_safetensors_format.ts";
import { assemble, headerLength, parseHeader } from "./_safetensors_header.ts";

const SAFETENSORS_READ_OPTIONS = optionNames<SafetensorsReadOptions>({ maxHeaderBytes: true });

export {
  type NumericTypedArray,
  type SafetensorsContents,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsReadOptions,
  type TensorEntry,
} from "./_safetensors_format.ts";
export {
  entryFromTypedArray,
  entryToFloat32,
  entryToTypedArray,
  findNonFinite,
} from "./_safetensors_entries.ts";

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
  checkOptions("decodeSafetensors", opts, SAFETENSORS_READ_OPTIONS);
  if (bytes.length < 8) fail("file-length", `file is ${bytes.length} bytes, shorter than 8`);
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const n = headerLength("", bytes, bytes.length, max);
  const layout = parseHeader("", bytes.subarray(8, 8 + n), bytes.length - 8 - n);
  return assemble(layout, bytes.subarray(8 + n));
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
  checkOptions("readSafetensorsFile", opts, SAFETENSORS_READ_OPTIONS);
  const ctx = `${path}: `;
  using file = await Deno.open(path, { read: true });
  const stat = await file.stat();
  // Reading a folder fails with "Is a directory (os error 21)", which names no path.
  if (stat.isDirectory) {
    throw new Deno.errors.IsADirectory(`${ctx}a folder, not a safetensors file`);
  }
  const size = stat.size;
  if (size < 8) fail("file-length", `${ctx}file is ${size} bytes, shorter than 8`);
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const n = headerLength(ctx, await readExactly(ctx, file, 8), size, max);
  const layout = parseHeader(ctx, await readExactly(ctx, file, n), size - 8 - n);
  return assemble(layout, await readExactly(ctx, file, size - 8 - n));
}
