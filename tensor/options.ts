/**
 * The checks of what a caller without the type checker may pass in an options object or an
 * untyped flag or number, shared by every layer that takes options (tensor ops, `nn` modules,
 * `train` optimisers, schedulers and data): an unknown key is a one-line `TypeError` naming the
 * op and the nearest known name, never ignored.
 *
 * @module
 */

import { describeValue } from "./shape.ts";

/**
 * The names of an options type, as a record the compiler holds complete: a key added to the
 * type and not here (or one here and not in the type) does not compile, so the run-time check
 * of {@link checkOptions} cannot drift from the type.
 */
export function optionNames<T extends object>(
  names: { readonly [K in keyof Required<T>]: true },
): readonly string[] {
  return Object.keys(names);
}

/**
 * Throws unless `options` is undefined or a plain object whose every key is in `names`: an
 * unknown key (a typo, a snake_case PyTorch name, an option of another op) would otherwise be
 * ignored without a word. The message suggests the nearest name. `required`: the op has no
 * defaults for them all (a pooling's kernel). Runs on every call of an op that takes options, so
 * it allocates nothing unless it throws.
 */
export function checkOptions(
  op: string,
  options: unknown,
  names: readonly string[],
  required = false,
): void {
  if (options === undefined && !required) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${op}: options must be an object such as { ${names[0]}: … }, got ${describeValue(options)}`,
    );
  }
  const prototype = Object.getPrototypeOf(options);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(
      `${op}: options must be a plain object such as { ${names[0]}: … }, got ` +
        describeValue(options),
    );
  }
  for (const key in options) {
    if (!names.includes(key)) {
      const near = nearestName(key, names);
      throw new TypeError(
        `${op}: unknown option "${key}" ` +
          (near === undefined ? `(known: ${names.join(", ")})` : `(did you mean "${near}"?)`),
      );
    }
  }
}

/**
 * The name of `names` nearest to `word`, if one is near: the same but for case and underscores
 * (PyTorch's `requires_grad` for `requiresGrad`), else one that starts the other, else one
 * within an edit distance of about a third of the word.
 *
 * @example
 * ```ts
 * import { nearestName } from "./options.ts";
 * console.log(nearestName("keepdims", ["keepdim", "correction"])); // "keepdim"
 * console.log(nearestName("requires_grad", ["device", "requiresGrad"])); // "requiresGrad"
 * ```
 */
export function nearestName(word: string, names: readonly string[]): string | undefined {
  const folded = (name: string) => name.replaceAll("_", "").toLowerCase();
  const same = names.find((name) => folded(name) === folded(word));
  if (same !== undefined) return same;
  // A name cut short or run on ("descend" for "descending", "keepdims" for "keepdim").
  const stem = names.find((name) => {
    const [short, long] = [folded(word), folded(name)].sort((a, b) => a.length - b.length);
    return short.length >= 3 && long.startsWith(short);
  });
  if (stem !== undefined) return stem;
  let best: string | undefined, bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(word, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Levenshtein's distance: the fewest insertions, deletions and substitutions from `a` to `b`. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}

/** Throws unless `value` is a boolean: an object or a number there would read as true or false. */
export function requireBoolean(op: string, name: string, value: unknown): void {
  if (typeof value !== "boolean") {
    throw new TypeError(`${op}: ${name} must be true or false, got ${describeValue(value)}`);
  }
}

/** Throws unless `value` is a number (NaN and ±∞ are numbers, as IEEE's and PyTorch's scalars). */
export function requireNumber(op: string, name: string, value: unknown): void {
  if (typeof value !== "number") {
    throw new TypeError(`${op}: ${name} must be a number, got ${describeValue(value)}`);
  }
}

/**
 * Throws unless `value` is an integer ≥ `least` (a channel or feature count, a group count): a
 * string ("3"), a fraction or NaN there would surface later as a tensor shape no kernel takes.
 */
export function requireCount(op: string, name: string, value: unknown, least: 0 | 1 = 1): void {
  if (!Number.isInteger(value) || (value as number) < least) {
    const what = least === 1 ? "a positive integer" : "a non-negative integer";
    const given = typeof value === "number" ? value : describeValue(value);
    throw new RangeError(`${op}: ${name} must be ${what}, got ${given}`);
  }
}
