/**
 * Model checkpoints as safetensors files: PyTorch parameter names and layouts (so a net saved
 * from two devices loads onto one and the other way round), F32 data, and JSON metadata.
 * Integer buffers (a batch norm's `num_batches_tracked`, i32 here) are written as I64, as
 * PyTorch holds them; integer entries of any width load into them when their values fit i32.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import {
  entryFromTypedArray,
  entryToFloat32,
  entryToTypedArray,
  findNonFinite,
  readSafetensorsFile,
  type SafetensorsContents,
  SafetensorsError,
  type TensorEntry,
  writeSafetensorsFile,
} from "./safetensors.ts";
import { type HostTensor, type Module, slotShape } from "./module.ts";

/** Metadata stored with a checkpoint: any JSON values by key. */
export type CheckpointMetadata = Record<string, unknown>;

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * JSON-serialisable values, such as `{ config, classNames, epoch }`. Each is stored as the
   * JSON text of its value under its key in the safetensors `__metadata__`; the key `format`
   * is reserved (it is written as `"pt"`, as PyTorch tools expect).
   */
  metadata?: CheckpointMetadata;
  /**
   * Write even when tensors hold NaN or ±∞ (default false: refuse with a
   * {@link CheckpointError} naming them, and write nothing — such a checkpoint cannot be
   * loaded back, and would replace a good one).
   */
  allowNonFinite?: boolean;
}

const SAVE_CHECKPOINT_OPTIONS = optionNames<SaveCheckpointOptions>({
  metadata: true,
  allowNonFinite: true,
});

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Require the names to match exactly (default true). */
  strict?: boolean;
  /**
   * Leave out the tensors whose shape differs from the model's, keeping the model's values
   * (default false: an error). For fine-tuning a model built with another class count; see
   * `Module.loadStateDict`, which also returns the names it left out.
   */
  ignoreMismatchedSizes?: boolean;
  /** Load even when tensors hold NaN or ±∞ (default false: refuse, naming them). */
  allowNonFinite?: boolean;
}

const LOAD_CHECKPOINT_OPTIONS = optionNames<LoadCheckpointOptions>({
  strict: true,
  ignoreMismatchedSizes: true,
  allowNonFinite: true,
});

/**
 * A checkpoint that cannot be loaded into the model; the model was not modified.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { CheckpointError, Linear, loadCheckpoint } from "./mod.ts";
 * await defaultDevice();
 * try {
 *   await loadCheckpoint("no-such-file.safetensors", new Linear({ inFeatures: 2, outFeatures: 1 }));
 * } catch (error) {
 *   console.log(error instanceof CheckpointError); // true: the message names the file
 * }
 * ```
 */
export class CheckpointError extends Error {
  /** `"CheckpointError"`. */
  override name = "CheckpointError";
}

/**
 * A checkpoint refused because tensors hold NaN or ±∞ (on save: nothing was written).
 *
 * @example
 * ```ts
 * import { defaultDevice, noGrad } from "../mod.ts";
 * import { Linear, NonFiniteCheckpointError, saveCheckpoint } from "./mod.ts";
 * await defaultDevice();
 * const layer = new Linear({ inFeatures: 1, outFeatures: 1 });
 * noGrad(() => layer.weight.assign(new Float32Array([NaN])));
 * try {
 *   await saveCheckpoint(await Deno.makeTempFile(), layer);
 * } catch (error) {
 *   console.log(error instanceof NonFiniteCheckpointError); // true: it names "weight"
 * }
 * ```
 */
