/**
 * Batches of a {@link Dataset}: a seeded shuffle per epoch, augmentation, prefetch and exact
 * resume.
 *
 * Determinism: the order of epoch `e` is a Fisher–Yates shuffle drawn from `Rng(seed, 1, e)`,
 * and batch `b` of epoch `e` is augmented with its own `Rng(seed, 2, e, b)`. Every batch is
 * therefore a pure function of `(dataset, options, epoch, batch index)`: the RNG state of the
 * loader is fully described by `(seed, epoch, position)`, which is what {@link
 * DataLoader.state} saves. A restored loader yields exactly the batches the original would
 * have, whatever was prefetched.
 *
 * Prefetch: an async queue on the calling thread (not a Web Worker: datasets are arbitrary
 * objects that cannot be sent to a worker, and a worker would need its own copy of the data).
 * After each `next()`, the following `prefetch` batches are scheduled as macrotasks
 * (`setTimeout 0`), so they are built while the consumer awaits GPU work (e.g.
 * `mapAsync`/`onSubmittedWorkDone`). If the consumer asks for a batch whose task has not run
 * yet, it is built at once and its task cancelled, so the consumer never waits on a timer.
 *
 * Building a batch on the host is reading its samples, gathering their bytes into one array and
 * drawing its patches (crop, reflection, colour offsets); the per-pixel float work happens on
 * the device (`cropImages`, as the trainer does), or on the host when `images` is first read.
 *
 * @module
 */

import { checkOptions, optionNames, requireBoolean } from "../../tensor/options.ts";
import { describeValue } from "../../tensor/shape.ts";
import type { Dataset, Sample } from "./dataset.ts";
import {
  augmentedCrops,
  type AugmentOptions,
  centerCrops,
  type CropBatch,
  type ImageBatch,
  tenCrops,
} from "./augment.ts";
import { cropImagesOnHost } from "../../tensor/images.ts";
import { Rng } from "./rng.ts";

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Shuffle each epoch (otherwise dataset order); default true. */
  shuffle?: boolean;
  /** Seed of the shuffles and augmentation; default 0. */
  seed?: number;
  /** Drop the last incomplete batch of an epoch; default false. */
  dropLast?: boolean;
  /**
   * Augmentation / normalisation. Default: no crop, no flip, no noise, no mean,
   * `scale: 1/255`.
   */
  augment?: AugmentOptions | null;
  /**
   * `random` (default): `augmentBatch`; `center`: `centerCrop`; `ten`: `tenCrop` (10 images
   * per sample, labels per sample). `center` and `ten` use no randomness but the shuffle.
   */
  crops?: "random" | "center" | "ten";
  /** Batches prepared ahead of the consumer; default 2 (0 disables prefetch). */
  prefetch?: number;
}

const DATA_LOADER_OPTIONS = optionNames<DataLoaderOptions>({
  batchSize: true,
  shuffle: true,
  seed: true,
  dropLast: true,
  augment: true,
  crops: true,
  prefetch: true,
});

/** What `augment` may hold (a height and width given are replaced by the data set's). */
const AUGMENT_OPTIONS = optionNames<AugmentOptions>({
  crop: true,
  flip: true,
  pca: true,
  mean: true,
  scale: true,
  height: true,
  width: true,
});

/**
 * A batch with where it came from: the samples' bytes and their patches (`crops`, which the
 * trainer turns into the network's input on each device with `cropImages`), and the same images
 * as float32 on the host (`images`, computed on first read by `cropImagesOnHost`, to the same
 * bits).
 */
export interface LoaderBatch extends ImageBatch, CropBatch {
  /** The epoch it belongs to (0-based). */
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
  /** Dataset indices of the samples, in batch order. */
  indices: Uint32Array;
}

/** The resumable position of a {@link DataLoader} (JSON-serialisable). */
export interface DataLoaderState {
  /** Format version. */
  version: 1;
  /** The loader's seed. */
  seed: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Index within that epoch of the next batch. */
  position: number;
  /** Checked on restore: the loader must be built the same way. */
  /** Samples in the dataset. */
  datasetLength: number;
  /** Samples per batch. */
  batchSize: number;
  /** Whether epochs are shuffled. */
  shuffle: boolean;
  /** Whether the last incomplete batch is dropped. */
  dropLast: boolean;
}

