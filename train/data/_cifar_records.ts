// Private: the record layout shared by the CIFAR-10 and CIFAR-100 binaries: label bytes, then
// 3072 pixel bytes as three 32×32 planes R, G, B, turned into HWC RGB.

import { ArrayDataset } from "./array_dataset.ts";

/** Pixel bytes of one 32×32 RGB image. */
export const CIFAR_PIXEL_BYTES = 3072;

/** How one CIFAR distribution lays out its records. */
export interface CifarLayout {
  /** The data set's name in errors ("CIFAR-10"). */
  readonly dataset: string;
  /** Label bytes before the pixels of each record. */
  readonly labelBytes: number;
  /** Which of them is the label used (CIFAR-100: 1, the fine label). */
  readonly labelAt: number;
  /** Number of classes: labels are in [0, classes). */
  readonly classes: number;
  /** What the label bytes are, for the length error ("1 label byte"). */
  readonly labelNote: string;
}

/** The images (HWC RGB, converted from the file's CHW planes) and labels of CIFAR records. */
export type CifarRecords = { count: number; pixels: Uint8Array; labels: Uint8Array };

/** Parses the bytes of one CIFAR binary file laid out as `layout`; `name` is used in errors. */
export function parseCifarRecords(
  bytes: Uint8Array,
  name: string,
  layout: CifarLayout,
): CifarRecords {
  const recordBytes = layout.labelBytes + CIFAR_PIXEL_BYTES;
  if (bytes.length === 0 || bytes.length % recordBytes !== 0) {
    throw new Error(
      `${name}: ${layout.dataset} file length ${bytes.length} is not a positive multiple of ` +
        `${recordBytes} (${layout.labelNote} + 3072 pixel bytes per record)`,
    );
  }
  const count = bytes.length / recordBytes;
  const pixels = new Uint8Array(count * CIFAR_PIXEL_BYTES);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const rec = n * recordBytes;
    const label = bytes[rec + layout.labelAt];
    if (label >= layout.classes) {
      throw new Error(
        `${name}: record ${n} has label ${label}, ${layout.dataset} labels are ` +
          `0–${layout.classes - 1}`,
      );
    }
    labels[n] = label;
    const plane = rec + layout.labelBytes, out = n * CIFAR_PIXEL_BYTES;
    for (let p = 0; p < 1024; p++) {
      const o = out + p * 3;
      pixels[o] = bytes[plane + p];
      pixels[o + 1] = bytes[plane + 1024 + p];
      pixels[o + 2] = bytes[plane + 2048 + p];
    }
  }
  return { count, pixels, labels };
}

/** The records of several files as one, in order. */
function joinRecords(parts: readonly CifarRecords[]): CifarRecords {
  const count = parts.reduce((s, b) => s + b.count, 0);
  const pixels = new Uint8Array(count * CIFAR_PIXEL_BYTES);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const b of parts) {
    pixels.set(b.pixels, n * CIFAR_PIXEL_BYTES);
    labels.set(b.labels, n);
    n += b.count;
  }
  return { count, pixels, labels };
}

/**
 * The class names listed one per line in `path` (blank lines ignored), or `fallback` when the
 * file is absent; a list of another length than `classes` is an error naming the file.
 */
async function readClassNames(
  path: string,
  classes: number,
  fallback: readonly string[],
): Promise<readonly string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return fallback;
    throw e;
  }
  const names = text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== classes) {
    throw new Error(`${path}: expected ${classes} class names, found ${names.length}`);
  }
  return names;
}

/** Reads one CIFAR binary file; a read failure names the file and the data set. */
async function readCifarFile(
  path: string,
  layout: CifarLayout,
): Promise<CifarRecords> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read ${layout.dataset} file: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseCifarRecords(bytes, path, layout);
}

/** `name` inside `dir`. */
export function inDir(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * The 32×32 dataset of `files` in `dir` (in order), laid out as `layout`, its classes named by
 * `namesFile` in `dir` or else `fallbackNames`.
 */
export async function loadCifarFiles(
  dir: string,
  files: readonly string[],
  layout: CifarLayout,
  namesFile: string,
  fallbackNames: readonly string[],
): Promise<ArrayDataset> {
  const parts: CifarRecords[] = [];
  for (const f of files) parts.push(await readCifarFile(inDir(dir, f), layout));
  const { pixels, labels } = joinRecords(parts);
  const classNames = await readClassNames(inDir(dir, namesFile), layout.classes, fallbackNames);
  return new ArrayDataset({
    pixels,
    labels,
    height: 32,
    width: 32,
    classNames,
    source: files.length === 1 ? inDir(dir, files[0]) : dir,
  });
}
