/**
 * Reads a folder written by `prepareImageFolder` back as a {@link Dataset}.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import { join } from "node:path";
import type { Sample } from "./dataset.ts";
import { type DataFormat, DataFormatError, sourceDir } from "./data_format.ts";
import { plural } from "../_format.ts";
import { isFile } from "./_fs.ts";
import { DatasetBase } from "./_dataset_base.ts";
import type { RgbPca, ShardManifest } from "./prepare.ts";
import { decodeShardHeader, pixelOffset, SHARD_HEADER_BYTES, shardBytes } from "./_shard_format.ts";

/** What a folder without `manifest.json` is, for the errors that meet one. */
const NO_MANIFEST = "no manifest.json: not a prepared folder, or its prepare stopped before " +
  "the end (run it again)";

/** Options of {@link ShardDataset.open}. */
export interface ShardDatasetOptions {
  /**
   * Load all shards into memory (true), or read each sample from disk on `get` (false).
   * Default: in memory when the pixels take at most 1 GiB.
   */
  inMemory?: boolean;
  /** At most this many shard files are kept open when reading from disk; default 32. */
  maxOpenFiles?: number;
}

const SHARD_DATASET_OPTIONS = optionNames<ShardDatasetOptions>({
  inMemory: true,
  maxOpenFiles: true,
});

interface ShardInfo {
  path: string;
  count: number;
  /** Index of the shard's first sample in the dataset. */
  start: number;
  bytes: Uint8Array | null;
}

/**
 * A prepared folder as a dataset, with its statistics (`mean`, `meanRgb`, `pca`, in units of
 * pixel/255) for `augmentBatch`. Call `close()` when reading from disk.
 *
 * @example
 * ```ts
 * import { prepareImageFolder } from "./prepare.ts";
 * import { ShardDataset } from "./shard_dataset.ts";
 * import { encode } from "npm:fast-png@8.0.0";
 * const dir = await Deno.makeTempDir();
 * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
 *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
 * }
 * await prepareImageFolder({ input: dir, output: `${dir}-prepared`, size: 8 });
 * const train = await ShardDataset.open(`${dir}-prepared`);
 * const { pixels, label } = train.get(0); // 8×8×3 u8 HWC
 * console.log(pixels.length, label, train.pca?.eigenvalues, train.mean?.length); // 192 0 [...] 192
 * train.close();
 * ```
 */
export class ShardDataset extends DatasetBase {
  /** The folder's manifest, as read. */
  readonly manifest: ShardManifest;
  /** The mean image, HWC float32 (pixel/255 units), or null if not computed. */
  readonly mean: Float32Array | null;
  /** The per-channel mean (pixel/255 units), or null. */
  readonly meanRgb: [number, number, number] | null;
  /** The RGB PCA (pixel/255 units), or null. */
  readonly pca: RgbPca | null;
  readonly #shards: ShardInfo[];
  readonly #labels: Int32Array;
  readonly #open = new Map<number, Deno.FsFile>();
  readonly #maxOpen: number;

  private constructor(
    manifest: ShardManifest,
    shards: ShardInfo[],
    labels: Int32Array,
    mean: Float32Array | null,
    maxOpen: number,
  ) {
    const { count: length, classNames, height, width } = manifest;
    super({ name: "ShardDataset", length, classNames, height, width });
    this.manifest = manifest;
    this.#shards = shards;
    this.#labels = labels;
    this.mean = mean;
    this.meanRgb = manifest.mean
      ? [manifest.mean.rgb[0], manifest.mean.rgb[1], manifest.mean.rgb[2]]
      : null;
    this.pca = manifest.pca;
    this.#maxOpen = maxOpen;
  }