export class NonFiniteCheckpointError extends CheckpointError {
  /** `"NonFiniteCheckpointError"`. */
  override name = "NonFiniteCheckpointError";
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);
const INTEGER_DTYPES = new Set(["I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "BOOL"]);

/**
 * Writes the model's state dict to `path` atomically (a temporary file renamed over it), so a
 * crash never leaves a half-written checkpoint.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * await defaultDevice();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, new Linear({ inFeatures: 2, outFeatures: 1 }), {
 *   metadata: { classNames: ["yes"] },
 * });
 * const meta = await loadCheckpoint(path, new Linear({ inFeatures: 2, outFeatures: 1 }));
 * console.log(meta.classNames); // ["yes"]
 * ```
 */
export async function saveCheckpoint(
  path: string,
  model: Module,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  checkOptions("saveCheckpoint", options, SAVE_CHECKPOINT_OPTIONS);
  const tensors: Record<string, TensorEntry> = {};
  for (const slot of model.stateSlots()) {
    // Read each shard from its own device and join on the host: no device-to-device copies.
    const shape = slotShape(slot);
    const integer = slot.shards[0].dtype === "i32";
    const data = new (integer ? Int32Array : Float32Array)(shape.reduce((a, b) => a * b, 1));
    let at = 0;
    for (const shard of slot.shards) {
      data.set(await shard.data(), at);
      at += shard.size;
    }
    tensors[slot.name] = integer
      ? entryFromTypedArray("I64", shape, BigInt64Array.from(data, BigInt))
      : entryFromTypedArray("F32", shape, data as Float32Array);
  }
  if (!options.allowNonFinite) requireFinite(tensors, path, "model");
  const metadata: Record<string, string> = { format: "pt" };
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (key === "format") throw new CheckpointError(`metadata key "format" is reserved`);
    const text = JSON.stringify(value);
    if (text === undefined) throw new CheckpointError(`metadata ${key} is not JSON-serialisable`);
    metadata[key] = text;
  }
  await writeSafetensorsFile(path, tensors, metadata);
}

/**
 * Loads a checkpoint into `model` and returns its metadata (JSON values parsed; a value that
 * is not JSON, from another writer, comes back as its string). Everything is validated first —
 * the file's format, dtypes (floating point only), names, shapes and finiteness — so a
 * checkpoint that fails leaves the model untouched.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { CheckpointError, loadCheckpoint } from "./checkpoint.ts";
 * await defaultDevice();
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(3));
 * await loadCheckpoint(path, new Linear({ inFeatures: 2, outFeatures: 1 }))
 *   .catch((e: CheckpointError) => console.log(e.name)); // "CheckpointError"
 * ```
 */
export async function loadCheckpoint(
  path: string,
  model: Module,
  options: LoadCheckpointOptions = {},
): Promise<CheckpointMetadata> {
  checkOptions("loadCheckpoint", options, LOAD_CHECKPOINT_OPTIONS);
  let contents;
  try {
    contents = await readSafetensorsFile(path);
  } catch (error) {
    const unreadable = error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.IsADirectory;
    if (!(error instanceof SafetensorsError || unreadable)) throw error;
    throw new CheckpointError(`cannot read checkpoint: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return await loadModelCheckpoint(
    checkedCheckpoint(contents, path, options),
    path,
    model,
    options,
  );
}

/** A model checkpoint checked by {@link checkedCheckpoint}, ready to load. */
export interface ModelCheckpoint {
  /** The state dict, on the host: f32 data, and i32 data for the integer entries. */
  state: Record<string, HostTensor>;
  /** The metadata (JSON values parsed). */
  metadata: CheckpointMetadata;
  /** The file's dtype of each integer entry (only integer buffers may take them). */
  integers?: Record<string, string>;
}

/**
 * Checks a decoded checkpoint file (floating-point tensors, and integer ones whose values fit
 * i32; finite unless allowed) and converts it for {@link loadModelCheckpoint}; errors name
 * `path`. For a caller that already holds the file's contents (a training checkpoint checked
 * before it is resumed from).
 */
export function checkedCheckpoint(
  contents: SafetensorsContents,
  path: string,
  options: Pick<LoadCheckpointOptions, "allowNonFinite"> = {},
): ModelCheckpoint {
  const { tensors, metadata } = contents;
  const badTypes = Object.entries(tensors).filter(([, e]) =>
    !FLOAT_DTYPES.has(e.dtype) && !INTEGER_DTYPES.has(e.dtype)
  );
  if (badTypes.length > 0) throw floatOnly(path, badTypes.map(([name, e]) => [name, e.dtype]));
  const bad = options.allowNonFinite ? null : nonFiniteSummary(tensors);
  if (bad) throw new NonFiniteCheckpointError(`${path}: non-finite values (NaN or ±∞) in ${bad}`);
  const state: Record<string, HostTensor> = {};
  const integers: Record<string, string> = {};
  for (const [name, entry] of Object.entries(tensors)) {
    if (FLOAT_DTYPES.has(entry.dtype)) {
      state[name] = { shape: entry.shape, data: entryToFloat32(entry) };
    } else {
      state[name] = { shape: entry.shape, data: entryToInt32(entry, `${path}: ${name}`) };
      integers[name] = entry.dtype;
    }
  }
  return { state, metadata: parseMetadata(metadata), integers };
}

/**
 * An integer entry's values as i32 (the library's integer dtype), or a CheckpointError naming
 * `where` when one does not fit: PyTorch's `num_batches_tracked` is I64, and counts up to
 * 2³¹ − 1 steps load exactly.
 */
function entryToInt32(entry: TensorEntry, where: string): Int32Array {
  const values = entryToTypedArray(entry);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!(v >= -(2 ** 31) && v < 2 ** 31)) {
      throw new CheckpointError(
        `${where} (${entry.dtype}) holds ${values[i]}, outside the i32 range of this library's ` +
          "integer tensors",
      );
    }
    out[i] = v;
  }
  return out;
}