interface Pending {
  epoch: number;
  index: number;
  batch: LoaderBatch | null;
  error: unknown;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Iterates batches of a dataset (see the module doc).
 *
 * @example
 * ```ts
 * import { DataLoader } from "./loader.ts";
 * import { SyntheticDataset } from "./synthetic.ts";
 * const ds = new SyntheticDataset({ count: 64, size: 32 });
 * const loader = new DataLoader(ds, { batchSize: 16, seed: 1, augment: { crop: 28 } });
 * for await (const batch of loader) { // one epoch
 *   console.assert(batch.batchShape.join() === "16,3,28,28");
 * }
 * const saved = loader.state(); // epoch 1, position 0
 * loader.restore(saved);
 * ```
 */
export class DataLoader implements AsyncIterable<LoaderBatch> {
  /** The dataset. */
  readonly dataset: Dataset;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** Seed of the shuffles and augmentation draws. */
  readonly seed: number;
  /** Whether the last incomplete batch of an epoch is dropped. */
  readonly dropLast: boolean;
  /** Batches in an epoch. */
  readonly batchesPerEpoch: number;
  readonly #augment: AugmentOptions;
  readonly #crops: "random" | "center" | "ten";
  readonly #prefetch: number;
  #epoch = 0;
  #position = 0;
  #queue: Pending[] = [];
  #perms = new Map<number, Uint32Array>();