  /**
   * Opens a prepared folder, checking the manifest and every shard's header and size.
   *
   * @example
   * ```ts
   * import { prepareImageFolder } from "./prepare.ts";
   * import { ShardDataset } from "./shard_dataset.ts";
   * import { encode } from "npm:fast-png@8.0.0";
   * const dir = await Deno.makeTempDir();
   * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
   *   await Deno.mkdir(`${dir}/${name}`);
   *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
   *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
   * }
   * await prepareImageFolder({ input: dir, output: `${dir}-prepared`, size: 8 });
   * const val = await ShardDataset.open(`${dir}-prepared`, { inMemory: true });
   * console.log(val.length); // 2
   * ```
   */
  static async open(dir: string, options: ShardDatasetOptions = {}): Promise<ShardDataset> {
    checkOptions("ShardDataset.open", options, SHARD_DATASET_OPTIONS);
    const manifestPath = `${dir}/manifest.json`;
    let manifest: ShardManifest;
    try {
      manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        // It read 'cannot read manifest: No such file or directory (os error 2): readfile …'.
        throw new Error(`${dir}: ${NO_MANIFEST}`, { cause: e });
      }
      throw new Error(`${manifestPath}: cannot read manifest: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (manifest.format !== "alexnet-webgpu-shards" || manifest.version !== 1) {
      throw new Error(`${manifestPath}: not a version 1 alexnet-webgpu-shards manifest`);
    }
    const stride = manifest.height * manifest.width * 3;
    const inMemory = options.inMemory ?? manifest.count * stride <= 2 ** 30;
    const shards: ShardInfo[] = [];
    const labels = new Int32Array(manifest.count);
    let start = 0;
    for (const s of manifest.shards) {
      const path = `${dir}/${s.file}`;
      let head: Uint8Array;
      let bytes: Uint8Array | null = null;
      let size: number;
      if (inMemory) {
        bytes = await Deno.readFile(path);
        head = bytes;
        size = bytes.length;
      } else {
        using f = await Deno.open(path);
        size = (await f.stat()).size;
        head = new Uint8Array(SHARD_HEADER_BYTES + 4 * s.count);
        await readFully(f, head, path);
      }
      const h = decodeShardHeader(head, path);
      if (
        h.count !== s.count || h.height !== manifest.height || h.width !== manifest.width ||
        h.channels !== 3
      ) {
        throw new Error(`${path}: shard header does not match ${manifestPath}`);
      }
      if (size !== shardBytes(h)) {
        throw new Error(`${path}: shard is ${size} bytes, its header implies ${shardBytes(h)}`);
      }
      const lv = new DataView(head.buffer, head.byteOffset + SHARD_HEADER_BYTES, 4 * h.count);
      for (let i = 0; i < h.count; i++) {
        const l = lv.getUint32(4 * i, true);
        if (l >= manifest.classNames.length) {
          throw new Error(`${path}: record ${i} has label ${l} outside the manifest's classes`);
        }
        labels[start + i] = l;
      }
      shards.push({ path, count: h.count, start, bytes });
      start += h.count;
    }
    if (start !== manifest.count) {
      throw new Error(
        `${manifestPath}: shards hold ${plural(start, "image")}, manifest says ${manifest.count}`,
      );
    }
    let mean: Float32Array | null = null;
    if (manifest.mean) {
      const path = `${dir}/${manifest.mean.file}`;
      const raw = await Deno.readFile(path);
      if (raw.length !== stride * 4) throw new Error(`${path}: expected ${stride * 4} bytes`);
      mean = new Float32Array(raw.buffer, raw.byteOffset, stride).slice();
    }
    return new ShardDataset(manifest, shards, labels, mean, options.maxOpenFiles ?? 32);
  }

  /** The stored label, without the pixels. */
  protected override labelAt(index: number): number {
    return this.#labels[index];
  }

  /** The sample at `index` (a view into memory, or a fresh buffer read from disk). */
  protected sample(index: number): Sample {
    // Binary search for the shard holding `index`.
    let lo = 0, hi = this.#shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#shards[mid].start <= index) lo = mid;
      else hi = mid - 1;
    }
    const shard = this.#shards[lo];
    const h = { count: shard.count, height: this.height, width: this.width, channels: 3 };
    const off = pixelOffset(h, index - shard.start);
    const label = this.#labels[index];
    if (shard.bytes) return { pixels: shard.bytes.subarray(off, off + this.sampleBytes), label };
    const file = this.#file(lo);
    const pixels = new Uint8Array(this.sampleBytes);
    file.seekSync(off, Deno.SeekMode.Start);
    let got = 0;
    while (got < pixels.length) {
      const n = file.readSync(pixels.subarray(got));
      if (n === null || n === 0) throw new Error(`${shard.path}: unexpected end of file`);
      got += n;
    }
    return { pixels, label };
  }

  #file(shard: number): Deno.FsFile {
    let f = this.#open.get(shard);
    if (f) {
      this.#open.delete(shard); // re-insert: Map order is the LRU order
      this.#open.set(shard, f);
      return f;
    }
    if (this.#open.size >= this.#maxOpen) {
      const [oldest, file] = this.#open.entries().next().value as [number, Deno.FsFile];
      file.close();
      this.#open.delete(oldest);
    }
    f = Deno.openSync(this.#shards[shard].path);
    this.#open.set(shard, f);
    return f;
  }

  /**
   * Closes the shard files kept open for disk reads (the dataset stays usable: files are
   * reopened on demand).
   *
   * @example
   * ```ts
   * import { prepareImageFolder } from "./prepare.ts";
   * import { ShardDataset } from "./shard_dataset.ts";
   * import { encode } from "npm:fast-png@8.0.0";
   * const dir = await Deno.makeTempDir();
   * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
   *   await Deno.mkdir(`${dir}/${name}`);
   *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
   *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
   * }
   * await prepareImageFolder({ input: dir, output: `${dir}-prepared`, size: 8 });
   * const ds = await ShardDataset.open(`${dir}-prepared`, { inMemory: false });
   * ds.get(0);
   * ds.close();
   * ```
   */
  close(): void {
    for (const f of this.#open.values()) f.close();
    this.#open.clear();
  }
}

