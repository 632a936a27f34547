/**
 * Seeded subsets balanced across classes, for a quick run on part of a large data set
 * (`train --train-size`, `--val-size`).
 *
 * @module
 */

import type { Dataset, Sample } from "./dataset.ts";
import { DatasetBase } from "./_dataset_base.ts";
import { Rng } from "./rng.ts";

/**
 * Indices of `size` samples balanced across classes: each class gives `size / classes`
 * samples (the remainder going to classes drawn at random), and a class with too few gives
 * all it has, its share passing to the others. Within a class the samples are drawn at random.
 * The result is sorted, and a function of the labels, `size` and `seed` only.
 *
 * @example
 * ```ts
 * import { balancedIndices } from "./subset.ts";
 * const labels = [0, 0, 0, 0, 0, 0, 1, 1, 2];
 * const picked = balancedIndices(labels, 3, 6, 1);
 * console.log(picked.map((i) => labels[i])); // two of each class: 0, 0, 1, 1, 2, then one more 0
 * ```
 */
export function balancedIndices(
  labels: ArrayLike<number>,
  numClasses: number,
  size: number,
  seed: number,
): number[] {
  if (!Number.isInteger(size) || size < 0) {
    throw new RangeError(`a subset size must be a non-negative integer, got ${size}`);
  }
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const rng = new Rng(seed, 0x5eb5e7);
  for (const members of byClass) rng.shuffle(members);
  // Round robin over the classes in a random order: balanced up to what each class holds.
  const order = rng.shuffle(Array.from({ length: numClasses }, (_, c) => c));
  const picked: number[] = [];
  const taken = new Array<number>(numClasses).fill(0);
  const target = Math.min(size, labels.length);
  while (picked.length < target) {
    for (const c of order) {
      if (picked.length === target) break;
      if (taken[c] < byClass[c].length) picked.push(byClass[c][taken[c]++]);
    }
  }
  return picked.sort((a, b) => a - b);
}

/**
 * Some samples of a dataset, by index: same classes, image size and samples.
 *
 * @example
 * ```ts
 * import { SubsetDataset } from "./subset.ts";
 * import { syntheticSplits } from "./synthetic.ts";
 * const { train } = syntheticSplits({ trainSize: 10, valSize: 2, size: 8 });
 * const part = new SubsetDataset(train, [1, 4, 7]);
 * console.log(part.length, part.get(1).label === train.get(4).label); // 3 true
 * ```
 */
export class SubsetDataset extends DatasetBase {
  /** The dataset the samples come from. */
  readonly source: Dataset;
  /** Index in `source` of each sample. */
  readonly indices: readonly number[];

  /** A view of `source` at `indices` (each in range). */
  constructor(source: Dataset, indices: readonly number[]) {
    const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= source.length);
    if (bad !== undefined) {
      throw new RangeError(`SubsetDataset: index ${bad} outside [0, ${source.length})`);
    }
    super({
      name: "SubsetDataset",
      length: indices.length,
      classNames: source.classNames,
      height: source.height,
      width: source.width,
    });
    this.source = source;
    this.indices = Object.freeze([...indices]);
  }

  /** The source's sample. */
  protected sample(index: number): Sample {
    return this.source.get(this.indices[index]);
  }

  /** The source's label, without its pixels when the source can. */
  protected override labelAt(index: number): number {
    return labelOf(this.source, this.indices[index]);
  }
}

/**
 * The label of sample `index`, read without its pixels when the dataset offers `label`.
 *
 * @example
 * ```ts
 * import { ArrayDataset, labelOf } from "../mod.ts";
 * const ds = new ArrayDataset({
 *   pixels: new Uint8Array(2 * 4 * 4 * 3), labels: [0, 1], height: 4, width: 4,
 *   classNames: ["a", "b"],
 * });
 * console.log(labelOf(ds, 1)); // 1
 * ```
 */
export function labelOf(dataset: Dataset, index: number): number {
  return dataset.label ? dataset.label(index) : dataset.get(index).label;
}

/**
 * A seeded subset of `size` samples balanced across classes (see {@link balancedIndices}), or
 * the dataset itself when it holds no more than `size`.
 *
 * @example
 * ```ts
 * import { balancedSubset } from "./subset.ts";
 * import { syntheticSplits } from "./synthetic.ts";
 * const { train } = syntheticSplits({ trainSize: 100, valSize: 10, size: 8 });
 * console.log(balancedSubset(train, 20, 0).length); // 20
 * ```
 */
export function balancedSubset(dataset: Dataset, size: number, seed: number): Dataset {
  if (size >= dataset.length) return dataset;
  const labels = Int32Array.from({ length: dataset.length }, (_, i) => labelOf(dataset, i));
  return new SubsetDataset(dataset, balancedIndices(labels, dataset.numClasses, size, seed));
}
