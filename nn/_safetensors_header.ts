/**
 * Reading a safetensors header: its length prefix bounded by the file, and the JSON header
 * validated against the data buffer (entries well-formed, names unique, tensors tiling the
 * buffer exactly) before any tensor data is touched.
 *
 * @module
 */

import {
  checkDtype,
  DTYPES,
  fail,
  isCount,
  isObject,
  METADATA_KEY,
  numElements,
  type SafetensorsContents,
  type SafetensorsDType,
  setOwn,
  type TensorEntry,
} from "./_safetensors_format.ts";

/** Reads and bounds-checks the header length `N` from the first 8 bytes. */
export function headerLength(
  ctx: string,
  prefix: Uint8Array,
  fileLength: number,
  max: number,
): number {
  if (!isCount(max)) throw new RangeError(`maxHeaderBytes must be a count, got ${max}`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(max)) {
    // A JSON or gzip file given by mistake lands here with an absurd length: say what it is.
    const past = n > BigInt(fileLength - 8)
      ? ` and the ${fileLength}-byte file: not a safetensors file`
      : "";
    fail("header-too-large", `${ctx}header length ${n} exceeds the limit of ${max} bytes${past}`);
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

export interface Slot {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Validates the header against a data buffer of `dataLength` bytes; returns its layout. */
export function parseHeader(
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

export function assemble(
  layout: { slots: Slot[]; metadata: Record<string, string> },
  data: Uint8Array,
): SafetensorsContents {
  const tensors: Record<string, TensorEntry> = {};
  for (const { name, dtype, shape, begin, end } of layout.slots) {
    setOwn(tensors, name, { dtype, shape, data: data.subarray(begin, end) });
  }
  return { tensors, metadata: layout.metadata };
}
