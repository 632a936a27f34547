/**
 * IDX files, the format of MNIST and Fashion-MNIST (`train-images-idx3-ubyte[.gz]`, …):
 * a 4-byte magic `00 00 <dtype> <ndims>`, `ndims` big-endian u32 dimensions, then the data,
 * big-endian, row-major. Gzipped files (starting with `1f 8b`) are inflated first.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { ArrayDataset } from "./array_dataset.ts";
import { type DataFormat, DataFormatError, sourceDir } from "./data_format.ts";
import { plural } from "../_format.ts";

/** The element types an IDX file can hold, by their dtype byte. */
export const IDX_DTYPES: Readonly<Record<number, { name: string; bytes: number }>> = Object
  .freeze({
    0x08: { name: "uint8", bytes: 1 },
    0x09: { name: "int8", bytes: 1 },
    0x0b: { name: "int16", bytes: 2 },
    0x0c: { name: "int32", bytes: 4 },
    0x0d: { name: "float32", bytes: 4 },
    0x0e: { name: "float64", bytes: 8 },
  });

/** A decoded IDX array. */
export interface IdxArray {
  /** The dtype byte (0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64). */
  dtype: number;
  /** The dimensions, outermost first. */
  dims: number[];
  /** Row-major values in native typed-array form. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** True when `bytes` start with the gzip magic `1f 8b`. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses an IDX file's bytes (gzipped or not). `name` is used in error messages.
 *
 * @example
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]); // uint8 vector [7, 9]
 * const { dims, data } = parseIdx(bytes, "labels.idx");
 * console.assert(dims[0] === 2 && data[1] === 9);
 * ```
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new Error(`${name}: corrupt gzip data: ${(e as Error).message}`, { cause: e });
    }
  }
  if (bytes.length < 4) throw new Error(`${name}: too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${name}: bad IDX magic (first two bytes must be 0)`);
  }
  const dtype = bytes[2];
  const info = IDX_DTYPES[dtype];
  if (!info) {
    throw new Error(`${name}: unknown IDX dtype 0x${dtype.toString(16).padStart(2, "0")}`);
  }
  const ndims = bytes[3];
  if (ndims < 1) throw new Error(`${name}: IDX file has no dimensions`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new Error(`${name}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = header + count * info.bytes;
  if (bytes.length !== expected) {
    throw new Error(
      `${name}: IDX file is ${bytes.length} bytes, dims [${dims.join(", ")}] of ${info.name} ` +
        `need ${expected}`,
    );
  }
  let data: IdxArray["data"];
  switch (dtype) {
    case 0x08:
      data = bytes.slice(header);
      break;
    case 0x09:
      data = new Int8Array(bytes.slice(header).buffer);
      break;
    default: {
      const Ctor = dtype === 0x0b
        ? Int16Array
        : dtype === 0x0c
        ? Int32Array
        : dtype === 0x0d
        ? Float32Array
        : Float64Array;
      const out = new Ctor(count);
      for (let i = 0, o = header; i < count; i++, o += info.bytes) {
        out[i] = dtype === 0x0b
          ? view.getInt16(o, false)
          : dtype === 0x0c
          ? view.getInt32(o, false)
          : dtype === 0x0d
          ? view.getFloat32(o, false)
          : view.getFloat64(o, false);
      }
      data = out;
    }
  }
  return { dtype, dims, data };
}

async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read IDX file: ${(e as Error).message}`, { cause: e });
  }
  return parseIdx(bytes, path);
}

/** Options of {@link loadIdx}. */
export interface IdxOptions {
  /** Image file: uint8, dims [N, H, W] (e.g. `train-images-idx3-ubyte.gz`). */
  images: string;
  /** Label file: uint8, dims [N] (e.g. `train-labels-idx1-ubyte.gz`). */
  labels: string;
  /**
   * Class names (give the training set's to a test set). Default "0", "1", … up to the
   * largest label, at least 10 names; above 10, every label up to the largest must occur, so
   * that one corrupt label cannot add classes.
   */
  classNames?: readonly string[];
}

const IDX_OPTIONS = optionNames<IdxOptions>({ images: true, labels: true, classNames: true });

/**
 * Loads an IDX image/label file pair as a dataset. Greyscale pixels are stored once and
 * returned as RGB (R = G = B) by `get`.
 *
 * @example
 * ```ts
 * import { loadIdx } from "./idx.ts";
 * // Two 2×2 greyscale images and their labels, as IDX files (magic, big-endian dims, data).
 * const dir = await Deno.makeTempDir();
 * const images = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, ...[0, 50, 100, 150, 200, 250, 0, 0]]);
 * const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]);
 * await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, images);
 * await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, labels);
 * const mnist = await loadIdx({
 *   images: `${dir}/train-images-idx3-ubyte`,
 *   labels: `${dir}/train-labels-idx1-ubyte`,
 * });
 * console.log(mnist.length, mnist.get(0).label, mnist.get(0).pixels.subarray(3, 6)); // 2 7 [50, 50, 50]
 * ```
 */
export async function loadIdx(options: IdxOptions): Promise<ArrayDataset> {
  checkOptions("loadIdx", options, IDX_OPTIONS);
  const images = await readIdx(options.images);
  const labels = await readIdx(options.labels);
  if (images.dtype !== 0x08 || images.dims.length !== 3) {
    throw new Error(
      `${options.images}: expected uint8 images with dims [N, H, W], got ` +
        `${IDX_DTYPES[images.dtype].name} [${images.dims.join(", ")}]`,
    );
  }
  if (labels.dtype !== 0x08 || labels.dims.length !== 1) {
    throw new Error(
      `${options.labels}: expected uint8 labels with dims [N], got ` +
        `${IDX_DTYPES[labels.dtype].name} [${labels.dims.join(", ")}]`,
    );
  }
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new Error(
      `${options.labels}: ${plural(labels.dims[0], "label")} but ${options.images} has ${
        plural(n, "image")
      }`,
    );
  }
  const classNames = options.classNames ?? inferClassNames(labels.data, options.labels);
  const count = classNames.length;
  const bad = labels.data.findIndex((l) => l >= count);
  if (bad >= 0) {
    throw new Error(
      `${options.labels}: record ${bad} has label ${labels.data[bad]}, outside the ${count} ` +
        `classes [0, ${count})`,
    );
  }
  return new ArrayDataset({
    pixels: images.data as Uint8Array,
    labels: labels.data,
    height: h,
    width: w,
    storedChannels: 1,
    classNames,
    source: options.images,
  });
}