  /** Checks the options; batches are made on demand (and prefetched). */
  constructor(dataset: Dataset, options: DataLoaderOptions) {
    checkOptions("DataLoader", options, DATA_LOADER_OPTIONS, true);
    checkOptions("DataLoader: augment", options.augment ?? undefined, AUGMENT_OPTIONS);
    const { batchSize, shuffle = true, seed = 0, dropLast = false, prefetch = 2 } = options;
    requireBoolean("DataLoader", "shuffle", shuffle);
    requireBoolean("DataLoader", "dropLast", dropLast);
    if (!["random", "center", "ten"].includes(options.crops ?? "random")) {
      throw new RangeError(
        `DataLoader: crops must be "random", "center" or "ten", got ${
          describeValue(options.crops)
        }`,
      );
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isSafeInteger(seed)) throw new RangeError(`DataLoader: bad seed ${seed}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`DataLoader: prefetch must be a non-negative integer`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.dropLast = dropLast;
    this.batchesPerEpoch = dropLast
      ? Math.floor(dataset.length / batchSize)
      : Math.ceil(dataset.length / batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new RangeError(
        `DataLoader: ${dataset.length} samples give no batch of ${batchSize}` +
          (dropLast ? " with dropLast" : ""),
      );
    }
    this.#augment = {
      flip: false,
      scale: 1 / 255,
      ...(options.augment ?? {}),
      height: dataset.height,
      width: dataset.width,
    };
    this.#crops = options.crops ?? "random";
    this.#prefetch = prefetch;
  }

  /** Epoch of the next batch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Index within the epoch of the next batch. */
  get position(): number {
    return this.#position;
  }

  /**
   * The position to resume from (after the last batch returned by `next`).
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const loader = new DataLoader(new SyntheticDataset({ count: 8 }), { batchSize: 4 });
   * await loader.next();
   * const json = JSON.stringify(loader.state()); // {"version":1,...,"epoch":0,"position":1,...}
   * ```
   */
  state(): DataLoaderState {
    return {
      version: 1,
      seed: this.seed,
      epoch: this.#epoch,
      position: this.#position,
      datasetLength: this.dataset.length,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
    };
  }

  /**
   * Continues from a saved state; throws if the loader was built differently.
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const ds = new SyntheticDataset({ count: 8 });
   * const a = new DataLoader(ds, { batchSize: 4, seed: 3 });
   * await a.next();
   * const b = new DataLoader(ds, { batchSize: 4, seed: 3 });
   * b.restore(a.state()); // b.next() now equals a.next()
   * ```
   */
  restore(state: DataLoaderState): void {
    const want = this.state();
    for (const key of ["version", "seed", "datasetLength", "batchSize", "shuffle", "dropLast"]) {
      const k = key as keyof DataLoaderState;
      if (state[k] !== want[k]) {
        throw new Error(`DataLoader.restore: state has ${k} = ${state[k]}, loader has ${want[k]}`);
      }
    }
    if (
      !Number.isSafeInteger(state.epoch) || state.epoch < 0 ||
      !Number.isInteger(state.position) || state.position < 0 ||
      state.position >= this.batchesPerEpoch
    ) {
      throw new RangeError(`DataLoader.restore: bad position ${state.epoch}:${state.position}`);
    }
    this.#cancelAll();
    this.#epoch = state.epoch;
    this.#position = state.position;
  }

  /**
   * The next batch, crossing epoch boundaries (check `batch.epoch`). If building it fails
   * (e.g. the dataset throws), the promise rejects and the position stays on that batch.
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const loader = new DataLoader(new SyntheticDataset({ count: 8 }), { batchSize: 8 });
   * const { images, labels, batchShape } = await loader.next();
   * ```
   */
  next(): Promise<LoaderBatch> {
    this.#fill(1);
    const head = this.#queue.shift()!;
    if (head.timer !== null) {
      clearTimeout(head.timer);
      head.timer = null;
      this.#run(head);
    }
    if (head.error !== null) {
      // Leave the position on the failed batch (a retry rebuilds it) and drop the work queued
      // after it.
      this.#cancelAll();
      return Promise.reject(head.error);
    }
    this.#position++;
    if (this.#position === this.batchesPerEpoch) {
      this.#position = 0;
      this.#epoch++;
    }
    this.#fill(this.#prefetch);
    return Promise.resolve(head.batch!);
  }

  /**
   * The remaining batches of the current epoch.
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const loader = new DataLoader(new SyntheticDataset({ count: 10 }), { batchSize: 4 });
   * let n = 0;
   * for await (const _ of loader.epochBatches()) n++;
   * console.assert(n === 3);
   * ```
   */
  async *epochBatches(): AsyncGenerator<LoaderBatch> {
    const epoch = this.#epoch;
    while (this.#epoch === epoch) yield await this.next();
  }

  /** Same as {@link DataLoader.epochBatches}: `for await` runs the rest of one epoch. */
  [Symbol.asyncIterator](): AsyncIterator<LoaderBatch> {
    return this.epochBatches();
  }

  /**
   * Cancels queued prefetch work (nothing else needs releasing).
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const loader = new DataLoader(new SyntheticDataset({ count: 8 }), { batchSize: 4 });
   * await loader.next();
   * loader.close();
   * ```
   */
  close(): void {
    this.#cancelAll();
  }

  /**
   * Builds batch `index` of `epoch` directly (no queue, no state change).
   *
   * @example
   * ```ts
   * import { DataLoader } from "./loader.ts";
   * import { SyntheticDataset } from "./synthetic.ts";
   * const loader = new DataLoader(new SyntheticDataset({ count: 8 }), { batchSize: 4 });
   * const b = loader.batchAt(3, 1); // epoch 3, second batch
   * ```
   */
  batchAt(epoch: number, index: number): LoaderBatch {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new RangeError(
        `DataLoader.batchAt: batch ${index} outside [0, ${this.batchesPerEpoch})`,
      );
    }
    const perm = this.#permutation(epoch);
    const start = index * this.batchSize;
    const indices = perm.slice(start, Math.min(start + this.batchSize, perm.length));
    const samples: Sample[] = Array.from(indices, (i) => this.dataset.get(i));
    let batch: CropBatch;
    if (this.#crops === "center") batch = centerCrops(samples, this.#augment);
    else if (this.#crops === "ten") batch = tenCrops(samples, this.#augment);
    else batch = augmentedCrops(samples, this.#augment, new Rng(this.seed, 2, epoch, index));
    return loaderBatch(batch, epoch, index, indices);
  }

  #permutation(epoch: number): Uint32Array {
    let perm = this.#perms.get(epoch);
    if (perm) return perm;
    const n = this.dataset.length;
    perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    if (this.shuffle) new Rng(this.seed, 1, epoch).shuffle(perm);
    // Keep only the epochs that can still be asked for (current and the next).
    for (const e of this.#perms.keys()) if (e < this.#epoch) this.#perms.delete(e);
    this.#perms.set(epoch, perm);
    return perm;
  }

  #run(p: Pending): void {
    try {
      p.batch = this.batchAt(p.epoch, p.index);
    } catch (e) {
      p.error = e ?? new Error("DataLoader: batch failed");
    }
  }

  /** Makes the queue hold the next `count` batches from the consumer's position. */
  #fill(count: number): void {
    let epoch = this.#epoch, index = this.#position;
    for (let k = 0; k < count; k++) {
      const have = this.#queue[k];
      if (have) {
        if (have.epoch !== epoch || have.index !== index) {
          throw new Error("DataLoader: queue out of order");
        }
      } else {
        const p: Pending = { epoch, index, batch: null, error: null, timer: null };
        p.timer = setTimeout(() => {
          p.timer = null;
          this.#run(p);
        }, 0);
        this.#queue.push(p);
      }
      if (++index === this.batchesPerEpoch) {
        index = 0;
        epoch++;
      }
    }
  }

  #cancelAll(): void {
    for (const p of this.#queue) if (p.timer !== null) clearTimeout(p.timer);
    this.#queue = [];
  }
}

/** A {@link LoaderBatch} whose `images` are made on the host when first read, then kept. */
function loaderBatch(
  { crops, labels, batchShape }: CropBatch,
  epoch: number,
  index: number,
  indices: Uint32Array,
): LoaderBatch {
  let images: Float32Array | null = null;
  return {
    crops,
    labels,
    batchShape,
    epoch,
    index,
    indices,
    get images(): Float32Array {
      return images ??= cropImagesOnHost(crops);
    },
  };
}
