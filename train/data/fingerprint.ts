/**
 * Fingerprints of a run's data, so that a resumed run can tell it is given the same data set
 * (moved to another folder) and explain how it differs when it is not.
 *
 * @module
 */

import type { Dataset } from "./dataset.ts";
import { compareClasses } from "./classes.ts";
import { labelOf } from "./subset.ts";

/** What identifies one split: its size, classes, image size and a hash of its contents. */
export interface SplitFingerprint {
  /** Images. */
  count: number;
  /** Class names, in label order. */
  classes: string[];
  /** Image height and width. */
  size: [number, number];
  /** FNV-1a of every label and of the pixels of up to 64 images spread over the split. */
  hash: string;
}

/** Fingerprints of the training and validation splits. */
export interface DataFingerprint {
  /** The training split. */
  train: SplitFingerprint;
  /** The validation split. */
  val: SplitFingerprint;
}

/** Images whose pixels enter the hash: enough to tell data sets apart, cheap to read. */
const HASHED_IMAGES = 64;

/**
 * The fingerprint of one dataset (every label, and the pixels of up to 64 images).
 *
 * @example
 * ```ts
 * import { fingerprint } from "./fingerprint.ts";
 * import { syntheticSplits } from "./synthetic.ts";
 * const { train } = syntheticSplits({ trainSize: 20, valSize: 4, size: 8 });
 * console.log(fingerprint(train).count); // 20
 * ```
 */
export function fingerprint(ds: Dataset): SplitFingerprint {
  let h = 0x811c9dc5;
  const mix = (byte: number) => {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  };
  for (let i = 0; i < ds.length; i++) {
    const l = labelOf(ds, i);
    for (let k = 0; k < 4; k++) mix((l >>> (8 * k)) & 255);
  }
  const n = Math.min(ds.length, HASHED_IMAGES);
  for (let k = 0; k < n; k++) {
    const pixels = ds.get(Math.floor((k * ds.length) / n)).pixels;
    for (let i = 0; i < pixels.length; i++) mix(pixels[i]);
  }
  return {
    count: ds.length,
    classes: [...ds.classNames],
    size: [ds.height, ds.width],
    hash: h.toString(16).padStart(8, "0"),
  };
}

/**
 * How the data now differs from the data a run was started on, one phrase per difference
 * (empty when they agree).
 *
 * @example
 * ```ts
 * import { dataDifferences, fingerprint } from "./fingerprint.ts";
 * import { syntheticSplits } from "./synthetic.ts";
 * const a = syntheticSplits({ trainSize: 20, valSize: 4, size: 8 });
 * const b = syntheticSplits({ trainSize: 30, valSize: 4, size: 8 });
 * const of = (s: typeof a) => ({ train: fingerprint(s.train), val: fingerprint(s.val) });
 * console.log(dataDifferences(of(a), of(b))); // ["training images: 20 then, 30 now"]
 * ```
 */
export function dataDifferences(then: DataFingerprint, now: DataFingerprint): string[] {
  const out: string[] = [];
  for (const [split, name] of [["train", "training"], ["val", "validation"]] as const) {
    const a = then[split], b = now[split];
    if (a.count !== b.count) out.push(`${name} images: ${a.count} then, ${b.count} now`);
    const { missing, extra, reordered } = compareClasses(a.classes, b.classes);
    if (missing.length > 0) out.push(`${name} classes missing now: ${missing.join(", ")}`);
    if (extra.length > 0) out.push(`${name} classes new now: ${extra.join(", ")}`);
    if (reordered) out.push(`${name} classes in another order`);
    if (a.size[0] !== b.size[0] || a.size[1] !== b.size[1]) {
      out.push(`${name} image size: ${a.size.join("×")} then, ${b.size.join("×")} now`);
    }
    // Contents are compared only when nothing coarser already differs.
    const same = !out.some((s) => s.startsWith(name));
    if (same && a.hash !== b.hash) {
      out.push(`${name} images or labels differ (same counts and classes, other contents)`);
    }
  }
  return out;
}
