/**
 * What the strict tests share: a one-line error assertion, and the type of what a caller
 * without the type checker may pass.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Asserts that `fn` throws a one-line `type` whose message matches `pattern`. */
export function throwsLine(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  pattern: RegExp,
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    return true;
  });
}

/** What a caller without types may pass: anything. */
// deno-lint-ignore no-explicit-any
export type Untyped = any;