/** The error for integer (or other non-float) entries where parameters are expected. */
function floatOnly(path: string, entries: [name: string, dtype: string][]): CheckpointError {
  const list = entries.map(([name, dtype]) => `${name} (${dtype})`).join(", ");
  return new CheckpointError(`${path}: parameters must be floating point: ${list}`);
}

/**
 * Loads a {@link checkedCheckpoint} into `model` (names and shapes checked first: a mismatch
 * leaves the model untouched) and returns its metadata; errors name `path`.
 */
export async function loadModelCheckpoint(
  checkpoint: ModelCheckpoint,
  path: string,
  model: Module,
  options: Pick<LoadCheckpointOptions, "strict" | "ignoreMismatchedSizes"> = {},
): Promise<CheckpointMetadata> {
  // Integer entries load into integer buffers only; elsewhere they are a parameter's values.
  const floatSlots = new Set(
    model.stateSlots().filter((s) => s.shards[0].dtype !== "i32").map((s) => s.name),
  );
  const misplaced = Object.entries(checkpoint.integers ?? {}).filter(([name]) =>
    floatSlots.has(name)
  );
  if (misplaced.length > 0) throw floatOnly(path, misplaced);
  try {
    await model.loadStateDict(checkpoint.state, {
      strict: options.strict ?? true,
      ignoreMismatchedSizes: options.ignoreMismatchedSizes ?? false,
    });
  } catch (error) {
    throw new CheckpointError(`${path}: ${(error as Error).message}`, { cause: error });
  }
  return checkpoint.metadata;
}

/**
 * Throws a {@link NonFiniteCheckpointError} before `path` is written when a tensor holds NaN or ±∞,
 * naming them; `what` says which tensors (model, optimizer).
 */
export function requireFinite(
  tensors: Record<string, TensorEntry>,
  path: string,
  what: string,
): void {
  const bad = nonFiniteSummary(tensors);
  if (bad) {
    throw new NonFiniteCheckpointError(
      `${path}: not written: non-finite ${what} values (NaN or ±∞) in ${bad}`,
    );
  }
}

/**
 * "k of n tensors: name (count), …" for the tensors holding NaN or ±∞, or null when all are
 * finite.
 */
export function nonFiniteSummary(tensors: Record<string, TensorEntry>): string | null {
  const bad = findNonFinite(tensors);
  if (bad.length === 0) return null;
  const list = bad.map((b) => `${b.name} (${b.count})`).join(", ");
  return `${bad.length} of ${Object.keys(tensors).length} tensors: ${list}`;
}

function parseMetadata(metadata: Record<string, string>): CheckpointMetadata {
  const out: CheckpointMetadata = {};
  for (const [key, text] of Object.entries(metadata)) {
    if (key === "format") continue;
    try {
      out[key] = JSON.parse(text);
    } catch {
      out[key] = text;
    }
  }
  return out;
}