async function readFully(f: Deno.FsFile, buf: Uint8Array, path: string): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await f.read(buf.subarray(got));
    if (n === null || n === 0) throw new Error(`${path}: shard truncated`);
    got += n;
  }
}

/**
 * Folders written by `prepareImageFolder` as a data format: one prepared training folder with
 * its validation folder given apart, or their parent holding `train/` and `val/`. The
 * training folder's mean image and PCA come along for the paper's preprocessing.
 *
 * @example
 * ```ts
 * import { shardFormat } from "./shard_dataset.ts";
 * console.log(await shardFormat.detect(Deno.cwd())); // null: no manifest.json here
 * ```
 */
export const shardFormat: DataFormat = {
  kind: "shards",
  looksFor: "prepared shards (manifest.json, or train/ and val/)",
  async detect(dir, valDir) {
    if (await isFile(join(dir, "manifest.json"))) {
      if (!valDir) {
        throw new DataFormatError(
          `${dir} is one prepared folder: give its validation folder too ` +
            `(or the parent folder holding train/ and val/)`,
        );
      }
      return { kind: "shards", dir, valDir };
    }
    const train = join(dir, "train"), val = join(dir, "val");
    if (!(await isFile(join(train, "manifest.json")))) return null;
    if (valDir === undefined && !(await isFile(join(val, "manifest.json")))) {
      // It read 'found none of … prepared shards (manifest.json, or train/ and val/)'.
      throw new DataFormatError(`${dir} holds prepared train/, but ${val}: ${NO_MANIFEST}`);
    }
    return { kind: "shards", dir: train, valDir: valDir ?? val };
  },
  async load(source) {
    const dir = sourceDir(source), valDir = sourceDir(source, "valDir");
    const train = await ShardDataset.open(dir);
    const val = await ShardDataset.open(valDir);
    // Validation crops the centre of its images and subtracts the training mean image: other
    // sizes failed after the first epoch's training, with 'augment: crop 21 does not fit …'.
    if (val.height !== train.height || val.width !== train.width) {
      throw new DataFormatError(
        `${valDir} holds ${val.height}×${val.width} images and ${dir} ${train.height}×` +
          `${train.width}: prepare both at the same --size`,
      );
    }
    const pca = train.pca
      ? { eigenvalues: train.pca.eigenvalues, eigenvectors: train.pca.eigenvectors, sigma: 0.1 }
      : null;
    return {
      train,
      val,
      meanImage: train.mean,
      pca,
      description: `prepared ${dir} (${train.length}) / ${valDir} (${val.length}), ` +
        `${train.height}×${train.width}, ${train.numClasses} classes`,
    };
  },
};
