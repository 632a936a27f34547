/**
 * The memo of kernel generators (kernels/_memo.ts): repeated arguments reuse the first result
 * without generating again; any difference, however deep in the arguments, generates anew; a
 * generator that throws is asked again next time; past its limit the memo drops the least
 * recently used results (one in steady use stays). A kernel memoised with its uniforms packs
 * them in order; one memoised by a key of its own regenerates exactly when that key changes.
 */

import assert from "node:assert/strict";
import { memoised, memoisedBy, memoisedKernel } from "../kernels/_memo.ts";

/** A generator that counts its calls and returns a fresh object each time. */
function counted() {
  const calls: string[] = [];
  const generate = memoised((spec: { tile: { m: number }; flags: boolean[] }, n: number) => {
    calls.push(JSON.stringify([spec, n]));
    if (n < 0) throw new RangeError(`negative size ${n}`);
    return { wgsl: `m${spec.tile.m} ${spec.flags.join()} n${n}` };
  });
  return { calls, generate };
}

Deno.test("memoised: equal arguments reuse the first result", () => {
  const { calls, generate } = counted();
  const first = generate({ tile: { m: 4 }, flags: [true] }, 8);
  const again = generate({ tile: { m: 4 }, flags: [true] }, 8);
  assert.equal(again, first);
  assert.equal(calls.length, 1);
});

Deno.test("memoised: a difference anywhere in the arguments generates anew", () => {
  const { calls, generate } = counted();
  const base = generate({ tile: { m: 4 }, flags: [true] }, 8);
  assert.equal(generate({ tile: { m: 8 }, flags: [true] }, 8).wgsl, "m8 true n8");
  assert.equal(generate({ tile: { m: 4 }, flags: [false] }, 8).wgsl, "m4 false n8");
  assert.equal(generate({ tile: { m: 4 }, flags: [true] }, 9).wgsl, "m4 true n9");
  assert.equal(calls.length, 4);
  assert.equal(generate({ tile: { m: 4 }, flags: [true] }, 8), base);
});

Deno.test("memoised: a generator that throws is not remembered", () => {
  const { calls, generate } = counted();
  for (let i = 0; i < 2; i++) {
    assert.throws(() => generate({ tile: { m: 4 }, flags: [] }, -1), /negative size -1/);
  }
  assert.equal(calls.length, 2);
});

Deno.test("memoised: a result in steady use survives many new arguments", () => {
  const { calls, generate } = counted();
  const hot = generate({ tile: { m: 2 }, flags: [] }, 0);
  for (let n = 1; n <= 5000; n++) {
    generate({ tile: { m: 1 }, flags: [] }, n);
    if (n % 100 === 0) assert.equal(generate({ tile: { m: 2 }, flags: [] }, 0), hot);
  }
  assert.equal(calls.length, 5001, "the result in use was generated once");
});

Deno.test("memoised: past its limit the memo drops the oldest and stays correct", () => {
  const { calls, generate } = counted();
  for (let n = 0; n < 5000; n++) generate({ tile: { m: 1 }, flags: [] }, n);
  assert.equal(generate({ tile: { m: 1 }, flags: [] }, 4999).wgsl, "m1  n4999");
  assert.equal(generate({ tile: { m: 1 }, flags: [] }, 0).wgsl, "m1  n0");
  assert.equal(calls.length, 5001);
});

Deno.test("memoisedKernel: the uniforms in order, the WGSL once per variant and values", () => {
  let calls = 0;
  const kernel = memoisedKernel((p: { taps: number }, u: Record<"n" | "shift", string>, uf) => {
    calls++;
    const extra = uf.u32("extra", 7);
    return `${uf.declare(0)}\n// ${p.taps} taps over ${u.n} from ${u.shift}, ${extra}`;
  });
  const k = kernel({ taps: 3 }, { n: 300, shift: 12 });
  assert.deepEqual([...k.uniforms], [300, 12, 7, 0]);
  assert.match(k.wgsl, /3 taps over uni\.v\[0\]\.x from uni\.v\[0\]\.y, uni\.v\[0\]\.z$/);
  assert.equal(kernel({ taps: 3 }, { n: 300, shift: 12 }), k);
  assert.deepEqual([...kernel({ taps: 3 }, { n: 301, shift: 12 }).uniforms], [301, 12, 7, 0]);
  assert.equal(kernel({ taps: 5 }, { n: 300, shift: 12 }).wgsl, k.wgsl.replace("3 taps", "5 taps"));
  assert.equal(calls, 3);
});

Deno.test("memoisedBy: keyed by its key only, regenerated when the key changes", () => {
  let calls = 0;
  const text = memoisedBy(
    (spec: { flags: string[] }, names: { n: string; scratch: object }) =>
      `${spec.flags} ${names.n}`,
    (spec, names) => (calls++, `${spec.flags.join("+")} over ${names.n}`),
  );
  const first = text({ flags: ["a"] }, { n: "u.x", scratch: {} });
  // What the key leaves out (a fresh object each call) does not matter.
  assert.equal(text({ flags: ["a"] }, { n: "u.x", scratch: { other: 1 } }), first);
  assert.equal(calls, 1);
  assert.equal(text({ flags: ["a", "b"] }, { n: "u.x", scratch: {} }), "a+b over u.x");
  assert.equal(text({ flags: ["a"] }, { n: "u.y", scratch: {} }), "a over u.y");
  assert.equal(calls, 3);
});