/**
 * "0" … "K-1" for the labels of a file: K = max(10, largest label + 1). Past the 10 classes of
 * MNIST-style data each label up to the largest must occur: a gap means a corrupt label (one
 * byte of 200 among 0–9 would otherwise build a 201-class model).
 */
function inferClassNames(labels: ArrayLike<number>, file: string): string[] {
  const seen = new Set<number>();
  let largest = 0, at = 0;
  for (let i = 0; i < labels.length; i++) {
    seen.add(labels[i]);
    if (labels[i] > largest) [largest, at] = [labels[i], i];
  }
  let missing = 10;
  while (missing < largest && seen.has(missing)) missing++;
  if (missing < largest) {
    let end = missing;
    while (end + 1 < largest && !seen.has(end + 1)) end++;
    const gap = end === missing
      ? `label ${missing} never occurs`
      : `labels ${missing}–${end} never occur`;
    throw new Error(
      `${file}: record ${at} has label ${largest}, but ${gap}: a corrupt label? ` +
        `(give classNames to load a data set with unused classes)`,
    );
  }
  return Array.from({ length: Math.max(10, largest + 1) }, (_, i) => String(i));
}
const IDX_FILES = {
  trainImages: /^train-images[.-]idx3-ubyte(\.gz)?$/,
  trainLabels: /^train-labels[.-]idx1-ubyte(\.gz)?$/,
  valImages: /^t10k-images[.-]idx3-ubyte(\.gz)?$/,
  valLabels: /^t10k-labels[.-]idx1-ubyte(\.gz)?$/,
};

async function findIdxFile(dir: string, pattern: RegExp): Promise<string | null> {
  for await (const e of Deno.readDir(dir)) if (pattern.test(e.name)) return join(dir, e.name);
  return null;
}

/**
 * MNIST-style IDX files as a data format: a folder holding `train-images-idx3-ubyte[.gz]`,
 * `train-labels-idx1-ubyte[.gz]` and the `t10k-` pair for validation.
 *
 * @example
 * ```ts
 * import { idxFormat } from "./idx.ts";
 * console.log(await idxFormat.detect(Deno.cwd())); // null: no IDX files here
 * ```
 */
export const idxFormat: DataFormat = {
  kind: "idx",
  looksFor: "IDX files (train-images-idx3-ubyte[.gz])",
  async detect(dir) {
    return (await findIdxFile(dir, IDX_FILES.trainImages)) ? { kind: "idx", dir } : null;
  },
  async load(source) {
    const dir = sourceDir(source);
    const find = async (pattern: RegExp): Promise<string> => {
      const path = await findIdxFile(dir, pattern);
      if (path === null) {
        // Named as a user would write it, not as the pattern that matches it.
        const name = pattern.source.slice(1, -1).replace("[.-]", "-").replace("(\\.gz)?", "[.gz]");
        throw new DataFormatError(
          `${dir}: no ${name} (IDX data is four files: the train- and t10k- images and labels)`,
        );
      }
      return path;
    };
    const train = await loadIdx({
      images: await find(IDX_FILES.trainImages),
      labels: await find(IDX_FILES.trainLabels),
    });
    // The test labels are checked against the training set's classes.
    const val = await loadIdx({
      images: await find(IDX_FILES.valImages),
      labels: await find(IDX_FILES.valLabels),
      classNames: train.classNames,
    });
    return { train, val, description: `IDX ${dir}, ${train.length} / ${val.length}` };
  },
};
