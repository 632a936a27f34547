/**
 * Checks that a validation set uses the training set's classes: labels are indices into the
 * class list, so a validation folder missing one class shifts every label after it.
 *
 * @module
 */

/** How two class lists differ; all empty when they are the same list in the same order. */
export interface ClassDifference {
  /** Training classes the other list lacks. */
  missing: string[];
  /** Classes of the other list the training set lacks. */
  extra: string[];
  /** Whether the same names appear in another order. */
  reordered: boolean;
}

/**
 * Compares a training class list with another (validation, test) by name.
 *
 * @example
 * ```ts
 * import { compareClasses } from "./classes.ts";
 * console.log(compareClasses(["a", "b", "c"], ["a", "c"])); // { missing: ["b"], extra: [], reordered: false }
 * ```
 */
export function compareClasses(
  train: readonly string[],
  other: readonly string[],
): ClassDifference {
  const inOther = new Set(other), inTrain = new Set(train);
  const missing = train.filter((c) => !inOther.has(c));
  const extra = other.filter((c) => !inTrain.has(c));
  const reordered = missing.length === 0 && extra.length === 0 &&
    train.some((c, i) => other[i] !== c);
  return { missing, extra, reordered };
}

/**
 * Throws when `other` does not hold exactly the training classes in the same order; the
 * message lists the missing and extra classes. `trainName` and `otherName` name the two sets
 * (e.g. their folders).
 *
 * @example
 * ```ts
 * import { requireSameClasses } from "./classes.ts";
 * try {
 *   requireSameClasses(["a", "b", "c"], ["a", "c"], "train/", "val/");
 * } catch (e) {
 *   console.log((e as Error).message); // the classes of val/ differ from those of train/: missing b
 * }
 * ```
 */
export function requireSameClasses(
  train: readonly string[],
  other: readonly string[],
  trainName: string,
  otherName: string,
): void {
  const { missing, extra, reordered } = compareClasses(train, other);
  if (missing.length === 0 && extra.length === 0 && !reordered) return;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${list(missing)}`);
  if (extra.length > 0) parts.push(`extra ${list(extra)}`);
  if (reordered) parts.push(`same names in another order (${list(other)})`);
  throw new Error(
    `the classes of ${otherName} differ from those of ${trainName}: ${parts.join("; ")} ` +
      `(labels are indices into the class list, so they would be shifted)`,
  );
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(", ");
  return names.length > 10 ? `${shown}, … (${names.length} in all)` : shown;
}
